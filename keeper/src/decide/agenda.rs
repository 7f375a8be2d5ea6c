//! Which jobs a planning pass must look at. A full pass over 100,000 jobs
//! takes about 100 ms (`benches/plan`), nearly all of it on jobs with
//! nothing to do; the agenda narrows a pass to:
//!
//! - **changed** jobs: their account was written (or Config was, which
//!   changes every job's rules, or a full resync ran, the safety net);
//! - **due** jobs: a deadline from the deadline queue has come — a worker's
//!   heartbeat timeout, the end plus grace, the challenge window, a lapsed
//!   dispute. A deadline may come early (a worker heartbeated since); the
//!   pass then finds nothing and files the next one. It never comes late;
//! - **pending** jobs: the last pass planned an action for them that has
//!   not landed (held for a peer keeper, backing off, or just sent);
//! - **waiting** jobs (they want GPUs and none match) only when the book
//!   has gained capacity since they were last tried: a listing added, back
//!   online, restaked, cheaper, with more GPUs free, heartbeating after a
//!   silence, or a booking undone. Their explanation is kept meanwhile.

use {
    super::matcher::Unmatchable,
    iogrid_sdk::{
        accounts::{GpuListing, JobAccount, JobStatus, NetworkParams},
        constants::MAX_DISPUTE_SECS,
        Address,
    },
    std::{
        collections::{hash_map::Entry, BTreeSet, HashMap, HashSet},
        time::Instant,
    },
};

/// Why a job waits for listings, and since when.
#[derive(Clone, Debug)]
pub struct Waiting {
    pub reason: Unmatchable,
    /// When the keeper first found it unmatchable.
    pub since: Instant,
}

#[derive(Clone, Debug, Default)]
pub struct Agenda {
    changed: HashSet<Address>,
    pending: HashSet<Address>,
    deadlines: BTreeSet<(i64, Address)>,
    deadline_of: HashMap<Address, i64>,
    /// Jobs that want GPUs and could not be matched, with why: the one
    /// record the API and the metrics read.
    waiting: HashMap<Address, Waiting>,
    /// Bumped whenever the book may hold more capacity than before.
    capacity: u64,
    /// `capacity` when the waiting jobs were last tried.
    waiting_tried_at: u64,
}

impl Agenda {
    pub fn changed(&mut self, job: Address) {
        self.changed.insert(job);
    }

    /// Every job looks again at the next pass (Config changed, a resync).
    pub fn all_changed<'a>(&mut self, jobs: impl IntoIterator<Item = &'a Address>) {
        self.changed.extend(jobs);
    }

    /// The job is gone: nothing about it is kept.
    pub fn forget(&mut self, job: &Address) {
        self.changed.remove(job);
        self.pending.remove(job);
        self.waiting.remove(job);
        self.clear_deadline(job);
    }

    /// The book may now match what it could not before.
    pub fn capacity_gained(&mut self) {
        self.capacity = self.capacity.wrapping_add(1);
    }

    /// The jobs this pass must plan, leaving `busy` ones (a send in flight)
    /// for a later pass.
    pub fn take(&mut self, now: i64, busy: &HashSet<Address>) -> HashSet<Address> {
        let mut jobs: HashSet<Address> = self.changed.drain().collect();
        jobs.extend(self.pending.drain());
        while let Some(&(at, job)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            self.deadline_of.remove(&job);
            jobs.insert(job);
        }
        if self.waiting_tried_at != self.capacity {
            self.waiting_tried_at = self.capacity;
            jobs.extend(self.waiting.keys());
        }
        let (later, now): (HashSet<Address>, HashSet<Address>) =
            jobs.into_iter().partition(|job| busy.contains(job));
        self.changed.extend(later);
        now
    }

    /// The pass planned an action for `job`: plan it again until it lands.
    pub fn acted(&mut self, job: Address) {
        self.pending.insert(job);
        self.waiting.remove(&job);
    }

    /// The job waits for listings, for `why`; whether that is news (it
    /// was not waiting, or for another reason).
    pub fn wait(&mut self, job: Address, why: Unmatchable) -> bool {
        match self.waiting.entry(job) {
            Entry::Occupied(mut waiting) if waiting.get().reason != why => {
                waiting.get_mut().reason = why;
                true
            }
            Entry::Occupied(_) => false,
            Entry::Vacant(entry) => {
                entry.insert(Waiting {
                    reason: why,
                    since: Instant::now(),
                });
                true
            }
        }
    }

    pub fn not_waiting(&mut self, job: &Address) {
        self.waiting.remove(job);
    }

    /// Files `job`'s next deadline (replacing any earlier one).
    pub fn schedule(&mut self, job: Address, at: Option<i64>) {
        self.clear_deadline(&job);
        if let Some(at) = at {
            self.deadlines.insert((at, job));
            self.deadline_of.insert(job, at);
        }
    }

    fn clear_deadline(&mut self, job: &Address) {
        if let Some(at) = self.deadline_of.remove(job) {
            self.deadlines.remove(&(at, *job));
        }
    }

    /// Every waiting job and why, for /v1/unmatched and the metrics.
    pub fn waiting(&self) -> impl Iterator<Item = (&Address, &Waiting)> {
        self.waiting.iter()
    }

    /// Why `job` waits, if it does (for /v1/jobs/<job>).
    pub fn waiting_for(&self, job: &Address) -> Option<&Waiting> {
        self.waiting.get(job)
    }

    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
    }

    /// Jobs with a deadline filed.
    pub fn scheduled(&self) -> usize {
        self.deadlines.len()
    }
}

/// The next chain time at which `account` may need an action without any
/// account changing: a silent worker, the end plus grace, the end of the
/// challenge window, a lapsed dispute. `listings` gives each assigned
/// listing's last heartbeat.
pub fn next_deadline(
    account: &JobAccount,
    last_heartbeat: impl Fn(&Address) -> Option<i64>,
    params: &NetworkParams,
) -> Option<i64> {
    let header = &account.job;
    let after = |t: i64| t.saturating_add(1);
    match header.status() {
        JobStatus::Open => Some(after(header.expires_at())),
        JobStatus::Running => {
            let timeout = i64::from(params.heartbeat_timeout_secs);
            // `is_silent`: silent once now − max(heartbeat, start) > timeout.
            let silence = account
                .active()
                .filter_map(|a| {
                    let beat = last_heartbeat(&a.listing)?;
                    Some(after(beat.max(a.started_at).saturating_add(timeout)))
                })
                .min();
            let expiry = after(header.expires_at());
            Some(silence.map_or(expiry, |s| s.min(expiry)))
        }
        JobStatus::Proven => Some(
            header
                .proven_at
                .saturating_add(i64::from(header.terms.challenge_window_secs)),
        ),
        JobStatus::Disputed => Some(header.disputed_at.saturating_add(MAX_DISPUTE_SECS)),
        _ => None,
    }
}

/// Whether a listing's new state may let the book match a job it could not
/// before. Errs towards yes: a wrong yes costs one retry of the waiting jobs.
pub fn may_add_capacity(old: Option<&GpuListing>, new: &GpuListing, timeout_secs: u32) -> bool {
    if !new.is_online() || new.gpus_free == 0 {
        return false;
    }
    let Some(old) = old else {
        return true;
    };
    !old.is_online()
        || new.gpus_free > old.gpus_free
        || new.spec.price_per_gpu_hour < old.spec.price_per_gpu_hour
        || new.stake_locked > old.stake_locked
        || new.spec.gpu_model != old.spec.gpu_model
        || new.spec.region != old.spec.region
        || new.spec.vram_gb != old.spec.vram_gb
        || new.last_heartbeat.saturating_sub(old.last_heartbeat) > i64::from(timeout_secs)
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        bytemuck::Zeroable,
        iogrid_sdk::accounts::{Assignment, GpuSpec, Job},
    };

    #[test]
    fn a_pass_takes_changed_pending_and_due_jobs_but_leaves_busy_ones() {
        let mut agenda = Agenda::default();
        let [a, b, c, d] = [(); 4].map(|_| Address::new_unique());
        agenda.changed(a);
        agenda.acted(b);
        agenda.schedule(c, Some(100));
        agenda.schedule(d, Some(200));
        agenda.changed(d);
        let busy = HashSet::from([d]);
        assert_eq!(agenda.take(150, &busy), HashSet::from([a, b, c]));
        // d was busy: it stays changed; its deadline is still filed.
        assert_eq!(agenda.take(150, &HashSet::new()), HashSet::from([d]));
        assert_eq!(agenda.take(150, &HashSet::new()), HashSet::new());
        assert_eq!(agenda.take(200, &HashSet::new()), HashSet::from([d]));
        assert_eq!(agenda.scheduled(), 0);
    }

    #[test]
    fn waiting_jobs_are_tried_again_only_when_capacity_grows() {
        let mut agenda = Agenda::default();
        let job = Address::new_unique();
        agenda.wait(job, Unmatchable::Paused);
        assert!(agenda.take(0, &HashSet::new()).is_empty(), "nothing new");
        agenda.capacity_gained();
        assert_eq!(agenda.take(0, &HashSet::new()), HashSet::from([job]));
        assert!(agenda.take(0, &HashSet::new()).is_empty(), "tried once");
        agenda.forget(&job);
        agenda.capacity_gained();
        assert!(agenda.take(0, &HashSet::new()).is_empty());
    }

    fn listing(free: u16, price: u64, beat: i64) -> GpuListing {
        let mut l = GpuListing::zeroed();
        l.spec = GpuSpec::new(Address::new_unique(), "H100", 80, 8, "eu", price).unwrap();
        l.gpus_free = free;
        l.last_heartbeat = beat;
        l
    }

    #[test]
    fn capacity_grows_with_free_gpus_lower_prices_and_revived_workers() {
        let old = listing(2, 10, 1_000);
        let mut new = old;
        new.last_heartbeat = 1_060;
        assert!(!may_add_capacity(Some(&old), &new, 300), "a heartbeat");
        new.gpus_free = 3;
        assert!(may_add_capacity(Some(&old), &new, 300));
        let mut cheaper = old;
        cheaper.spec.price_per_gpu_hour = 9;
        assert!(may_add_capacity(Some(&old), &cheaper, 300));
        let mut revived = old;
        revived.last_heartbeat = 1_400;
        assert!(may_add_capacity(Some(&old), &revived, 300));
        assert!(may_add_capacity(None, &old, 300));
        assert!(
            !may_add_capacity(None, &listing(0, 10, 0), 300),
            "nothing free"
        );
    }

    #[test]
    fn deadlines_follow_the_programs_rules() {
        let params = NetworkParams {
            heartbeat_timeout_secs: 20,
            ..NetworkParams::zeroed()
        };
        let mut job = Job::zeroed();
        job.duration_secs = 600;
        job.created_at = 1_000;
        job.terms.job_grace_secs = 30;
        let mut account = JobAccount {
            job,
            assignments: Vec::new(),
            capacity: 1,
        };
        assert_eq!(next_deadline(&account, |_| None, &params), Some(1_631));
        account.job.status = 1;
        account.job.started_at = 1_100;
        let mut a = Assignment::zeroed();
        a.listing = Address::new_unique();
        a.started_at = 1_100;
        a.gpus = 1;
        account.assignments.push(a);
        // Heartbeat at 1,150: silent from 1,171 (expiry at 1,731 is later).
        assert_eq!(
            next_deadline(&account, |_| Some(1_150), &params),
            Some(1_171)
        );
        account.job.status = 2;
        account.job.proven_at = 1_200;
        account.job.terms.challenge_window_secs = 10;
        assert_eq!(next_deadline(&account, |_| None, &params), Some(1_210));
        account.job.status = 3;
        assert_eq!(next_deadline(&account, |_| None, &params), None);
    }
}
