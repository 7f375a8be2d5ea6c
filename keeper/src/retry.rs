//! The retry ledger. An action whose send failed for a reason the keeper
//! cannot classify (an empty wallet, an RPC node refusing, a program error
//! it does not expect) would otherwise go out again on the next planning
//! pass, 100 ms later — about ten transactions a second per job, for as long
//! as the cause lasts. Instead each (job, action) that failed waits before
//! its next try: the base delay doubled per failure in a row, up to a cap,
//! shortened by a random quarter at most so several keepers do not retry in
//! lockstep. A send that lands, or the chain showing it already done, clears
//! the entry; so does the job closing. Other actions of the same job are not
//! held back.

use {
    iogrid_node::backoff::{backoff, jittered},
    iogrid_sdk::Address,
    serde::Serialize,
    std::{
        collections::{BTreeMap, HashMap},
        time::{Duration, Instant},
    },
};

/// The first wait after a failure.
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// The longest wait between two tries of one action (default of
/// `--retry-cap`).
pub const RETRY_CAP: Duration = Duration::from_secs(60);

/// One (job, action)'s failures in a row.
#[derive(Clone, Debug)]
struct Entry {
    failures: u32,
    next_try: Instant,
    wait: Duration,
    last_error: String,
}

/// What GET /v1/jobs/<job> shows of an action that is backing off.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetryView {
    pub action: &'static str,
    pub failures: u32,
    /// Seconds until the next try (0: due).
    pub retry_in_secs: f64,
    /// The current wait between tries.
    pub backoff_secs: f64,
    pub last_error: String,
}

/// Per action, for /metrics: how many (job, action) pairs are backing off
/// and the longest wait among them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackingOff {
    pub count: usize,
    pub longest_wait: Duration,
}

/// Failed actions and when each may go out again.
#[derive(Debug)]
pub struct RetryLedger {
    cap: Duration,
    entries: HashMap<(Address, &'static str), Entry>,
}

impl Default for RetryLedger {
    fn default() -> Self {
        Self::new(RETRY_CAP)
    }
}

impl RetryLedger {
    /// Waits never longer than `cap` (nor shorter than [`RETRY_BASE`]'s
    /// first step, whatever the cap).
    pub fn new(cap: Duration) -> Self {
        Self {
            cap: cap.max(RETRY_BASE),
            entries: HashMap::new(),
        }
    }

    /// Whether `action` of `job` may be sent at `now`.
    pub fn ready(&self, job: &Address, action: &'static str, now: Instant) -> bool {
        self.entries
            .get(&(*job, action))
            .is_none_or(|entry| now >= entry.next_try)
    }

    /// How many times in a row `action` of `job` has failed.
    pub fn failures(&self, job: &Address, action: &'static str) -> u32 {
        self.entries
            .get(&(*job, action))
            .map_or(0, |entry| entry.failures)
    }

    /// Records a failure at `now`; returns the wait before the next try.
    pub fn failed(
        &mut self,
        job: Address,
        action: &'static str,
        error: String,
        now: Instant,
    ) -> Duration {
        let entry = self.entries.entry((job, action)).or_insert(Entry {
            failures: 0,
            next_try: now,
            wait: Duration::ZERO,
            last_error: String::new(),
        });
        entry.failures = entry.failures.saturating_add(1);
        entry.wait = jittered(backoff(RETRY_BASE, entry.failures - 1, self.cap));
        entry.next_try = now + entry.wait;
        entry.last_error = error;
        entry.wait
    }

    /// The action went out, or the chain shows it done: forget its failures.
    pub fn succeeded(&mut self, job: &Address, action: &'static str) {
        self.entries.remove(&(*job, action));
    }

    /// Forgets the jobs `followed` says are gone (closed accounts).
    pub fn retain_jobs(&mut self, followed: impl Fn(&Address) -> bool) {
        self.entries.retain(|(job, _), _| followed(job));
    }

    /// The actions of `job` that are backing off, by name.
    pub fn of_job(&self, job: &Address, now: Instant) -> Vec<RetryView> {
        let mut views: Vec<RetryView> = self
            .entries
            .iter()
            .filter(|((j, _), _)| j == job)
            .map(|((_, action), entry)| RetryView {
                action,
                failures: entry.failures,
                retry_in_secs: entry.next_try.saturating_duration_since(now).as_secs_f64(),
                backoff_secs: entry.wait.as_secs_f64(),
                last_error: entry.last_error.clone(),
            })
            .collect();
        views.sort_by_key(|v| v.action);
        views
    }

    /// Per action name, the pairs backing off and the longest wait.
    pub fn summary(&self) -> BTreeMap<&'static str, BackingOff> {
        let mut summary: BTreeMap<&'static str, BackingOff> = BTreeMap::new();
        for ((_, action), entry) in &self.entries {
            let slot = summary.entry(action).or_default();
            slot.count += 1;
            slot.longest_wait = slot.longest_wait.max(entry.wait);
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_action_waits_twice_as_long_each_time_up_to_the_cap() {
        let mut ledger = RetryLedger::new(Duration::from_secs(8));
        let job = Address::new_unique();
        let start = Instant::now();
        assert!(ledger.ready(&job, "settle_job", start));
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..6 {
            let wait = ledger.failed(job, "settle_job", "no SOL".into(), now);
            assert!(!ledger.ready(&job, "settle_job", now));
            assert!(!ledger.ready(&job, "settle_job", now + wait - Duration::from_millis(1)));
            assert!(ledger.ready(&job, "settle_job", now + wait));
            waits.push(wait);
            now += wait;
        }
        // 1, 2, 4, 8, 8, 8 s, each shortened by at most a quarter.
        for (wait, full) in waits.iter().zip([1, 2, 4, 8, 8, 8]) {
            let full = Duration::from_secs(full);
            assert!(
                *wait <= full && *wait >= full.mul_f64(0.75),
                "{wait:?} of {full:?}"
            );
        }
        assert_eq!(ledger.failures(&job, "settle_job"), 6);
        // Another action of the job goes out as planned.
        assert!(ledger.ready(&job, "report_fault", start));
        let view = ledger.of_job(&job, now);
        assert_eq!(view.len(), 1);
        assert_eq!((view[0].action, view[0].failures), ("settle_job", 6));
        assert_eq!(view[0].last_error, "no SOL");
        assert_eq!(ledger.summary()["settle_job"].count, 1);
        ledger.succeeded(&job, "settle_job");
        assert!(ledger.ready(&job, "settle_job", start));
        assert!(ledger.of_job(&job, now).is_empty());
    }

    #[test]
    fn tries_over_a_long_outage_are_bounded_by_the_capped_rate() {
        // A cause that lasts ten minutes, a pass every 100 ms: without the
        // ledger 6,000 sends; with it, the doubling then one per cap.
        let cap = Duration::from_secs(60);
        let mut ledger = RetryLedger::new(cap);
        let job = Address::new_unique();
        let start = Instant::now();
        let mut sends = 0;
        let mut now = start;
        while now < start + Duration::from_secs(600) {
            if ledger.ready(&job, "expire_job", now) {
                sends += 1;
                ledger.failed(job, "expire_job", "refused".into(), now);
            }
            now += Duration::from_millis(100);
        }
        // 1+2+4+8+16+32 s of doubling, then at least 45 s (60 less a quarter)
        // apart: 7 + (600 - 63·0.75) / 45 < 20.
        assert!((8..20).contains(&sends), "{sends} sends");
    }

    #[test]
    fn closed_jobs_are_forgotten() {
        let mut ledger = RetryLedger::default();
        let (kept, closed) = (Address::new_unique(), Address::new_unique());
        let now = Instant::now();
        ledger.failed(kept, "assign_job", "x".into(), now);
        ledger.failed(closed, "settle_job", "y".into(), now);
        ledger.retain_jobs(|job| *job == kept);
        assert_eq!(ledger.failures(&kept, "assign_job"), 1);
        assert_eq!(ledger.failures(&closed, "settle_job"), 0);
        let summary = ledger.summary();
        assert_eq!(summary.len(), 1);
        assert!(summary["assign_job"].longest_wait <= RETRY_BASE);
    }
}
