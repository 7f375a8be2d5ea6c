//! One planning pass over the state: for each job (oldest first) at most one
//! next step — report a silent worker, expire, settle, or assign listings —
//! and, for jobs that cannot be matched, why not.

use {
    super::{
        agenda::next_deadline,
        matcher::{Match, Unmatchable},
    },
    crate::state::ChainState,
    iogrid_sdk::{
        accounts::{JobAccount, JobStatus},
        constants::MAX_DISPUTE_SECS,
        Address,
    },
    std::collections::HashSet,
};

/// A transaction the keeper should send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `assign_job` or `reassign` with the matcher's listings.
    Assign(Match),
    /// `report_fault`: `listing`'s worker stopped heartbeating mid-job.
    ReportFault {
        job: Address,
        listing: Address,
        supplier: Address,
    },
    /// `settle_job` (proven and unchallenged, approved, resolved, lapsed
    /// dispute or expired) or `expire_job` (past its end plus grace).
    Close {
        kind: CloseKind,
        job: Address,
        owner: Address,
        /// `(listing, its supplier)` per assignment the instruction names, in
        /// order: payable ones for settle, running ones for expire.
        payees: Vec<(Address, Address)>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseKind {
    Settle,
    Expire,
}

impl Action {
    pub fn job(&self) -> Address {
        match self {
            Action::Assign(m) => m.job,
            Action::ReportFault { job, .. } | Action::Close { job, .. } => *job,
        }
    }

    /// The metric / log label.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Assign(m) if m.kind == super::matcher::AssignKind::Reassign => "reassign",
            Action::Assign(_) => "assign_job",
            Action::ReportFault { .. } => "report_fault",
            Action::Close {
                kind: CloseKind::Settle,
                ..
            } => "settle_job",
            Action::Close {
                kind: CloseKind::Expire,
                ..
            } => "expire_job",
        }
    }
}

/// The result of a pass.
#[derive(Debug, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Jobs this pass tried to match and could not, why, and whether the
    /// reason is new (the state's agenda holds every waiting job, tried
    /// this pass or not).
    pub unmatched: Vec<(Address, Unmatchable, bool)>,
    /// Jobs this pass looked at (the agenda's), of all the state holds.
    pub considered: Vec<Address>,
}

/// Plans the jobs on the state's agenda (changed, due, pending, or waiting
/// when the book gained capacity; see [`super::agenda`]) that are not in
/// `busy` (a transaction in flight), oldest first, at chain time `now`.
/// Matches are booked in the state's book so two jobs of one pass never get
/// the same GPUs.
pub fn plan(state: &mut ChainState, now: i64, busy: &HashSet<Address>) -> Plan {
    let Some(config) = state.config.as_ref().map(|c| c.value) else {
        return Plan::default();
    };
    let params = config.params;
    let mut plan = Plan::default();
    let candidates = state.agenda.take(now, busy);
    let mut jobs: Vec<(u64, Address, JobAccount)> = candidates
        .into_iter()
        .filter_map(|job| {
            let entry = state.jobs.get(&job)?;
            Some((entry.seq, job, entry.account.clone()))
        })
        .collect();
    jobs.sort_unstable_by_key(|(seq, _, _)| *seq);
    plan.considered = jobs.iter().map(|(_, job, _)| *job).collect();
    for (_, job, account) in jobs {
        if let Some(action) = next_step(state, job, &account, now, &params) {
            plan.actions.push(action);
            state.agenda.acted(job);
            continue;
        }
        let deadline = next_deadline(
            &account,
            |listing| state.listings.get(listing).map(|l| l.value.last_heartbeat),
            &params,
        );
        state.agenda.schedule(job, deadline);
        if !wants_listings(&account) {
            state.agenda.not_waiting(&job);
            continue;
        }
        match state.book.match_and_book(job, &account, now) {
            Ok(matched) => {
                plan.actions.push(Action::Assign(matched));
                state.agenda.acted(job);
            }
            Err(Unmatchable::FullyAssigned | Unmatchable::WrongStatus(_)) => {
                state.agenda.not_waiting(&job);
            }
            Err(why) => {
                let news = state.agenda.wait(job, why.clone());
                plan.unmatched.push((job, why, news));
            }
        }
    }
    plan
}

/// Faults, expiry and settlement come before matching: a job with a silent
/// worker is reported first (its GPUs are then refilled by `reassign`).
fn next_step(
    state: &ChainState,
    job: Address,
    account: &JobAccount,
    now: i64,
    params: &iogrid_sdk::accounts::NetworkParams,
) -> Option<Action> {
    let header = &account.job;
    // Windows and grace come from the job's own terms, fixed at creation.
    let terms = header.terms;
    match header.status() {
        JobStatus::Running => {
            if let Some(action) = silent_worker(state, job, account, now, params) {
                return Some(action);
            }
            (now > header.expires_at()).then(|| close(CloseKind::Expire, job, account))
        }
        // Nobody took it in its whole duration plus grace: it lapses.
        JobStatus::Open => {
            (now > header.expires_at()).then(|| close(CloseKind::Expire, job, account))
        }
        JobStatus::Approved | JobStatus::Resolved | JobStatus::Expired => {
            Some(close(CloseKind::Settle, job, account))
        }
        JobStatus::Proven => {
            let window = i64::from(terms.challenge_window_secs);
            (now >= header.proven_at.saturating_add(window))
                .then(|| close(CloseKind::Settle, job, account))
        }
        JobStatus::Disputed => (now >= header.disputed_at.saturating_add(MAX_DISPUTE_SECS))
            .then(|| close(CloseKind::Settle, job, account)),
        _ => None,
    }
}

/// The first active assignment whose worker is provably silent
/// (`report_fault`'s rule, [`iogrid_sdk::accounts::Assignment::is_silent`]).
fn silent_worker(
    state: &ChainState,
    job: Address,
    account: &JobAccount,
    now: i64,
    params: &iogrid_sdk::accounts::NetworkParams,
) -> Option<Action> {
    let timeout = params.heartbeat_timeout_secs;
    account.active().find_map(|assignment| {
        let listing = &state.listings.get(&assignment.listing)?.value;
        let silent = assignment.is_silent(listing.last_heartbeat, now, timeout);
        silent.then_some(Action::ReportFault {
            job,
            listing: assignment.listing,
            supplier: listing.owner,
        })
    })
}

/// `settle_job` naming each payable assignment's supplier, or `expire_job`
/// naming each running assignment's listing; both come from the job account
/// alone (assignments record their supplier), so a delisted listing changes
/// nothing.
fn close(kind: CloseKind, job: Address, account: &JobAccount) -> Action {
    let named: Vec<(Address, Address)> = match kind {
        CloseKind::Settle => account.payable().map(|a| (a.listing, a.supplier)).collect(),
        CloseKind::Expire => account.active().map(|a| (a.listing, a.supplier)).collect(),
    };
    Action::Close {
        kind,
        job,
        owner: account.job.owner,
        payees: named,
    }
}

/// Open jobs, and running ones with GPUs lost to a fault or added by scaling.
fn wants_listings(account: &JobAccount) -> bool {
    matches!(account.job.status(), JobStatus::Open | JobStatus::Running)
        && account.job.missing_gpus() > 0
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{decide::matcher::AssignKind, state::encode},
        bytemuck::Zeroable,
        iogrid_sdk::accounts::{Assignment, Config, GpuListing, GpuSpec, Job},
    };

    const NOW: i64 = 1_800_000_000;
    const TIMEOUT: u32 = 20;
    const WINDOW: u32 = 10;
    const GRACE: u32 = 30;

    struct World {
        state: ChainState,
    }

    impl World {
        fn new() -> Self {
            let mut config = Config::zeroed();
            config.params.heartbeat_timeout_secs = TIMEOUT;
            config.params.challenge_window_secs = WINDOW;
            config.params.job_grace_secs = GRACE;
            config.params.min_stake_per_gpu = 1;
            let mut state = ChainState::default();
            state.apply(Address::new_unique(), &encode::config(&config), 1);
            Self { state }
        }

        /// A one-GPU available listing that heartbeated `beat_ago` seconds ago.
        fn listing(&mut self, owner: Address, beat_ago: i64) -> Address {
            let mut listing = GpuListing::zeroed();
            listing.owner = owner;
            listing.spec = GpuSpec::new(Address::new_unique(), "H100", 80, 1, "eu", 10).unwrap();
            listing.gpus_free = 1;
            listing.stake_locked = 1;
            listing.last_heartbeat = NOW - beat_ago;
            let address = Address::new_unique();
            self.state.apply(address, &encode::listing(&listing), 2);
            address
        }

        fn job(&mut self, account: &JobAccount) -> Address {
            let address = Address::new_unique();
            self.state.apply(address, &encode::job(account), 3);
            address
        }

        fn plan(&mut self) -> Plan {
            plan(&mut self.state, NOW, &HashSet::new())
        }
    }

    fn open_job(gpus: u16) -> JobAccount {
        let mut job = Job::zeroed();
        job.gpus = gpus;
        job.max_price_per_gpu_hour = 100;
        job.duration_secs = 600;
        job.owner = Address::new_unique();
        job.created_at = NOW;
        job.terms.challenge_window_secs = WINDOW;
        job.terms.job_grace_secs = GRACE;
        JobAccount {
            job,
            assignments: vec![],
            capacity: 4,
        }
    }

    /// Running since `started_ago` with `(listing, status)` one-GPU assignments.
    fn running_job(started_ago: i64, assignments: &[(Address, u8)]) -> JobAccount {
        let mut account = open_job(assignments.len() as u16);
        account.job.status = 1;
        account.job.started_at = NOW - started_ago;
        account.job.gpus_assigned = assignments.iter().filter(|(_, s)| *s != 2).count() as u16;
        account.assignments = assignments
            .iter()
            .map(|(listing, status)| {
                let mut a = Assignment::zeroed();
                a.listing = *listing;
                a.gpus = 1;
                a.status = *status;
                a.started_at = NOW - started_ago;
                a
            })
            .collect();
        account
    }

    #[test]
    fn an_open_job_spanning_two_suppliers_is_assigned_once_per_pass() {
        let mut world = World::new();
        let a = world.listing(Address::new_unique(), 1);
        let b = world.listing(Address::new_unique(), 1);
        let job = world.job(&open_job(2));
        let first = world.plan();
        let [Action::Assign(matched)] = &first.actions[..] else {
            panic!("{first:?}");
        };
        assert_eq!(matched.job, job);
        assert_eq!(matched.kind, AssignKind::Assign);
        let mut listings: Vec<Address> = matched.listings.iter().map(|(l, _)| *l).collect();
        listings.sort();
        let mut expected = vec![a, b];
        expected.sort();
        assert_eq!(listings, expected);
        // The GPUs are booked: a second job in the same pass waits.
        let second = world.job(&open_job(1));
        let next = plan(&mut world.state, NOW, &HashSet::from([job]));
        assert!(next.actions.is_empty());
        assert_eq!(next.unmatched.len(), 1);
        assert_eq!(next.unmatched[0].0, second);
    }

    #[test]
    fn a_pass_looks_only_at_jobs_that_changed_came_due_or_can_now_match() {
        let mut world = World::new();
        let owner = Address::new_unique();
        let listing = world.listing(owner, 1);
        let mut account = running_job(60, &[(listing, 1)]);
        account.assignments[0].supplier = owner;
        account.job.status = 2;
        account.job.proven_at = NOW - 2;
        let proven = world.job(&account);
        let waiting = world.job(&open_job(3));
        let first = world.plan();
        assert!(first.actions.is_empty(), "{first:?}");
        assert_eq!((first.considered.len(), first.unmatched.len()), (2, 1));
        // Nothing changed and nothing came due: nothing is looked at, and
        // the waiting job keeps its explanation.
        let again = world.plan();
        assert!(again.considered.is_empty() && again.unmatched.is_empty());
        assert_eq!(world.state.agenda.waiting().count(), 1);
        // The challenge window ends: the settlement comes from the deadline
        // queue, with no account written.
        let window_end = NOW - 2 + i64::from(WINDOW);
        let due = plan(&mut world.state, window_end, &HashSet::new());
        assert_eq!(due.considered, [proven]);
        assert!(
            matches!(&due.actions[..], [Action::Close { job, .. }] if *job == proven),
            "{due:?}"
        );
        // Two more listings: the waiting job is tried again and matched (the
        // settlement, not landed yet, is planned again too).
        world.listing(Address::new_unique(), 1);
        world.listing(Address::new_unique(), 1);
        let matched = plan(&mut world.state, window_end, &HashSet::new());
        assert_eq!(matched.considered.len(), 2);
        assert!(matched
            .actions
            .iter()
            .any(|a| matches!(a, Action::Assign(m) if m.job == waiting)));
        assert_eq!(world.state.agenda.waiting().count(), 0);
    }

    #[test]
    fn a_job_in_flight_is_left_alone() {
        let mut world = World::new();
        world.listing(Address::new_unique(), 1);
        let job = world.job(&open_job(1));
        let next = plan(&mut world.state, NOW, &HashSet::from([job]));
        assert!(next.actions.is_empty() && next.unmatched.is_empty());
    }

    #[test]
    fn a_silent_worker_is_reported_before_anything_else() {
        let mut world = World::new();
        let supplier = Address::new_unique();
        let silent = world.listing(supplier, i64::from(TIMEOUT) + 1);
        let alive = world.listing(Address::new_unique(), 1);
        let job = world.job(&running_job(60, &[(alive, 0), (silent, 0)]));
        assert_eq!(
            world.plan().actions,
            [Action::ReportFault {
                job,
                listing: silent,
                supplier
            }]
        );
    }

    #[test]
    fn a_worker_exactly_at_the_timeout_is_not_reported() {
        let mut world = World::new();
        let listing = world.listing(Address::new_unique(), i64::from(TIMEOUT));
        world.job(&running_job(60, &[(listing, 0)]));
        assert!(world.plan().actions.is_empty());
    }

    #[test]
    fn a_faulted_slot_is_refilled_by_reassign() {
        let mut world = World::new();
        let faulted = world.listing(Address::new_unique(), 1_000);
        let spare = world.listing(Address::new_unique(), 1);
        let job = world.job(&running_job(60, &[(faulted, 2)]));
        let [Action::Assign(matched)] = &world.plan().actions[..] else {
            panic!("expected a reassign");
        };
        assert_eq!((matched.job, matched.kind), (job, AssignKind::Reassign));
        assert_eq!(matched.listings, [(spare, 1)]);
    }

    #[test]
    fn settlement_waits_out_the_challenge_window() {
        let mut world = World::new();
        let owner = Address::new_unique();
        let listing = world.listing(owner, 1);
        let mut account = running_job(60, &[(listing, 1)]);
        account.job.status = 2;
        account.job.proven_at = NOW - i64::from(WINDOW) + 1;
        world.job(&account);
        assert!(world.plan().actions.is_empty(), "one second early");

        let mut world = World::new();
        let listing = world.listing(owner, 1);
        let mut account = running_job(60, &[(listing, 1)]);
        account.assignments[0].supplier = owner;
        account.job.status = 2;
        account.job.proven_at = NOW - i64::from(WINDOW);
        let job = world.job(&account);
        let payer = account.job.owner;
        assert_eq!(
            world.plan().actions,
            [Action::Close {
                kind: CloseKind::Settle,
                job,
                owner: payer,
                payees: vec![(listing, owner)],
            }]
        );
    }

    #[test]
    fn faulted_assignments_are_not_payees_of_the_settlement() {
        let mut world = World::new();
        let (faulted, proven) = (
            world.listing(Address::new_unique(), 1_000),
            world.listing(Address::new_unique(), 1),
        );
        let mut account = running_job(60, &[(faulted, 2), (proven, 1)]);
        account.job.status = 3;
        world.job(&account);
        let [Action::Close { payees, .. }] = &world.plan().actions[..] else {
            panic!("expected a settlement");
        };
        assert_eq!(payees.len(), 1);
        assert_eq!(payees[0].0, proven);
    }

    #[test]
    fn a_job_past_its_end_and_grace_expires() {
        let mut world = World::new();
        let listing = world.listing(Address::new_unique(), 1);
        let ended = 600 + i64::from(GRACE);
        world.job(&running_job(ended, &[(listing, 0)]));
        assert!(world.plan().actions.is_empty(), "at end + grace exactly");
        let mut world = World::new();
        let listing = world.listing(Address::new_unique(), 1);
        world.job(&running_job(ended + 1, &[(listing, 0)]));
        assert!(matches!(
            world.plan().actions[..],
            [Action::Close {
                kind: CloseKind::Expire,
                ..
            }]
        ));
    }

    #[test]
    fn a_worker_assigned_after_an_idle_silence_gets_a_full_timeout() {
        let mut world = World::new();
        // Silent while idle for far longer than the timeout, assigned 20 s ago.
        let listing = world.listing(Address::new_unique(), 1_000);
        world.job(&running_job(i64::from(TIMEOUT), &[(listing, 0)]));
        assert!(world.plan().actions.is_empty(), "not faultable yet");
        let mut world = World::new();
        let listing = world.listing(Address::new_unique(), 1_000);
        world.job(&running_job(i64::from(TIMEOUT) + 1, &[(listing, 0)]));
        assert!(matches!(
            world.plan().actions[..],
            [Action::ReportFault { .. }]
        ));
    }

    #[test]
    fn settlement_uses_the_job_terms_and_pays_a_delisted_supplier() {
        let mut world = World::new();
        let supplier = Address::new_unique();
        // The listing is gone (delisted after proving): the job still settles.
        let gone = Address::new_unique();
        let mut account = running_job(60, &[(gone, 1)]);
        account.assignments[0].supplier = supplier;
        account.job.status = 2;
        // Governance since shortened the network's window; the job keeps its own.
        account.job.terms.challenge_window_secs = 3 * WINDOW;
        account.job.proven_at = NOW - i64::from(WINDOW);
        world.job(&account);
        assert!(world.plan().actions.is_empty(), "the job's window is open");
        let mut world = World::new();
        let mut account = running_job(60, &[(gone, 1)]);
        account.assignments[0].supplier = supplier;
        account.job.status = 6; // Expired: settles at once
        let job = world.job(&account);
        assert_eq!(
            world.plan().actions,
            [Action::Close {
                kind: CloseKind::Settle,
                job,
                owner: account.job.owner,
                payees: vec![(gone, supplier)],
            }]
        );
    }

    #[test]
    fn an_open_job_nobody_takes_lapses_after_its_duration_and_grace() {
        let mut world = World::new();
        let mut account = open_job(1);
        account.job.created_at = NOW - 600 - i64::from(GRACE) - 1;
        let job = world.job(&account);
        assert_eq!(
            world.plan().actions,
            [Action::Close {
                kind: CloseKind::Expire,
                job,
                owner: account.job.owner,
                payees: vec![],
            }]
        );
    }

    #[test]
    fn nothing_is_planned_before_the_config_is_known() {
        let mut state = ChainState::default();
        state.apply(Address::new_unique(), &encode::job(&open_job(1)), 1);
        assert!(plan(&mut state, NOW, &HashSet::new()).actions.is_empty());
    }
}
