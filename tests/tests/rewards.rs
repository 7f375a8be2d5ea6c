//! Emission rewards: split by online GPUs, nothing for silent time, claims.

use {
    iogrid_sdk::{
        constants::IO,
        emission::emitted_by,
        errors::{IogridError, ProgramFailure},
        events::{find_events, RewardsClaimed, RewardsSwept},
        instructions::{ClaimRewardsAccounts, MarkOfflineAccounts, SweepRewardsAccounts},
        Address,
    },
    iogrid_tests::fixtures::{Network, Supplier},
    solana_signer::Signer,
};

const INTERVAL: i64 = 60;

fn claim(net: &mut Network, supplier: &Supplier, listing: &Address) -> u64 {
    let before = net.env.token_balance(&supplier.tokens);
    let ix =
        ClaimRewardsAccounts::new(supplier.owner.pubkey(), *listing, supplier.tokens).instruction();
    let meta = net.env.send_ok("claim_rewards", ix, &[&supplier.owner]);
    let paid = net.env.token_balance(&supplier.tokens) - before;
    assert_eq!(find_events::<RewardsClaimed>(&meta.logs)[0].amount, paid);
    net.check_invariants();
    paid
}

/// Heartbeats both listings every interval for `beats` intervals.
fn run_both(net: &mut Network, a: (&Supplier, &Address), b: (&Supplier, &Address), beats: usize) {
    for _ in 0..beats {
        net.env.advance_clock(INTERVAL);
        net.heartbeat(a.0, a.1).unwrap();
        net.heartbeat(b.0, b.1).unwrap();
    }
}

#[test]
fn test_rewards_are_split_by_gpus_online() {
    let mut net = Network::new();
    let one = net.supplier(1_000 * IO);
    let three = net.supplier(1_000 * IO);
    let small = net.list(&one, 1, IO).unwrap();
    let large = net.list(&three, 3, IO).unwrap();
    let start = net.env.now() - net.config().emission_start;
    run_both(&mut net, (&one, &small), (&three, &large), 30);
    net.check_invariants();
    let released = emitted_by(start + 30 * INTERVAL) - emitted_by(start);

    let paid_small = claim(&mut net, &one, &small);
    let paid_large = claim(&mut net, &three, &large);
    // 1 : 3, to within rounding of the base unit per settlement.
    assert!(
        paid_large.abs_diff(3 * paid_small) <= 100,
        "{paid_small} vs {paid_large}"
    );
    let paid = paid_small + paid_large;
    assert!(
        paid <= released && released - paid <= 200,
        "paid {paid} of {released}"
    );
}

#[test]
fn test_rewards_stop_when_heartbeats_stop() {
    let mut net = Network::new();
    let alive = net.supplier(1_000 * IO);
    let silent = net.supplier(1_000 * IO);
    let a = net.list(&alive, 1, IO).unwrap();
    let s = net.list(&silent, 1, IO).unwrap();
    run_both(&mut net, (&alive, &a), (&silent, &s), 10);
    let accrued_while_alive = net.listing(&s).rewards_accrued;
    assert!(accrued_while_alive > 0);
    // The silent worker stops; the live one keeps beating for an hour.
    for _ in 0..60 {
        net.env.advance_clock(INTERVAL);
        net.heartbeat(&alive, &a).unwrap();
    }
    net.check_invariants();
    // Claiming pays only what it earned while beating; the silence is forfeited.
    let paid_silent = claim(&mut net, &silent, &s);
    assert_eq!(paid_silent, accrued_while_alive);
    let listing = net.listing(&s);
    assert!(
        listing.rewards_forfeited > 0,
        "the silent hour was forfeited"
    );
    let paid_alive = claim(&mut net, &alive, &a);
    assert!(
        paid_alive > 5 * paid_silent,
        "{paid_alive} vs {paid_silent}"
    );
}

#[test]
fn test_mark_offline_stops_dilution() {
    let mut net = Network::new();
    let alive = net.supplier(1_000 * IO);
    let silent = net.supplier(1_000 * IO);
    let a = net.list(&alive, 1, IO).unwrap();
    let s = net.list(&silent, 1, IO).unwrap();
    net.env.advance_clock(301);
    net.heartbeat(&alive, &a).unwrap();
    let keeper = net.env.funded_keypair();
    net.env.send_ok(
        "mark_offline",
        MarkOfflineAccounts::new(s).instruction(),
        &[&keeper],
    );
    assert_eq!(net.config().rewards.gpus_online, 1);
    let from = net.env.now() - net.config().emission_start;
    let accrued_before = net.listing(&a).rewards_accrued;
    for _ in 0..10 {
        net.env.advance_clock(INTERVAL);
        net.heartbeat(&alive, &a).unwrap();
    }
    // The live listing now earns all emission.
    let earned = net.listing(&a).rewards_accrued - accrued_before;
    let released = emitted_by(from + 10 * INTERVAL) - emitted_by(from);
    assert!(
        earned <= released && released - earned <= 10,
        "{earned} of {released}"
    );
    net.check_invariants();
}

#[test]
fn test_claim_rewards_with_nothing_accrued_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    let ix =
        ClaimRewardsAccounts::new(supplier.owner.pubkey(), listing, supplier.tokens).instruction();
    let failure = net.env.send_err(ix, &[&supplier.owner]);
    assert_eq!(
        failure,
        ProgramFailure::Iogrid(IogridError::NoRewards),
        "{failure}"
    );
}

#[test]
fn test_claim_rewards_twice_pays_once() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 2, IO).unwrap();
    net.env.advance_clock(INTERVAL);
    net.heartbeat(&supplier, &listing).unwrap();
    let first = claim(&mut net, &supplier, &listing);
    assert!(first > 0);
    // Same second: nothing new has accrued.
    let ix =
        ClaimRewardsAccounts::new(supplier.owner.pubkey(), listing, supplier.tokens).instruction();
    let failure = net.env.send_err(ix, &[&supplier.owner]);
    assert_eq!(
        failure,
        ProgramFailure::Iogrid(IogridError::NoRewards),
        "{failure}"
    );
    assert_eq!(net.listing(&listing).rewards_claimed, first);
}

#[test]
fn test_claim_rewards_mints_when_the_vault_is_short() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    net.env.advance_clock(INTERVAL);
    net.heartbeat(&supplier, &listing).unwrap();
    assert_eq!(net.config().emitted, 0, "no crank has run");
    let paid = claim(&mut net, &supplier, &listing);
    assert!(paid > 0);
    assert_eq!(
        net.config().emitted,
        emitted_by(net.env.now() - net.config().emission_start)
    );
}

#[test]
fn test_claim_rewards_of_another_owner_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    net.env.advance_clock(INTERVAL);
    net.heartbeat(&supplier, &listing).unwrap();
    let thief = net.supplier(0);
    let ix = ClaimRewardsAccounts::new(thief.owner.pubkey(), listing, thief.tokens).instruction();
    let failure = net.env.send_err(ix, &[&thief.owner]);
    assert_eq!(
        failure,
        ProgramFailure::Iogrid(IogridError::NotListingOwner),
        "{failure}"
    );
    // Even naming the owner's wallet as the destination needs the owner's signature.
    assert_eq!(net.env.token_balance(&thief.tokens), 0);
    net.check_invariants();
}

fn sweep(net: &mut Network, listings: &[Address]) -> Result<RewardsSwept, ProgramFailure> {
    let ix = SweepRewardsAccounts::new().instruction(listings);
    let anyone = net.env.funded_keypair();
    let result = net.env.send(&[ix], &[&anyone]);
    net.check_invariants();
    match result {
        Ok(meta) => {
            iogrid_tests::cu::record("sweep_rewards", meta.compute_units_consumed);
            Ok(find_events::<RewardsSwept>(&meta.logs)[0])
        }
        Err(failure) => Err(failure.failure),
    }
}

/// Emission released while no GPU was online, and rewards forfeited by a
/// silent listing (in a heartbeat, which cannot write Config), used to sit in
/// the rewards vault for ever. Anyone sweeps them to the treasury, exactly.
#[test]
fn test_unclaimable_emission_is_swept_to_the_treasury() {
    let mut net = Network::new();
    // An hour with nothing online: nobody's reward.
    net.env.advance_clock(3_600);
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    let unallocated = net.config().rewards.unallocated;
    assert_eq!(unallocated, emitted_by(3_600));
    // The worker goes silent for ten minutes; its next beat forfeits them.
    net.env.advance_clock(600);
    net.heartbeat(&supplier, &listing).unwrap();
    let forfeited = net.listing(&listing).rewards_forfeited;
    assert!(forfeited > 0);
    assert_eq!(net.listing(&listing).forfeits_folded, 0);
    let treasury_before = net.env.token_balance(&net.config().treasury);

    let swept = sweep(&mut net, &[listing]).unwrap();
    assert_eq!(swept.amount, unallocated + forfeited);
    assert_eq!(swept.folded_from_listings, forfeited);
    let treasury = net.config().treasury;
    assert_eq!(
        net.env.token_balance(&treasury) - treasury_before,
        unallocated + forfeited
    );
    assert_eq!(swept.treasury_after, net.config().treasury_balance);
    assert_eq!(net.config().rewards.unallocated, 0);
    assert_eq!(net.listing(&listing).forfeits_folded, forfeited);
    // Nothing left: a second sweep in the same second moves nothing.
    assert_eq!(
        sweep(&mut net, &[listing]).unwrap_err(),
        ProgramFailure::Iogrid(IogridError::NothingToSweep)
    );
    // The live listing still claims exactly what it earned while beating.
    net.env.advance_clock(INTERVAL);
    net.heartbeat(&supplier, &listing).unwrap();
    let accrued = net.listing(&listing).rewards_accrued;
    assert_eq!(claim(&mut net, &supplier, &listing), accrued);
}

/// Only program listings count: another account passed as a listing is
/// refused and nothing moves.
#[test]
fn test_sweep_rewards_with_a_foreign_account_error() {
    let mut net = Network::new();
    net.env.advance_clock(3_600);
    let supplier = net.supplier(1_000 * IO);
    net.list(&supplier, 1, IO).unwrap();
    let before = net.config().rewards.unallocated;
    let failure = sweep(&mut net, &[supplier.tokens]).unwrap_err();
    assert!(
        matches!(failure, ProgramFailure::Instruction(_)),
        "{failure}"
    );
    assert_eq!(net.config().rewards.unallocated, before);
}
