//! Job matching: which listings the keeper assigns to each open job.
//!
//! A [`Book`] holds every listing the keeper knows, as the sdk decodes it.
//! [`Book::match_job`] finds the cheapest set of listings the program will
//! accept for one job — a list of `(listing, gpus)` for
//! `AssignJobAccounts::assign_job` (an `Open` job) or `reassign` (a `Running`
//! job refilling GPUs lost to a fault) — or an [`Unmatchable`] saying why not.
//! [`Book::match_all`] runs a full pass, booking each match's GPUs in the book
//! so two jobs never get the same GPUs.
//!
//! # What the program accepts
//!
//! The rules mirror `assign_job` (`programs/iogrid/src/instructions/keeper/assign_job.rs`)
//! exactly. A job takes listings when it is `Open` (and the network is not
//! paused) or `Running` before its end time, with GPUs missing. A listing
//! serves it when it is online (Available or Busy), not stale
//! (`now - last_heartbeat <= heartbeat_timeout_secs`), at most the job's max
//! price, of the job's model (or any) and region (or any) with enough VRAM,
//! staked `min_stake_per_gpu × gpu_count`, has free GPUs, and is not already
//! an active assignment of the job. A match supplies exactly the missing
//! GPUs, every entry > 0, from at most [`MAX_CLUSTER`] listings and at most
//! the job account's free assignment slots (empty slots plus faulted ones,
//! which `place` reuses).
//!
//! # Which set
//!
//! Minimal `Σ price × gpus`; at equal cost, fewer listings; then listings in
//! book order: price, then reputation — lower fault rate
//! `faulted / (faulted + completed)`, more completions — then uptime (older
//! `listed_at`), then address bytes.
//!
//! 1. **Greedy** (the usual case). Every cost-minimal set takes all GPUs
//!    priced below the marginal price and the rest from the marginal price
//!    tier, so the matcher scans candidates in book order with early exit,
//!    takes the cheaper tiers whole, and covers the remainder with the fewest
//!    listings of the marginal tier (the best-ranked single listing that
//!    covers it, else the rank-first set of minimal size). That is the
//!    optimum by (cost, listings).
//! 2. **Slot-limited** (greedy needs more listings than the job has slots).
//!    An exact search: a knapsack over (listings used ≤ slots, GPUs covered)
//!    in price order, where each chosen listing takes `min(free, still
//!    needed)`. Only the first `slots` candidates of each capped size
//!    `min(free, needed)` can appear in an optimum (any later one is
//!    dominated by an unused earlier one), and the scan stops once the
//!    cheapest possible set using a pricier candidate — the `needed - 1`
//!    cheapest GPUs seen plus one at its price — costs more than the best
//!    found. Jobs too large for the search's work budget (`slots² × needed²`
//!    past [`EXACT_SEARCH_BUDGET`], i.e. more than ~87 GPUs on 16 slots) use a
//!    heuristic instead: the shortest price prefix whose `slots` largest
//!    listings cover the job, those listings filled cheapest first (it
//!    minimises the highest price paid, not the total). Either way a job is
//!    reported unmatchable only when no `slots` feasible listings cover it.
//!
//! # Index
//!
//! Listings are indexed by class (GPU model, VRAM) and by bucket (class,
//! region), each a `BTreeSet` ordered as above, holding only listings that
//! are online, staked and have free GPUs, so an update is O(log n). A job
//! merges the sets of the classes it accepts (model and VRAM) — one set for a
//! specific model and VRAM, a few for "any model" — in price order; staleness
//! (which depends on `now`) and the job's own active listings are filtered
//! during the scan. Explaining a job that cannot match ([`Rejections`])
//! reads counts kept per job kind (model, VRAM, region) and updated with
//! every listing change (`matcher/explain.rs`): O(blocks of its kind's
//! listings under the job's price cap), not O(listings).

mod explain;

use {
    explain::{Explainer, KindKey},
    iogrid_rules::assign,
    iogrid_sdk::{
        accounts::{
            ascii_text, AssignmentStatus, Config, GpuListing, JobAccount, JobStatus, NetworkParams,
        },
        constants::{format_io, MAX_CLUSTER},
        Address,
    },
    std::{
        cmp::{Ordering, Reverse},
        collections::{btree_set, BTreeSet, BinaryHeap, HashMap},
        fmt,
    },
};

/// Most cells (`candidates × (slots + 1) × (needed + 1)`) the exact
/// slot-limited search may fill; past it the heuristic runs.
pub const EXACT_SEARCH_BUDGET: usize = 1 << 21;

/// The network parameters `assign_job` checks listings against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchParams {
    pub heartbeat_timeout_secs: u32,
    pub min_stake_per_gpu: u64,
    /// A paused network starts no new jobs (`Open`); refills still go through.
    pub paused: bool,
}

impl MatchParams {
    pub fn from_config(config: &Config) -> Self {
        Self::from_network(&config.params, config.is_paused())
    }

    pub fn from_network(params: &NetworkParams, paused: bool) -> Self {
        Self {
            heartbeat_timeout_secs: params.heartbeat_timeout_secs,
            min_stake_per_gpu: params.min_stake_per_gpu,
            paused,
        }
    }

    /// `stake_locked >= min_stake_per_gpu × gpu_count`; an overflowing
    /// requirement fails, as the program's checked multiply does.
    fn staked(&self, stake_locked: u64, gpu_count: u16) -> bool {
        assign::required_stake(self.min_stake_per_gpu, gpu_count)
            .is_ok_and(|required| stake_locked >= required)
    }

    /// `listing.is_stale(now, heartbeat_timeout_secs)` on-chain.
    fn stale(&self, last_heartbeat: i64, now: i64) -> bool {
        assign::is_stale(last_heartbeat, now, self.heartbeat_timeout_secs)
    }

    /// The first moment [`MatchParams::stale`] holds for `last_heartbeat`.
    fn stale_from(&self, last_heartbeat: i64) -> i64 {
        last_heartbeat.saturating_add(i64::from(self.heartbeat_timeout_secs) + 1)
    }

    /// The parameters of `iogrid_rules::assign::check_listing`.
    pub fn assign_params(&self) -> assign::AssignParams {
        assign::AssignParams {
            heartbeat_timeout_secs: self.heartbeat_timeout_secs,
            min_stake_per_gpu: self.min_stake_per_gpu,
        }
    }
}

/// Which instruction carries a [`Match`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignKind {
    /// An `Open` job's first assignment: `AssignJobAccounts::assign_job`.
    Assign,
    /// A `Running` job's refill after a fault or scale-up: `AssignJobAccounts::reassign`.
    Reassign,
}

/// Listings for one job, ready for `AssignJobAccounts::assign_job` / `reassign`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub job: Address,
    pub kind: AssignKind,
    /// `(listing, gpus)`, cheapest first; the GPUs add up to the job's missing GPUs.
    pub listings: Vec<(Address, u16)>,
    /// `Σ price_per_gpu_hour × gpus`, IO base units per hour.
    pub cost_per_hour: u128,
}

/// One job's result in a full pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobOutcome {
    pub job: Address,
    pub result: Result<Match, Unmatchable>,
}

/// Why a job cannot be matched now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unmatchable {
    /// Only `Open` and `Running` jobs take listings.
    WrongStatus(JobStatus),
    /// The network is paused: `Open` jobs wait.
    Paused,
    /// Every GPU is assigned.
    FullyAssigned,
    /// A `Running` job at or past its end time cannot be refilled.
    Ended { end_time: i64 },
    /// The job account has no empty or faulted assignment slot.
    NoFreeSlots { capacity: usize, assignments: usize },
    /// The listings cannot supply the job (details inside).
    Shortfall(Shortfall),
}

/// What a job asks of one assignment call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// `None`: any model.
    pub gpu_model: Option<String>,
    /// `None`: any region.
    pub region: Option<String>,
    pub min_vram_gb: u16,
    pub max_price_per_gpu_hour: u64,
    /// The job's missing GPUs.
    pub gpus: u16,
    /// Most listings this call may use: free slots, at most [`MAX_CLUSTER`].
    pub slots: usize,
}

/// Every listing in the book, counted once under the first rule it fails,
/// in field order: what the job is (model, VRAM, region) first, then the
/// listing's state, price, stake and free GPUs. The program checks price
/// before the job's fit, but "too expensive" is only actionable among
/// listings of the right kind (and it lets whole buckets be counted at once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejections {
    /// Wrong model, too little VRAM or wrong region.
    pub mismatch: u32,
    pub already_in_job: u32,
    pub offline_or_stale: u32,
    pub too_expensive: u32,
    pub under_staked: u32,
    pub no_free_gpus: u32,
}

/// Why the listings cannot supply a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    pub requirement: Requirement,
    /// Listings that pass every rule.
    pub feasible_listings: u32,
    /// Their free GPUs together.
    pub feasible_gpus: u64,
    /// The most GPUs any `requirement.slots` of them offer (each counted up
    /// to the GPUs needed); below `requirement.gpus`, or the job would match.
    pub within_slots: u64,
    pub rejected: Rejections,
}

impl Shortfall {
    /// Enough GPUs in total, but spread over more listings than the job has slots.
    pub fn fragmented(&self) -> bool {
        self.feasible_gpus >= u64::from(self.requirement.gpus)
    }
}

/// A listing's place in the book's order: after price, lower fault rate,
/// more completions, older listing, lower address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rank {
    faulted: u32,
    completed: u32,
    listed_at: i64,
}

impl Rank {
    /// `faulted / (faulted + completed)` as a fraction; 0 without history.
    fn fault_rate(&self) -> (u128, u128) {
        let faulted = u128::from(self.faulted);
        (faulted, (faulted + u128::from(self.completed)).max(1))
    }
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, a_total) = self.fault_rate();
        let (b, b_total) = other.fault_rate();
        (a * b_total)
            .cmp(&(b * a_total))
            .then(other.completed.cmp(&self.completed))
            .then(self.listed_at.cmp(&other.listed_at))
            // Equal rates and completions imply equal faults unless there is
            // no completion; keep `Ord` consistent with `Eq` regardless.
            .then(self.faulted.cmp(&other.faulted))
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// An index entry; field order is the book order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    price: u64,
    rank: Rank,
    address: [u8; 32],
    idx: u32,
}

const LIVE: u8 = 1;
const ONLINE: u8 = 2;
const STAKED: u8 = 4;

/// What every scan reads, kept small.
#[derive(Clone, Copy, Debug)]
struct Hot {
    price: u64,
    last_heartbeat: i64,
    class: u32,
    /// (class, region) bucket.
    bucket: u32,
    gpus_free: u16,
    flags: u8,
}

impl Hot {
    const VACANT: Hot = Hot {
        price: 0,
        last_heartbeat: 0,
        class: 0,
        bucket: 0,
        gpus_free: 0,
        flags: 0,
    };

    /// In the price indexes: online, staked, with free GPUs.
    fn indexed(&self) -> bool {
        self.flags == LIVE | ONLINE | STAKED && self.gpus_free > 0
    }
}

#[derive(Clone, Copy, Debug)]
struct Cold {
    address: Address,
    /// Where the listing sits in its bucket's `members`.
    slot: u32,
    rank: Rank,
    stake_locked: u64,
    gpu_count: u16,
}

/// A feasible listing as the scans see it.
#[derive(Clone, Copy, Debug)]
struct Cand {
    idx: u32,
    price: u64,
    free: u16,
}

/// A job's requirements resolved against the book's classes and regions.
struct Want {
    max_price: u64,
    /// Accepted classes (model and VRAM), by id.
    classes: Vec<u32>,
    class_ok: Vec<bool>,
    /// `None`: any region; `Some(None)`: a region no listing is in.
    region: Option<Option<u32>>,
    /// Listings already active in the job.
    excluded: Vec<u32>,
    now: i64,
}

impl Want {
    fn region_ok(&self, region: u32) -> bool {
        match self.region {
            None => true,
            Some(wanted) => wanted == Some(region),
        }
    }
}

/// Every listing the keeper knows, indexed for matching.
#[derive(Clone, Debug, Default)]
pub struct Book {
    params: MatchParams,
    hot: Vec<Hot>,
    cold: Vec<Cold>,
    vacant: Vec<u32>,
    by_address: HashMap<Address, u32>,
    /// (GPU model, VRAM GB) by class id.
    classes: Vec<([u8; 16], u16)>,
    class_ids: HashMap<([u8; 16], u16), u32>,
    regions: Vec<[u8; 8]>,
    region_ids: HashMap<[u8; 8], u32>,
    by_class: Vec<BTreeSet<Key>>,
    buckets: Vec<Bucket>,
    bucket_ids: HashMap<(u32, u32), u32>,
    /// Why jobs cannot match, per job kind.
    explainer: Explainer,
}

/// The listings of one class in one region.
#[derive(Clone, Debug, Default)]
struct Bucket {
    class: u32,
    region: u32,
    /// Every listing, indexed or not (for explanations).
    members: Vec<u32>,
    /// The indexed ones, in book order.
    index: BTreeSet<Key>,
}

impl Book {
    pub fn new(params: MatchParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    pub fn params(&self) -> MatchParams {
        self.params
    }

    /// New network parameters (a governance change): re-checks every
    /// listing's stake and rebuilds the indexes.
    pub fn set_params(&mut self, params: MatchParams) {
        self.params = params;
        self.explainer.forget();
        for set in &mut self.by_class {
            set.clear();
        }
        for bucket in &mut self.buckets {
            bucket.index.clear();
        }
        for idx in 0..self.hot.len() as u32 {
            let (hot, cold) = (&mut self.hot[idx as usize], &self.cold[idx as usize]);
            if hot.flags & LIVE != 0 {
                hot.flags &= !STAKED;
                if params.staked(cold.stake_locked, cold.gpu_count) {
                    hot.flags |= STAKED;
                }
                self.index(idx);
            }
        }
    }

    /// Listings in the book.
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    /// The free GPUs the book holds for `listing`, bookings included.
    pub fn gpus_free(&self, listing: &Address) -> Option<u16> {
        self.by_address
            .get(listing)
            .map(|idx| self.hot[*idx as usize].gpus_free)
    }

    /// Adds a listing or replaces it with its new state (from an account
    /// update); O(log n).
    pub fn upsert(&mut self, address: Address, listing: &GpuListing) {
        let class = self.class_id(listing.spec.gpu_model, listing.spec.vram_gb);
        let region = self.region_id(listing.spec.region);
        let bucket = self.bucket_id(class, region);
        let mut flags = LIVE;
        if listing.is_online() {
            flags |= ONLINE;
        }
        if self
            .params
            .staked(listing.stake_locked, listing.spec.gpu_count)
        {
            flags |= STAKED;
        }
        let hot = Hot {
            price: listing.spec.price_per_gpu_hour,
            last_heartbeat: listing.last_heartbeat,
            class,
            bucket,
            gpus_free: listing.gpus_free,
            flags,
        };
        let cold = Cold {
            address,
            slot: 0,
            rank: Rank {
                faulted: listing.jobs_faulted,
                completed: listing.jobs_completed,
                listed_at: listing.listed_at,
            },
            stake_locked: listing.stake_locked,
            gpu_count: listing.spec.gpu_count,
        };
        let (idx, old) = match self.by_address.get(&address) {
            Some(&idx) => (idx, Some(self.hot[idx as usize])),
            None => {
                let idx = self.vacant.pop().unwrap_or_else(|| {
                    self.hot.push(Hot::VACANT);
                    self.cold.push(cold);
                    (self.hot.len() - 1) as u32
                });
                self.by_address.insert(address, idx);
                (idx, None)
            }
        };
        let old_key = old.filter(Hot::indexed).map(|_| self.key(idx));
        let old_bucket = old.map(|old| old.bucket);
        self.explain_change(idx, old, Some(hot));
        let slot = self.cold[idx as usize].slot;
        self.hot[idx as usize] = hot;
        self.cold[idx as usize] = Cold { slot, ..cold };
        let moved = old_bucket != Some(bucket);
        if moved {
            if let Some(old) = old_bucket {
                self.leave(idx, old);
            }
            self.join(idx);
        }
        // Most updates are heartbeats: they change neither the listing's
        // place in the price indexes nor whether it is in them, and leaving
        // the indexes alone makes them several times cheaper at a million
        // listings (`scripts/simulate-scale`).
        let new_key = hot.indexed().then(|| self.key(idx));
        if moved || old_key != new_key {
            if let (Some(key), Some(old)) = (old_key, old) {
                self.by_class[old.class as usize].remove(&key);
                self.buckets[old.bucket as usize].index.remove(&key);
            }
            self.index(idx);
        }
    }

    /// Drops a listing (delisted, closed); O(log n). Returns whether it was there.
    pub fn remove(&mut self, address: &Address) -> bool {
        let Some(idx) = self.by_address.remove(address) else {
            return false;
        };
        self.unindex(idx);
        self.explain_change(idx, Some(self.hot[idx as usize]), None);
        self.leave(idx, self.hot[idx as usize].bucket);
        self.hot[idx as usize] = Hot::VACANT;
        self.vacant.push(idx);
        true
    }

    /// The cheapest set of listings the program accepts for `job` at `now`,
    /// against the book as it is; books nothing (see [`Book::book`]).
    pub fn match_job(
        &self,
        job: Address,
        account: &JobAccount,
        now: i64,
    ) -> Result<Match, Unmatchable> {
        let kind = check_job(account, self.params, now)?;
        let needed = account.job.missing_gpus();
        let slots = free_slots(account);
        if slots == 0 {
            return Err(Unmatchable::NoFreeSlots {
                capacity: account.capacity,
                assignments: account.assignments.len(),
            });
        }
        let want = self.want(account, now);
        let plan = match self.greedy(&want, needed, slots) {
            Some(plan) => plan,
            None => self
                .slot_limited(&want, needed, slots)
                .ok_or_else(|| Unmatchable::Shortfall(self.shortfall(account, &want, slots)))?,
        };
        let mut cost_per_hour = 0u128;
        let listings = plan
            .iter()
            .map(|(idx, gpus)| {
                cost_per_hour += u128::from(self.hot[*idx as usize].price) * u128::from(*gpus);
                (self.cold[*idx as usize].address, *gpus)
            })
            .collect();
        Ok(Match {
            job,
            kind,
            listings,
            cost_per_hour,
        })
    }

    /// Takes a match's GPUs out of the book, as `assign_job` will on-chain
    /// (the listing's next account update then replaces the estimate).
    /// Saturates if the book changed since the match was made.
    pub fn book(&mut self, matched: &Match) {
        for (address, gpus) in &matched.listings {
            let Some(&idx) = self.by_address.get(address) else {
                continue;
            };
            let old = self.hot[idx as usize];
            let free = old.gpus_free.saturating_sub(*gpus);
            if free == 0 {
                self.unindex(idx);
            }
            self.hot[idx as usize].gpus_free = free;
            self.explain_change(idx, Some(old), Some(self.hot[idx as usize]));
        }
    }

    /// [`Book::match_job`], then [`Book::book`] on success: one incremental event.
    pub fn match_and_book(
        &mut self,
        job: Address,
        account: &JobAccount,
        now: i64,
    ) -> Result<Match, Unmatchable> {
        let matched = self.match_job(job, account, now)?;
        self.book(&matched);
        Ok(matched)
    }

    /// A full pass: matches `jobs` one by one in the order given, booking each
    /// match before the next job, so earlier jobs get first pick and no GPU is
    /// given twice. Accounts carry no creation time (`started_at` is set at
    /// the first assignment, ids are per owner), so the caller decides the
    /// order: oldest first by the slot it first saw each job account.
    pub fn match_all<'a>(
        &mut self,
        jobs: impl IntoIterator<Item = (Address, &'a JobAccount)>,
        now: i64,
    ) -> Vec<JobOutcome> {
        jobs.into_iter()
            .map(|(job, account)| JobOutcome {
                job,
                result: self.match_and_book(job, account, now),
            })
            .collect()
    }

    fn class_id(&mut self, model: [u8; 16], vram_gb: u16) -> u32 {
        if let Some(id) = self.class_ids.get(&(model, vram_gb)) {
            return *id;
        }
        // Every kept explanation resolved the job's model against the old classes.
        self.explainer.forget();
        let id = self.classes.len() as u32;
        self.classes.push((model, vram_gb));
        self.class_ids.insert((model, vram_gb), id);
        self.by_class.push(BTreeSet::new());
        id
    }

    fn region_id(&mut self, region: [u8; 8]) -> u32 {
        if let Some(id) = self.region_ids.get(&region) {
            return *id;
        }
        self.explainer.forget();
        let id = self.regions.len() as u32;
        self.regions.push(region);
        self.region_ids.insert(region, id);
        id
    }

    fn bucket_id(&mut self, class: u32, region: u32) -> u32 {
        if let Some(id) = self.bucket_ids.get(&(class, region)) {
            return *id;
        }
        let id = self.buckets.len() as u32;
        self.buckets.push(Bucket {
            class,
            region,
            ..Bucket::default()
        });
        self.bucket_ids.insert((class, region), id);
        id
    }

    /// Adds `idx` to its bucket's members.
    fn join(&mut self, idx: u32) {
        let members = &mut self.buckets[self.hot[idx as usize].bucket as usize].members;
        self.cold[idx as usize].slot = members.len() as u32;
        members.push(idx);
    }

    /// Takes `idx` out of `bucket`'s members.
    fn leave(&mut self, idx: u32, bucket: u32) {
        let slot = self.cold[idx as usize].slot as usize;
        let members = &mut self.buckets[bucket as usize].members;
        members.swap_remove(slot);
        if let Some(moved) = members.get(slot) {
            self.cold[*moved as usize].slot = slot as u32;
        }
    }

    fn key(&self, idx: u32) -> Key {
        let cold = &self.cold[idx as usize];
        Key {
            price: self.hot[idx as usize].price,
            rank: cold.rank,
            address: cold.address.to_bytes(),
            idx,
        }
    }

    fn index(&mut self, idx: u32) {
        let hot = self.hot[idx as usize];
        if hot.indexed() {
            let key = self.key(idx);
            self.by_class[hot.class as usize].insert(key);
            self.buckets[hot.bucket as usize].index.insert(key);
        }
    }

    fn unindex(&mut self, idx: u32) {
        let hot = self.hot[idx as usize];
        if hot.indexed() {
            let key = self.key(idx);
            self.by_class[hot.class as usize].remove(&key);
            self.buckets[hot.bucket as usize].index.remove(&key);
        }
    }

    fn want(&self, account: &JobAccount, now: i64) -> Want {
        let job = &account.job;
        let needs = job.needs();
        let class_ok: Vec<bool> = self
            .classes
            .iter()
            .map(|(model, vram)| assign::hardware_fits(&needs, model, *vram))
            .collect();
        let classes = (0..class_ok.len() as u32)
            .filter(|c| class_ok[*c as usize])
            .collect();
        let region = (job.region != [0; 8]).then(|| self.region_ids.get(&job.region).copied());
        let excluded = account
            .active()
            .filter_map(|a| self.by_address.get(&a.listing).copied())
            .collect();
        Want {
            max_price: job.max_price_per_gpu_hour,
            classes,
            class_ok,
            region,
            excluded,
            now,
        }
    }

    /// Feasible listings for `want`, in book order.
    fn candidates<'b>(&'b self, want: &'b Want) -> impl Iterator<Item = Cand> + 'b {
        let sets = want
            .classes
            .iter()
            .filter_map(move |class| match want.region {
                None => Some(&self.by_class[*class as usize]),
                Some(None) => None,
                Some(Some(region)) => self
                    .bucket_ids
                    .get(&(*class, region))
                    .map(|bucket| &self.buckets[*bucket as usize].index),
            });
        Merge::new(sets)
            .take_while(move |key| key.price <= want.max_price)
            .filter_map(move |key| {
                let hot = &self.hot[key.idx as usize];
                let usable = !self.params.stale(hot.last_heartbeat, want.now)
                    && !want.excluded.contains(&key.idx);
                usable.then_some(Cand {
                    idx: key.idx,
                    price: hot.price,
                    free: hot.gpus_free,
                })
            })
    }

    /// The cost-optimal set ignoring the slot limit, if it fits in `slots`.
    fn greedy(&self, want: &Want, needed: u16, slots: usize) -> Option<Vec<(u32, u16)>> {
        let needed = u64::from(needed);
        let mut below: Vec<Cand> = Vec::new();
        let mut below_gpus = 0u64;
        let mut tier: Vec<Cand> = Vec::new();
        let mut tier_gpus = 0u64;
        let whole =
            |below: &[Cand]| -> Vec<(u32, u16)> { below.iter().map(|c| (c.idx, c.free)).collect() };
        for cand in self.candidates(want) {
            if tier.first().is_some_and(|t| t.price != cand.price) {
                if below_gpus + tier_gpus >= needed {
                    break;
                }
                below_gpus += tier_gpus;
                tier_gpus = 0;
                below.append(&mut tier);
                if below.len() >= slots {
                    return None;
                }
            }
            let rest = needed - below_gpus;
            if u64::from(cand.free) >= rest {
                // The best-ranked listing that covers the rest alone.
                let mut plan = whole(&below);
                plan.push((cand.idx, rest as u16));
                return Some(plan);
            }
            tier_gpus += u64::from(cand.free);
            tier.push(cand);
        }
        if below_gpus + tier_gpus < needed {
            return None;
        }
        let mut plan = whole(&below);
        plan.extend(min_cover(&tier, needed - below_gpus, slots - below.len())?);
        Some(plan)
    }

    /// The cheapest set within `slots` listings (exact search or, for large
    /// jobs, the heuristic; see the module docs).
    fn slot_limited(&self, want: &Want, needed: u16, slots: usize) -> Option<Vec<(u32, u16)>> {
        let m = usize::from(needed);
        let cells = slots * m * (slots + 1) * (m + 1);
        let mut search = (cells <= EXACT_SEARCH_BUDGET).then(|| Knapsack::new(slots, m));
        let mut largest = Largest::new(slots);
        let mut kept = vec![0usize; m + 1];
        // The `m - 1` cheapest GPUs seen, for the lower bound.
        let (mut cheap_gpus, mut cheap_cost) = (0usize, 0u128);
        for cand in self.candidates(want) {
            let price = u128::from(cand.price);
            let size = usize::from(cand.free).min(m);
            let Some(search) = search.as_mut() else {
                largest.push(cand, size);
                if largest.sum >= m {
                    return Some(largest.plan(m));
                }
                continue;
            };
            if let Some((best, _)) = search.best {
                let bound = cheap_cost + (m - 1 - cheap_gpus) as u128 * price + price;
                if bound > best {
                    break;
                }
            }
            let add = size.min(m - 1 - cheap_gpus);
            cheap_gpus += add;
            cheap_cost += price * add as u128;
            if kept[size] < slots {
                kept[size] += 1;
                search.push(cand, size);
            }
        }
        search?.plan()
    }

    /// Counts why the listings cannot supply `account`: whole buckets of the
    /// wrong class or region at once, then each listing of the right ones.
    fn shortfall(&self, account: &JobAccount, want: &Want, slots: usize) -> Shortfall {
        let job = &account.job;
        let needed = u64::from(job.missing_gpus());
        let tally = self
            .explainer
            .tally(self, KindKey::of(job), want, needed, slots);
        let text = |field: &[u8]| (field.iter().any(|b| *b != 0)).then(|| ascii_text(field));
        Shortfall {
            requirement: Requirement {
                gpu_model: text(&job.gpu_model),
                region: text(&job.region),
                min_vram_gb: job.min_vram_gb,
                max_price_per_gpu_hour: job.max_price_per_gpu_hour,
                gpus: job.missing_gpus(),
                slots,
            },
            feasible_listings: tally.feasible_listings,
            feasible_gpus: tally.feasible_gpus,
            within_slots: tally.within_slots,
            rejected: tally.rejected,
        }
    }

    /// Lets the explanations follow listing `idx` from `old` to `new`.
    fn explain_change(&mut self, idx: u32, old: Option<Hot>, new: Option<Hot>) {
        let mut explainer = std::mem::take(&mut self.explainer);
        explainer.changed(self, idx, old.as_ref(), new.as_ref());
        self.explainer = explainer;
    }
}

/// The program's job-level checks, in its order; the instruction to use.
fn check_job(
    account: &JobAccount,
    params: MatchParams,
    now: i64,
) -> Result<AssignKind, Unmatchable> {
    let job = &account.job;
    let kind = match job.status() {
        JobStatus::Open if params.paused => return Err(Unmatchable::Paused),
        JobStatus::Open => AssignKind::Assign,
        JobStatus::Running => AssignKind::Reassign,
        other => return Err(Unmatchable::WrongStatus(other)),
    };
    if job.missing_gpus() == 0 {
        return Err(Unmatchable::FullyAssigned);
    }
    if kind == AssignKind::Reassign {
        // On-chain an overflowing end time fails the call; treat it as ended.
        let end_time = i64::try_from(job.duration_secs)
            .ok()
            .and_then(|duration| job.started_at.checked_add(duration))
            .unwrap_or(i64::MIN);
        if now >= end_time {
            return Err(Unmatchable::Ended { end_time });
        }
    }
    Ok(kind)
}

/// Listings one call may add: empty slots plus faulted ones (`place` reuses
/// them), at most [`MAX_CLUSTER`].
fn free_slots(account: &JobAccount) -> usize {
    let faulted = account
        .assignments
        .iter()
        .filter(|a| a.status() == AssignmentStatus::Faulted)
        .count();
    let empty = account.capacity.saturating_sub(account.assignments.len());
    (empty + faulted).min(MAX_CLUSTER)
}

/// The fewest listings of one price tier (each offering less than `need`)
/// that cover `need`, preferring earlier (better-ranked) listings: a listing
/// is taken when the rest can still be covered by the remaining picks.
/// `None` if that takes more than `max_count`.
fn min_cover(tier: &[Cand], need: u64, max_count: usize) -> Option<Vec<(u32, u16)>> {
    let mut sizes: Vec<u64> = tier.iter().map(|c| u64::from(c.free)).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let mut sum = 0;
    let count = 1 + sizes.iter().position(|s| {
        sum += s;
        sum >= need
    })?;
    if count > max_count {
        return None;
    }
    // largest[j]: the `count` largest sizes of tier[j..], descending.
    let mut largest: Vec<Vec<u64>> = vec![Vec::new(); tier.len() + 1];
    for j in (0..tier.len()).rev() {
        let mut top = largest[j + 1].clone();
        let size = u64::from(tier[j].free);
        top.insert(top.partition_point(|s| *s >= size), size);
        top.truncate(count);
        largest[j] = top;
    }
    let mut plan = Vec::with_capacity(count);
    let (mut rest, mut left) = (need, count);
    for (j, cand) in tier.iter().enumerate() {
        if left == 0 {
            break;
        }
        let after = rest.saturating_sub(u64::from(cand.free));
        if largest[j + 1].iter().take(left - 1).sum::<u64>() >= after {
            plan.push((cand.idx, rest.min(u64::from(cand.free)) as u16));
            rest = after;
            left -= 1;
        }
    }
    debug_assert_eq!(rest, 0);
    Some(plan)
}

/// The exact slot-limited search: `cost[k][g]`, the cheapest way to cover
/// `g` GPUs (capped at `m`) with `k` listings taken in price order, each
/// taking `min(free, m - g)`.
struct Knapsack {
    slots: usize,
    m: usize,
    cost: Vec<u128>,
    /// Listings that improved some cell, with each improved cell's previous `g + 1`.
    steps: Vec<(u32, Vec<u16>)>,
    /// Cheapest full cover so far: (cost, listings).
    best: Option<(u128, usize)>,
}

impl Knapsack {
    fn new(slots: usize, m: usize) -> Self {
        let mut cost = vec![u128::MAX; (slots + 1) * (m + 1)];
        cost[0] = 0;
        Self {
            slots,
            m,
            cost,
            steps: Vec::new(),
            best: None,
        }
    }

    fn push(&mut self, cand: Cand, size: usize) {
        let (w, m) = (self.m + 1, self.m);
        let mut from = vec![0u16; self.cost.len()];
        let mut improved = false;
        // Rows downwards, so this listing is used at most once.
        for k in (0..self.slots).rev() {
            for g in 0..m {
                let cost = self.cost[k * w + g];
                if cost == u128::MAX {
                    continue;
                }
                let take = size.min(m - g);
                let cell = (k + 1) * w + g + take;
                let next = cost + u128::from(cand.price) * take as u128;
                if next < self.cost[cell] {
                    self.cost[cell] = next;
                    from[cell] = g as u16 + 1;
                    improved = true;
                }
            }
        }
        if improved {
            self.steps.push((cand.idx, from));
            self.best = (1..=self.slots)
                .filter(|k| self.cost[k * w + m] != u128::MAX)
                .map(|k| (self.cost[k * w + m], k))
                .min();
        }
    }

    fn plan(&self) -> Option<Vec<(u32, u16)>> {
        let (_, mut k) = self.best?;
        let (w, mut g) = (self.m + 1, self.m);
        let mut plan = Vec::with_capacity(k);
        for (idx, from) in self.steps.iter().rev() {
            if k == 0 {
                break;
            }
            let prev = from[k * w + g];
            if prev != 0 {
                let prev = usize::from(prev - 1);
                plan.push((*idx, (g - prev) as u16));
                g = prev;
                k -= 1;
            }
        }
        debug_assert_eq!((k, g), (0, 0));
        plan.reverse();
        Some(plan)
    }
}

/// The heuristic for large jobs: the `slots` largest listings of the
/// candidates seen so far (ties: the earlier one).
struct Largest {
    slots: usize,
    /// Min-heap on (size, later first): the top of the heap leaves first.
    heap: BinaryHeap<Reverse<(usize, Reverse<usize>, u32)>>,
    sum: usize,
    seen: usize,
}

impl Largest {
    fn new(slots: usize) -> Self {
        Self {
            slots,
            heap: BinaryHeap::new(),
            sum: 0,
            seen: 0,
        }
    }

    fn push(&mut self, cand: Cand, size: usize) {
        self.heap
            .push(Reverse((size, Reverse(self.seen), cand.idx)));
        self.seen += 1;
        self.sum += size;
        if self.heap.len() > self.slots {
            if let Some(Reverse((size, _, _))) = self.heap.pop() {
                self.sum -= size;
            }
        }
    }

    /// The held listings filled in price order.
    fn plan(&self, m: usize) -> Vec<(u32, u16)> {
        let mut held: Vec<_> = self.heap.iter().map(|Reverse(h)| *h).collect();
        held.sort_by_key(|(_, Reverse(seen), _)| *seen);
        let mut rest = m;
        held.into_iter()
            .map_while(|(size, _, idx)| {
                let take = size.min(rest);
                rest -= take;
                (take > 0).then_some((idx, take as u16))
            })
            .collect()
    }
}

/// Merges price-ordered index sets into one book-ordered stream.
struct Merge<'b> {
    iters: Vec<btree_set::Iter<'b, Key>>,
    heads: BinaryHeap<Reverse<(&'b Key, usize)>>,
}

impl<'b> Merge<'b> {
    fn new(sets: impl Iterator<Item = &'b BTreeSet<Key>>) -> Self {
        let mut iters: Vec<_> = sets.filter(|s| !s.is_empty()).map(|s| s.iter()).collect();
        let heads = iters
            .iter_mut()
            .enumerate()
            .filter_map(|(i, it)| it.next().map(|key| Reverse((key, i))))
            .collect();
        Self { iters, heads }
    }
}

impl<'b> Iterator for Merge<'b> {
    type Item = &'b Key;

    fn next(&mut self) -> Option<&'b Key> {
        let Reverse((key, i)) = self.heads.pop()?;
        if let Some(next) = self.iters[i].next() {
            self.heads.push(Reverse((next, i)));
        }
        Some(key)
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

impl fmt::Display for Requirement {
    /// `H100 listing with ≥ 80 GB VRAM at ≤ 2.100000 IO/GPU-h in region eu-west`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(model) = &self.gpu_model {
            write!(f, "{model} ")?;
        }
        f.write_str("listing")?;
        if self.min_vram_gb > 0 {
            write!(f, " with ≥ {} GB VRAM", self.min_vram_gb)?;
        }
        write!(f, " at ≤ {}/GPU-h", format_io(self.max_price_per_gpu_hour))?;
        match &self.region {
            Some(region) => write!(f, " in region {region}"),
            None => f.write_str(" in any region"),
        }
    }
}

impl fmt::Display for Rejections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} wrong model/VRAM/region, ", thousands(self.mismatch))?;
        if self.already_in_job > 0 {
            write!(
                f,
                "{} already in this job, ",
                thousands(self.already_in_job)
            )?;
        }
        write!(
            f,
            "{} offline or stale, {} too expensive, {} under-staked, {} with no free GPUs",
            thousands(self.offline_or_stale),
            thousands(self.too_expensive),
            thousands(self.under_staked),
            thousands(self.no_free_gpus),
        )
    }
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let req = &self.requirement;
        if self.fragmented() {
            write!(
                f,
                "no set of at most {} listings covers {} GPUs ({req}): feasible listings offer {} on {} listings, any {} of them at most {} ({})",
                req.slots,
                thousands(req.gpus),
                thousands(self.feasible_gpus),
                thousands(self.feasible_listings),
                req.slots,
                thousands(self.within_slots),
                self.rejected,
            )
        } else {
            write!(
                f,
                "no {req}: needs {} GPUs, feasible listings offer {} ({})",
                thousands(req.gpus),
                thousands(self.feasible_gpus),
                self.rejected,
            )
        }
    }
}

impl fmt::Display for Unmatchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unmatchable::WrongStatus(status) => {
                write!(f, "job is {status:?}: only Open and Running jobs take listings")
            }
            Unmatchable::Paused => f.write_str("the network is paused: new jobs wait"),
            Unmatchable::FullyAssigned => f.write_str("job has all its GPUs"),
            Unmatchable::Ended { end_time } => {
                write!(f, "job ended at {end_time} (unix): it is not refilled")
            }
            Unmatchable::NoFreeSlots {
                capacity,
                assignments,
            } => write!(
                f,
                "job account has no free assignment slot ({assignments} assignments, room for {capacity}, none faulted)"
            ),
            Unmatchable::Shortfall(shortfall) => shortfall.fmt(f),
        }
    }
}

impl std::error::Error for Unmatchable {}

#[cfg(test)]
mod tests {
    use {
        super::*,
        bytemuck::Zeroable,
        iogrid_rules::assign::Refusal,
        iogrid_sdk::{
            accounts::{ascii_field, Assignment, GpuSpec, Job},
            constants::IO,
        },
    };

    const NOW: i64 = 1_700_000_000;
    const TIMEOUT: u32 = 300;
    const STAKE: u64 = 100 * IO;
    const ACTIVE: u8 = 0;
    const PROVEN: u8 = 1;
    const FAULTED: u8 = 2;

    fn params() -> MatchParams {
        MatchParams {
            heartbeat_timeout_secs: TIMEOUT,
            min_stake_per_gpu: STAKE,
            paused: false,
        }
    }

    fn addr(n: u32) -> Address {
        let mut bytes = [7u8; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        Address::new_from_array(bytes)
    }

    /// Thousandths of an IO: `milli(2_100)` is 2.1 IO.
    fn milli(n: u64) -> u64 {
        n * IO / 1_000
    }

    /// An available, staked, fresh listing with every GPU free.
    fn listing(model: &str, vram_gb: u16, gpus: u16, region: &str, price: u64) -> GpuListing {
        let mut listing = GpuListing::zeroed();
        listing.spec = GpuSpec::new(addr(0), model, vram_gb, gpus, region, price).unwrap();
        listing.stake_locked = STAKE * u64::from(gpus);
        listing.listed_at = NOW - 86_400;
        listing.last_heartbeat = NOW - 30;
        listing.gpus_free = gpus;
        listing
    }

    /// A plain listing: H100, 80 GB, eu-west.
    fn h100(gpus: u16, price: u64) -> GpuListing {
        listing("H100", 80, gpus, "eu-west", price)
    }

    /// An open job; "" model or region means any.
    fn job(gpus: u16, model: &str, min_vram_gb: u16, region: &str, max_price: u64) -> JobAccount {
        let mut job = Job::zeroed();
        if !model.is_empty() {
            job.gpu_model = ascii_field(model).unwrap();
        }
        if !region.is_empty() {
            job.region = ascii_field(region).unwrap();
        }
        job.min_vram_gb = min_vram_gb;
        job.gpus = gpus;
        job.max_price_per_gpu_hour = max_price;
        job.duration_secs = 3_600;
        JobAccount {
            job,
            assignments: Vec::new(),
            capacity: MAX_CLUSTER,
        }
    }

    fn any_job(gpus: u16, max_price: u64) -> JobAccount {
        job(gpus, "", 0, "", max_price)
    }

    /// `account` running since ten minutes ago with `assignments`
    /// `(listing, gpus, status)`; faulted ones no longer count as assigned.
    fn running(mut account: JobAccount, assignments: &[(Address, u16, u8)]) -> JobAccount {
        account.job.status = 1;
        account.job.started_at = NOW - 600;
        account.assignments = assignments
            .iter()
            .map(|(listing, gpus, status)| {
                let mut a = Assignment::zeroed();
                a.listing = *listing;
                a.gpus = *gpus;
                a.status = *status;
                a
            })
            .collect();
        account.job.gpus_assigned = assignments
            .iter()
            .filter(|(_, _, status)| *status != FAULTED)
            .map(|(_, gpus, _)| gpus)
            .sum();
        account
    }

    fn book_of(listings: &[(u32, GpuListing)]) -> Book {
        let mut book = Book::new(params());
        for (n, listing) in listings {
            book.upsert(addr(*n), listing);
        }
        book
    }

    fn match_in(book: &Book, account: &JobAccount) -> Result<Match, Unmatchable> {
        book.match_job(addr(9_999), account, NOW)
    }

    /// The listings chosen, as `(listing number, gpus)`.
    fn picks(matched: &Match) -> Vec<(u32, u16)> {
        matched
            .listings
            .iter()
            .map(|(a, g)| {
                (
                    u32::from_be_bytes(a.to_bytes()[..4].try_into().unwrap()),
                    *g,
                )
            })
            .collect()
    }

    fn shortfall(result: Result<Match, Unmatchable>) -> Shortfall {
        match result {
            Err(Unmatchable::Shortfall(shortfall)) => shortfall,
            other => panic!("expected a shortfall, got {other:?}"),
        }
    }

    // --- The oracle: `assign_job` / `reassign` rewritten from the program. ---

    /// `assign_job`'s check of one listing (the program's own rule, from
    /// `iogrid_rules`), without the GPU count.
    fn serves(
        listing: &GpuListing,
        job: &Job,
        p: MatchParams,
        now: i64,
    ) -> Result<(), &'static str> {
        assign::check_listing(&listing.offer(), &job.needs(), &p.assign_params(), now, 0).map_err(
            |refusal| match refusal {
                Refusal::Offline => "ListingOffline",
                Refusal::Stale => "ListingStale",
                Refusal::TooExpensive => "ListingTooExpensive",
                Refusal::Mismatch => "ListingMismatch",
                Refusal::UnderStaked => "ListingUnderStaked",
                Refusal::NotEnoughFreeGpus => "NotEnoughFreeGpus",
                Refusal::Overflow => "MathOverflow",
            },
        )
    }

    /// Applies `matched` as the program would, or returns its error.
    fn program_assign(
        listings: &mut HashMap<Address, GpuListing>,
        account: &mut JobAccount,
        p: MatchParams,
        now: i64,
        matched: &Match,
    ) -> Result<(), &'static str> {
        let job = account.job;
        let status = job.status();
        match (status, matched.kind) {
            (JobStatus::Open, AssignKind::Assign) | (JobStatus::Running, _) => {}
            _ => return Err("WrongJobStatus"),
        }
        if status == JobStatus::Open && p.paused {
            return Err("Paused");
        }
        let missing = job.missing_gpus();
        if missing == 0 {
            return Err("JobFullyAssigned");
        }
        if status == JobStatus::Running && now >= job.started_at + job.duration_secs as i64 {
            return Err("JobEnded");
        }
        let total: u32 = matched.listings.iter().map(|(_, g)| u32::from(*g)).sum();
        if matched.listings.is_empty()
            || matched.listings.len() > MAX_CLUSTER
            || matched.listings.iter().any(|(_, g)| *g == 0)
            || total != u32::from(missing)
        {
            return Err("AssignmentMismatch");
        }
        for (address, gpus) in &matched.listings {
            if account
                .assignments
                .iter()
                .any(|a| a.listing == *address && a.status == ACTIVE)
            {
                return Err("ListingAlreadyInJob");
            }
            let listing = listings.get_mut(address).ok_or("UnknownListing")?;
            serves(listing, &job, p, now)?;
            listing.gpus_free = listing
                .gpus_free
                .checked_sub(*gpus)
                .ok_or("NotEnoughFreeGpus")?;
            listing.status = 1;
            let mut assignment = Assignment::zeroed();
            assignment.listing = *address;
            assignment.gpus = *gpus;
            assignment.status = ACTIVE;
            if let Some(slot) = account.assignments.iter_mut().find(|a| a.status == FAULTED) {
                *slot = assignment;
            } else if account.assignments.len() < account.capacity {
                account.assignments.push(assignment);
            } else {
                return Err("ClusterFull");
            }
        }
        account.job.gpus_assigned = account.job.gpus;
        if status == JobStatus::Open {
            account.job.started_at = now;
            account.job.status = 1;
        }
        Ok(())
    }

    /// The best (cost, listings) over every set the program accepts, by enumeration.
    fn brute_force(
        listings: &HashMap<Address, GpuListing>,
        account: &JobAccount,
        p: MatchParams,
        now: i64,
    ) -> Option<(u128, usize)> {
        let faulted = account
            .assignments
            .iter()
            .filter(|a| a.status == FAULTED)
            .count();
        let slots = (account.capacity - account.assignments.len() + faulted).min(MAX_CLUSTER);
        let needed = u64::from(account.job.missing_gpus());
        let mut usable: Vec<(u64, u64)> = listings
            .iter()
            .filter(|(address, listing)| {
                serves(listing, &account.job, p, now).is_ok()
                    && listing.gpus_free > 0
                    && !account
                        .assignments
                        .iter()
                        .any(|a| a.listing == **address && a.status == ACTIVE)
            })
            .map(|(_, l)| (l.spec.price_per_gpu_hour, u64::from(l.gpus_free)))
            .collect();
        usable.sort();
        let mut best = None;
        for set in 1u32..(1 << usable.len()) {
            let count = set.count_ones() as usize;
            if count > slots {
                continue;
            }
            let (mut rest, mut cost, mut every_used) = (needed, 0u128, true);
            for (i, (price, free)) in usable.iter().enumerate() {
                if set & (1 << i) != 0 {
                    let take = rest.min(*free);
                    every_used &= take > 0;
                    rest -= take;
                    cost += u128::from(*price) * u128::from(take);
                }
            }
            if rest == 0 && every_used && best.is_none_or(|b| (cost, count) < b) {
                best = Some((cost, count));
            }
        }
        best
    }

    /// Deterministic test data (fastrand, seeded).
    struct Rng(fastrand::Rng);

    impl Rng {
        fn new(seed: u64) -> Self {
            Self(fastrand::Rng::with_seed(seed))
        }

        fn next(&mut self) -> u64 {
            self.0.u64(..)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len() as u64) as usize]
        }
    }

    fn random_listing(rng: &mut Rng) -> GpuListing {
        let (model, vram) = rng.pick(&[("A", 24), ("A", 80), ("B", 48)]);
        let gpus = 1 + rng.below(6) as u16;
        let price = milli(rng.pick(&[1_000, 1_100, 1_200, 1_500, 2_000]));
        let mut l = listing(model, vram, gpus, rng.pick(&["r1", "r2"]), price);
        l.gpus_free = match rng.below(4) {
            0 => 0,
            1 => rng.below(u64::from(gpus) + 1) as u16,
            _ => gpus,
        };
        l.status = rng.pick(&[0, 0, 0, 1, 1, 2]);
        l.last_heartbeat = NOW - rng.pick(&[0, 100, 300, 301, 5_000]);
        if rng.below(10) == 0 {
            l.stake_locked -= 1;
        }
        l.jobs_completed = rng.below(5) as u32;
        l.jobs_faulted = rng.below(2) as u32;
        l.listed_at = NOW - rng.below(3) as i64;
        l
    }

    fn random_job(rng: &mut Rng, listings: &[Address]) -> JobAccount {
        let mut account = job(
            1 + rng.below(10) as u16,
            rng.pick(&["", "", "A", "B"]),
            rng.pick(&[0, 24, 48, 80]),
            rng.pick(&["", "", "r1"]),
            milli(rng.pick(&[1_000, 1_200, 1_500, 2_000])),
        );
        account.capacity = 1 + rng.below(4) as usize;
        if rng.below(3) == 0 && !listings.is_empty() {
            // A running job that lost some GPUs.
            let mut assignments = Vec::new();
            for _ in 0..rng.below(account.capacity as u64 + 1) {
                assignments.push((rng.pick(listings), 1, rng.pick(&[ACTIVE, PROVEN, FAULTED])));
            }
            account.job.gpus += assignments.len() as u16;
            account = running(account, &assignments);
        }
        account
    }

    // --- Rejection rules. ---

    #[test]
    fn matches_the_cheapest_listing() {
        let book = book_of(&[
            (1, h100(8, milli(2_000))),
            (2, h100(8, milli(1_500))),
            (3, h100(8, milli(1_800))),
        ]);
        let matched = match_in(&book, &any_job(4, milli(2_100))).unwrap();
        assert_eq!(picks(&matched), [(2, 4)]);
        assert_eq!(matched.kind, AssignKind::Assign);
        assert_eq!(matched.cost_per_hour, 4 * u128::from(milli(1_500)));
    }

    #[test]
    fn offline_and_unknown_listings_are_skipped_busy_ones_are_not() {
        let mut offline = h100(4, milli(1_000));
        offline.status = 2;
        let mut unknown = h100(4, milli(1_000));
        unknown.status = 7;
        let mut busy = h100(4, milli(1_500));
        busy.status = 1;
        busy.gpus_free = 2;
        let book = book_of(&[(1, offline), (2, unknown), (3, busy)]);
        assert_eq!(
            picks(&match_in(&book, &any_job(2, milli(2_000))).unwrap()),
            [(3, 2)]
        );
        let short = shortfall(match_in(&book, &any_job(3, milli(2_000))));
        assert_eq!(short.rejected.offline_or_stale, 2);
        assert_eq!((short.feasible_listings, short.feasible_gpus), (1, 2));
    }

    #[test]
    fn stale_at_the_timeout_is_alive_one_second_later_is_not() {
        let mut at_timeout = h100(1, milli(1_000));
        at_timeout.last_heartbeat = NOW - i64::from(TIMEOUT);
        let mut past_timeout = h100(1, milli(900));
        past_timeout.last_heartbeat = NOW - i64::from(TIMEOUT) - 1;
        let book = book_of(&[(1, at_timeout), (2, past_timeout)]);
        assert_eq!(
            picks(&match_in(&book, &any_job(1, milli(2_000))).unwrap()),
            [(1, 1)]
        );
        // The same book a second later: both stale.
        let short = shortfall(book.match_job(addr(9_999), &any_job(1, milli(2_000)), NOW + 1));
        assert_eq!(short.rejected.offline_or_stale, 2);
    }

    #[test]
    fn listings_over_the_max_price_are_skipped() {
        let book = book_of(&[(1, h100(1, milli(2_001))), (2, h100(1, milli(2_000)))]);
        assert_eq!(
            picks(&match_in(&book, &any_job(1, milli(2_000))).unwrap()),
            [(2, 1)]
        );
        let short = shortfall(match_in(&book, &any_job(1, milli(1_999))));
        assert_eq!(short.rejected.too_expensive, 2);
    }

    #[test]
    fn wrong_model_region_or_too_little_vram_is_skipped() {
        let book = book_of(&[
            (1, listing("A100", 80, 1, "eu-west", milli(1_000))),
            (2, listing("H100", 80, 1, "us-east", milli(1_000))),
            (3, listing("H100", 79, 1, "eu-west", milli(1_000))),
            (4, listing("H100", 80, 1, "eu-west", milli(1_500))),
        ]);
        let wanted = job(1, "H100", 80, "eu-west", milli(2_000));
        assert_eq!(picks(&match_in(&book, &wanted).unwrap()), [(4, 1)]);
        let short = shortfall(match_in(
            &book,
            &job(2, "H100", 80, "eu-west", milli(2_000)),
        ));
        assert_eq!(short.rejected.mismatch, 3);
        // A region no listing is in.
        let short = shortfall(match_in(
            &book,
            &job(1, "H100", 0, "ap-south", milli(2_000)),
        ));
        assert_eq!(short.rejected.mismatch, 4);
    }

    #[test]
    fn any_model_and_any_region_jobs_take_every_listing() {
        let book = book_of(&[
            (1, listing("A100", 40, 2, "us-east", milli(1_000))),
            (2, listing("L40S", 48, 2, "eu-west", milli(1_100))),
            (3, listing("H100", 80, 2, "ap-south", milli(1_200))),
        ]);
        assert_eq!(
            picks(&match_in(&book, &any_job(6, milli(2_000))).unwrap()),
            [(1, 2), (2, 2), (3, 2)]
        );
        // Any model, but at least 48 GB, in any region.
        assert_eq!(
            picks(&match_in(&book, &job(3, "", 48, "", milli(2_000))).unwrap()),
            [(2, 2), (3, 1)]
        );
        // Any model in one region.
        assert_eq!(
            picks(&match_in(&book, &job(1, "", 0, "ap-south", milli(2_000))).unwrap()),
            [(3, 1)]
        );
    }

    #[test]
    fn under_staked_listings_are_skipped() {
        let mut short_stake = h100(4, milli(1_000));
        short_stake.stake_locked = 4 * STAKE - 1;
        let exact = h100(4, milli(1_500));
        let book = book_of(&[(1, short_stake), (2, exact)]);
        assert_eq!(
            picks(&match_in(&book, &any_job(4, milli(2_000))).unwrap()),
            [(2, 4)]
        );
        assert_eq!(
            shortfall(match_in(&book, &any_job(5, milli(2_000))))
                .rejected
                .under_staked,
            1
        );
        // A requirement that overflows u64 fails, as the program's checked multiply does.
        let mut book = book;
        book.set_params(MatchParams {
            min_stake_per_gpu: u64::MAX / 2,
            ..params()
        });
        assert_eq!(
            shortfall(match_in(&book, &any_job(1, milli(2_000))))
                .rejected
                .under_staked,
            2
        );
    }

    #[test]
    fn listings_without_free_gpus_are_skipped() {
        let mut full = h100(8, milli(1_000));
        full.status = 1;
        full.gpus_free = 0;
        let book = book_of(&[(1, full), (2, h100(2, milli(1_500)))]);
        assert_eq!(
            picks(&match_in(&book, &any_job(2, milli(2_000))).unwrap()),
            [(2, 2)]
        );
        let short = shortfall(match_in(&book, &any_job(3, milli(2_000))));
        assert_eq!(short.rejected.no_free_gpus, 1);
        assert_eq!(short.feasible_gpus, 2);
    }

    #[test]
    fn active_listings_of_the_job_are_skipped_faulted_and_proven_ones_are_not() {
        let book = book_of(&[
            (1, h100(4, milli(1_000))),
            (2, h100(4, milli(1_100))),
            (3, h100(4, milli(1_200))),
            (4, h100(4, milli(1_300))),
        ]);
        // 1 runs 2 GPUs of the job, 2 faulted, 3 proven; 2 GPUs missing.
        let account = running(
            any_job(6, milli(2_000)),
            &[
                (addr(1), 2, ACTIVE),
                (addr(2), 2, FAULTED),
                (addr(3), 2, PROVEN),
            ],
        );
        let matched = match_in(&book, &account).unwrap();
        assert_eq!(picks(&matched), [(2, 2)]);
        assert_eq!(matched.kind, AssignKind::Reassign);
        let mut bigger = account.clone();
        bigger.job.gpus = 20;
        let short = shortfall(match_in(&book, &bigger));
        assert_eq!(short.rejected.already_in_job, 1);
        assert_eq!(short.feasible_gpus, 12);
    }

    // --- Which set. ---

    #[test]
    fn clusters_across_listings_when_no_single_one_fits() {
        let book = book_of(&[
            (1, h100(4, milli(1_000))),
            (2, h100(4, milli(1_100))),
            (3, h100(2, milli(1_900))),
        ]);
        let matched = match_in(&book, &any_job(8, milli(2_000))).unwrap();
        assert_eq!(picks(&matched), [(1, 4), (2, 4)]);
        assert_eq!(
            matched.cost_per_hour,
            u128::from(4 * milli(1_000) + 4 * milli(1_100))
        );
        // A partial last listing.
        assert_eq!(
            picks(&match_in(&book, &any_job(9, milli(2_000))).unwrap()),
            [(1, 4), (2, 4), (3, 1)]
        );
    }

    #[test]
    fn a_single_listing_wins_at_equal_cost() {
        let mut small_best = h100(2, milli(1_000));
        small_best.jobs_completed = 50;
        let book = book_of(&[
            (1, small_best),
            (2, h100(2, milli(1_000))),
            (3, h100(4, milli(1_000))),
        ]);
        assert_eq!(
            picks(&match_in(&book, &any_job(4, milli(2_000))).unwrap()),
            [(3, 4)]
        );
        // Below the marginal price every listing is taken whole regardless.
        let book = book_of(&[
            (1, h100(1, milli(900))),
            (2, h100(2, milli(1_000))),
            (3, h100(4, milli(1_000))),
        ]);
        assert_eq!(
            picks(&match_in(&book, &any_job(5, milli(2_000))).unwrap()),
            [(1, 1), (3, 4)]
        );
    }

    #[test]
    fn fewest_listings_of_the_marginal_price_prefer_the_better_ranked() {
        // Same price; X ranks first, then Y, then Z. Five GPUs need two
        // listings: X and Y (not the largest-first Y and X, nor Y and Z).
        let mut x = h100(3, milli(1_000));
        x.jobs_completed = 30;
        let mut y = h100(4, milli(1_000));
        y.jobs_completed = 20;
        let mut z = h100(2, milli(1_000));
        z.jobs_completed = 10;
        let book = book_of(&[(1, x), (2, y), (3, z)]);
        assert_eq!(
            picks(&match_in(&book, &any_job(5, milli(2_000))).unwrap()),
            [(1, 3), (2, 2)]
        );
        // Three GPUs: X alone (it ranks above Y, which also fits alone).
        assert_eq!(
            picks(&match_in(&book, &any_job(3, milli(2_000))).unwrap()),
            [(1, 3)]
        );
    }

    #[test]
    fn equal_prices_break_ties_by_faults_completions_uptime_then_address() {
        let base = h100(1, milli(1_000));
        let one = |book: &[(u32, GpuListing)]| {
            picks(&match_in(&book_of(book), &any_job(1, milli(2_000))).unwrap())
        };
        // Lower fault rate: 1 of 100 beats 1 of 10; no history beats any fault.
        let (mut rate_1pct, mut rate_10pct, mut fresh) = (base, base, base);
        (rate_1pct.jobs_faulted, rate_1pct.jobs_completed) = (1, 99);
        (rate_10pct.jobs_faulted, rate_10pct.jobs_completed) = (1, 9);
        assert_eq!(one(&[(1, rate_10pct), (2, rate_1pct)]), [(2, 1)]);
        assert_eq!(one(&[(1, rate_1pct), (2, fresh)]), [(2, 1)]);
        // Equal rate (none): more completions.
        let mut proven = base;
        proven.jobs_completed = 5;
        fresh.jobs_completed = 4;
        assert_eq!(one(&[(1, fresh), (2, proven)]), [(2, 1)]);
        // Equal history: listed earlier.
        let mut older = base;
        older.listed_at -= 1;
        assert_eq!(one(&[(1, base), (2, older)]), [(2, 1)]);
        // Identical: the lower address.
        assert_eq!(one(&[(2, base), (1, base)]), [(1, 1)]);
        // Price still comes first.
        let mut cheaper = base;
        cheaper.spec.price_per_gpu_hour -= 1;
        cheaper.jobs_faulted = 10;
        assert_eq!(one(&[(1, base), (2, cheaper)]), [(2, 1)]);
    }

    #[test]
    fn slot_limit_finds_the_cheapest_set_within_the_slots() {
        let book = book_of(&[
            (1, h100(4, milli(1_000))),
            (2, h100(2, milli(1_000))),
            (3, h100(2, milli(1_100))),
            (4, h100(8, milli(1_500))),
            (5, h100(4, milli(1_200))),
        ]);
        let mut account = any_job(8, milli(2_000));
        // Unlimited: the three cheapest.
        assert_eq!(
            picks(&match_in(&book, &account).unwrap()),
            [(1, 4), (2, 2), (3, 2)]
        );
        // Two slots: 4 at 1.0 + 4 at 1.2 beats 4 at 1.0 + 4 at 1.5 and 8 at 1.5.
        account.capacity = 2;
        let matched = match_in(&book, &account).unwrap();
        assert_eq!(picks(&matched), [(1, 4), (5, 4)]);
        assert_eq!(
            matched.cost_per_hour,
            u128::from(4 * milli(1_000) + 4 * milli(1_200))
        );
        // One slot: only the 8-GPU listing covers it.
        account.capacity = 1;
        assert_eq!(picks(&match_in(&book, &account).unwrap()), [(4, 8)]);
    }

    #[test]
    fn slot_limit_prefers_fewer_listings_at_equal_cost() {
        // Three slots: 2+2+2 at 1.0 and 6 at 1.0 cost the same; one listing wins.
        let book = book_of(&[
            (1, h100(1, milli(900))),
            (2, h100(1, milli(900))),
            (3, h100(1, milli(900))),
            (4, h100(1, milli(900))),
            (5, h100(2, milli(1_000))),
            (6, h100(2, milli(1_000))),
            (7, h100(2, milli(1_000))),
            (8, h100(5, milli(1_000))),
        ]);
        let mut account = any_job(6, milli(2_000));
        account.capacity = 3;
        // Optimum within 3: two 1-GPU at 0.9 + 4 at 1.0 from listing 8.
        let matched = match_in(&book, &account).unwrap();
        assert_eq!(picks(&matched), [(1, 1), (2, 1), (8, 4)]);
        account.capacity = 2;
        assert_eq!(picks(&match_in(&book, &account).unwrap()), [(1, 1), (8, 5)]);
    }

    #[test]
    fn faulted_slots_are_reused_and_a_full_account_is_reported() {
        let book = book_of(&[
            (1, h100(1, milli(1_000))),
            (2, h100(1, milli(1_000))),
            (3, h100(2, milli(1_500))),
        ]);
        // Capacity 2, both used, one faulted: one slot, so the 2-GPU listing.
        let mut account = any_job(4, milli(2_000));
        account.capacity = 2;
        let refill = running(
            account.clone(),
            &[(addr(90), 2, ACTIVE), (addr(91), 2, FAULTED)],
        );
        assert_eq!(picks(&match_in(&book, &refill).unwrap()), [(3, 2)]);
        // Scaled up with both slots taken and none faulted: no slot at all.
        let mut scaled = running(account, &[(addr(90), 2, ACTIVE), (addr(91), 2, PROVEN)]);
        scaled.job.gpus = 6;
        let err = match_in(&book, &scaled).unwrap_err();
        assert_eq!(
            err,
            Unmatchable::NoFreeSlots {
                capacity: 2,
                assignments: 2
            }
        );
        assert!(err.to_string().contains("no free assignment slot"));
    }

    #[test]
    fn jobs_too_large_for_the_exact_search_still_fit_the_slots() {
        // 100 GPUs on 16 slots is past the exact search's budget: 100 one-GPU
        // listings cover it greedily, so the heuristic must find 16.
        let mut listings: Vec<(u32, GpuListing)> =
            (0..100).map(|n| (n, h100(1, milli(1_000)))).collect();
        listings.extend((100..112).map(|n| (n, h100(10, milli(2_000)))));
        let book = book_of(&listings);
        let account = any_job(100, milli(2_000));
        const { assert!(16 * 100 * 17 * 101 > EXACT_SEARCH_BUDGET) };
        let matched = match_in(&book, &account).unwrap();
        assert!(matched.listings.len() <= MAX_CLUSTER);
        let mut chain: HashMap<_, _> = listings.iter().map(|(n, l)| (addr(*n), *l)).collect();
        program_assign(&mut chain, &mut account.clone(), params(), NOW, &matched).unwrap();
        // Six 1-GPU listings and ten 10-GPU ones.
        assert_eq!(
            matched.cost_per_hour,
            u128::from(6 * milli(1_000) + 94 * milli(2_000))
        );
    }

    #[test]
    fn never_more_than_max_cluster_listings() {
        let listings: Vec<(u32, GpuListing)> =
            (0..17).map(|n| (n, h100(1, milli(1_000)))).collect();
        let mut book = book_of(&listings);
        let mut account = any_job(17, milli(2_000));
        account.capacity = 32;
        let short = shortfall(match_in(&book, &account));
        assert!(short.fragmented());
        assert_eq!(
            (
                short.requirement.slots,
                short.within_slots,
                short.feasible_gpus
            ),
            (16, 16, 17)
        );
        account.job.gpus = 16;
        assert_eq!(match_in(&book, &account).unwrap().listings.len(), 16);
        // With one 2-GPU listing, 17 GPUs fit in 16 listings.
        account.job.gpus = 17;
        book.upsert(addr(50), &h100(2, milli(1_500)));
        let matched = match_in(&book, &account).unwrap();
        assert_eq!(matched.listings.len(), 16);
        assert!(matched.listings.contains(&(addr(50), 2)));
    }

    // --- Which jobs. ---

    #[test]
    fn refills_a_running_job_with_reassign() {
        let book = book_of(&[(1, h100(4, milli(1_000))), (2, h100(4, milli(1_200)))]);
        let account = running(
            any_job(8, milli(2_000)),
            &[(addr(1), 4, ACTIVE), (addr(3), 4, FAULTED)],
        );
        let matched = match_in(&book, &account).unwrap();
        assert_eq!(matched.kind, AssignKind::Reassign);
        assert_eq!(picks(&matched), [(2, 4)]);
        let mut chain: HashMap<_, _> = [
            (addr(1), h100(4, milli(1_000))),
            (addr(2), h100(4, milli(1_200))),
        ]
        .into();
        let mut account = account;
        program_assign(&mut chain, &mut account, params(), NOW, &matched).unwrap();
        assert_eq!(account.assignments.len(), 2, "the faulted slot is reused");
    }

    #[test]
    fn a_running_job_at_its_end_is_not_refilled() {
        let book = book_of(&[(1, h100(4, milli(1_000)))]);
        let mut account = running(any_job(4, milli(2_000)), &[(addr(3), 4, FAULTED)]);
        // An hour-long job that ends a second from now.
        account.job.started_at = NOW + 1 - 3_600;
        let end_time = NOW + 1;
        assert!(book.match_job(addr(9), &account, end_time - 1).is_ok());
        let err = book.match_job(addr(9), &account, end_time).unwrap_err();
        assert_eq!(err, Unmatchable::Ended { end_time });
    }

    #[test]
    fn a_paused_network_holds_open_jobs_but_refills_running_ones() {
        let mut book = book_of(&[(1, h100(4, milli(1_000)))]);
        book.set_params(MatchParams {
            paused: true,
            ..params()
        });
        assert_eq!(
            match_in(&book, &any_job(2, milli(2_000))),
            Err(Unmatchable::Paused)
        );
        let refill = running(any_job(2, milli(2_000)), &[(addr(3), 2, FAULTED)]);
        assert!(match_in(&book, &refill).is_ok());
    }

    #[test]
    fn only_open_or_running_jobs_missing_gpus_are_matched() {
        let book = book_of(&[(1, h100(4, milli(1_000)))]);
        let mut proven = any_job(2, milli(2_000));
        proven.job.status = 2;
        assert_eq!(
            match_in(&book, &proven),
            Err(Unmatchable::WrongStatus(JobStatus::Proven))
        );
        let whole = running(any_job(2, milli(2_000)), &[(addr(3), 2, ACTIVE)]);
        assert_eq!(match_in(&book, &whole), Err(Unmatchable::FullyAssigned));
    }

    // --- Against the oracle. ---

    #[test]
    fn matches_are_accepted_by_the_program_and_as_cheap_as_brute_force() {
        let mut rng = Rng::new(1);
        let (mut matched_count, mut fallbacks) = (0, 0);
        for _ in 0..3_000 {
            let listings: Vec<(u32, GpuListing)> = (0..1 + rng.below(9) as u32)
                .map(|n| (n, random_listing(&mut rng)))
                .collect();
            let book = book_of(&listings);
            let addresses: Vec<Address> = listings.iter().map(|(n, _)| addr(*n)).collect();
            let account = random_job(&mut rng, &addresses);
            let mut chain: HashMap<_, _> = listings.iter().map(|(n, l)| (addr(*n), *l)).collect();
            let best = brute_force(&chain, &account, params(), NOW);
            match match_in(&book, &account) {
                Ok(matched) => {
                    let found = (matched.cost_per_hour, matched.listings.len());
                    assert_eq!(Some(found), best, "{account:?} {listings:?}");
                    program_assign(&mut chain, &mut account.clone(), params(), NOW, &matched)
                        .unwrap();
                    matched_count += 1;
                    fallbacks += usize::from(matched.listings.len() == free_slots(&account));
                }
                Err(Unmatchable::Shortfall(short)) => {
                    assert_eq!(best, None, "{account:?} {listings:?}: {short}");
                    assert!(short.within_slots < u64::from(short.requirement.gpus));
                }
                Err(_) => {}
            }
        }
        // The generator exercises both outcomes and full slots.
        assert!(
            matched_count > 300 && fallbacks > 100,
            "{matched_count} {fallbacks}"
        );
    }

    #[test]
    fn a_full_pass_never_books_a_gpu_twice() {
        let mut rng = Rng::new(7);
        let listings: Vec<(u32, GpuListing)> =
            (0..1_000).map(|n| (n, random_listing(&mut rng))).collect();
        let addresses: Vec<Address> = listings.iter().map(|(n, _)| addr(*n)).collect();
        let jobs: Vec<(Address, JobAccount)> = (0..200)
            .map(|n| (addr(100_000 + n), random_job(&mut rng, &addresses)))
            .collect();
        let mut book = book_of(&listings);
        let outcomes = book.match_all(jobs.iter().map(|(a, j)| (*a, j)), NOW);
        assert_eq!(outcomes.len(), jobs.len());
        let mut chain: HashMap<_, _> = listings.iter().map(|(n, l)| (addr(*n), *l)).collect();
        let mut taken: HashMap<Address, u32> = HashMap::new();
        let mut matched = 0;
        for (outcome, (address, account)) in outcomes.iter().zip(&jobs) {
            assert_eq!(outcome.job, *address);
            if let Ok(m) = &outcome.result {
                matched += 1;
                for (listing, gpus) in &m.listings {
                    *taken.entry(*listing).or_default() += u32::from(*gpus);
                }
                // Replayed in order against one chain state: any double booking fails here.
                program_assign(&mut chain, &mut account.clone(), params(), NOW, m).unwrap();
            }
        }
        assert!(matched > 100, "{matched}");
        for (n, listing) in &listings {
            let used = taken.get(&addr(*n)).copied().unwrap_or(0);
            assert!(
                used <= u32::from(listing.gpus_free),
                "listing {n}: {used} > {}",
                listing.gpus_free
            );
            assert_eq!(
                book.gpus_free(&addr(*n)),
                Some(listing.gpus_free - used as u16)
            );
        }
    }

    #[test]
    fn earlier_jobs_get_first_pick_in_a_pass() {
        let mut book = book_of(&[(1, h100(6, milli(1_000))), (2, h100(8, milli(1_500)))]);
        let (first, second) = (any_job(4, milli(2_000)), any_job(4, milli(2_000)));
        let outcomes = book.match_all([(addr(10), &first), (addr(11), &second)], NOW);
        assert_eq!(picks(outcomes[0].result.as_ref().unwrap()), [(1, 4)]);
        // Two GPUs left on 1: a single listing (2) costs more, so both.
        assert_eq!(
            picks(outcomes[1].result.as_ref().unwrap()),
            [(1, 2), (2, 2)]
        );
        assert_eq!(book.gpus_free(&addr(1)), Some(0));
        assert_eq!(book.gpus_free(&addr(2)), Some(6));
    }

    // --- Explanations. ---

    #[test]
    fn explains_why_a_job_cannot_match() {
        let mut offline = h100(4, milli(1_000));
        offline.status = 2;
        let mut stale = h100(4, milli(1_000));
        stale.last_heartbeat = NOW - 301;
        let mut under_staked = h100(4, milli(1_000));
        under_staked.stake_locked = 0;
        let mut full = h100(4, milli(1_000));
        full.gpus_free = 0;
        let mut feasible = h100(4, milli(1_000));
        feasible.gpus_free = 3;
        let book = book_of(&[
            (1, offline),
            (2, stale),
            (3, h100(4, milli(2_101))),
            (4, listing("A100", 80, 4, "eu-west", milli(1_000))),
            (5, listing("H100", 40, 4, "eu-west", milli(1_000))),
            (6, listing("H100", 80, 4, "us-east", milli(1_000))),
            (7, under_staked),
            (8, full),
            (9, h100(2, milli(1_000))),
            (10, feasible),
        ]);
        // Listing 9 already runs 2 of the job's 10 GPUs: 8 missing.
        let account = running(
            job(10, "H100", 80, "eu-west", milli(2_100)),
            &[(addr(9), 2, ACTIVE)],
        );
        let err = match_in(&book, &account).unwrap_err();
        let Unmatchable::Shortfall(short) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(
            short.rejected,
            Rejections {
                mismatch: 3,
                already_in_job: 1,
                offline_or_stale: 2,
                too_expensive: 1,
                under_staked: 1,
                no_free_gpus: 1,
            }
        );
        assert_eq!(
            (
                short.feasible_listings,
                short.feasible_gpus,
                short.within_slots
            ),
            (1, 3, 3)
        );
        assert!(!short.fragmented());
        assert_eq!(
            short.requirement,
            Requirement {
                gpu_model: Some("H100".into()),
                region: Some("eu-west".into()),
                min_vram_gb: 80,
                max_price_per_gpu_hour: milli(2_100),
                gpus: 8,
                slots: 15,
            }
        );
        assert_eq!(
            err.to_string(),
            "no H100 listing with ≥ 80 GB VRAM at ≤ 2.100000 IO/GPU-h in region eu-west: \
             needs 8 GPUs, feasible listings offer 3 (3 wrong model/VRAM/region, 1 already in this job, \
             2 offline or stale, 1 too expensive, 1 under-staked, 1 with no free GPUs)"
        );
    }

    #[test]
    fn explains_a_job_spread_over_too_many_listings() {
        let listings: Vec<(u32, GpuListing)> =
            (0..1_200).map(|n| (n, h100(2, milli(1_000)))).collect();
        let mut account = any_job(8, milli(1_000));
        account.capacity = 3;
        let err = match_in(&book_of(&listings), &account).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no set of at most 3 listings covers 8 GPUs (listing at ≤ 1.000000 IO/GPU-h in any region): \
             feasible listings offer 2,400 on 1,200 listings, any 3 of them at most 6 \
             (0 wrong model/VRAM/region, 0 offline or stale, 0 too expensive, 0 under-staked, 0 with no free GPUs)"
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0u32), "0");
        assert_eq!(thousands(999u32), "999");
        assert_eq!(thousands(1_200u32), "1,200");
        assert_eq!(thousands(1_234_567u64), "1,234,567");
    }

    // --- Book maintenance. ---

    #[test]
    fn upsert_and_remove_keep_the_indexes_current() {
        let mut book = book_of(&[(1, h100(4, milli(1_000))), (2, h100(4, milli(1_200)))]);
        let wanted = any_job(2, milli(2_000));
        assert_eq!(picks(&match_in(&book, &wanted).unwrap()), [(1, 2)]);
        // 1 raises its price: 2 is cheaper now.
        book.upsert(addr(1), &h100(4, milli(1_500)));
        assert_eq!(picks(&match_in(&book, &wanted).unwrap()), [(2, 2)]);
        // 2 goes offline, then comes back busy with one GPU free.
        let mut offline = h100(4, milli(1_200));
        offline.status = 2;
        book.upsert(addr(2), &offline);
        assert_eq!(picks(&match_in(&book, &wanted).unwrap()), [(1, 2)]);
        let mut busy = h100(4, milli(1_200));
        busy.status = 1;
        busy.gpus_free = 1;
        book.upsert(addr(2), &busy);
        assert_eq!(picks(&match_in(&book, &wanted).unwrap()), [(2, 1), (1, 1)]);
        assert_eq!(
            picks(&match_in(&book, &any_job(5, milli(2_000))).unwrap()),
            [(2, 1), (1, 4)]
        );
        // 1 is delisted; its slot is reused by 3.
        assert!(book.remove(&addr(1)));
        assert!(!book.remove(&addr(1)));
        assert_eq!(book.len(), 1);
        assert_eq!(book.gpus_free(&addr(1)), None);
        assert_eq!(shortfall(match_in(&book, &wanted)).feasible_gpus, 1);
        book.upsert(addr(3), &listing("A100", 80, 2, "us-east", milli(900)));
        assert_eq!(book.len(), 2);
        assert_eq!(picks(&match_in(&book, &wanted).unwrap()), [(3, 2)]);
    }

    /// The book's internal links: every listing in exactly one bucket at its
    /// recorded slot, and in the indexes exactly when it should be.
    fn assert_consistent(book: &Book) {
        let mut seen = 0;
        for (b, bucket) in book.buckets.iter().enumerate() {
            for (slot, idx) in bucket.members.iter().enumerate() {
                let hot = &book.hot[*idx as usize];
                assert_eq!(
                    (hot.bucket as usize, book.cold[*idx as usize].slot as usize),
                    (b, slot)
                );
                assert_ne!(hot.flags & LIVE, 0);
                let key = book.key(*idx);
                assert_eq!(bucket.index.contains(&key), hot.indexed());
                assert_eq!(
                    book.by_class[hot.class as usize].contains(&key),
                    hot.indexed()
                );
                seen += 1;
            }
        }
        assert_eq!(seen, book.len());
        let indexed: usize = book.buckets.iter().map(|b| b.index.len()).sum();
        assert_eq!(
            indexed,
            book.by_class.iter().map(BTreeSet::len).sum::<usize>()
        );
    }

    #[test]
    fn incremental_updates_match_a_book_built_from_scratch() {
        let mut rng = Rng::new(11);
        let mut book = Book::new(params());
        let mut model: HashMap<u32, GpuListing> = HashMap::new();
        for step in 0..2_000 {
            let n = rng.below(40) as u32;
            if rng.below(5) == 0 {
                assert_eq!(book.remove(&addr(n)), model.remove(&n).is_some());
            } else if let Some(held) = model.get_mut(&n).filter(|_| rng.below(3) == 0) {
                // A heartbeat: only the time changes, which leaves the
                // listing's place in the indexes as it was.
                held.last_heartbeat = NOW - rng.pick(&[0, 100, 300, 301, 5_000]);
                book.upsert(addr(n), held);
            } else {
                let listing = random_listing(&mut rng);
                book.upsert(addr(n), &listing);
                model.insert(n, listing);
            }
            if step % 50 == 0 {
                assert_consistent(&book);
                let mut sorted: Vec<_> = model.iter().map(|(n, l)| (*n, *l)).collect();
                sorted.sort_by_key(|(n, _)| *n);
                let fresh = book_of(&sorted);
                let addresses: Vec<Address> = sorted.iter().map(|(n, _)| addr(*n)).collect();
                for _ in 0..20 {
                    let account = random_job(&mut rng, &addresses);
                    assert_eq!(match_in(&book, &account), match_in(&fresh, &account));
                }
            }
        }
    }

    #[test]
    fn kept_explanations_equal_a_fresh_count_as_the_book_and_time_move() {
        let mut rng = Rng::new(23);
        let addresses: Vec<Address> = (0..900).map(addr).collect();
        let mut book = Book::new(params());
        // Heartbeats are drawn around NOW; `now` moves on, so listings go
        // stale on the way and heartbeat back.
        let mut now = NOW;
        let upsert = |book: &mut Book, rng: &mut Rng, now: i64| {
            let mut listing = random_listing(rng);
            listing.last_heartbeat += now - NOW;
            book.upsert(rng.pick(&addresses), &listing);
        };
        for _ in 0..700 {
            upsert(&mut book, &mut rng, now);
        }
        let mut explained = 0;
        for step in 0..1_500 {
            match rng.below(8) {
                0..=3 => upsert(&mut book, &mut rng, now),
                4 => {
                    book.remove(&rng.pick(&addresses));
                }
                5 => now += rng.pick(&[1, 60, 250]) as i64,
                _ => {
                    let account = random_job(&mut rng, &addresses);
                    let _ = book.match_and_book(addr(9_998), &account, now);
                }
            }
            for _ in 0..2 {
                let account = random_job(&mut rng, &addresses);
                let kept = book.match_job(addr(9_999), &account, now);
                let mut fresh = book.clone();
                fresh.explainer.forget();
                assert_eq!(
                    kept,
                    fresh.match_job(addr(9_999), &account, now),
                    "step {step}"
                );
                explained += usize::from(matches!(kept, Err(Unmatchable::Shortfall(_))));
            }
        }
        assert!(explained > 1_000, "{explained} explanations compared");
    }

    #[test]
    fn params_come_from_the_network_config() {
        let mut config = iogrid_sdk::accounts::Config::zeroed();
        config.params = NetworkParams::default();
        config.paused = 1;
        let p = MatchParams::from_config(&config);
        assert_eq!(
            p,
            MatchParams {
                heartbeat_timeout_secs: 300,
                min_stake_per_gpu: 100 * IO,
                paused: true,
            }
        );
    }
}
