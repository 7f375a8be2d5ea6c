//! An eight-supplier cluster: assignment and settlement at the size the
//! compute-unit targets name (8 listings, 8 suppliers paid), plus the
//! listing rules that protect running jobs.

use {
    iogrid_sdk::{
        accounts::{job_space, ProgramAccount},
        constants::IO,
        errors::IogridError,
        instructions::*,
    },
    iogrid_tests::fixtures::{Market, Network, HOUR, WINDOW},
    solana_signer::Signer,
};

#[test]
fn test_eight_supplier_cluster() {
    let mut m = Market::new();
    let suppliers: Vec<_> = (0..8).map(|_| m.supplier_with_listing(1, IO)).collect();
    let user = m.user.insecure_clone();
    let mut spec = Network::job_spec(8, IO, HOUR);
    spec.max_listings = 8;
    let job = m.net.create_job(&user, &m.user_tokens, 8, &spec).unwrap();
    assert_eq!(m.net.env.account(&job).unwrap().data.len(), job_space(8));
    let picks: Vec<_> = suppliers.iter().map(|(_, l)| (*l, 1u16)).collect();
    m.assign(&job, &picks);
    let workers: Vec<_> = suppliers.iter().map(|(s, l)| (s, *l)).collect();
    m.run_for(HOUR as i64, &workers);
    for (supplier, listing) in &suppliers {
        m.net.prove(supplier, &job, listing, HOUR).unwrap();
    }
    m.net.env.advance_clock(WINDOW);
    let payees: Vec<_> = suppliers.iter().map(|(s, l)| (*l, s.tokens)).collect();
    m.settle(&job, &payees);
    for (supplier, _) in &suppliers {
        let gross = IO;
        assert_eq!(
            m.net.env.token_balance(&supplier.tokens),
            gross - gross * 250 / 10_000 - gross * 50 / 10_000
        );
    }
}

#[test]
fn test_job_account_sizes() {
    // Header (terms and escrow address included) + count + 136-byte slots:
    // each assignment records its supplier (settlement needs no listing)
    // and its nonce.
    assert_eq!(8 + std::mem::size_of::<iogrid_sdk::accounts::Job>(), 304);
    assert_eq!(job_space(1), 448);
    assert_eq!(job_space(8), 1_400);
    assert_eq!(job_space(16), 2_488);
    assert_eq!(iogrid_sdk::accounts::Job::NAME, "Job");
}

#[test]
fn test_update_listing_protects_running_jobs() {
    let mut m = Market::new();
    let (supplier, listing) = m.supplier_with_listing(2, IO);
    let user = m.user.insecure_clone();
    let job = m
        .net
        .create_job(&user, &m.user_tokens, 1, &Network::job_spec(1, IO, HOUR))
        .unwrap();
    m.assign(&job, &[(listing, 1)]);
    let accounts = UpdateListingAccounts::new(supplier.owner.pubkey(), listing);
    let owner = supplier.owner.insecure_clone();
    // The worker key signs the running job's proof: it cannot change now.
    let new_worker = ListingUpdate {
        worker: Some(iogrid_sdk::Address::new_unique()),
        ..Default::default()
    };
    let failure = m
        .net
        .env
        .send_err(accounts.instruction(&new_worker), &[&owner]);
    assert_eq!(
        failure.iogrid(),
        Some(IogridError::ListingBusy),
        "{failure}"
    );
    // Nor can the listing go offline under it.
    let offline = ListingUpdate {
        online: Some(false),
        ..Default::default()
    };
    let failure = m
        .net
        .env
        .send_err(accounts.instruction(&offline), &[&owner]);
    assert_eq!(
        failure.iogrid(),
        Some(IogridError::ListingBusy),
        "{failure}"
    );
    // Nor be delisted.
    let ix = DelistAccounts::new(supplier.owner.pubkey(), listing, supplier.tokens).instruction();
    let failure = m.net.env.send_err(ix, &[&owner]);
    assert_eq!(
        failure.iogrid(),
        Some(IogridError::ListingBusy),
        "{failure}"
    );
    // A price change is fine: the job keeps the price it was assigned at.
    let price = ListingUpdate {
        price_per_gpu_hour: Some(5 * IO),
        ..Default::default()
    };
    m.net
        .env
        .send_ok("update_listing", accounts.instruction(&price), &[&owner]);
    assert_eq!(m.net.job(&job).assignments[0].price_per_gpu_hour, IO);
    m.net.check_invariants();
}

#[test]
fn test_slashed_listing_cannot_come_back_online_under_staked() {
    let mut m = Market::new();
    let (supplier, listing) = m.supplier_with_listing(1, IO);
    let user = m.user.insecure_clone();
    let job = m
        .net
        .create_job(&user, &m.user_tokens, 1, &Network::job_spec(1, IO, HOUR))
        .unwrap();
    m.assign(&job, &[(listing, 1)]);
    m.net.env.advance_clock(301);
    let ix = ReportFaultAccounts::new(job, listing, &supplier.owner.pubkey(), supplier.tokens)
        .instruction();
    let reporter = m.net.env.funded_keypair();
    m.net.env.send_ok("report_fault", ix, &[&reporter]);
    let online = ListingUpdate {
        online: Some(true),
        ..Default::default()
    };
    let ix = UpdateListingAccounts::new(supplier.owner.pubkey(), listing).instruction(&online);
    let failure = m.net.env.send_err(ix, &[&supplier.owner]);
    assert_eq!(
        failure.iogrid(),
        Some(IogridError::ListingUnderStaked),
        "{failure}"
    );
    m.net.check_invariants();
}
