//! Job flows end to end against the SBF program: one GPU, a three-supplier
//! cluster, extend + scale, a fault replaced mid-job, a dispute, expiry and
//! cancellation. Balances are checked to the base unit and the conservation
//! invariants after every step; for every closed job
//! Σ payouts + fees + burn + refund == deposit + compensation.

use {
    iogrid_sdk::{
        accounts::{
            escrow_for, payment_for, AssignmentStatus, JobStatus, ListingStatus, ProgramAccount,
        },
        constants::IO,
        events::{find_events, JobClosed, JobPayment, ProgramEvent},
        instructions::*,
        pda, Address,
    },
    iogrid_tests::fixtures::{Market, Network, HOUR, WINDOW},
    solana_signer::Signer,
};

/// Σ payouts + fees + burn + refund == deposit + compensation, from the
/// job's events, and the job and its escrow are gone.
fn assert_closed_exactly(net: &Network, job: &Address, logs: &[Vec<String>]) -> (u64, u64) {
    let payments: Vec<JobPayment> = logs
        .iter()
        .flat_map(|l| find_events::<JobPayment>(l))
        .filter(|p| p.job == *job)
        .collect();
    let closed: Vec<JobClosed> = logs
        .iter()
        .flat_map(|l| find_events::<JobClosed>(l))
        .filter(|c| c.job == *job)
        .collect();
    assert_eq!(closed.len(), 1, "closed exactly once");
    let c = closed[0];
    let paid: u64 = payments.iter().map(|p| p.net + p.fee + p.burned).sum();
    assert_eq!(paid, c.paid_out, "payments add up to paid_out");
    for p in &payments {
        assert_eq!(p.gross, p.net + p.fee + p.burned);
    }
    assert_eq!(
        paid + c.refund,
        c.deposit + c.compensation,
        "payouts + fees + burn + refund == deposit + compensation"
    );
    assert!(net.env.account(job).is_none(), "the job account is closed");
    assert!(
        net.env.account(&pda::escrow(job).0).is_none(),
        "the escrow is closed"
    );
    (paid, c.refund)
}

#[test]
fn test_single_gpu_job_end_to_end() {
    let mut m = Market::new();
    let (supplier, listing) = m.supplier_with_listing(1, 2 * IO);
    let spec = Network::job_spec(1, 3 * IO, HOUR);
    let before = m.net.env.token_balance(&m.user_tokens);
    let user = m.user.insecure_clone();
    let job = m.net.create_job(&user, &m.user_tokens, 1, &spec).unwrap();
    m.net.check_invariants();
    let deposit = escrow_for(3 * IO, 1, HOUR);
    assert_eq!(deposit, 3 * IO);
    assert_eq!(m.net.env.token_balance(&m.user_tokens), before - deposit);
    assert_eq!(m.net.job(&job).job.status(), JobStatus::Open);

    m.assign(&job, &[(listing, 1)]);
    let state = m.net.job(&job);
    assert_eq!(
        (state.job.status(), state.job.gpus_assigned),
        (JobStatus::Running, 1)
    );
    assert_eq!(m.net.listing(&listing).status(), ListingStatus::Busy);

    m.run_for(HOUR as i64, &[(&supplier, listing)]);
    let proof = m.net.prove(&supplier, &job, &listing, HOUR).unwrap();
    m.net.check_invariants();
    let state = m.net.job(&job);
    assert_eq!(state.job.status(), JobStatus::Proven);
    assert_eq!(state.assignments[0].status(), AssignmentStatus::Proven);
    assert_eq!(m.net.listing(&listing).status(), ListingStatus::Available);

    m.net.env.advance_clock(WINDOW);
    let treasury_before = m.net.env.token_balance(&pda::treasury().0);
    let supply_before = m.net.env.mint_supply(&pda::io_mint().0);
    let supplier_before = m.net.env.token_balance(&supplier.tokens);
    let user_before = m.net.env.token_balance(&m.user_tokens);
    let settle = m.settle(&job, &[(listing, supplier.tokens)]);

    // 2 IO/GPU-h × 1 GPU × 1 h = 2 IO; 2.5% fee, 0.5% burn; 1 IO refunded.
    let gross = payment_for(2 * IO, HOUR);
    assert_eq!(gross, 2 * IO);
    let (fee, burn) = (50_000, 10_000);
    assert_eq!(
        m.net.env.token_balance(&supplier.tokens) - supplier_before,
        gross - fee - burn
    );
    assert_eq!(
        m.net.env.token_balance(&pda::treasury().0) - treasury_before,
        fee
    );
    assert_eq!(
        supply_before - m.net.env.mint_supply(&pda::io_mint().0),
        burn
    );
    assert_eq!(
        m.net.env.token_balance(&m.user_tokens) - user_before,
        deposit - gross
    );
    assert_closed_exactly(&m.net, &job, &[proof.logs, settle.logs]);
    assert_eq!(m.net.listing(&listing).jobs_completed, 1);
}

#[test]
fn test_three_supplier_cluster_end_to_end() {
    three_supplier_cluster(Market::new());
}

/// The same on a cluster without p-token: one CPI per movement.
#[test]
fn test_three_supplier_cluster_end_to_end_on_the_classic_token_program() {
    three_supplier_cluster(Market::on_classic_token());
}

fn three_supplier_cluster(mut m: Market) {
    let (a, la) = m.supplier_with_listing(4, IO);
    let (b, lb) = m.supplier_with_listing(2, 2 * IO);
    let (c, lc) = m.supplier_with_listing(2, 3 * IO);
    let spec = Network::job_spec(8, 3 * IO, 2 * HOUR);
    let user = m.user.insecure_clone();
    let job = m.net.create_job(&user, &m.user_tokens, 7, &spec).unwrap();
    m.assign(&job, &[(la, 4), (lb, 2), (lc, 2)]);
    let workers = [(&a, la), (&b, lb), (&c, lc)];
    m.run_for(2 * HOUR as i64, &workers);
    let mut logs = Vec::new();
    for (supplier, listing, gpus) in [(&a, la, 4u64), (&b, lb, 2), (&c, lc, 2)] {
        logs.push(
            m.net
                .prove(supplier, &job, &listing, gpus * 2 * HOUR)
                .unwrap()
                .logs,
        );
        m.net.check_invariants();
    }
    assert_eq!(m.net.job(&job).job.status(), JobStatus::Proven);
    // The owner approves: settlement need not wait for the window.
    let ix = ApproveJobAccounts::new(m.user.pubkey(), job).instruction();
    m.net.env.send_ok("approve_job", ix, &[&user]);
    let before: Vec<u64> = [a.tokens, b.tokens, c.tokens]
        .iter()
        .map(|t| m.net.env.token_balance(t))
        .collect();
    logs.push(
        m.settle(&job, &[(la, a.tokens), (lb, b.tokens), (lc, c.tokens)])
            .logs,
    );
    let (paid, refund) = assert_closed_exactly(&m.net, &job, &logs);
    // Cheapest first: 4×1 + 2×2 + 2×3 = 14 IO/h for 2 h = 28 IO of 48 escrowed.
    assert_eq!(paid, 28 * IO);
    assert_eq!(refund, escrow_for(3 * IO, 8, 2 * HOUR) - 28 * IO);
    for ((tokens, gross), before) in [(a.tokens, 8 * IO), (b.tokens, 8 * IO), (c.tokens, 12 * IO)]
        .iter()
        .zip(before)
    {
        let net = gross - gross * 250 / 10_000 - gross * 50 / 10_000;
        assert_eq!(m.net.env.token_balance(tokens) - before, net);
    }
}

#[test]
fn test_running_cluster_extended_and_scaled_from_2_to_4_gpus() {
    let mut m = Market::new();
    let (a, la) = m.supplier_with_listing(2, IO);
    let (b, lb) = m.supplier_with_listing(2, IO);
    let spec = Network::job_spec(2, 2 * IO, HOUR);
    let user = m.user.insecure_clone();
    let job = m.net.create_job(&user, &m.user_tokens, 3, &spec).unwrap();
    m.assign(&job, &[(la, 2)]);
    // Idle workers heartbeat too; b stays ready for the scale-up.
    m.run_for(600, &[(&a, la), (&b, lb)]);

    // +1 hour for every GPU.
    let top_up = TopUpJobAccounts::new(m.user.pubkey(), job, m.user_tokens);
    let before = m.net.env.token_balance(&m.user_tokens);
    m.net
        .env
        .send_ok("extend_job", top_up.extend_job(HOUR), &[&user]);
    m.net.check_invariants();
    assert_eq!(
        before - m.net.env.token_balance(&m.user_tokens),
        escrow_for(2 * IO, 2, HOUR)
    );
    assert_eq!(m.net.job(&job).job.duration_secs, 2 * HOUR);

    // 2 → 4 GPUs for the remaining 110 minutes; room for a second listing.
    let before = m.net.env.token_balance(&m.user_tokens);
    m.net
        .env
        .send_ok("scale_job", top_up.scale_job(2, 2), &[&user]);
    m.net.check_invariants();
    let remaining = 2 * HOUR - 600;
    assert_eq!(
        before - m.net.env.token_balance(&m.user_tokens),
        escrow_for(2 * IO, 2, remaining)
    );
    let state = m.net.job(&job);
    assert_eq!(
        (state.job.gpus, state.job.missing_gpus(), state.capacity),
        (4, 2, 2)
    );
    assert_eq!(state.job.status(), JobStatus::Running);

    // The keeper fills the new GPUs; a second, conflicting fill is rejected.
    m.assign(&job, &[(lb, 2)]);
    let ix = AssignJobAccounts::new(m.keeper.pubkey(), job).assign_job(&[(lb, 2)]);
    let keeper = m.keeper.insecure_clone();
    let failure = m.net.env.send_err(ix, &[&keeper]);
    assert_eq!(
        failure.iogrid(),
        Some(iogrid_sdk::errors::IogridError::JobFullyAssigned),
        "{failure}"
    );

    m.run_for(remaining as i64, &[(&a, la), (&b, lb)]);
    let p1 = m.net.prove(&a, &job, &la, 2 * 2 * HOUR).unwrap();
    let p2 = m.net.prove(&b, &job, &lb, 2 * remaining).unwrap();
    m.net.env.advance_clock(WINDOW);
    let settle = m.settle(&job, &[(la, a.tokens), (lb, b.tokens)]);
    let (paid, _) = assert_closed_exactly(&m.net, &job, &[p1.logs, p2.logs, settle.logs]);
    assert_eq!(
        paid,
        payment_for(IO, 4 * HOUR) + payment_for(IO, 2 * remaining)
    );
}

#[test]
fn test_cluster_node_faults_mid_job_and_is_replaced() {
    node_fault_replaced(Market::new());
}

/// The same on a cluster without p-token: one CPI per movement.
#[test]
fn test_cluster_node_faults_mid_job_and_is_replaced_on_the_classic_token_program() {
    node_fault_replaced(Market::on_classic_token());
}

fn node_fault_replaced(mut m: Market) {
    let (a, la) = m.supplier_with_listing(2, IO);
    let (b, lb) = m.supplier_with_listing(2, IO);
    let (spare, ls) = m.supplier_with_listing(2, IO);
    let spec = Network::job_spec(4, 2 * IO, HOUR);
    let user = m.user.insecure_clone();
    let job = m.net.create_job(&user, &m.user_tokens, 11, &spec).unwrap();
    m.assign(&job, &[(la, 2), (lb, 2)]);
    let started = m.net.env.now();

    // Both beat for 10 minutes; then b goes silent while a (and the spare) beat.
    m.run_for(600, &[(&a, la), (&b, lb), (&spare, ls)]);
    let b_last = m.net.listing(&lb).last_heartbeat;
    m.run_for(301, &[(&a, la), (&spare, ls)]);

    let stake_before = m.net.stake_account(&b.owner.pubkey()).staked;
    let b_before = m.net.env.token_balance(&b.tokens);
    let ix = ReportFaultAccounts::new(job, lb, &b.owner.pubkey(), b.tokens).instruction();
    let reporter = m.net.env.funded_keypair();
    let fault = m.net.env.send_ok("report_fault", ix, &[&reporter]);
    m.net.check_invariants();

    // Paid to its last heartbeat: 2 GPUs × 600 s at 1 IO/h, less fee and burn.
    let gross = payment_for(IO, 2 * (b_last - started) as u64);
    assert_eq!(
        m.net.env.token_balance(&b.tokens) - b_before,
        gross - gross * 250 / 10_000 - gross * 50 / 10_000
    );
    // Slashed 10% of the 200 IO locked; half compensates the job owner.
    let slashed = 20 * IO;
    assert_eq!(
        stake_before - m.net.stake_account(&b.owner.pubkey()).staked,
        slashed
    );
    let state = m.net.job(&job);
    assert_eq!(
        (state.job.compensation, state.job.missing_gpus()),
        (slashed / 2, 2)
    );
    assert_eq!(state.assignments[1].status(), AssignmentStatus::Faulted);
    assert_eq!(m.net.listing(&lb).status(), ListingStatus::Offline);

    // The keeper replaces it with the spare, reusing the faulted slot.
    let ix = AssignJobAccounts::new(m.keeper.pubkey(), job).reassign(&[(ls, 2)]);
    let keeper = m.keeper.insecure_clone();
    m.net.env.send_ok("reassign", ix, &[&keeper]);
    m.net.check_invariants();
    let state = m.net.job(&job);
    assert_eq!((state.job.missing_gpus(), state.assignments.len()), (0, 2));
    let replaced_at = state.assignments[1].started_at;

    let left = state.job.end_time() - m.net.env.now();
    m.run_for(left, &[(&a, la), (&spare, ls)]);
    let p1 = m.net.prove(&a, &job, &la, 2 * HOUR).unwrap();
    let p2 = m
        .net
        .prove(
            &spare,
            &job,
            &ls,
            2 * (state.job.end_time() - replaced_at) as u64,
        )
        .unwrap();
    assert_eq!(m.net.job(&job).job.status(), JobStatus::Proven);
    m.net.env.advance_clock(WINDOW);
    let settle = m.settle(&job, &[(la, a.tokens), (ls, spare.tokens)]);
    let (_, refund) =
        assert_closed_exactly(&m.net, &job, &[fault.logs, p1.logs, p2.logs, settle.logs]);
    assert!(
        refund > slashed / 2,
        "the owner's refund includes the compensation"
    );
}

#[test]
fn test_dispute_resolved_by_the_arbiter() {
    let mut m = Market::new();
    let (s, l) = m.supplier_with_listing(1, 2 * IO);
    let user = m.user.insecure_clone();
    let job = m
        .net
        .create_job(
            &user,
            &m.user_tokens,
            5,
            &Network::job_spec(1, 2 * IO, HOUR),
        )
        .unwrap();
    m.assign(&job, &[(l, 1)]);
    m.run_for(HOUR as i64, &[(&s, l)]);
    let proof = m.net.prove(&s, &job, &l, HOUR).unwrap();
    let ix = DisputeJobAccounts::new(m.user.pubkey(), job).instruction();
    m.net.env.send_ok("dispute_job", ix, &[&user]);
    assert_eq!(m.net.job(&job).job.status(), JobStatus::Disputed);
    // Frozen: nobody settles a disputed job, even after the window.
    m.net.env.advance_clock(WINDOW + 1);
    let payer = m.net.env.funded_keypair();
    let ix = CloseJobAccounts::new(job, m.user.pubkey(), m.user_tokens).settle_job(&[s.tokens]);
    let failure = m.net.env.send_err(ix, &[&payer]);
    assert_eq!(
        failure.iogrid(),
        Some(iogrid_sdk::errors::IogridError::WrongJobStatus),
        "{failure}"
    );

    // The arbiter awards the supplier 40% of its claim.
    let arbiter = m.net.arbiter.insecure_clone();
    m.net.env.airdrop(&arbiter.pubkey(), 1_000_000_000);
    let ix = ResolveDisputeAccounts::new(arbiter.pubkey(), job).instruction(4_000);
    m.net.env.send_ok("resolve_dispute", ix, &[&arbiter]);
    let settle = m.settle(&job, &[(l, s.tokens)]);
    let (paid, refund) = assert_closed_exactly(&m.net, &job, &[proof.logs, settle.logs]);
    assert_eq!(paid, 2 * IO * 4 / 10);
    assert_eq!(refund, 2 * IO - paid);
}

#[test]
fn test_job_expires_without_proof() {
    let mut m = Market::new();
    let (a, la) = m.supplier_with_listing(1, IO);
    let (b, lb) = m.supplier_with_listing(1, IO);
    let user = m.user.insecure_clone();
    let job = m
        .net
        .create_job(&user, &m.user_tokens, 9, &Network::job_spec(2, IO, HOUR))
        .unwrap();
    m.assign(&job, &[(la, 1), (lb, 1)]);
    let started = m.net.env.now();
    // a proves; b runs half the job, then its worker dies without a proof.
    m.run_for(HOUR as i64 / 2, &[(&a, la), (&b, lb)]);
    let b_last = m.net.listing(&lb).last_heartbeat;
    m.run_for(HOUR as i64 / 2, &[(&a, la)]);
    let proof = m.net.prove(&a, &job, &la, HOUR).unwrap();
    assert_eq!(m.net.job(&job).job.status(), JobStatus::Running);

    let payer = m.net.env.funded_keypair();
    // Only b still runs: expiry names its listing alone.
    let expire = ExpireJobAccounts::new(job).instruction(&[lb]);
    let failure = m.net.env.send_err(expire.clone(), &[&payer]);
    assert_eq!(
        failure.iogrid(),
        Some(iogrid_sdk::errors::IogridError::JobNotExpired),
        "{failure}"
    );
    m.net.env.advance_clock(3_601);
    m.net
        .env
        .send_ok("expire_job (1 running listing)", expire, &[&payer]);
    m.net.check_invariants();
    assert_eq!(m.net.job(&job).job.status(), JobStatus::Expired);
    assert_eq!(m.net.listing(&lb).gpus_free, 1, "b's GPU is free at expiry");
    // An expired job settles at once, paying both suppliers' accounts.
    let settle = m.settle(&job, &[(la, a.tokens), (lb, b.tokens)]);
    let (paid, _) = assert_closed_exactly(&m.net, &job, &[proof.logs, settle.logs]);
    // a's proven hour + b's heartbeat-verified half hour.
    assert_eq!(
        paid,
        payment_for(IO, HOUR) + payment_for(IO, (b_last - started) as u64)
    );
    assert_eq!(m.net.listing(&lb).gpus_free, 1, "b's GPU is free again");
}

#[test]
fn test_cancel_unassigned_job() {
    cancel_unassigned(Market::new());
}

/// The same on a cluster without p-token: one CPI per movement.
#[test]
fn test_cancel_unassigned_job_on_the_classic_token_program() {
    cancel_unassigned(Market::on_classic_token());
}

fn cancel_unassigned(mut m: Market) {
    let before = m.net.env.token_balance(&m.user_tokens);
    let lamports_before = m.net.env.svm.get_balance(&m.user.pubkey()).unwrap();
    let user = m.user.insecure_clone();
    let job = m
        .net
        .create_job(&user, &m.user_tokens, 2, &Network::job_spec(4, IO, HOUR))
        .unwrap();
    let ix = CancelJobAccounts::new(m.user.pubkey(), job, m.user_tokens).instruction();
    let meta = m.net.env.send_ok("cancel_job", ix, &[&user]);
    m.net.check_invariants();
    assert_eq!(
        m.net.env.token_balance(&m.user_tokens),
        before,
        "everything refunded"
    );
    let (paid, refund) = assert_closed_exactly(&m.net, &job, &[meta.logs]);
    assert_eq!((paid, refund), (0, 4 * IO));
    // Only the two transaction fees are gone: both rents came back.
    assert_eq!(
        m.net.env.svm.get_balance(&m.user.pubkey()).unwrap(),
        lamports_before - 10_000
    );
    assert_eq!(JobClosed::NAME, "JobClosed");
    assert_eq!(iogrid_sdk::accounts::Job::NAME, "Job");
}
