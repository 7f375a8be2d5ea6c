//! Several keepers, one network: each registered keeper (Config's keeper
//! list) owns a share of the jobs, picked by rendezvous hashing — every key
//! scores `sha256(job ‖ keeper)` and the highest score owns the job, the
//! next is first in line behind it, and so on. A keeper sends a job's action
//! at once when the job is its own, and only after the action has stayed
//! due for `rank × grace` otherwise: a silent peer's share is taken over,
//! and in steady state no two keepers send the same thing.
//!
//! Rendezvous hashing moves only the jobs of a keeper that joins or leaves
//! (a modulo split would reshuffle nearly all), and any client can compute
//! it from Config alone: no coordination service, no messages between
//! keepers.

use {
    iogrid_sdk::Address,
    sha2::{Digest, Sha256},
    std::{
        collections::{HashMap, HashSet},
        time::{Duration, Instant},
    },
};

/// Default wait before the first keeper in line takes over an owner's action.
pub const TAKEOVER_GRACE: Duration = Duration::from_secs(10);

/// `me`'s place in line for `key` among `keepers`: 0 owns it, 1 is next…;
/// a keeper not in the list comes after all of them.
pub fn rank(key: &Address, keepers: &[Address], me: &Address) -> usize {
    if !keepers.contains(me) {
        return keepers.len();
    }
    let mine = score(key, me);
    keepers
        .iter()
        .filter(|k| *k != me && score(key, k) > mine)
        .count()
}

fn score(key: &Address, keeper: &Address) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(key.as_ref());
    hasher.update(keeper.as_ref());
    hasher.finalize().into()
}

/// The keeper that owns `key` (none if the list is empty).
pub fn owner(key: &Address, keepers: &[Address]) -> Option<Address> {
    keepers.iter().copied().max_by_key(|k| score(key, k))
}

/// When each `(job, action)` this keeper holds for a peer first came due,
/// and how far its takeover has got.
#[derive(Debug, Default)]
pub struct DueSince {
    since: HashMap<(Address, &'static str), (Instant, Stage)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Inside the grace: the owner's to do.
    Held,
    /// Past the grace; the job is being read again before anything is sent.
    Verifying,
    /// Read again and still due: take it over.
    Verified,
    /// Taken over (sends after this are retries).
    TakenOver,
}

/// What to do with an action due now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    /// Ours, or the owner has left it too long and a fresh read shows it
    /// still due: send it. `takeover` the first time it is a peer's.
    Send { takeover: bool },
    /// Past the grace: read the job again first. A keeper's picture can lag
    /// (a closed account is not always notified), and a takeover on a stale
    /// picture would send what the owner already did.
    Verify,
    /// Another keeper's to send for now.
    Hold,
}

impl DueSince {
    /// Whether `me` at `rank` should send `(job, action)` now.
    pub fn turn(
        &mut self,
        job: Address,
        action: &'static str,
        rank: usize,
        grace: Duration,
        now: Instant,
    ) -> Turn {
        if rank == 0 {
            self.since.remove(&(job, action));
            return Turn::Send { takeover: false };
        }
        let since = self.note(job, action, now);
        let wait = grace.saturating_mul(u32::try_from(rank).unwrap_or(u32::MAX));
        if now.saturating_duration_since(since) < wait {
            return Turn::Hold;
        }
        let stage = &mut self.since.get_mut(&(job, action)).expect("noted").1;
        match *stage {
            Stage::Held => {
                *stage = Stage::Verifying;
                Turn::Verify
            }
            Stage::Verifying => Turn::Hold,
            Stage::Verified => {
                *stage = Stage::TakenOver;
                Turn::Send { takeover: true }
            }
            Stage::TakenOver => Turn::Send { takeover: false },
        }
    }

    /// The job was read again: a pass that still finds the action due
    /// takes it over.
    pub fn verified(&mut self, job: &Address) {
        for ((j, _), (_, stage)) in self.since.iter_mut() {
            if j == job && *stage == Stage::Verifying {
                *stage = Stage::Verified;
            }
        }
    }

    /// The read failed: the next pass past the grace tries it again.
    pub fn unverified(&mut self, job: &Address) {
        for ((j, _), (_, stage)) in self.since.iter_mut() {
            if j == job && *stage == Stage::Verifying {
                *stage = Stage::Held;
            }
        }
    }

    /// Starts `(job, action)`'s clock if it is not running; returns its start.
    pub fn note(&mut self, job: Address, action: &'static str, now: Instant) -> Instant {
        self.since
            .entry((job, action))
            .or_insert((now, Stage::Held))
            .0
    }

    /// Forgets what was not due in this pass (its owner did it, or it
    /// changed): only an action due without a break counts as left undone.
    /// Jobs with a send or a read in flight (`busy`, not planned) keep theirs.
    pub fn keep_only(&mut self, due: &HashSet<(Address, &'static str)>, busy: &HashSet<Address>) {
        self.since
            .retain(|key, _| due.contains(key) || busy.contains(&key.0));
    }

    pub fn held(&self) -> usize {
        self.since.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<Address> {
        (0..n).map(|_| Address::new_unique()).collect()
    }

    #[test]
    fn every_job_has_one_owner_and_a_line_behind_it() {
        let keepers = keys(5);
        for _ in 0..200 {
            let job = Address::new_unique();
            let mut ranks: Vec<usize> = keepers.iter().map(|k| rank(&job, &keepers, k)).collect();
            ranks.sort_unstable();
            assert_eq!(ranks, [0, 1, 2, 3, 4]);
            let owner = owner(&job, &keepers).unwrap();
            assert_eq!(rank(&job, &keepers, &owner), 0);
        }
        assert_eq!(
            rank(&Address::new_unique(), &keepers, &Address::new_unique()),
            5
        );
    }

    #[test]
    fn shares_are_even_and_a_leaving_keeper_moves_only_its_own() {
        let keepers = keys(4);
        let jobs = keys(8_000);
        let owners: Vec<Address> = jobs.iter().map(|j| owner(j, &keepers).unwrap()).collect();
        for k in &keepers {
            let share = owners.iter().filter(|o| *o == k).count();
            assert!((1_700..2_300).contains(&share), "{share} of 8,000");
        }
        let fewer = &keepers[1..];
        for (job, before) in jobs.iter().zip(&owners) {
            let after = owner(job, fewer).unwrap();
            if *before != keepers[0] {
                assert_eq!(after, *before, "only the leaver's jobs move");
            }
        }
    }

    #[test]
    fn the_nth_in_line_waits_n_graces_of_continuous_due_time() {
        let mut due = DueSince::default();
        let job = Address::new_unique();
        let grace = Duration::from_secs(10);
        let t0 = Instant::now();
        assert_eq!(
            due.turn(job, "settle_job", 0, grace, t0),
            Turn::Send { takeover: false }
        );
        assert_eq!(due.turn(job, "settle_job", 2, grace, t0), Turn::Hold);
        let at = |s| t0 + Duration::from_secs(s);
        assert_eq!(due.turn(job, "settle_job", 2, grace, at(19)), Turn::Hold);
        // Past the grace: read the job again first, then take it over once.
        assert_eq!(due.turn(job, "settle_job", 2, grace, at(20)), Turn::Verify);
        assert_eq!(due.turn(job, "settle_job", 2, grace, at(20)), Turn::Hold);
        due.verified(&job);
        assert_eq!(
            due.turn(job, "settle_job", 2, grace, at(21)),
            Turn::Send { takeover: true }
        );
        assert_eq!(
            due.turn(job, "settle_job", 2, grace, at(22)),
            Turn::Send { takeover: false },
            "a retry is not another takeover"
        );
        // The owner did it (not due in a pass): the clock starts again.
        due.keep_only(&HashSet::new(), &HashSet::new());
        assert_eq!(due.held(), 0);
        assert_eq!(due.turn(job, "settle_job", 1, grace, at(30)), Turn::Hold);
        assert_eq!(due.turn(job, "settle_job", 1, grace, at(39)), Turn::Hold);
    }
}
