//! heartbeat and mark_offline against the SBF program.

use {
    iogrid_sdk::{
        accounts::{ListingStatus, ProgramAccount},
        constants::IO,
        errors::{IogridError, ProgramFailure},
        events::{find_events, HeartbeatRecorded},
        instructions::{
            HeartbeatAccounts, ListingUpdate, MarkOfflineAccounts, UpdateListingAccounts,
        },
        Address,
    },
    iogrid_tests::fixtures::Network,
    solana_instruction::error::InstructionError,
    solana_signer::Signer,
};

fn iogrid(e: IogridError) -> ProgramFailure {
    ProgramFailure::Iogrid(e)
}

const TIMEOUT: i64 = 300;

#[test]
fn test_heartbeat() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 2, IO).unwrap();
    net.env.advance_clock(60);
    let ix = HeartbeatAccounts::new(supplier.worker.pubkey(), listing).instruction();
    let meta = net.env.send_ok("heartbeat", ix, &[&supplier.worker]);
    net.check_invariants();
    let state = net.listing(&listing);
    assert_eq!(state.last_heartbeat, net.env.now());
    // The minute's emission went to the only listing, less rounding.
    let minute = iogrid_sdk::emission::emitted_by(60);
    assert!(state.rewards_accrued <= minute && minute - state.rewards_accrued <= 2);
    let event = find_events::<HeartbeatRecorded>(&meta.logs)[0];
    assert_eq!(
        (event.listing, event.credited, event.forfeited),
        (listing, state.rewards_accrued, 0)
    );
}

/// Instructions that take no trailing accounts refuse them (they used to be
/// accepted and ignored).
#[test]
fn test_heartbeat_with_unexpected_remaining_accounts_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    let mut ix = HeartbeatAccounts::new(supplier.worker.pubkey(), listing).instruction();
    ix.accounts
        .push(solana_instruction::AccountMeta::new_readonly(
            Address::new_unique(),
            false,
        ));
    let failure = net.env.send_err(ix, &[&supplier.worker]);
    assert_eq!(
        failure,
        iogrid(IogridError::UnexpectedRemainingAccounts),
        "{failure}"
    );
    let mut ix = MarkOfflineAccounts::new(listing).instruction();
    ix.accounts.push(solana_instruction::AccountMeta::new(
        Address::new_unique(),
        false,
    ));
    let payer = net.env.funded_keypair();
    let failure = net.env.send_err(ix, &[&payer]);
    assert_eq!(
        failure,
        iogrid(IogridError::UnexpectedRemainingAccounts),
        "{failure}"
    );
    net.check_invariants();
}

#[test]
fn test_heartbeat_by_owner_wallet_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    let ix = HeartbeatAccounts::new(supplier.owner.pubkey(), listing).instruction();
    let failure = net.env.send_err(ix, &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::NotListingWorker), "{failure}");
}

#[test]
fn test_heartbeat_by_unrelated_key_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    let stranger = net.env.funded_keypair();
    let ix = HeartbeatAccounts::new(stranger.pubkey(), listing).instruction();
    let failure = net.env.send_err(ix, &[&stranger]);
    assert_eq!(failure, iogrid(IogridError::NotListingWorker), "{failure}");
    // Another supplier's worker cannot beat for this listing either.
    let other = net.supplier(1_000 * IO);
    net.list(&other, 1, IO).unwrap();
    let ix = HeartbeatAccounts::new(other.worker.pubkey(), listing).instruction();
    let failure = net.env.send_err(ix, &[&other.worker]);
    assert_eq!(failure, iogrid(IogridError::NotListingWorker), "{failure}");
}

#[test]
fn test_heartbeat_with_substituted_config_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    let mut accounts = HeartbeatAccounts::new(supplier.worker.pubkey(), listing);
    // An exact copy of Config, owned by the program, at another address (say,
    // with a longer heartbeat timeout): only Config's address is trusted.
    let mut copy = net.env.account(&iogrid_sdk::pda::config().0).unwrap();
    copy.data[8 + 576 + 24..8 + 576 + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    let fake_config = Address::new_unique();
    net.env.svm.set_account(fake_config, copy).unwrap();
    accounts.config = fake_config;
    let failure = net
        .env
        .send_err(accounts.instruction(), &[&supplier.worker]);
    assert_eq!(failure, iogrid(IogridError::WrongConfig), "{failure}");
}

#[test]
fn test_heartbeat_with_forged_listing_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    // A byte-for-byte copy of the listing owned by the system program.
    let mut forged = net.env.account(&listing).unwrap();
    forged.owner = iogrid_sdk::SYSTEM_PROGRAM_ID;
    let forged_address = Address::new_unique();
    net.env.svm.set_account(forged_address, forged).unwrap();
    let ix = HeartbeatAccounts::new(supplier.worker.pubkey(), forged_address).instruction();
    let failure = net.env.send_err(ix, &[&supplier.worker]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::IllegalOwner),
        "{failure}"
    );
    // Program-owned accounts of other types in its place: too small, or of
    // the right size with another discriminator.
    let ix = HeartbeatAccounts::new(
        supplier.worker.pubkey(),
        iogrid_sdk::pda::stake(&supplier.owner.pubkey()).0,
    )
    .instruction();
    let failure = net.env.send_err(ix, &[&supplier.worker]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::AccountDataTooSmall),
        "{failure}"
    );
    let mut other_type = net.env.account(&listing).unwrap();
    other_type.data[..8].copy_from_slice(&iogrid_sdk::accounts::StakeAccount::DISCRIMINATOR);
    let other_address = Address::new_unique();
    net.env.svm.set_account(other_address, other_type).unwrap();
    let ix = HeartbeatAccounts::new(supplier.worker.pubkey(), other_address).instruction();
    let failure = net.env.send_err(ix, &[&supplier.worker]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidAccountData),
        "{failure}"
    );
}

#[test]
fn test_heartbeat_on_offline_listing_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    let offline = ListingUpdate {
        online: Some(false),
        ..Default::default()
    };
    let ix = UpdateListingAccounts::new(supplier.owner.pubkey(), listing).instruction(&offline);
    net.env
        .send_ok("update_listing (offline)", ix, &[&supplier.owner]);
    let failure = net.heartbeat(&supplier, &listing).unwrap_err().failure;
    assert_eq!(failure, iogrid(IogridError::ListingOffline), "{failure}");
}

#[test]
fn test_heartbeat_after_silence_forfeits() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    net.env.advance_clock(TIMEOUT + 1);
    net.heartbeat(&supplier, &listing).unwrap();
    net.check_invariants();
    let state = net.listing(&listing);
    assert_eq!(state.rewards_accrued, 0, "nothing credited for the silence");
    let silence = iogrid_sdk::emission::emitted_by(TIMEOUT + 1);
    assert!(state.rewards_forfeited <= silence && silence - state.rewards_forfeited <= 1);
}

#[test]
fn test_mark_offline() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 3, IO).unwrap();
    net.env.advance_clock(TIMEOUT + 1);
    let keeper = net.env.funded_keypair();
    let meta = net.env.send_ok(
        "mark_offline",
        MarkOfflineAccounts::new(listing).instruction(),
        &[&keeper],
    );
    net.check_invariants();
    let state = net.listing(&listing);
    assert_eq!(state.status(), ListingStatus::Offline);
    assert_eq!(net.config().rewards.gpus_online, 0);
    assert!(state.rewards_forfeited > 0 && state.rewards_accrued == 0);
    assert_eq!(
        find_events::<iogrid_sdk::events::ListingMarkedOffline>(&meta.logs).len(),
        1
    );
    // Twice is refused.
    let failure = net
        .env
        .send_err(MarkOfflineAccounts::new(listing).instruction(), &[&keeper]);
    assert_eq!(failure, iogrid(IogridError::ListingOffline), "{failure}");
}

#[test]
fn test_mark_offline_on_live_listing_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    net.env.advance_clock(TIMEOUT);
    let keeper = net.env.funded_keypair();
    let failure = net
        .env
        .send_err(MarkOfflineAccounts::new(listing).instruction(), &[&keeper]);
    assert_eq!(failure, iogrid(IogridError::ListingNotStale), "{failure}");
    net.env.advance_clock(TIMEOUT - 10);
    net.heartbeat(&supplier, &listing).unwrap();
    net.env.advance_clock(TIMEOUT);
    let failure = net
        .env
        .send_err(MarkOfflineAccounts::new(listing).instruction(), &[&keeper]);
    assert_eq!(failure, iogrid(IogridError::ListingNotStale), "{failure}");
    net.check_invariants();
}
