//! `heartbeat_many` against the SBF program: one signature carries many
//! listings' liveness, each checked as `heartbeat` checks its one, and a
//! batch with any bad listing changes nothing.

use {
    iogrid_sdk::{
        accounts::GpuListing,
        constants::{IO, MAX_HEARTBEAT_BATCH},
        errors::{IogridError, ProgramFailure},
        events::{find_events, HeartbeatRecorded},
        instructions::{HeartbeatManyAccounts, ListingUpdate, UpdateListingAccounts},
        Address,
    },
    iogrid_tests::{
        cu,
        fixtures::{Network, Supplier},
    },
    solana_instruction::{error::InstructionError, AccountMeta, Instruction},
    solana_signer::Signer,
};

fn iogrid(e: IogridError) -> ProgramFailure {
    ProgramFailure::Iogrid(e)
}

/// A supplier with `count` one-GPU listings, all served by its one worker key.
fn rack(net: &mut Network, count: usize) -> (Supplier, Vec<Address>) {
    let supplier = net.supplier(count as u64 * 200 * IO);
    let listings = (0..count)
        .map(|_| net.list(&supplier, 1, IO).unwrap())
        .collect();
    (supplier, listings)
}

/// The listings' raw account data, to show a refused batch changed nothing.
fn snapshot(net: &Network, listings: &[Address]) -> Vec<Vec<u8>> {
    listings
        .iter()
        .map(|l| net.env.account(l).expect("listed").data)
        .collect()
}

/// The batch instruction with the listings exactly as given (no sorting).
fn raw_batch(worker: Address, metas: Vec<AccountMeta>) -> Instruction {
    let mut ix = HeartbeatManyAccounts::new(worker).instruction(&[]);
    ix.accounts.extend(metas);
    ix
}

#[test]
fn test_heartbeat_many() {
    let mut net = Network::new();
    let (supplier, listings) = rack(&mut net, 30);
    net.env.advance_clock(60);
    let ix = HeartbeatManyAccounts::new(supplier.worker.pubkey()).instruction(&listings);
    let meta = net
        .env
        .send_ok("heartbeat_many (30 listings)", ix, &[&supplier.worker]);
    net.check_invariants();
    let now = net.env.now();
    let events = find_events::<HeartbeatRecorded>(&meta.logs);
    assert_eq!(events.len(), 30);
    // Thirty equal listings share the minute's emission equally.
    let minute = iogrid_sdk::emission::emitted_by(60);
    for listing in &listings {
        let state: GpuListing = net.listing(listing);
        assert_eq!(state.last_heartbeat, now);
        assert!(state.rewards_accrued * 30 <= minute && minute - state.rewards_accrued * 30 <= 60);
        let event = events
            .iter()
            .find(|e| e.listing == *listing)
            .expect("one event per listing");
        assert_eq!(
            (event.credited, event.forfeited),
            (state.rewards_accrued, 0)
        );
    }
    let per_listing = meta.compute_units_consumed / 30;
    cu::record("heartbeat_many (per listing, of 30)", per_listing);
}

#[test]
fn test_heartbeat_many_of_one_listing() {
    let mut net = Network::new();
    let (supplier, listings) = rack(&mut net, 1);
    net.env.advance_clock(60);
    let ix = HeartbeatManyAccounts::new(supplier.worker.pubkey()).instruction(&listings);
    net.env
        .send_ok("heartbeat_many (1 listing)", ix, &[&supplier.worker]);
    net.check_invariants();
    assert_eq!(net.listing(&listings[0]).last_heartbeat, net.env.now());
}

/// A listing whose worker key is another's refuses the whole batch: the
/// signer's own listings are not recorded either.
#[test]
fn test_heartbeat_many_with_other_keys_listing_error() {
    let mut net = Network::new();
    let (supplier, mut listings) = rack(&mut net, 3);
    let (_, other) = rack(&mut net, 1);
    listings.push(other[0]);
    net.env.advance_clock(60);
    let before = snapshot(&net, &listings);
    let ix = HeartbeatManyAccounts::new(supplier.worker.pubkey()).instruction(&listings);
    let failure = net.env.send_err(ix, &[&supplier.worker]);
    assert_eq!(failure, iogrid(IogridError::NotListingWorker), "{failure}");
    assert_eq!(snapshot(&net, &listings), before, "nothing recorded");
    // The owner's wallet is not the worker key either.
    let ix = HeartbeatManyAccounts::new(supplier.owner.pubkey()).instruction(&listings[..3]);
    let failure = net.env.send_err(ix, &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::NotListingWorker), "{failure}");
    net.check_invariants();
}

#[test]
fn test_heartbeat_many_with_offline_listing_error() {
    let mut net = Network::new();
    let (supplier, listings) = rack(&mut net, 3);
    let offline = ListingUpdate {
        online: Some(false),
        ..Default::default()
    };
    let ix = UpdateListingAccounts::new(supplier.owner.pubkey(), listings[1]).instruction(&offline);
    net.env
        .send_ok("update_listing (offline)", ix, &[&supplier.owner]);
    net.env.advance_clock(60);
    let before = snapshot(&net, &listings);
    let ix = HeartbeatManyAccounts::new(supplier.worker.pubkey()).instruction(&listings);
    let failure = net.env.send_err(ix, &[&supplier.worker]);
    assert_eq!(failure, iogrid(IogridError::ListingOffline), "{failure}");
    assert_eq!(snapshot(&net, &listings), before);
}

/// Out of order, repeated (counted twice) or read-only listings.
#[test]
fn test_heartbeat_many_with_malformed_batch_error() {
    let mut net = Network::new();
    let (supplier, mut listings) = rack(&mut net, 3);
    listings.sort_unstable();
    let worker = supplier.worker.pubkey();
    net.env.advance_clock(60);
    let descending = listings.iter().rev().map(|l| AccountMeta::new(*l, false));
    let repeated = [listings[0], listings[1], listings[1]]
        .into_iter()
        .map(|l| AccountMeta::new(l, false));
    let read_only = [
        AccountMeta::new(listings[0], false),
        AccountMeta::new_readonly(listings[1], false),
    ];
    for metas in [
        descending.collect::<Vec<_>>(),
        repeated.collect(),
        read_only.to_vec(),
    ] {
        let failure = net
            .env
            .send_err(raw_batch(worker, metas), &[&supplier.worker]);
        assert_eq!(
            failure,
            iogrid(IogridError::HeartbeatBatchInvalid),
            "{failure}"
        );
    }
    net.check_invariants();
}

#[test]
fn test_heartbeat_many_batch_size_error() {
    let mut net = Network::new();
    let (supplier, _) = rack(&mut net, 1);
    let worker = supplier.worker.pubkey();
    let failure = net
        .env
        .send_err(raw_batch(worker, vec![]), &[&supplier.worker]);
    assert_eq!(
        failure,
        iogrid(IogridError::HeartbeatBatchSize),
        "{failure}"
    );
    // One past the limit is refused before any listing is read.
    let mut too_many: Vec<Address> = (0..=MAX_HEARTBEAT_BATCH)
        .map(|_| Address::new_unique())
        .collect();
    too_many.sort_unstable();
    let metas = too_many
        .iter()
        .map(|l| AccountMeta::new(*l, false))
        .collect();
    let failure = net
        .env
        .send_err(raw_batch(worker, metas), &[&supplier.worker]);
    assert_eq!(
        failure,
        iogrid(IogridError::HeartbeatBatchSize),
        "{failure}"
    );
}

#[test]
fn test_heartbeat_many_with_forged_accounts_error() {
    let mut net = Network::new();
    let (supplier, listings) = rack(&mut net, 1);
    let worker = supplier.worker.pubkey();
    // A byte-for-byte copy of the listing owned by the system program.
    let mut forged = net.env.account(&listings[0]).unwrap();
    forged.owner = iogrid_sdk::SYSTEM_PROGRAM_ID;
    let forged_address = Address::new_unique();
    net.env.svm.set_account(forged_address, forged).unwrap();
    let ix = HeartbeatManyAccounts::new(worker).instruction(&[forged_address]);
    let failure = net.env.send_err(ix, &[&supplier.worker]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::IllegalOwner),
        "{failure}"
    );
    // A copy of Config at another address.
    let copy = net.env.account(&iogrid_sdk::pda::config().0).unwrap();
    let fake_config = Address::new_unique();
    net.env.svm.set_account(fake_config, copy).unwrap();
    let mut accounts = HeartbeatManyAccounts::new(worker);
    accounts.config = fake_config;
    let failure = net
        .env
        .send_err(accounts.instruction(&listings), &[&supplier.worker]);
    assert_eq!(failure, iogrid(IogridError::WrongConfig), "{failure}");
    // The worker key named but not signing (someone else pays).
    let payer = net.env.funded_keypair();
    let mut ix = HeartbeatManyAccounts::new(worker).instruction(&listings);
    ix.accounts[0].is_signer = false;
    let failure = net.env.send_err(ix, &[&payer]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::MissingRequiredSignature),
        "{failure}"
    );
}
