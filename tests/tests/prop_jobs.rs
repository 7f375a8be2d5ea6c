//! Property test: random sequences of job operations (create, assign,
//! heartbeat, clock moves, proof, approve, dispute, resolve, settle, expire,
//! fault report, cancel, suppliers going offline and back, delisting,
//! relisting and unstaking, emission crank) against the SBF program.
//! - Every operation either succeeds or fails with one of the errors that
//!   operation may legitimately return; the conservation invariants hold
//!   after every step; every closed job accounts for its deposit exactly:
//!   Σ payouts + fees + burn + refund == deposit + compensation.
//! - Liveness: after each sequence, advancing the clock and calling only
//!   permissionless instructions (expire, settle) closes every job, its
//!   escrow empty and closed, every unit accounted for.
//! - Honest supplier: supplier 0's worker heartbeats within the interval
//!   while listed and proves its assignments; whatever the others do, it
//!   never loses stake.
//!
//! 1,000 cases × 100 ops = 100,000 operations per run in CI;
//! `IOGRID_PROP_CASES` sets the count (scripts/soak-properties).

use {
    iogrid_sdk::{
        accounts::{JobStatus, NetworkParams, StakeAccount},
        constants::IO,
        errors::IogridError,
        events::{find_events, JobClosed, JobPayment},
        instructions::*,
        pda, proof, Address,
    },
    iogrid_tests::{
        fixtures::{Market, Network, Supplier, BEAT},
        prop::{cases_from_env, run_sequences, Successes},
    },
    proptest::prelude::*,
    solana_instruction::Instruction,
    solana_signer::Signer,
    std::collections::HashMap,
};

const SUPPLIERS: usize = 3;
/// Supplier 0 is honest: it heartbeats every interval, proves its
/// assignments, and never goes offline, delists or unstakes.
const HONEST: usize = 0;
/// Longer than any job's end + grace, challenge window or dispute lapse.
const DRAIN_STEP: i64 = 15 * 86_400 + 1;

#[derive(Clone, Debug)]
enum Op {
    Create {
        gpus: u16,
        price_io: u64,
        secs: u64,
    },
    Assign(usize),
    Beat(usize),
    Advance(i64),
    Prove {
        job: usize,
        slot: usize,
        seconds: u64,
    },
    Approve(usize),
    Dispute(usize),
    Resolve(usize, u16),
    Settle(usize),
    Expire(usize),
    Fault(usize, usize),
    Cancel(usize),
    SetOnline(usize, bool),
    Delist(usize),
    Relist(usize),
    Unstake(usize, u64),
    Crank,
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    let job = 0..6usize;
    prop_oneof![
        1 => (1..=4u16, 1..=4u64, 300..1_800u64).prop_map(|(gpus, price_io, secs)| Op::Create { gpus, price_io, secs }),
        3 => job.clone().prop_map(Op::Assign),
        8 => (1..SUPPLIERS).prop_map(Op::Beat),
        4 => (1..240i64).prop_map(Op::Advance),
        1 => (240..2_400i64).prop_map(Op::Advance),
        2 => (job.clone(), 0..3usize, 0..8_000u64).prop_map(|(job, slot, seconds)| Op::Prove { job, slot, seconds }),
        1 => job.clone().prop_map(Op::Approve),
        1 => job.clone().prop_map(Op::Dispute),
        1 => (job.clone(), 0..=10_000u16).prop_map(|(j, bps)| Op::Resolve(j, bps)),
        2 => job.clone().prop_map(Op::Settle),
        3 => job.clone().prop_map(Op::Expire),
        4 => (job.clone(), 0..4usize).prop_map(|(j, slot)| Op::Fault(j, slot)),
        1 => job.prop_map(Op::Cancel),
        3 => (1..SUPPLIERS).prop_map(|s| Op::SetOnline(s, true)),
        1 => (1..SUPPLIERS).prop_map(|s| Op::SetOnline(s, false)),
        1 => (1..SUPPLIERS).prop_map(Op::Delist),
        1 => (1..SUPPLIERS).prop_map(Op::Relist),
        1 => (1..SUPPLIERS, 1..=300u64).prop_map(|(s, io)| Op::Unstake(s, io)),
        1 => Just(Op::Crank),
        1 => Just(Op::Sweep),
    ]
}

/// Successful operations per kind, across all cases: the test also proves it
/// is not vacuous (every kind of operation succeeded at least once).
static SUCCESSES: Successes = Successes::new();

fn kind(op: &Op) -> &'static str {
    match op {
        Op::Create { .. } => "create",
        Op::Assign(_) => "assign",
        Op::Beat(_) => "heartbeat",
        Op::Advance(_) => "advance",
        Op::Prove { .. } => "prove",
        Op::Approve(_) => "approve",
        Op::Dispute(_) => "dispute",
        Op::Resolve(..) => "resolve",
        Op::Settle(_) => "settle",
        Op::Expire(_) => "expire",
        Op::Fault(..) => "fault",
        Op::Cancel(_) => "cancel",
        Op::SetOnline(_, true) => "online",
        Op::SetOnline(_, false) => "offline",
        Op::Delist(_) => "delist",
        Op::Relist(_) => "relist",
        Op::Unstake(..) => "unstake",
        Op::Crank => "crank",
        Op::Sweep => "sweep",
    }
}

struct Harness {
    m: Market,
    suppliers: Vec<(Supplier, Address)>,
    jobs: Vec<Address>,
    next_id: u64,
    /// Σ gross paid per job, from JobPayment events.
    paid: HashMap<Address, u64>,
    /// The honest supplier's stake (active + unbonding) at the start.
    honest_stake: u64,
}

impl Harness {
    fn new() -> Self {
        let params = NetworkParams {
            challenge_window_secs: 600,
            job_grace_secs: 300,
            ..NetworkParams::default()
        };
        let mut m = Market::with_params(params);
        // 1,000 IO of stake each: 400 back the 4-GPU listing, the rest lets
        // a supplier that unstakes some still relist.
        // The honest supplier lists 2 GPUs, the others 4, so most clusters
        // need someone who may fail.
        let suppliers = [(2, IO), (4, 2 * IO), (4, 3 * IO)]
            .iter()
            .map(|(gpus, price)| {
                let supplier = m.net.supplier(1_000 * IO);
                let listing = m.net.list(&supplier, *gpus, *price).unwrap();
                (supplier, listing)
            })
            .collect();
        let mut harness = Self {
            m,
            suppliers,
            jobs: Vec::new(),
            next_id: 0,
            paid: HashMap::new(),
            honest_stake: 0,
        };
        harness.honest_stake = harness.stake_of(HONEST);
        harness
    }

    fn stake_account(&self, s: usize) -> StakeAccount {
        self.m
            .net
            .stake_account(&self.suppliers[s].0.owner.pubkey())
    }

    fn stake_of(&self, s: usize) -> u64 {
        let stake = self.stake_account(s);
        stake.staked + stake.unbonding
    }

    /// Whether supplier `s`'s current listing exists (it may have delisted).
    fn listed(&self, s: usize) -> bool {
        self.m.net.env.account(&self.suppliers[s].1).is_some()
    }

    /// The `i`-th (mod count) job that still exists.
    fn job(&self, i: usize) -> Option<Address> {
        let live: Vec<Address> = self
            .jobs
            .iter()
            .copied()
            .filter(|j| self.m.net.env.account(j).is_some())
            .collect();
        (!live.is_empty()).then(|| live[i % live.len()])
    }

    /// The IO account of each payable assignment's supplier, in order.
    fn payees(&self, job: &Address) -> Vec<Address> {
        let state = self.m.net.job(job);
        state
            .payable()
            .map(|a| {
                self.suppliers
                    .iter()
                    .find(|(s, _)| s.owner.pubkey() == a.supplier)
                    .map(|(s, _)| s.tokens)
                    .expect("every assignment's supplier is one of the harness's")
            })
            .collect()
    }

    /// Free, live, affordable listings for the job's missing GPUs, greedily,
    /// trying suppliers from `first` on (so every supplier gets work).
    fn pick_listings(&self, job: &Address, first: usize) -> Option<Vec<(Address, u16)>> {
        let state = self.m.net.job(job);
        let mut missing = state.job.missing_gpus();
        let now = self.m.net.env.now();
        let mut picks = Vec::new();
        let order = (0..SUPPLIERS).map(|k| &self.suppliers[(first + k) % SUPPLIERS]);
        for (_, address) in order {
            if self.m.net.env.account(address).is_none() {
                continue; // delisted
            }
            let listing = self.m.net.listing(address);
            let in_job = state.active().any(|a| a.listing == *address);
            let usable = listing.is_online()
                && now - listing.last_heartbeat <= 300
                && listing.spec.price_per_gpu_hour <= state.job.max_price_per_gpu_hour
                && listing.gpus_free > 0
                && !in_job;
            if usable && missing > 0 {
                let take = listing.gpus_free.min(missing);
                picks.push((*address, take));
                missing -= take;
            }
        }
        (missing == 0 && !picks.is_empty()).then_some(picks)
    }

    /// The instructions, signer index and errors `op` may legitimately hit.
    fn plan(&mut self, op: &Op) -> Option<(Vec<Instruction>, Who, Vec<IogridError>)> {
        use IogridError::*;
        let user = self.m.user.pubkey();
        let tokens = self.m.user_tokens;
        Some(match *op {
            Op::Create {
                gpus,
                price_io,
                secs,
            } => {
                let id = self.next_id;
                self.next_id += 1;
                let spec = Network::job_spec(gpus, price_io * IO, secs);
                let accounts = CreateJobAccounts::new(user, id, tokens);
                self.jobs.push(accounts.job);
                (vec![accounts.instruction(id, &spec)], Who::User, vec![])
            }
            Op::Assign(i) => {
                let job = self.job(i)?;
                let picks = self.pick_listings(&job, i)?;
                let ix = AssignJobAccounts::new(self.m.keeper.pubkey(), job).assign_job(&picks);
                (
                    vec![ix],
                    Who::Keeper,
                    vec![
                        JobEnded,
                        WrongJobStatus,
                        JobFullyAssigned,
                        ListingUnderStaked,
                    ],
                )
            }
            Op::Beat(s) => {
                if !self.listed(s) {
                    return None;
                }
                let (supplier, listing) = &self.suppliers[s];
                let ix = HeartbeatAccounts::new(supplier.worker.pubkey(), *listing).instruction();
                (vec![ix], Who::Worker(s), vec![ListingOffline])
            }
            Op::Prove { job, slot, seconds } => {
                let job = self.job(job)?;
                let state = self.m.net.job(&job);
                let active: Vec<_> = state.active().copied().collect();
                let assignment = *active.get(slot % active.len().max(1))?;
                let s = self
                    .suppliers
                    .iter()
                    .position(|(_, l)| *l == assignment.listing)?;
                let worker = &self.suppliers[s].0.worker;
                let hash = [slot as u8; 32];
                let message = proof::proof_message(
                    &job,
                    &assignment.listing,
                    assignment.nonce,
                    &hash,
                    seconds,
                );
                let signature: [u8; 64] = worker.sign_message(&message).into();
                let ixs = CompleteJobAccounts::new(job, assignment.listing).with_proof(
                    &worker.pubkey(),
                    &signature,
                    assignment.nonce,
                    &hash,
                    seconds,
                );
                (ixs.to_vec(), Who::Keeper, vec![NoActiveAssignment])
            }
            Op::Approve(i) => {
                let job = self.job(i)?;
                (
                    vec![ApproveJobAccounts::new(user, job).instruction()],
                    Who::User,
                    vec![WrongJobStatus],
                )
            }
            Op::Dispute(i) => {
                let job = self.job(i)?;
                (
                    vec![DisputeJobAccounts::new(user, job).instruction()],
                    Who::User,
                    vec![WrongJobStatus, ChallengeWindowClosed],
                )
            }
            Op::Resolve(i, bps) => {
                let job = self.job(i)?;
                let ix =
                    ResolveDisputeAccounts::new(self.m.net.arbiter.pubkey(), job).instruction(bps);
                (vec![ix], Who::Arbiter, vec![WrongJobStatus])
            }
            Op::Settle(i) => {
                let job = self.job(i)?;
                let ix = CloseJobAccounts::new(job, user, tokens).settle_job(&self.payees(&job));
                (
                    vec![ix],
                    Who::Keeper,
                    vec![WrongJobStatus, ChallengeWindowOpen],
                )
            }
            Op::Expire(i) => {
                let job = self.job(i)?;
                let listings: Vec<Address> =
                    self.m.net.job(&job).active().map(|a| a.listing).collect();
                let ix = ExpireJobAccounts::new(job).instruction(&listings);
                (vec![ix], Who::Keeper, vec![WrongJobStatus, JobNotExpired])
            }
            Op::Fault(i, slot) => {
                // Mostly a running assignment of the job (a fault that may be
                // real); otherwise any supplier's listing (one that is not).
                let job = self.job(i)?;
                let active: Vec<Address> =
                    self.m.net.job(&job).active().map(|a| a.listing).collect();
                let s = match active.get(slot % (active.len() + 1)) {
                    Some(listing) => self.suppliers.iter().position(|(_, l)| l == listing)?,
                    None => slot % SUPPLIERS,
                };
                if !self.listed(s) {
                    return None;
                }
                let (supplier, listing) = &self.suppliers[s];
                let ix = ReportFaultAccounts::new(
                    job,
                    *listing,
                    &supplier.owner.pubkey(),
                    supplier.tokens,
                )
                .instruction();
                (
                    vec![ix],
                    Who::Keeper,
                    vec![ListingNotStale, NoActiveAssignment],
                )
            }
            Op::Cancel(i) => {
                let job = self.job(i)?;
                let ix = CancelJobAccounts::new(user, job, tokens).instruction();
                (
                    vec![ix],
                    Who::User,
                    vec![WrongJobStatus, JobAlreadyAssigned],
                )
            }
            Op::SetOnline(s, online) => {
                if !self.listed(s) {
                    return None;
                }
                let (supplier, listing) = &self.suppliers[s];
                let update = ListingUpdate {
                    online: Some(online),
                    ..Default::default()
                };
                let ix = UpdateListingAccounts::new(supplier.owner.pubkey(), *listing)
                    .instruction(&update);
                let allowed = if online {
                    vec![ListingAlreadyOnline, ListingUnderStaked]
                } else {
                    vec![ListingOffline, ListingBusy]
                };
                (vec![ix], Who::Owner(s), allowed)
            }
            Op::Delist(s) => {
                if !self.listed(s) {
                    return None;
                }
                let (supplier, listing) = &self.suppliers[s];
                let ix = DelistAccounts::new(supplier.owner.pubkey(), *listing, supplier.tokens)
                    .instruction();
                (vec![ix], Who::Owner(s), vec![ListingBusy])
            }
            Op::Relist(s) => {
                if self.listed(s) {
                    return None;
                }
                let (supplier, _) = &self.suppliers[s];
                let owner = supplier.owner.pubkey();
                let id = pda::fast_listing_id(&owner, self.stake_account(s).next_listing_id);
                let accounts = ListGpuAccounts::new(owner, id);
                let price = (s as u64 + 1) * IO;
                let ix =
                    accounts.instruction(&Network::spec(&supplier.worker.pubkey(), 4, price), id);
                // The new listing is the supplier's from now on (if it lands).
                self.suppliers[s].1 = accounts.listing;
                (vec![ix], Who::Owner(s), vec![InsufficientStake])
            }
            Op::Unstake(s, io) => {
                let owner = self.suppliers[s].0.owner.pubkey();
                let ix = UnstakeAccounts::new(owner).request_unstake(io * IO);
                (vec![ix], Who::Owner(s), vec![StakeLocked])
            }
            Op::Crank => (
                vec![CrankEmissionAccounts::new().instruction()],
                Who::Keeper,
                vec![],
            ),
            Op::Sweep => {
                let listings: Vec<Address> = (0..SUPPLIERS)
                    .filter(|s| self.listed(*s))
                    .map(|s| self.suppliers[s].1)
                    .collect();
                (
                    vec![SweepRewardsAccounts::new().instruction(&listings)],
                    Who::Keeper,
                    vec![NothingToSweep],
                )
            }
            Op::Advance(_) => unreachable!(),
        })
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if let Op::Advance(secs) = op {
            return self.advance_with_honest_heartbeats(*secs);
        }
        let Some((ixs, who, allowed)) = self.plan(op) else {
            return Ok(());
        };
        let signer = match who {
            Who::User => self.m.user.insecure_clone(),
            Who::Keeper => self.m.keeper.insecure_clone(),
            Who::Arbiter => {
                let arbiter = self.m.net.arbiter.insecure_clone();
                self.m.net.env.airdrop(&arbiter.pubkey(), 10_000_000);
                arbiter
            }
            Who::Worker(s) => self.suppliers[s].0.worker.insecure_clone(),
            Who::Owner(s) => self.suppliers[s].0.owner.insecure_clone(),
        };
        match self.m.net.env.send(&ixs, &[&signer]) {
            Ok(meta) => {
                SUCCESSES.record(kind(op));
                if let Op::Assign(i) = op {
                    let job = self.job(*i).unwrap();
                    for a in self.m.net.job(&job).active() {
                        let s = self
                            .suppliers
                            .iter()
                            .position(|(_, l)| *l == a.listing)
                            .unwrap();
                        SUCCESSES.record(["assigned-0", "assigned-1", "assigned-2"][s]);
                    }
                }
                self.account_for(&meta.logs)?
            }
            Err(failure) => {
                let known = failure
                    .failure
                    .iogrid()
                    .is_some_and(|e| allowed.contains(&e));
                prop_assert!(known, "{op:?} failed unexpectedly: {failure}");
            }
        }
        self.m.net.check_invariants();
        self.check_listings()?;
        self.check_honest()
    }

    /// Moves the clock in heartbeat-interval steps; the honest worker beats
    /// at every step (others only when an op says so).
    fn advance_with_honest_heartbeats(&mut self, secs: i64) -> Result<(), TestCaseError> {
        let mut left = secs;
        while left > 0 {
            let step = left.min(BEAT);
            self.m.net.env.advance_clock(step);
            left -= step;
            let (supplier, listing) = &self.suppliers[HONEST];
            let beat = HeartbeatAccounts::new(supplier.worker.pubkey(), *listing).instruction();
            let worker = supplier.worker.insecure_clone();
            if let Err(failure) = self.m.net.env.send(&[beat], &[&worker]) {
                prop_assert!(false, "the honest worker's heartbeat failed: {failure}");
            }
        }
        self.check_honest()
    }

    /// The honest supplier never loses stake, whatever the others do.
    fn check_honest(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            self.stake_of(HONEST),
            self.honest_stake,
            "the honest supplier lost stake"
        );
        Ok(())
    }

    /// Liveness: the honest worker proves what it still runs, then only the
    /// clock and permissionless instructions (expire, settle) must close
    /// every job, its escrow emptied and closed.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        self.prove_honest_assignments()?;
        for _ in 0..3 {
            let live: Vec<Address> = (0..self.jobs.len())
                .filter_map(|i| self.jobs.get(i).copied())
                .filter(|j| self.m.net.env.account(j).is_some())
                .collect();
            if live.is_empty() {
                break;
            }
            self.m.net.env.advance_clock(DRAIN_STEP);
            for job in live {
                self.close_permissionlessly(&job)?;
            }
        }
        for job in &self.jobs {
            prop_assert!(
                self.m.net.env.account(job).is_none(),
                "job {} is still open after the drain",
                job
            );
            prop_assert!(self.m.net.env.account(&pda::escrow(job).0).is_none());
        }
        self.m.net.check_invariants();
        self.check_honest()
    }

    fn prove_honest_assignments(&mut self) -> Result<(), TestCaseError> {
        let (supplier, listing) = (
            self.suppliers[HONEST].0.worker.insecure_clone(),
            self.suppliers[HONEST].1,
        );
        for job in self.jobs.clone() {
            if self.m.net.env.account(&job).is_none() {
                continue;
            }
            let state = self.m.net.job(&job);
            let Some(assignment) = state.active().find(|a| a.listing == listing).copied() else {
                continue;
            };
            let (hash, seconds) = ([0xC0; 32], u64::MAX / 4);
            let message = proof::proof_message(&job, &listing, assignment.nonce, &hash, seconds);
            let signature: [u8; 64] = supplier.sign_message(&message).into();
            let ixs = CompleteJobAccounts::new(job, listing).with_proof(
                &supplier.pubkey(),
                &signature,
                assignment.nonce,
                &hash,
                seconds,
            );
            let relayer = self.m.net.env.funded_keypair();
            match self.m.net.env.send(&ixs, &[&relayer]) {
                Ok(meta) => self.account_for(&meta.logs)?,
                Err(failure) => prop_assert!(false, "the honest proof failed: {failure}"),
            }
        }
        Ok(())
    }

    /// One permissionless step for `job`: expire it if it runs (or lapsed
    /// open), else settle it.
    fn close_permissionlessly(&mut self, job: &Address) -> Result<(), TestCaseError> {
        let state = self.m.net.job(job);
        let ix = match state.job.status() {
            JobStatus::Open | JobStatus::Running => {
                let listings: Vec<Address> = state.active().map(|a| a.listing).collect();
                ExpireJobAccounts::new(*job).instruction(&listings)
            }
            _ => CloseJobAccounts::new(*job, self.m.user.pubkey(), self.m.user_tokens)
                .settle_job(&self.payees(job)),
        };
        let anyone = self.m.net.env.funded_keypair();
        match self.m.net.env.send(&[ix], &[&anyone]) {
            Ok(meta) => self.account_for(&meta.logs)?,
            Err(failure) => prop_assert!(
                false,
                "permissionless step on {:?} job failed: {}",
                state.job.status(),
                failure
            ),
        }
        self.m.net.check_invariants();
        Ok(())
    }

    /// Tracks payments and checks every closed job's books.
    fn account_for(&mut self, logs: &[String]) -> Result<(), TestCaseError> {
        for p in find_events::<JobPayment>(logs) {
            prop_assert_eq!(p.gross, p.net + p.fee + p.burned);
            *self.paid.entry(p.job).or_default() += p.gross;
        }
        for c in find_events::<JobClosed>(logs) {
            let paid = self.paid.get(&c.job).copied().unwrap_or(0);
            prop_assert_eq!(paid, c.paid_out);
            prop_assert_eq!(
                paid + c.refund,
                c.deposit + c.compensation,
                "job {} books",
                c.job
            );
            prop_assert!(self.m.net.env.account(&pda::escrow(&c.job).0).is_none());
        }
        Ok(())
    }

    /// No GPU is booked by two jobs or lost: checked by the invariants; here,
    /// proven or faulted assignments no longer hold GPUs.
    fn check_listings(&self) -> Result<(), TestCaseError> {
        for i in 0..self.jobs.len() {
            if let Some(job) = self.job(i) {
                let state = self.m.net.job(&job);
                let active: u16 = state.active().map(|a| a.gpus).sum();
                let proven: u16 = state
                    .assignments
                    .iter()
                    .filter(|a| a.is_payable())
                    .map(|a| a.gpus)
                    .sum();
                prop_assert_eq!(active + proven, state.job.gpus_assigned);
                if state.job.status() == JobStatus::Open {
                    prop_assert!(state.assignments.is_empty());
                }
            }
        }
        Ok(())
    }

    /// A supplier that fails its relisting keeps its old (closed) address:
    /// nothing refers to a listing that never came to be.
    fn settle_relist(&mut self, op: &Op, before: Address) {
        if let Op::Relist(s) = op {
            if !self.listed(*s) {
                self.suppliers[*s].1 = before;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Who {
    User,
    Keeper,
    Arbiter,
    Worker(usize),
    Owner(usize),
}

#[test]
fn job_operations_keep_every_invariant_and_every_job_closes() {
    let started = std::time::Instant::now();
    let cases = cases_from_env(1_000);
    run_sequences(op(), cases, 100, |ops| {
        let mut harness = Harness::new();
        for op in &ops {
            let before = match op {
                Op::Relist(s) => harness.suppliers[*s].1,
                _ => Address::default(),
            };
            harness.run(op)?;
            harness.settle_relist(op, before);
        }
        harness.drain()?;
        SUCCESSES.record("drained");
        Ok(())
    });
    println!(
        "{} operations in {cases} cases, every case drained: {:.1} s",
        u64::from(cases) * 100,
        started.elapsed().as_secs_f64()
    );
    SUCCESSES.assert_each_succeeded(&[
        "create",
        "assign",
        "heartbeat",
        "prove",
        "approve",
        "dispute",
        "resolve",
        "settle",
        "expire",
        "cancel",
        "online",
        "offline",
        "delist",
        "relist",
        "unstake",
        "crank",
        "sweep",
        "drained",
        "assigned-0",
        "assigned-1",
        "assigned-2",
        "fault",
    ]);
}
