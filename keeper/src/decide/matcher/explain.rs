//! Why a job cannot match, kept per job kind and updated with the book.
//!
//! Explaining a job counts every listing of its kind (model, VRAM,
//! region) under the first rule it fails. Scanning them costs ≈ 250 µs at
//! 100,000 listings, paid again by every waiting job of the kind each time
//! the book gains capacity. Instead the counts are kept per kind, as of the
//! book's latest time: each listing update moves one listing between the
//! counts of the kinds it belongs to, and time moving on moves listings
//! whose heartbeat went stale (a queue by the moment each goes stale).
//!
//! The price cap differs from job to job, so a kind keeps its fresh listings
//! sorted by price in blocks that carry their own counts: a job's counts
//! are the sum over the blocks under its cap plus a scan of one block.

use {
    super::{Book, Hot, Rejections, Want, ONLINE, STAKED},
    std::{
        collections::{BTreeSet, BinaryHeap, HashMap},
        fmt,
        sync::Mutex,
    },
};

/// Most job kinds kept at once (each holds its fresh listings by price);
/// past it the kept kinds are dropped and rebuilt as they are asked for.
const MAX_KINDS: usize = 128;
/// Listings a block holds after a build; a block splits past twice this.
const BLOCK: usize = 64;

/// A job kind: what decides which listings could ever serve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct KindKey {
    gpu_model: [u8; 16],
    min_vram_gb: u16,
    region: [u8; 8],
}

impl KindKey {
    pub(super) fn of(job: &iogrid_sdk::accounts::Job) -> Self {
        Self {
            gpu_model: job.gpu_model,
            min_vram_gb: job.min_vram_gb,
            region: job.region,
        }
    }
}

/// Where a listing of the job's kind stands, the price cap aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Standing {
    OfflineOrStale,
    /// Online and heartbeating: under the job's price cap, it is this.
    Fresh(Fit),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fit {
    UnderStaked,
    NoFreeGpus,
    Free(u16),
}

/// The program's rules for one listing of the kind, in its order (the
/// price, between freshness and stake, is the job's own).
pub(super) fn standing(hot: &Hot, stale: impl Fn(i64) -> bool) -> Standing {
    if hot.flags & ONLINE == 0 || stale(hot.last_heartbeat) {
        Standing::OfflineOrStale
    } else if hot.flags & STAKED == 0 {
        Standing::Fresh(Fit::UnderStaked)
    } else if hot.gpus_free == 0 {
        Standing::Fresh(Fit::NoFreeGpus)
    } else {
        Standing::Fresh(Fit::Free(hot.gpus_free))
    }
}

/// A job's counts, before the shortfall is written from them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Tally {
    pub rejected: Rejections,
    pub feasible_listings: u32,
    pub feasible_gpus: u64,
    /// The most GPUs `slots` feasible listings offer, each counted up to
    /// the GPUs needed.
    pub within_slots: u64,
}

/// Fresh listings of a kind in one price range, with their counts.
#[derive(Clone, Debug, Default)]
struct Block {
    /// `(price, listing, fit)`, by price then listing.
    entries: Vec<(u64, u32, Fit)>,
    under_staked: u32,
    no_free_gpus: u32,
    free_listings: u32,
    free_gpus: u64,
    /// The free ones' `(gpus, listing)`, most GPUs first.
    sizes: Vec<(u16, u32)>,
}

impl Block {
    fn last(&self) -> (u64, u32) {
        let (price, idx, _) = self.entries[self.entries.len() - 1];
        (price, idx)
    }

    fn count(&mut self, fit: Fit, idx: u32, add: bool) {
        let step = |n: &mut u32| *n = if add { *n + 1 } else { *n - 1 };
        match fit {
            Fit::UnderStaked => step(&mut self.under_staked),
            Fit::NoFreeGpus => step(&mut self.no_free_gpus),
            Fit::Free(gpus) => {
                step(&mut self.free_listings);
                let at = self.sizes.partition_point(|s| {
                    (std::cmp::Reverse(s.0), s.1) < (std::cmp::Reverse(gpus), idx)
                });
                if add {
                    self.free_gpus += u64::from(gpus);
                    self.sizes.insert(at, (gpus, idx));
                } else {
                    self.free_gpus -= u64::from(gpus);
                    self.sizes.remove(at);
                }
            }
        }
    }

    fn of(entries: Vec<(u64, u32, Fit)>) -> Self {
        let mut block = Self::default();
        for (_, idx, fit) in &entries {
            block.count(*fit, *idx, true);
        }
        block.entries = entries;
        block
    }
}

/// The counts of one kind of job over the whole book.
#[derive(Clone, Debug)]
struct Kind {
    /// Which buckets' listings are of the kind (as in [`Want`]).
    class_ok: Vec<bool>,
    region: Option<Option<u32>>,
    members: u32,
    offline_or_stale: u32,
    fresh: u32,
    blocks: Vec<Block>,
}

impl Kind {
    fn holds(&self, hot: &Hot, book: &Book) -> bool {
        let bucket = &book.buckets[hot.bucket as usize];
        self.class_ok[bucket.class as usize]
            && match self.region {
                None => true,
                Some(wanted) => wanted == Some(bucket.region),
            }
    }

    fn add(&mut self, idx: u32, price: u64, standing: Standing) {
        self.members += 1;
        match standing {
            Standing::OfflineOrStale => self.offline_or_stale += 1,
            Standing::Fresh(fit) => {
                self.fresh += 1;
                let key = (price, idx);
                let at = self
                    .blocks
                    .partition_point(|b| b.last() < key)
                    .min(self.blocks.len().saturating_sub(1));
                if self.blocks.is_empty() {
                    self.blocks.push(Block::default());
                }
                let block = &mut self.blocks[at];
                let pos = block.entries.partition_point(|e| (e.0, e.1) < key);
                block.entries.insert(pos, (price, idx, fit));
                block.count(fit, idx, true);
                if block.entries.len() > 2 * BLOCK {
                    let upper = block.entries.split_off(BLOCK);
                    let lower = std::mem::take(&mut block.entries);
                    self.blocks[at] = Block::of(lower);
                    self.blocks.insert(at + 1, Block::of(upper));
                }
            }
        }
    }

    fn remove(&mut self, idx: u32, price: u64, standing: Standing) {
        self.members -= 1;
        match standing {
            Standing::OfflineOrStale => self.offline_or_stale -= 1,
            Standing::Fresh(fit) => {
                self.fresh -= 1;
                let key = (price, idx);
                let at = self.blocks.partition_point(|b| b.last() < key);
                let block = &mut self.blocks[at];
                let pos = block.entries.partition_point(|e| (e.0, e.1) < key);
                debug_assert_eq!((block.entries[pos].0, block.entries[pos].1), key);
                block.entries.remove(pos);
                block.count(fit, idx, false);
                if block.entries.is_empty() {
                    self.blocks.remove(at);
                }
            }
        }
    }

    /// The counts for a job of this kind with price cap `max_price`,
    /// its active listings `excluded` taken out (as the program counts
    /// them apart).
    fn tally(&self, book: &Book, want: &Want, now: i64, needed: u64, slots: usize) -> Tally {
        let max_price = want.max_price;
        let mut rejected = Rejections {
            mismatch: book.len() as u32 - self.members,
            offline_or_stale: self.offline_or_stale,
            ..Rejections::default()
        };
        let (mut listings, mut gpus) = (0u32, 0u64);
        let mut under_cap = 0u32;
        // The `slots` largest free listings under the cap: a min-heap.
        let mut top: BinaryHeap<std::cmp::Reverse<u16>> = BinaryHeap::with_capacity(slots + 1);
        let mut offer = |size: u16, idx: u32| {
            if want.excluded.contains(&idx) {
                return true;
            }
            if top.len() < slots {
                top.push(std::cmp::Reverse(size));
                true
            } else if top.peek().is_some_and(|min| min.0 < size) {
                top.pop();
                top.push(std::cmp::Reverse(size));
                true
            } else {
                false
            }
        };
        let whole = self.blocks.partition_point(|b| b.last().0 <= max_price);
        for block in &self.blocks[..whole] {
            rejected.under_staked += block.under_staked;
            rejected.no_free_gpus += block.no_free_gpus;
            listings += block.free_listings;
            gpus += block.free_gpus;
            under_cap += block.entries.len() as u32;
            for (size, idx) in &block.sizes {
                if !offer(*size, *idx) {
                    break;
                }
            }
        }
        if let Some(block) = self.blocks.get(whole) {
            for (price, idx, fit) in &block.entries {
                if *price > max_price {
                    break;
                }
                under_cap += 1;
                match fit {
                    Fit::UnderStaked => rejected.under_staked += 1,
                    Fit::NoFreeGpus => rejected.no_free_gpus += 1,
                    Fit::Free(size) => {
                        listings += 1;
                        gpus += u64::from(*size);
                        offer(*size, *idx);
                    }
                }
            }
        }
        rejected.too_expensive = self.fresh - under_cap;
        // The job's own active listings are counted apart, whatever they
        // are, each once.
        let mut excluded = want.excluded.clone();
        excluded.sort_unstable();
        excluded.dedup();
        for idx in &excluded {
            let hot = &book.hot[*idx as usize];
            if !self.holds(hot, book) {
                continue;
            }
            rejected.already_in_job += 1;
            match standing(hot, |at| book.params.stale(at, now)) {
                Standing::OfflineOrStale => rejected.offline_or_stale -= 1,
                Standing::Fresh(_) if hot.price > max_price => rejected.too_expensive -= 1,
                Standing::Fresh(Fit::UnderStaked) => rejected.under_staked -= 1,
                Standing::Fresh(Fit::NoFreeGpus) => rejected.no_free_gpus -= 1,
                Standing::Fresh(Fit::Free(size)) => {
                    listings -= 1;
                    gpus -= u64::from(size);
                }
            }
        }
        Tally {
            rejected,
            feasible_listings: listings,
            feasible_gpus: gpus,
            within_slots: top.iter().map(|s| u64::from(s.0).min(needed)).sum(),
        }
    }
}

/// The kinds kept, as of `now`.
#[derive(Clone, Debug, Default)]
struct Kinds {
    now: i64,
    kinds: HashMap<KindKey, Kind>,
    /// Online listings fresh at `now`, by the moment they go stale; kept
    /// only while any kind is.
    expiry: BTreeSet<(i64, u32)>,
}

/// The book's explanations, behind a lock so a shared book can keep them.
#[derive(Default)]
pub(super) struct Explainer(Mutex<Kinds>);

impl Clone for Explainer {
    fn clone(&self) -> Self {
        Self(Mutex::new(self.lock().clone()))
    }
}

impl fmt::Debug for Explainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Explainer({} kinds)", self.lock().kinds.len())
    }
}

impl Explainer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kinds> {
        // A panic while holding the lock leaves counts half moved: start over.
        self.0.lock().unwrap_or_else(|poisoned| {
            self.0.clear_poison();
            let mut kinds = poisoned.into_inner();
            *kinds = Kinds::default();
            kinds
        })
    }

    /// Drops every kind: the book's classes, regions or rules changed.
    pub(super) fn forget(&mut self) {
        let kinds = self.0.get_mut().unwrap_or_else(|p| p.into_inner());
        *kinds = Kinds::default();
    }

    /// Moves listing `idx` from its `old` state to its `new` one in every
    /// kind kept (`None`: not in the book).
    pub(super) fn changed(&mut self, book: &Book, idx: u32, old: Option<&Hot>, new: Option<&Hot>) {
        let kinds = self.0.get_mut().unwrap_or_else(|p| p.into_inner());
        if kinds.kinds.is_empty() {
            return;
        }
        let now = kinds.now;
        let params = book.params;
        let standing_now = |hot: &Hot| standing(hot, |at| params.stale(at, now));
        if let Some(old) = old {
            let standing = standing_now(old);
            if standing != Standing::OfflineOrStale {
                kinds
                    .expiry
                    .remove(&(params.stale_from(old.last_heartbeat), idx));
            }
            for kind in kinds.kinds.values_mut() {
                if kind.holds(old, book) {
                    kind.remove(idx, old.price, standing);
                }
            }
        }
        if let Some(new) = new {
            let standing = standing_now(new);
            if standing != Standing::OfflineOrStale {
                kinds
                    .expiry
                    .insert((params.stale_from(new.last_heartbeat), idx));
            }
            for kind in kinds.kinds.values_mut() {
                if kind.holds(new, book) {
                    kind.add(idx, new.price, standing);
                }
            }
        }
    }

    /// The counts for a job of kind `key` wanting `want` at `now`.
    pub(super) fn tally(
        &self,
        book: &Book,
        key: KindKey,
        want: &Want,
        needed: u64,
        slots: usize,
    ) -> Tally {
        let mut kinds = self.lock();
        let now = want.now;
        if now < kinds.now || (!kinds.kinds.contains_key(&key) && kinds.kinds.len() >= MAX_KINDS) {
            *kinds = Kinds::default();
        }
        if kinds.kinds.is_empty() {
            kinds.now = now;
            kinds.expiry = fresh_listings(book, now);
        }
        kinds.advance(book, now);
        let kind = kinds
            .kinds
            .entry(key)
            .or_insert_with(|| build(book, want, now));
        kind.tally(book, want, now, needed, slots)
    }
}

impl Kinds {
    /// Moves the listings that went stale by `now` to the stale counts.
    fn advance(&mut self, book: &Book, now: i64) {
        self.now = now;
        while let Some(&(at, idx)) = self.expiry.first() {
            if at > now {
                break;
            }
            self.expiry.pop_first();
            let hot = &book.hot[idx as usize];
            let was = standing(hot, |_| false);
            for kind in self.kinds.values_mut() {
                if kind.holds(hot, book) {
                    kind.remove(idx, hot.price, was);
                    kind.add(idx, hot.price, Standing::OfflineOrStale);
                }
            }
        }
    }
}

/// Online listings fresh at `now`, by the moment each goes stale.
fn fresh_listings(book: &Book, now: i64) -> BTreeSet<(i64, u32)> {
    book.buckets
        .iter()
        .flat_map(|bucket| &bucket.members)
        .filter_map(|idx| {
            let hot = &book.hot[*idx as usize];
            let fresh = standing(hot, |at| book.params.stale(at, now)) != Standing::OfflineOrStale;
            fresh.then(|| (book.params.stale_from(hot.last_heartbeat), *idx))
        })
        .collect()
}

/// A kind's counts from a scan of its buckets.
fn build(book: &Book, want: &Want, now: i64) -> Kind {
    let mut kind = Kind {
        class_ok: want.class_ok.clone(),
        region: want.region,
        members: 0,
        offline_or_stale: 0,
        fresh: 0,
        blocks: Vec::new(),
    };
    let mut fresh = Vec::new();
    for bucket in &book.buckets {
        if !(want.class_ok[bucket.class as usize] && want.region_ok(bucket.region)) {
            continue;
        }
        kind.members += bucket.members.len() as u32;
        for idx in &bucket.members {
            let hot = &book.hot[*idx as usize];
            match standing(hot, |at| book.params.stale(at, now)) {
                Standing::OfflineOrStale => kind.offline_or_stale += 1,
                Standing::Fresh(fit) => fresh.push((hot.price, *idx, fit)),
            }
        }
    }
    fresh.sort_unstable_by_key(|(price, idx, _)| (*price, *idx));
    kind.fresh = fresh.len() as u32;
    kind.blocks = fresh
        .chunks(BLOCK)
        .map(|chunk| Block::of(chunk.to_vec()))
        .collect();
    kind
}
