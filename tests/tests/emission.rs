//! crank_emission: the 240-month schedule and the supply cap, in the VM.

use {
    iogrid_sdk::{
        constants::{EMISSION_SUPPLY, GENESIS_SUPPLY, SUPPLY_CAP},
        emission::{emitted_by, monthly, MONTHS, MONTH_SECS},
        errors::{IogridError, ProgramFailure},
        events::{find_events, EmissionMinted},
        instructions::CrankEmissionAccounts,
        pda,
    },
    iogrid_tests::fixtures::Network,
};

#[test]
fn test_crank_emission() {
    let mut net = Network::new();
    net.env.advance_clock(86_400);
    let payer = net.env.funded_keypair();
    let meta = net.env.send_ok(
        "crank_emission",
        CrankEmissionAccounts::new().instruction(),
        &[&payer],
    );
    net.check_invariants();
    let day = emitted_by(86_400);
    assert_eq!(net.env.token_balance(&pda::rewards_vault().0), day);
    assert_eq!(net.config().emitted, day);
    assert_eq!(net.env.mint_supply(&pda::io_mint().0), GENESIS_SUPPLY + day);
    let event = find_events::<EmissionMinted>(&meta.logs)[0];
    assert_eq!(
        (event.amount, event.emitted_after, event.at),
        (day, day, net.env.now())
    );
}

#[test]
fn test_crank_emission_twice_in_the_same_second_mints_nothing() {
    let mut net = Network::new();
    net.env.advance_clock(3_600);
    net.crank().unwrap();
    let supply = net.env.mint_supply(&pda::io_mint().0);
    let payer = net.env.funded_keypair();
    let meta = net.env.send_ok(
        "crank_emission (nothing due)",
        CrankEmissionAccounts::new().instruction(),
        &[&payer],
    );
    assert!(find_events::<EmissionMinted>(&meta.logs).is_empty());
    assert_eq!(net.env.mint_supply(&pda::io_mint().0), supply);
    net.check_invariants();
}

/// Cranks at every month boundary for 240 months: each month mints exactly
/// its scheduled amount and the total is exactly 300,000,000 IO.
#[test]
fn test_crank_emission_all_240_months() {
    let mut net = Network::new();
    let schedule = monthly();
    let mut total = 0u64;
    for (month, expected) in schedule.iter().enumerate() {
        net.env.advance_clock(MONTH_SECS as i64);
        let before = net.config().emitted;
        net.crank().unwrap();
        let minted = net.config().emitted - before;
        assert_eq!(minted, *expected, "month {}", month + 1);
        total += minted;
        if month % 24 == 0 {
            net.check_invariants();
        }
    }
    assert_eq!(schedule.len(), MONTHS);
    assert_eq!(
        total, EMISSION_SUPPLY,
        "240 months sum to exactly 300,000,000 IO"
    );
    assert_eq!(net.env.mint_supply(&pda::io_mint().0), SUPPLY_CAP);
    net.check_invariants();
}

#[test]
fn test_crank_emission_past_the_cap_mints_nothing() {
    let mut net = Network::new();
    net.env.advance_clock(25 * 12 * MONTH_SECS as i64);
    net.crank().unwrap();
    assert_eq!(net.env.mint_supply(&pda::io_mint().0), SUPPLY_CAP);
    for _ in 0..3 {
        net.env.advance_clock(10 * 12 * MONTH_SECS as i64);
        net.crank().unwrap();
        assert_eq!(net.env.mint_supply(&pda::io_mint().0), SUPPLY_CAP);
        assert_eq!(net.config().emitted, EMISSION_SUPPLY);
    }
    net.check_invariants();
}

#[test]
fn test_crank_emission_with_substituted_accounts_error() {
    let mut net = Network::new();
    net.env.advance_clock(86_400);
    let payer = net.env.funded_keypair();
    let mut accounts = CrankEmissionAccounts::new();
    accounts.rewards_vault = pda::treasury().0;
    let failure = net.env.send_err(accounts.instruction(), &[&payer]);
    assert_eq!(
        failure,
        ProgramFailure::Iogrid(IogridError::WrongVault),
        "{failure}"
    );
    let mut accounts = CrankEmissionAccounts::new();
    accounts.rewards_vault = net.io_account(&payer_key(&payer));
    let failure = net.env.send_err(accounts.instruction(), &[&payer]);
    assert_eq!(
        failure,
        ProgramFailure::Iogrid(IogridError::WrongVault),
        "{failure}"
    );
    assert_eq!(net.config().emitted, 0);
    net.check_invariants();
}

fn payer_key(keypair: &solana_keypair::Keypair) -> iogrid_sdk::Address {
    solana_signer::Signer::pubkey(keypair)
}
