//! list_gpu, update_listing, delist against the SBF program.

use {
    iogrid_sdk::{
        accounts::{GpuSpec, ListingStatus},
        constants::IO,
        errors::{IogridError, ProgramFailure},
        events::{find_events, GpuListed},
        instructions::{
            DelistAccounts, HeartbeatAccounts, ListGpuAccounts, ListingUpdate,
            UpdateListingAccounts,
        },
        pda, Address,
    },
    iogrid_tests::fixtures::{Network, Supplier},
    solana_instruction::error::InstructionError,
    solana_signer::Signer,
};

fn iogrid(e: IogridError) -> ProgramFailure {
    ProgramFailure::Iogrid(e)
}

fn list_err(net: &mut Network, supplier: &Supplier, spec: &GpuSpec) -> ProgramFailure {
    let id = net.stake_account(&supplier.owner.pubkey()).next_listing_id;
    let ix = ListGpuAccounts::new(supplier.owner.pubkey(), id).instruction(spec, id);
    net.env.send_err(ix, &[&supplier.owner])
}

#[test]
fn test_list_gpu() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let owner = supplier.owner.pubkey();
    // The first id whose listing PDA has bump 255: a fixed, one-hash check.
    let id = pda::fast_listing_id(&owner, 0);
    let accounts = ListGpuAccounts::new(owner, id);
    let spec = Network::spec(&supplier.worker.pubkey(), 8, 2 * IO);
    let meta = net.env.send_ok(
        "list_gpu",
        accounts.instruction(&spec, id),
        &[&supplier.owner],
    );
    net.check_invariants();

    let listing = net.listing(&accounts.listing);
    assert_eq!((listing.owner, listing.id, listing.spec), (owner, id, spec));
    assert_eq!(net.stake_account(&owner).next_listing_id, id + 1);
    assert_eq!(listing.stake_locked, 800 * IO, "100 IO per GPU × 8");
    assert_eq!(
        (listing.gpus_free, listing.status()),
        (8, ListingStatus::Available)
    );
    assert_eq!(listing.last_heartbeat, net.env.now());
    assert_eq!(listing.bump, 255);
    assert_eq!(
        (listing.spec.model(), listing.spec.region_code()),
        ("H100-80GB".into(), "eu-west".into())
    );
    let stake = net.stake_account(&owner);
    assert_eq!(
        (
            stake.locked_for_listings,
            stake.listings,
            stake.next_listing_id
        ),
        (800 * IO, 1, id + 1)
    );
    assert_eq!(net.config().rewards.gpus_online, 8);
    let event = find_events::<GpuListed>(&meta.logs)[0];
    assert_eq!(
        (event.listing, event.gpu_count, event.stake_locked),
        (accounts.listing, 8, 800 * IO)
    );

    // A second listing gets the next fast id above the first.
    let second = net.list(&supplier, 2, IO).unwrap();
    assert_eq!(
        second,
        pda::listing(&owner, pda::fast_listing_id(&owner, id + 1)).0
    );
    assert!(net.listing(&second).id > id);
    net.check_invariants();
}

#[test]
fn test_list_gpu_with_insufficient_stake_error() {
    let mut net = Network::new();
    let supplier = net.supplier(799 * IO);
    let failure = list_err(
        &mut net,
        &supplier,
        &Network::spec(&supplier.worker.pubkey(), 8, IO),
    );
    assert_eq!(failure, iogrid(IogridError::InsufficientStake), "{failure}");
    // The stake that is there backs 7 GPUs, not 8.
    net.list(&supplier, 7, IO).unwrap();
    let failure = list_err(
        &mut net,
        &supplier,
        &Network::spec(&supplier.worker.pubkey(), 1, IO),
    );
    assert_eq!(failure, iogrid(IogridError::InsufficientStake), "{failure}");
    net.check_invariants();
}

#[test]
fn test_list_gpu_without_stake_account_error() {
    let mut net = Network::new();
    let (user, _) = net.user_with_io(0);
    let spec = Network::spec(&Address::new_unique(), 1, IO);
    let failure = net.env.send_err(
        ListGpuAccounts::new(user.pubkey(), 0).instruction(&spec, 0),
        &[&user],
    );
    // No StakeAccount: the empty address holds no data to load.
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::AccountDataTooSmall),
        "{failure}"
    );
}

#[test]
fn test_list_gpu_with_invalid_spec_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000_000 * IO);
    let worker = supplier.worker.pubkey();
    let cases = [
        (Network::spec(&worker, 0, IO), IogridError::InvalidGpuCount),
        (
            Network::spec(&worker, 1_025, IO),
            IogridError::InvalidGpuCount,
        ),
        (Network::spec(&worker, 1, 0), IogridError::InvalidListing),
        (
            Network::spec(&Address::default(), 1, IO),
            IogridError::InvalidListing,
        ),
        (
            GpuSpec {
                vram_gb: 0,
                ..Network::spec(&worker, 1, IO)
            },
            IogridError::InvalidListing,
        ),
    ];
    for (spec, error) in cases {
        let failure = list_err(&mut net, &supplier, &spec);
        assert_eq!(failure, iogrid(error), "{spec:?}: {failure}");
    }
    net.check_invariants();
}

/// price × GPUs × a year of hours must fit in u64, through math::checked_mul3.
#[test]
fn test_list_gpu_with_overflowing_price_error() {
    let mut net = Network::new();
    let supplier = net.supplier(100_000 * IO);
    let price = u64::MAX / 8_760 / 64 + 1;
    let failure = list_err(
        &mut net,
        &supplier,
        &Network::spec(&supplier.worker.pubkey(), 64, price),
    );
    assert_eq!(failure, iogrid(IogridError::MathOverflow), "{failure}");
    // One base unit less fits.
    net.list(&supplier, 64, price - 1).unwrap();
    net.check_invariants();
}

#[test]
fn test_list_gpu_reusing_an_existing_listing_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let first = net.list(&supplier, 1, IO).unwrap();
    // Re-initializing the first listing instead of creating the next.
    let next = net.listing(&first).id + 1;
    let mut accounts = ListGpuAccounts::new(supplier.owner.pubkey(), next);
    accounts.listing = first;
    let spec = Network::spec(&supplier.worker.pubkey(), 1, IO);
    let failure = net
        .env
        .send_err(accounts.instruction(&spec, next), &[&supplier.owner]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidSeeds),
        "{failure}"
    );
    net.check_invariants();
}

/// A delisted listing's address is free again, but its id is not: a listing
/// address is never reused, so an old proof can never name a new listing's
/// assignment.
#[test]
fn test_list_gpu_reusing_a_delisted_id_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let first = net.list(&supplier, 1, IO).unwrap();
    let id = net.listing(&first).id;
    let owner = supplier.owner.insecure_clone();
    let ix = DelistAccounts::new(owner.pubkey(), first, supplier.tokens).instruction();
    net.env.send_ok("delist", ix, &[&owner]);
    let spec = Network::spec(&supplier.worker.pubkey(), 1, IO);
    let ix = ListGpuAccounts::new(owner.pubkey(), id).instruction(&spec, id);
    let failure = net.env.send_err(ix, &[&owner]);
    assert_eq!(failure, iogrid(IogridError::ListingIdReused), "{failure}");
    assert!(net.env.account(&first).is_none());
    net.check_invariants();
}

#[test]
fn test_list_gpu_for_another_users_stake_error() {
    let mut net = Network::new();
    let victim = net.supplier(1_000 * IO);
    let attacker = net.supplier(0);
    let mut accounts = ListGpuAccounts::new(attacker.owner.pubkey(), 0);
    accounts.stake_account = pda::stake(&victim.owner.pubkey()).0;
    let spec = Network::spec(&attacker.worker.pubkey(), 1, IO);
    let failure = net
        .env
        .send_err(accounts.instruction(&spec, 0), &[&attacker.owner]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidSeeds),
        "{failure}"
    );
    net.check_invariants();
}

#[test]
fn test_update_listing() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 4, IO).unwrap();
    let accounts = UpdateListingAccounts::new(supplier.owner.pubkey(), listing);
    let new_worker = net.env.funded_keypair();
    let update = ListingUpdate {
        price_per_gpu_hour: Some(3 * IO),
        worker: Some(new_worker.pubkey()),
        online: None,
    };
    net.env.send_ok(
        "update_listing",
        accounts.instruction(&update),
        &[&supplier.owner],
    );
    net.check_invariants();
    let state = net.listing(&listing);
    assert_eq!(
        (state.spec.price_per_gpu_hour, state.spec.worker),
        (3 * IO, new_worker.pubkey())
    );
    // The old worker key no longer heartbeats; the new one does.
    let failure = net.heartbeat(&supplier, &listing).unwrap_err().failure;
    assert_eq!(failure, iogrid(IogridError::NotListingWorker), "{failure}");
    let ix = HeartbeatAccounts::new(new_worker.pubkey(), listing).instruction();
    net.env.send_ok("heartbeat", ix, &[&new_worker]);

    // Offline leaves the reward pool; online rejoins it.
    let offline = ListingUpdate {
        online: Some(false),
        ..Default::default()
    };
    net.env.send_ok(
        "update_listing (offline)",
        accounts.instruction(&offline),
        &[&supplier.owner],
    );
    net.check_invariants();
    assert_eq!(
        (
            net.listing(&listing).status(),
            net.config().rewards.gpus_online
        ),
        (ListingStatus::Offline, 0)
    );
    let failure = net
        .env
        .send_err(accounts.instruction(&offline), &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::ListingOffline), "{failure}");
    let online = ListingUpdate {
        online: Some(true),
        ..Default::default()
    };
    net.env.send_ok(
        "update_listing (online)",
        accounts.instruction(&online),
        &[&supplier.owner],
    );
    net.check_invariants();
    assert_eq!(
        (
            net.listing(&listing).status(),
            net.config().rewards.gpus_online
        ),
        (ListingStatus::Available, 4)
    );
    let failure = net
        .env
        .send_err(accounts.instruction(&online), &[&supplier.owner]);
    assert_eq!(
        failure,
        iogrid(IogridError::ListingAlreadyOnline),
        "{failure}"
    );
}

#[test]
fn test_update_listing_with_wrong_owner_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 4, IO).unwrap();
    let intruder = net.env.funded_keypair();
    let update = ListingUpdate {
        price_per_gpu_hour: Some(1),
        ..Default::default()
    };
    let ix = UpdateListingAccounts::new(intruder.pubkey(), listing).instruction(&update);
    let failure = net.env.send_err(ix, &[&intruder]);
    assert_eq!(failure, iogrid(IogridError::NotListingOwner), "{failure}");
    assert_eq!(net.listing(&listing).spec.price_per_gpu_hour, IO);
}

#[test]
fn test_update_listing_with_zero_price_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 1, IO).unwrap();
    let update = ListingUpdate {
        price_per_gpu_hour: Some(0),
        ..Default::default()
    };
    let ix = UpdateListingAccounts::new(supplier.owner.pubkey(), listing).instruction(&update);
    let failure = net.env.send_err(ix, &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::InvalidListing), "{failure}");
}

/// The same price horizon as list_gpu (a year of every GPU payable in u64):
/// update_listing used to skip it.
#[test]
fn test_update_listing_with_overflowing_price_error() {
    let mut net = Network::new();
    let supplier = net.supplier(100_000 * IO);
    let listing = net.list(&supplier, 64, IO).unwrap();
    let price = u64::MAX / 8_760 / 64 + 1;
    let update = |price| ListingUpdate {
        price_per_gpu_hour: Some(price),
        ..Default::default()
    };
    let ix =
        UpdateListingAccounts::new(supplier.owner.pubkey(), listing).instruction(&update(price));
    let failure = net.env.send_err(ix, &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::MathOverflow), "{failure}");
    assert_eq!(net.listing(&listing).spec.price_per_gpu_hour, IO);
    let ix = UpdateListingAccounts::new(supplier.owner.pubkey(), listing)
        .instruction(&update(price - 1));
    net.env.send_ok("update_listing", ix, &[&supplier.owner]);
    assert_eq!(net.listing(&listing).spec.price_per_gpu_hour, price - 1);
    net.check_invariants();
}

#[test]
fn test_delist() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let owner = supplier.owner.pubkey();
    let listing = net.list(&supplier, 4, IO).unwrap();
    let rent = net.env.account(&listing).unwrap().lamports;
    let lamports_before = net.env.svm.get_balance(&owner).unwrap();
    net.env.advance_clock(60);
    net.heartbeat(&supplier, &listing).unwrap();
    let ix = DelistAccounts::new(owner, listing, supplier.tokens).instruction();
    net.env.send_ok("delist", ix.clone(), &[&supplier.owner]);
    net.check_invariants();

    assert!(net.env.account(&listing).is_none(), "the listing is closed");
    let stake = net.stake_account(&owner);
    assert_eq!(
        (stake.locked_for_listings, stake.listings, stake.staked),
        (0, 0, 1_000 * IO)
    );
    assert_eq!(net.config().rewards.gpus_online, 0);
    // The rent came back (minus the fee of this transaction).
    let lamports_after = net.env.svm.get_balance(&owner).unwrap();
    assert_eq!(lamports_after, lamports_before + rent - 5_000);
    // A minute of four GPUs as the only listing: the whole minute's emission,
    // less rounding, was paid to the owner.
    let minute = iogrid_sdk::emission::emitted_by(60);
    let paid = net.env.token_balance(&supplier.tokens);
    assert!(
        paid <= minute && minute - paid <= 4,
        "paid {paid} of {minute}"
    );

    // The closed account cannot be used again: it holds no data.
    let failure = net.env.send_err(ix, &[&supplier.owner]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::AccountDataTooSmall),
        "{failure}"
    );
    let failure = net.heartbeat(&supplier, &listing).unwrap_err().failure;
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::AccountDataTooSmall),
        "{failure}"
    );
    net.check_invariants();
}

#[test]
fn test_delist_with_wrong_owner_error() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let listing = net.list(&supplier, 4, IO).unwrap();
    let thief = net.supplier(IO);
    let ix = DelistAccounts::new(thief.owner.pubkey(), listing, thief.tokens).instruction();
    let failure = net.env.send_err(ix, &[&thief.owner]);
    assert_eq!(failure, iogrid(IogridError::NotListingOwner), "{failure}");
    let mut accounts = DelistAccounts::new(thief.owner.pubkey(), listing, thief.tokens);
    accounts.stake_account = pda::stake(&supplier.owner.pubkey()).0;
    let failure = net.env.send_err(accounts.instruction(), &[&thief.owner]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidSeeds),
        "{failure}"
    );
    assert!(net.env.account(&listing).is_some());
    net.check_invariants();
}
