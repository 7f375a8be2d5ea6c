//! The guarantees an independent attacker broke on the earlier program, one
//! test each (issue 12). Each names the attack, runs it against the compiled
//! program and asserts the exact outcome: the error, or balances to the base
//! unit. The conservation invariants are checked after every step.

use {
    iogrid_sdk::{
        accounts::{payment_for, AssignmentStatus, JobStatus, NetworkParams},
        constants::{IO, MAX_CLUSTER},
        errors::{IogridError, ProgramFailure},
        events::{find_events, FaultReported},
        instructions::*,
        proof,
        send::{transaction_size, SendOptions, PACKET_DATA_SIZE},
        Address,
    },
    iogrid_tests::fixtures::{Market, Network, Supplier, BEAT, HOUR, WINDOW},
    solana_signer::Signer,
};

/// `NetworkParams::default`: 100 IO of stake per GPU, 10 % slash, 5 min timeout.
const STAKE_PER_GPU: u64 = 100 * IO;
const TIMEOUT: i64 = 300;

fn iogrid(e: IogridError) -> ProgramFailure {
    ProgramFailure::Iogrid(e)
}

/// Gross pay net of the default 2.5 % fee and 0.5 % burn.
fn net_of(gross: u64) -> u64 {
    gross - gross * 250 / 10_000 - gross * 50 / 10_000
}

fn delist(m: &mut Market, supplier: &Supplier, listing: &Address) {
    let ix = DelistAccounts::new(supplier.owner.pubkey(), *listing, supplier.tokens).instruction();
    let owner = supplier.owner.insecure_clone();
    m.net.env.send_ok("delist", ix, &[&owner]);
    m.net.check_invariants();
    assert!(
        m.net.env.account(listing).is_none(),
        "the listing is closed"
    );
}

fn approve(m: &mut Market, job: &Address) {
    let user = m.user.insecure_clone();
    let ix = ApproveJobAccounts::new(user.pubkey(), *job).instruction();
    m.net.env.send_ok("approve_job", ix, &[&user]);
}

fn report_fault(m: &mut Market, job: &Address, supplier: &Supplier, listing: &Address) {
    let ix = ReportFaultAccounts::new(*job, *listing, &supplier.owner.pubkey(), supplier.tokens)
        .instruction();
    let reporter = m.net.env.funded_keypair();
    m.net.env.send_ok("report_fault", ix, &[&reporter]);
    m.net.check_invariants();
}

fn report_fault_err(
    m: &mut Market,
    job: &Address,
    supplier: &Supplier,
    listing: &Address,
) -> ProgramFailure {
    let ix = ReportFaultAccounts::new(*job, *listing, &supplier.owner.pubkey(), supplier.tokens)
        .instruction();
    let reporter = m.net.env.funded_keypair();
    let failure = m.net.env.send_err(ix, &[&reporter]);
    m.net.check_invariants();
    failure
}

/// Attack 1: a supplier proves its part, then delists. The earlier program
/// needed every payee's listing at settlement, so the escrow was stuck for
/// ever (UninitializedAccount). Now settlement pays the supplier recorded on
/// the assignment, and both suppliers and the user get exactly their due.
#[test]
fn test_settle_after_a_proven_supplier_delists() {
    let mut m = Market::new();
    let (a, la) = m.supplier_with_listing(1, IO);
    let (b, lb) = m.supplier_with_listing(1, IO);
    let user = m.user.insecure_clone();
    let job = m
        .net
        .create_job(&user, &m.user_tokens, 1, &Network::job_spec(2, IO, HOUR))
        .unwrap();
    m.assign(&job, &[(la, 1), (lb, 1)]);
    m.run_for(HOUR as i64, &[(&a, la), (&b, lb)]);
    m.net.prove(&a, &job, &la, HOUR).unwrap();
    let a_before = m.net.env.token_balance(&a.tokens);
    delist(&mut m, &a, &la);
    let a_rewards = m.net.env.token_balance(&a.tokens) - a_before;
    m.net.prove(&b, &job, &lb, HOUR).unwrap();
    approve(&mut m, &job);
    let (a_mid, b_before) = (
        m.net.env.token_balance(&a.tokens),
        m.net.env.token_balance(&b.tokens),
    );
    m.settle(&job, &[(la, a.tokens), (lb, b.tokens)]);
    assert!(m.net.env.account(&job).is_none(), "settled and closed");
    let gross = payment_for(IO, HOUR);
    assert_eq!(m.net.env.token_balance(&a.tokens) - a_mid, net_of(gross));
    assert_eq!(m.net.env.token_balance(&b.tokens) - b_before, net_of(gross));
    assert!(
        a_rewards > 0,
        "delisting paid the listing's emission rewards"
    );
}

/// Attack 1, second form: the job is still running when one supplier proves
/// and delists, and the other goes silent. Past end + grace, expiry needs only
/// the running listing; settlement then pays the proof and the silent
/// worker's heartbeat-verified time, and refunds the rest.
#[test]
fn test_expire_after_a_proven_supplier_delists() {
    let mut m = Market::new();
    let (a, la) = m.supplier_with_listing(1, IO);
    let (b, lb) = m.supplier_with_listing(1, IO);
    let user = m.user.insecure_clone();
    let job = m
        .net
        .create_job(&user, &m.user_tokens, 2, &Network::job_spec(2, IO, HOUR))
        .unwrap();
    m.assign(&job, &[(la, 1), (lb, 1)]);
    let started = m.net.env.now();
    m.run_for(HOUR as i64 / 2, &[(&a, la), (&b, lb)]);
    let b_last = m.net.listing(&lb).last_heartbeat;
    m.net.prove(&a, &job, &la, HOUR / 2).unwrap();
    delist(&mut m, &a, &la);
    // b is silent but nobody reports it; the job runs out.
    m.net.env.advance_clock(HOUR as i64 / 2 + 3_600 + 1);
    let expire = ExpireJobAccounts::new(job).instruction(&[la]);
    let payer = m.net.env.funded_keypair();
    let failure = m.net.env.send_err(expire, &[&payer]);
    assert_eq!(failure, iogrid(IogridError::WrongRemainingAccounts));
    m.expire(&job);
    let state = m.net.job(&job);
    assert_eq!(state.job.status(), JobStatus::Expired);
    assert_eq!(state.assignments[1].status(), AssignmentStatus::Stopped);
    let (a_before, b_before, user_before) = (
        m.net.env.token_balance(&a.tokens),
        m.net.env.token_balance(&b.tokens),
        m.net.env.token_balance(&m.user_tokens),
    );
    m.settle(&job, &[(la, a.tokens), (lb, b.tokens)]);
    let a_gross = payment_for(IO, HOUR / 2);
    let b_gross = payment_for(IO, (b_last - started) as u64);
    assert_eq!(
        m.net.env.token_balance(&a.tokens) - a_before,
        net_of(a_gross)
    );
    assert_eq!(
        m.net.env.token_balance(&b.tokens) - b_before,
        net_of(b_gross)
    );
    assert_eq!(
        m.net.env.token_balance(&m.user_tokens) - user_before,
        2 * IO - a_gross - b_gross,
        "the user gets back everything not paid"
    );
}

/// Attack 2: a listing serving eight jobs goes silent for one timeout and
/// every job reports its own fault. The earlier program slashed once per
/// report (57 % of the locked stake after eight); one outage now slashes once.
#[test]
fn test_one_outage_slashes_once_across_eight_jobs() {
    let mut m = Market::new();
    let (s, listing) = m.supplier_with_listing(8, IO);
    let user = m.user.insecure_clone();
    let jobs: Vec<Address> = (0..8)
        .map(|id| {
            let job = m
                .net
                .create_job(&user, &m.user_tokens, id, &Network::job_spec(1, IO, HOUR))
                .unwrap();
            m.assign(&job, &[(listing, 1)]);
            job
        })
        .collect();
    let locked = m.net.listing(&listing).stake_locked;
    assert_eq!(locked, 8 * STAKE_PER_GPU);
    let staked = m.net.stake_account(&s.owner.pubkey()).staked;
    m.net.env.advance_clock(TIMEOUT + 1);
    let mut slashed = Vec::new();
    for job in &jobs {
        let ix = ReportFaultAccounts::new(*job, listing, &s.owner.pubkey(), s.tokens).instruction();
        let reporter = m.net.env.funded_keypair();
        let meta = m.net.env.send_ok("report_fault", ix, &[&reporter]);
        m.net.check_invariants();
        slashed.push(find_events::<FaultReported>(&meta.logs)[0].slashed);
    }
    let one_slash = locked / 10;
    assert_eq!(slashed, [one_slash, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(m.net.listing(&listing).stake_locked, locked - one_slash);
    assert_eq!(
        m.net.stake_account(&s.owner.pubkey()).staked,
        staked - one_slash
    );
    assert_eq!(m.net.listing(&listing).jobs_faulted, 8);
}

/// Attack 3: a job owner assigns an idle listing in the last second before it
/// goes stale, then reports the fault to collect half the slash. Silence now
/// counts from the assignment's start: a worker that heartbeats within the
/// timeout after being assigned is never faultable, and keeps all its stake.
#[test]
fn test_assignment_on_the_edge_of_staleness_is_not_slashable() {
    let mut m = Market::new();
    let (victim, listing) = m.supplier_with_listing(1, IO);
    let staked = m.net.stake_account(&victim.owner.pubkey()).staked;
    // Idle and silent for exactly the timeout: still assignable.
    m.net.env.advance_clock(TIMEOUT);
    let (attacker, attacker_tokens) = m.net.user_with_io(1_000 * IO);
    let job = m
        .net
        .create_job(&attacker, &attacker_tokens, 1, &Network::job_spec(1, IO, 1))
        .unwrap();
    let ix = AssignJobAccounts::new(attacker.pubkey(), job).assign_job(&[(listing, 1)]);
    m.net
        .env
        .send_ok("assign_job (by the owner)", ix, &[&attacker]);
    // One second later the listing is stale, but the assignment is 1 s old.
    m.net.env.advance_clock(1);
    assert_eq!(
        report_fault_err(&mut m, &job, &victim, &listing),
        iogrid(IogridError::ListingNotStale)
    );
    // The worker notices its assignment and heartbeats within the timeout.
    m.net.env.advance_clock(TIMEOUT - 1);
    m.net.heartbeat(&victim, &listing).unwrap();
    m.net.env.advance_clock(TIMEOUT);
    assert_eq!(
        report_fault_err(&mut m, &job, &victim, &listing),
        iogrid(IogridError::ListingNotStale)
    );
    assert_eq!(m.net.stake_account(&victim.owner.pubkey()).staked, staked);
    // A worker that really stays silent after its assignment is faulted.
    m.net.env.advance_clock(1);
    report_fault(&mut m, &job, &victim, &listing);
    assert_eq!(
        m.net.stake_account(&victim.owner.pubkey()).staked,
        staked - STAKE_PER_GPU / 10
    );
}

/// Attack 4: a job settled, re-created with the same id and re-assigned to the
/// same listing within the same second accepted the old proof (it named the
/// assignment by its start second). Proofs now name the listing's assignment
/// nonce, which never repeats.
#[test]
fn test_same_second_recreated_job_rejects_the_old_proof() {
    let mut m = Market::new();
    let (s, listing) = m.supplier_with_listing(1, IO);
    let user = m.user.insecure_clone();
    let spec = Network::job_spec(1, IO, HOUR);
    let job = m.net.create_job(&user, &m.user_tokens, 7, &spec).unwrap();
    m.assign(&job, &[(listing, 1)]);
    m.run_for(HOUR as i64, &[(&s, listing)]);
    let old = m.net.job(&job).assignments[0];
    let result_hash = [0x5E; 32];
    let message = proof::proof_message(&job, &listing, old.nonce, &result_hash, HOUR);
    let signature: [u8; 64] = s.worker.sign_message(&message).into();
    let old_proof = CompleteJobAccounts::new(job, listing).with_proof(
        &s.worker.pubkey(),
        &signature,
        old.nonce,
        &result_hash,
        HOUR,
    );
    m.net.prove(&s, &job, &listing, HOUR).unwrap();
    approve(&mut m, &job);
    m.settle(&job, &[(listing, s.tokens)]);
    // Same second: re-create the same id and re-assign the same listing.
    let again = m.net.create_job(&user, &m.user_tokens, 7, &spec).unwrap();
    assert_eq!(again, job);
    m.assign(&job, &[(listing, 1)]);
    let new = m.net.job(&job).assignments[0];
    assert_eq!(new.started_at, old.started_at + HOUR as i64);
    assert_eq!(new.nonce, old.nonce + 1);
    m.net.env.advance_clock(HOUR as i64);
    let relayer = m.net.env.funded_keypair();
    let failure = m
        .net
        .env
        .send(&old_proof, &[&relayer])
        .map(|_| ())
        .expect_err("the old proof was accepted");
    assert_eq!(failure.failure, iogrid(IogridError::ProofWrongMessage));
    m.net.check_invariants();
}

/// The same-second replay in its sharpest form: the re-created job is
/// assigned in the very second the old assignment started (the clock never
/// moves), which the earlier program could not tell apart.
#[test]
fn test_replay_within_one_second_of_the_original_assignment_error() {
    let mut m = Market::new();
    let (s, listing) = m.supplier_with_listing(1, IO);
    let user = m.user.insecure_clone();
    let spec = Network::job_spec(1, IO, HOUR);
    let job = m.net.create_job(&user, &m.user_tokens, 3, &spec).unwrap();
    m.assign(&job, &[(listing, 1)]);
    let old = m.net.job(&job).assignments[0];
    // The worker proves at once (0 GPU-seconds), the owner approves, settles.
    m.net.prove(&s, &job, &listing, 0).unwrap();
    approve(&mut m, &job);
    m.settle(&job, &[(listing, s.tokens)]);
    m.net.create_job(&user, &m.user_tokens, 3, &spec).unwrap();
    m.assign(&job, &[(listing, 1)]);
    let new = m.net.job(&job).assignments[0];
    assert_eq!(new.started_at, old.started_at, "the same second");
    let message = proof::proof_message(&job, &listing, old.nonce, &[0x5E; 32], 0);
    let signature: [u8; 64] = s.worker.sign_message(&message).into();
    let replay = CompleteJobAccounts::new(job, listing).with_proof(
        &s.worker.pubkey(),
        &signature,
        old.nonce,
        &[0x5E; 32],
        0,
    );
    let relayer = m.net.env.funded_keypair();
    let failure = m
        .net
        .env
        .send(&replay, &[&relayer])
        .map(|_| ())
        .unwrap_err();
    assert_eq!(failure.failure, iogrid(IogridError::ProofWrongMessage));
    assert_eq!(
        m.net.job(&job).assignments[0].status(),
        AssignmentStatus::Active
    );
}

/// Attack 5: fee, burn, slash and the challenge window were read at
/// settlement, so a governance change passed mid-job changed what a running
/// job paid. They are now the job's own terms, fixed at creation.
#[test]
fn test_parameter_change_mid_job_keeps_the_jobs_terms() {
    let mut m = Market::new();
    let (a, la) = m.supplier_with_listing(1, IO);
    let (b, lb) = m.supplier_with_listing(1, IO);
    let (c, lc) = m.supplier_with_listing(1, IO);
    let user = m.user.insecure_clone();
    let job = m
        .net
        .create_job(&user, &m.user_tokens, 1, &Network::job_spec(2, IO, HOUR))
        .unwrap();
    m.assign(&job, &[(la, 1), (lb, 1)]);
    // Governance raises fee, burn and slash to their bounds and shortens the
    // challenge window to a minute.
    m.net.set_params(&NetworkParams {
        fee_bps: 1_000,
        burn_bps: 5_000,
        slash_bps: 10_000,
        slash_cap_bps: 5_000,
        challenge_window_secs: 60,
        ..NetworkParams::default()
    });
    // b goes silent: its fault slashes the job's 10 %, not the new 50 %.
    let b_locked = m.net.listing(&lb).stake_locked;
    m.run_for(TIMEOUT + BEAT, &[(&a, la), (&c, lc)]);
    report_fault(&mut m, &job, &b, &lb);
    assert_eq!(m.net.listing(&lb).stake_locked, b_locked - b_locked / 10);
    m.reassign(&job, &[(lc, 1)]);
    m.run_for(HOUR as i64, &[(&a, la), (&c, lc)]);
    m.net.prove(&a, &job, &la, HOUR).unwrap();
    m.net.prove(&c, &job, &lc, HOUR).unwrap();
    let proven = m.net.job(&job);
    assert_eq!(proven.job.status(), JobStatus::Proven);
    // The window is the job's day, not governance's minute.
    m.net.env.advance_clock(60);
    let payer = m.net.env.funded_keypair();
    let close = CloseJobAccounts::new(job, user.pubkey(), m.user_tokens);
    let failure = m
        .net
        .env
        .send_err(close.settle_job(&[a.tokens, c.tokens]), &[&payer]);
    assert_eq!(failure, iogrid(IogridError::ChallengeWindowOpen));
    m.net.env.advance_clock(WINDOW - 60);
    let (a_before, c_before) = (
        m.net.env.token_balance(&a.tokens),
        m.net.env.token_balance(&c.tokens),
    );
    m.settle(&job, &[(la, a.tokens), (lc, c.tokens)]);
    // Paid at the job's 2.5 % fee and 0.5 % burn, not 10 % and 50 %.
    let a_gross = proven.assignments[0].payment();
    let c_gross = proven.assignments[1].payment();
    assert!(c_gross > 0);
    assert_eq!(
        m.net.env.token_balance(&a.tokens) - a_before,
        net_of(a_gross)
    );
    assert_eq!(
        m.net.env.token_balance(&c.tokens) - c_before,
        net_of(c_gross)
    );
}

/// Attack 6: settlement took two accounts per payee, so 12 payees made a
/// 1,235-byte transaction and 16 (the matcher's limit) 1,499 bytes. It now
/// takes one account per payee: a 16-supplier job settles, and expires, in a
/// transaction under the packet limit with a compute-budget instruction.
#[test]
fn test_sixteen_supplier_cluster_settles_in_one_packet() {
    let mut m = Market::new();
    let suppliers: Vec<_> = (0..MAX_CLUSTER)
        .map(|_| m.supplier_with_listing(1, IO))
        .collect();
    let user = m.user.insecure_clone();
    let mut spec = Network::job_spec(MAX_CLUSTER as u16, IO, HOUR);
    spec.max_listings = MAX_CLUSTER as u8;
    let job = m.net.create_job(&user, &m.user_tokens, 16, &spec).unwrap();
    let picks: Vec<_> = suppliers.iter().map(|(_, l)| (*l, 1u16)).collect();
    m.assign(&job, &picks);
    let listings: Vec<Address> = suppliers.iter().map(|(_, l)| *l).collect();
    let expire = ExpireJobAccounts::new(job).instruction(&listings);
    let expire_size = packet_size(&expire);
    println!("expire_job naming 16 running listings: {expire_size} bytes");
    assert!(expire_size <= PACKET_DATA_SIZE, "expire_job at 16");
    let workers: Vec<_> = suppliers.iter().map(|(s, l)| (s, *l)).collect();
    m.run_for(HOUR as i64, &workers);
    for (supplier, listing) in &suppliers {
        m.net.prove(supplier, &job, listing, HOUR).unwrap();
    }
    approve(&mut m, &job);
    let payees: Vec<Address> = suppliers.iter().map(|(s, _)| s.tokens).collect();
    let settle = CloseJobAccounts::new(job, user.pubkey(), m.user_tokens).settle_job(&payees);
    let size = packet_size(&settle);
    println!("settle_job paying 16 suppliers: {size} bytes");
    assert!(
        size <= PACKET_DATA_SIZE,
        "settle_job at 16 payees: {size} bytes"
    );
    let named: Vec<_> = suppliers.iter().map(|(s, l)| (*l, s.tokens)).collect();
    m.settle(&job, &named);
    for (supplier, _) in &suppliers {
        assert_eq!(
            m.net.env.token_balance(&supplier.tokens),
            net_of(payment_for(IO, HOUR))
        );
    }
}

/// Bytes of a transaction carrying `ix` with a compute-unit limit and price
/// (what the sdk's sender adds), signed by one fee payer.
fn packet_size(ix: &solana_instruction::Instruction) -> usize {
    let options = SendOptions {
        compute_unit_limit: Some(400_000),
        priority_micro_lamports: 1,
        ..SendOptions::default()
    };
    transaction_size(std::slice::from_ref(ix), &Address::new_unique(), &options)
}
