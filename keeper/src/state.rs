//! The keeper's picture of the chain: Config, listings and jobs as the sdk
//! decodes them, each with the slot it was read at, plus the matcher's
//! [`Book`] kept in step with the listings. Nothing here is persisted: a
//! snapshot rebuilds it all, so a restarted keeper loses nothing.
//!
//! Updates arrive out of order (a websocket notification can beat or trail
//! a `getProgramAccounts` snapshot), so every write carries its slot and an
//! older read never overwrites a newer one.

use {
    crate::decide::{
        agenda::{may_add_capacity, Agenda},
        matcher::{Book, MatchParams},
    },
    iogrid_sdk::{
        accounts::{Config, GpuListing, Job, JobAccount, ProgramAccount},
        Address,
    },
    std::{collections::HashMap, time::Instant},
};

/// A value and the slot it was read at.
#[derive(Clone, Debug)]
pub struct Tracked<T> {
    pub value: T,
    pub slot: u64,
}

/// A job account and when the keeper first saw it: matching goes oldest
/// first, and the assignment latency is measured from `seen_at`.
#[derive(Clone, Debug)]
pub struct JobEntry {
    pub account: JobAccount,
    pub slot: u64,
    /// Order of first sight (accounts carry no creation time).
    pub seq: u64,
    pub seen_at: Instant,
}

/// What one account write changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Config,
    Listing,
    Job,
    /// The account is gone (closed) or no longer ours.
    Removed,
    /// Older than what the state holds, or an account the keeper ignores.
    Nothing,
}

/// A full read of the accounts the keeper follows.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub slot: u64,
    pub config: Option<Vec<u8>>,
    /// `(address, data)` of every listing and job account.
    pub accounts: Vec<(Address, Vec<u8>)>,
}

#[derive(Clone, Default)]
pub struct ChainState {
    pub config: Option<Tracked<Config>>,
    pub listings: HashMap<Address, Tracked<GpuListing>>,
    pub jobs: HashMap<Address, JobEntry>,
    pub book: Book,
    /// Which jobs the next planning pass must look at.
    pub agenda: Agenda,
    /// Addresses seen closed, with the slot: a late, older update must not
    /// bring them back.
    removed: HashMap<Address, u64>,
    next_seq: u64,
}

impl ChainState {
    /// Applies one account's data read at `slot`; empty data means closed.
    pub fn apply(&mut self, address: Address, data: &[u8], slot: u64) -> Change {
        if self.removed.get(&address).is_some_and(|at| *at >= slot) {
            return Change::Nothing;
        }
        match data.get(..8) {
            Some(d) if d == Config::DISCRIMINATOR => self.apply_config(data, slot),
            Some(d) if d == GpuListing::DISCRIMINATOR => self.apply_listing(address, data, slot),
            Some(d) if d == Job::DISCRIMINATOR => self.apply_job(address, data, slot),
            Some(_) => Change::Nothing,
            None => self.remove(address, slot),
        }
    }

    /// Forgets a closed account (unless the state holds a newer read).
    pub fn remove(&mut self, address: Address, slot: u64) -> Change {
        let newer = |held: u64| held > slot;
        if self.listings.get(&address).is_some_and(|l| newer(l.slot))
            || self.jobs.get(&address).is_some_and(|j| newer(j.slot))
        {
            return Change::Nothing;
        }
        let existed =
            self.listings.remove(&address).is_some() | self.jobs.remove(&address).is_some();
        self.book.remove(&address);
        self.agenda.forget(&address);
        self.removed.insert(address, slot);
        if existed {
            Change::Removed
        } else {
            Change::Nothing
        }
    }

    /// Replaces the state with a full snapshot: applies every account, and
    /// drops those the snapshot no longer has unless read after it.
    pub fn resync(&mut self, snapshot: &Snapshot) {
        if let Some(config) = &snapshot.config {
            self.apply_config(config, snapshot.slot);
        }
        let mut present = std::collections::HashSet::with_capacity(snapshot.accounts.len());
        for (address, data) in &snapshot.accounts {
            present.insert(*address);
            self.apply(*address, data, snapshot.slot);
        }
        let gone: Vec<Address> = self
            .listings
            .iter()
            .filter(|(a, l)| l.slot <= snapshot.slot && !present.contains(*a))
            .map(|(a, _)| *a)
            .chain(
                self.jobs
                    .iter()
                    .filter(|(a, j)| j.slot <= snapshot.slot && !present.contains(*a))
                    .map(|(a, _)| *a),
            )
            .collect();
        for address in gone {
            self.remove(address, snapshot.slot);
        }
        // Tombstones older than a full read are no longer needed.
        self.removed.retain(|_, at| *at > snapshot.slot);
        // The safety net under incremental planning: after a full read,
        // the next pass looks at every job.
        self.agenda.all_changed(self.jobs.keys());
    }

    fn apply_config(&mut self, data: &[u8], slot: u64) -> Change {
        let Ok(config) = Config::decode(data) else {
            return Change::Nothing;
        };
        if self.config.as_ref().is_some_and(|c| c.slot > slot) {
            return Change::Nothing;
        }
        let params = MatchParams::from_config(&config);
        if params != self.book.params() {
            self.book.set_params(params);
            self.agenda.capacity_gained();
        }
        // New rules (parameters, a pause, the keeper list) reach every job.
        let rules_changed = self.config.as_ref().is_none_or(|old| {
            bytemuck::bytes_of(&old.value.params) != bytemuck::bytes_of(&config.params)
                || old.value.paused != config.paused
                || old.value.active_keepers() != config.active_keepers()
        });
        if rules_changed {
            self.agenda.all_changed(self.jobs.keys());
        }
        self.config = Some(Tracked {
            value: config,
            slot,
        });
        Change::Config
    }

    fn apply_listing(&mut self, address: Address, data: &[u8], slot: u64) -> Change {
        let Ok(listing) = GpuListing::decode(data) else {
            return Change::Nothing;
        };
        if self.listings.get(&address).is_some_and(|l| l.slot > slot) {
            return Change::Nothing;
        }
        let timeout = self.book.params().heartbeat_timeout_secs;
        let old = self.listings.get(&address).map(|l| &l.value);
        if may_add_capacity(old, &listing, timeout) {
            self.agenda.capacity_gained();
        }
        self.book.upsert(address, &listing);
        self.listings.insert(
            address,
            Tracked {
                value: listing,
                slot,
            },
        );
        Change::Listing
    }

    fn apply_job(&mut self, address: Address, data: &[u8], slot: u64) -> Change {
        let Ok(account) = JobAccount::decode(data) else {
            return Change::Nothing;
        };
        match self.jobs.get_mut(&address) {
            Some(entry) if entry.slot > slot => return Change::Nothing,
            Some(entry) => {
                if !same_job(&entry.account, &account) {
                    self.agenda.changed(address);
                }
                entry.account = account;
                entry.slot = slot;
            }
            None => {
                self.agenda.changed(address);
                self.next_seq += 1;
                self.jobs.insert(
                    address,
                    JobEntry {
                        account,
                        slot,
                        seq: self.next_seq,
                        seen_at: Instant::now(),
                    },
                );
            }
        }
        Change::Job
    }

    /// Puts a listing's on-chain state back into the book, undoing a
    /// booking whose transaction did not land.
    pub fn unbook(&mut self, listing: &Address) {
        if let Some(tracked) = self.listings.get(listing) {
            self.book.upsert(*listing, &tracked.value);
            self.agenda.capacity_gained();
        }
    }
}

/// Whether two reads of a job account hold the same thing.
fn same_job(a: &JobAccount, b: &JobAccount) -> bool {
    bytemuck::bytes_of(&a.job) == bytemuck::bytes_of(&b.job)
        && a.capacity == b.capacity
        && bytemuck::cast_slice::<_, u8>(&a.assignments)
            == bytemuck::cast_slice::<_, u8>(&b.assignments)
}

/// Account bytes as the chain holds them, for tests and benches of the
/// state and plans.
pub mod encode {
    use iogrid_sdk::accounts::{
        Config, GpuListing, JobAccount, ProgramAccount, JOB_ITEMS_OFFSET, JOB_LEN_OFFSET,
    };

    pub fn account<T: ProgramAccount>(value: &T) -> Vec<u8> {
        let mut data = T::DISCRIMINATOR.to_vec();
        data.extend_from_slice(bytemuck::bytes_of(value));
        data
    }

    pub fn listing(value: &GpuListing) -> Vec<u8> {
        account(value)
    }

    pub fn config(value: &Config) -> Vec<u8> {
        account(value)
    }

    pub fn job(value: &JobAccount) -> Vec<u8> {
        let mut data = account(&value.job);
        data.resize(iogrid_sdk::accounts::job_space(value.capacity), 0);
        data[JOB_LEN_OFFSET..JOB_LEN_OFFSET + 4]
            .copy_from_slice(&(value.assignments.len() as u32).to_le_bytes());
        let size = core::mem::size_of::<iogrid_sdk::accounts::Assignment>();
        for (i, a) in value.assignments.iter().enumerate() {
            let at = JOB_ITEMS_OFFSET + i * size;
            data[at..at + size].copy_from_slice(bytemuck::bytes_of(a));
        }
        data
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        bytemuck::Zeroable,
        iogrid_sdk::accounts::{GpuSpec, Job},
    };

    fn listing(gpus_free: u16) -> GpuListing {
        let mut listing = GpuListing::zeroed();
        listing.spec = GpuSpec::new(Address::new_unique(), "H100", 80, 4, "eu", 1).unwrap();
        listing.gpus_free = gpus_free;
        listing
    }

    fn job(gpus: u16) -> JobAccount {
        let mut job = Job::zeroed();
        job.gpus = gpus;
        JobAccount {
            job,
            assignments: vec![],
            capacity: 4,
        }
    }

    #[test]
    fn an_older_read_never_overwrites_a_newer_one() {
        let mut state = ChainState::default();
        let address = Address::new_unique();
        assert_eq!(
            state.apply(address, &encode::listing(&listing(3)), 10),
            Change::Listing
        );
        assert_eq!(
            state.apply(address, &encode::listing(&listing(1)), 9),
            Change::Nothing
        );
        assert_eq!(state.listings[&address].value.gpus_free, 3);
        assert_eq!(state.book.gpus_free(&address), Some(3));
        assert_eq!(
            state.apply(address, &encode::listing(&listing(2)), 11),
            Change::Listing
        );
        assert_eq!(state.book.gpus_free(&address), Some(2));
    }

    #[test]
    fn closed_accounts_stay_closed_against_late_updates() {
        let mut state = ChainState::default();
        let address = Address::new_unique();
        state.apply(address, &encode::job(&job(2)), 5);
        assert_eq!(state.remove(address, 7), Change::Removed);
        assert_eq!(
            state.apply(address, &encode::job(&job(2)), 6),
            Change::Nothing
        );
        assert!(state.jobs.is_empty());
        // A newer write (the address reused) is accepted.
        assert_eq!(state.apply(address, &encode::job(&job(2)), 8), Change::Job);
    }

    #[test]
    fn a_resync_drops_what_the_chain_no_longer_has_but_keeps_newer_reads() {
        let mut state = ChainState::default();
        let (gone, fresh, kept) = (
            Address::new_unique(),
            Address::new_unique(),
            Address::new_unique(),
        );
        state.apply(gone, &encode::job(&job(1)), 10);
        state.apply(fresh, &encode::job(&job(1)), 30);
        state.apply(kept, &encode::listing(&listing(4)), 10);
        let snapshot = Snapshot {
            slot: 20,
            config: None,
            accounts: vec![(kept, encode::listing(&listing(4)))],
        };
        state.resync(&snapshot);
        assert!(
            !state.jobs.contains_key(&gone),
            "closed before the snapshot"
        );
        assert!(
            state.jobs.contains_key(&fresh),
            "created after the snapshot was read"
        );
        assert!(state.listings.contains_key(&kept));
        assert_eq!(state.book.len(), 1);
    }

    #[test]
    fn jobs_are_matched_in_order_of_first_sight() {
        let mut state = ChainState::default();
        let jobs: Vec<Address> = (0..3).map(|_| Address::new_unique()).collect();
        for (i, address) in jobs.iter().enumerate() {
            state.apply(*address, &encode::job(&job(1)), i as u64);
        }
        // An update does not move a job to the back.
        state.apply(jobs[0], &encode::job(&job(2)), 9);
        // Oldest first (by first sight), the order a pass plans them in.
        let mut order: Vec<(u64, Address)> = state.jobs.iter().map(|(a, j)| (j.seq, *a)).collect();
        order.sort_unstable();
        let order: Vec<Address> = order.into_iter().map(|(_, a)| a).collect();
        assert_eq!(order, jobs);
    }
}
