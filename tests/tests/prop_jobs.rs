//! Property test: random sequences of job operations (create, assign,
//! heartbeat, clock moves, proof, approve, dispute, resolve, settle, expire,
//! fault report, cancel, supplier back online, emission crank) against the
//! SBF program. Every operation either succeeds or fails with one of the
//! errors that operation may legitimately return; the conservation
//! invariants hold after every step; and every closed job accounts for its
//! deposit exactly: Σ payouts + fees + burn + refund == deposit + compensation.
//! 100 cases × 100 ops = 10,000 operations per run.

use {
    iogrid_sdk::{
        accounts::{JobStatus, NetworkParams},
        constants::IO,
        errors::IogridError,
        events::{find_events, JobClosed, JobPayment},
        instructions::*,
        pda, proof, Address,
    },
    iogrid_tests::{
        fixtures::{Market, Network, Supplier},
        prop::{run_sequences, Successes},
    },
    proptest::prelude::*,
    solana_instruction::Instruction,
    solana_signer::Signer,
    std::collections::HashMap,
};

const SUPPLIERS: usize = 3;

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
    Crank,
}

fn op() -> impl Strategy<Value = Op> {
    let job = 0..6usize;
    prop_oneof![
        1 => (1..=4u16, 1..=4u64, 300..1_800u64).prop_map(|(gpus, price_io, secs)| Op::Create { gpus, price_io, secs }),
        3 => job.clone().prop_map(Op::Assign),
        5 => (0..SUPPLIERS).prop_map(Op::Beat),
        4 => (1..1_200i64).prop_map(Op::Advance),
        5 => (job.clone(), 0..3usize, 0..8_000u64).prop_map(|(job, slot, seconds)| Op::Prove { job, slot, seconds }),
        1 => job.clone().prop_map(Op::Approve),
        1 => job.clone().prop_map(Op::Dispute),
        1 => (job.clone(), 0..=10_000u16).prop_map(|(j, bps)| Op::Resolve(j, bps)),
        2 => job.clone().prop_map(Op::Settle),
        3 => job.clone().prop_map(Op::Expire),
        2 => (job.clone(), 0..SUPPLIERS).prop_map(|(j, s)| Op::Fault(j, s)),
        1 => job.prop_map(Op::Cancel),
        2 => (0..SUPPLIERS, any::<bool>()).prop_map(|(s, on)| Op::SetOnline(s, on)),
        1 => Just(Op::Crank),
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
        Op::Crank => "crank",
    }
}

struct Harness {
    m: Market,
    suppliers: Vec<(Supplier, Address)>,
    jobs: Vec<Address>,
    next_id: u64,
    /// Σ gross paid per job, from JobPayment events.
    paid: HashMap<Address, u64>,
}

impl Harness {
    fn new() -> Self {
        let params = NetworkParams {
            challenge_window_secs: 600,
            job_grace_secs: 300,
            ..NetworkParams::default()
        };
        let mut m = Market::with_params(params);
        let suppliers = [IO, 2 * IO, 3 * IO]
            .iter()
            .map(|price| m.supplier_with_listing(4, *price))
            .collect();
        Self {
            m,
            suppliers,
            jobs: Vec::new(),
            next_id: 0,
            paid: HashMap::new(),
        }
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
                    .unwrap()
            })
            .collect()
    }

    /// Free, live, affordable listings for the job's missing GPUs, greedily.
    fn pick_listings(&self, job: &Address) -> Option<Vec<(Address, u16)>> {
        let state = self.m.net.job(job);
        let mut missing = state.job.missing_gpus();
        let now = self.m.net.env.now();
        let mut picks = Vec::new();
        for (_, address) in &self.suppliers {
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
                let picks = self.pick_listings(&job)?;
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
            Op::Fault(i, s) => {
                let job = self.job(i)?;
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
            Op::Crank => (
                vec![CrankEmissionAccounts::new().instruction()],
                Who::Keeper,
                vec![],
            ),
            Op::Advance(_) => unreachable!(),
        })
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if let Op::Advance(secs) = op {
            self.m.net.env.advance_clock(*secs);
            return Ok(());
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
        self.check_listings()
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
fn job_operations_keep_every_invariant() {
    run_sequences(op(), 100, 100, |ops| {
        let mut harness = Harness::new();
        for op in &ops {
            harness.run(op)?;
        }
        Ok(())
    });
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
        "fault",
        "cancel",
        "online",
        "offline",
        "crank",
    ]);
}
