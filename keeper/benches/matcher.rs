//! The matcher on a synthetic network the size the keeper targets: 100,000
//! listings (8 GPU models, 6 regions, 1–8 GPUs each, prices ±20% around each
//! model's going rate, some busy, offline, stale or under-staked) and 10,000
//! open jobs (1–16 GPUs, specific or any model and region, some refills of
//! running jobs). Deterministic data (splitmix64), so runs compare.
//!
//! `cargo bench -p iogrid-keeper --bench matcher` (about a minute).

use {
    bytemuck::Zeroable,
    criterion::{criterion_group, criterion_main, BatchSize, Criterion},
    iogrid_keeper::matcher::{Book, MatchParams, Unmatchable},
    iogrid_sdk::{
        accounts::{ascii_field, Assignment, GpuListing, GpuSpec, Job, JobAccount},
        constants::{IO, MAX_CLUSTER},
        Address,
    },
    std::{hint::black_box, time::Duration},
};

const NOW: i64 = 1_700_000_000;
const LISTINGS: u32 = 100_000;
const JOBS: u32 = 10_000;

fn params() -> MatchParams {
    MatchParams {
        heartbeat_timeout_secs: 300,
        min_stake_per_gpu: 100 * IO,
        paused: false,
    }
}

/// (model, VRAM GB, going rate in thousandths of an IO per GPU-hour, weight).
const MODELS: [(&str, u16, u64, u64); 8] = [
    ("H200", 141, 3_500, 5),
    ("H100", 80, 2_500, 15),
    ("A100", 80, 1_600, 12),
    ("A100", 40, 1_200, 10),
    ("L40S", 48, 900, 12),
    ("A6000", 48, 700, 10),
    ("RTX4090", 24, 450, 20),
    ("RTX3090", 24, 250, 16),
];
const REGIONS: [(&str, u64); 6] = [
    ("us-east", 25),
    ("us-west", 20),
    ("eu-west", 20),
    ("eu-north", 10),
    ("ap-south", 10),
    ("ap-east", 15),
];
const LISTING_GPUS: [(u16, u64); 8] = [
    (1, 20),
    (2, 20),
    (3, 3),
    (4, 25),
    (5, 2),
    (6, 3),
    (7, 2),
    (8, 25),
];
const JOB_GPUS: [(u16, u64); 8] = [
    (1, 20),
    (2, 20),
    (3, 3),
    (4, 20),
    (6, 2),
    (8, 22),
    (12, 3),
    (16, 10),
];

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

    fn percent(&mut self) -> u64 {
        self.below(100)
    }

    fn weighted<T: Copy>(&mut self, items: &[T], weight: impl Fn(&T) -> u64) -> T {
        let total: u64 = items.iter().map(&weight).sum();
        let mut roll = self.below(total);
        for item in items {
            if roll < weight(item) {
                return *item;
            }
            roll -= weight(item);
        }
        unreachable!()
    }

    /// `base` thousandths of an IO scaled by `low..high` percent, in base units.
    fn price(&mut self, base: u64, low: u64, high: u64) -> u64 {
        base * (low + self.below(high - low + 1)) * IO / 100_000
    }
}

fn address(tag: u8, n: u32, rng: &mut Rng) -> Address {
    let mut bytes = [0u8; 32];
    bytes[0] = tag;
    bytes[1..5].copy_from_slice(&n.to_be_bytes());
    bytes[5..13].copy_from_slice(&rng.next().to_le_bytes());
    Address::new_from_array(bytes)
}

fn listing(rng: &mut Rng) -> GpuListing {
    let (model, vram, base, _) = rng.weighted(&MODELS, |m| m.3);
    let (region, _) = rng.weighted(&REGIONS, |r| r.1);
    let (gpus, _) = rng.weighted(&LISTING_GPUS, |g| g.1);
    let mut l = GpuListing::zeroed();
    let price = rng.price(base, 80, 120);
    l.spec = GpuSpec::new(Address::default(), model, vram, gpus, region, price).unwrap();
    l.stake_locked = 100 * IO * u64::from(gpus);
    if rng.percent() == 0 {
        l.stake_locked /= 2;
    }
    l.listed_at = NOW - rng.below(180 * 86_400) as i64;
    l.last_heartbeat = NOW - rng.below(60) as i64;
    l.jobs_completed = rng.below(500) as u32;
    l.jobs_faulted = rng.below(u64::from(l.jobs_completed) / 20 + 1) as u32;
    l.gpus_free = gpus;
    match rng.percent() {
        // Offline.
        0..=6 => l.status = 2,
        // Stale: online on-chain, silent for longer than the timeout.
        7..=11 => l.last_heartbeat = NOW - 301 - rng.below(86_400) as i64,
        // Busy with some of its GPUs.
        12..=39 => {
            l.status = 1;
            l.gpus_free = rng.below(u64::from(gpus)) as u16;
        }
        _ => {}
    }
    l
}

fn job(rng: &mut Rng, listings: &[Address]) -> JobAccount {
    let mut job = Job::zeroed();
    let (gpus, _) = rng.weighted(&JOB_GPUS, |g| g.1);
    let (model, vram, base, _) = rng.weighted(&MODELS, |m| m.3);
    if rng.percent() < 70 {
        job.gpu_model = ascii_field(model).unwrap();
        job.min_vram_gb = vram;
        job.max_price_per_gpu_hour = rng.price(base, 85, 150);
    } else {
        job.min_vram_gb = [0, 24, 48, 80][rng.below(4) as usize];
        job.max_price_per_gpu_hour = rng.price(base, 90, 150);
    }
    if rng.percent() < 50 {
        job.region = ascii_field(rng.weighted(&REGIONS, |r| r.1).0).unwrap();
    }
    job.gpus = gpus;
    job.duration_secs = 4 * 3_600;
    let capacity = match rng.percent() {
        0..=59 => usize::from(gpus).min(MAX_CLUSTER),
        60..=79 => 4,
        _ => 8,
    };
    let mut account = JobAccount {
        job,
        assignments: Vec::new(),
        capacity,
    };
    if rng.percent() < 10 && gpus >= 2 && capacity >= 2 {
        // Running for an hour; one listing faulted and its GPUs are missing.
        let lost = 1 + rng.below(u64::from(gpus) - 1) as u16;
        let assignment = |listing: Address, gpus: u16, status: u8| {
            let mut a = Assignment::zeroed();
            (a.listing, a.gpus, a.status) = (listing, gpus, status);
            a
        };
        let pick = |rng: &mut Rng| listings[rng.below(listings.len() as u64) as usize];
        account.assignments = vec![
            assignment(pick(rng), gpus - lost, 0),
            assignment(pick(rng), lost, 2),
        ];
        account.job.status = 1;
        account.job.started_at = NOW - 3_600;
        account.job.gpus_assigned = gpus - lost;
    }
    account
}

struct Network {
    book: Book,
    listings: Vec<(Address, GpuListing)>,
    jobs: Vec<(Address, JobAccount)>,
}

fn network() -> Network {
    let mut rng = Rng::new(2024);
    let listings: Vec<(Address, GpuListing)> = (0..LISTINGS)
        .map(|n| (address(1, n, &mut rng), listing(&mut rng)))
        .collect();
    let addresses: Vec<Address> = listings.iter().map(|(a, _)| *a).collect();
    let jobs = (0..JOBS)
        .map(|n| (address(2, n, &mut rng), job(&mut rng, &addresses)))
        .collect();
    let mut book = Book::new(params());
    for (address, listing) in &listings {
        book.upsert(*address, listing);
    }
    Network {
        book,
        listings,
        jobs,
    }
}

fn bench(c: &mut Criterion) {
    let Network {
        book,
        listings,
        jobs,
    } = network();

    // What a pass does with this data, for context next to the timings.
    let outcomes = book
        .clone()
        .match_all(jobs.iter().map(|(a, j)| (*a, j)), NOW);
    let matched = outcomes.iter().filter(|o| o.result.is_ok()).count();
    let short = outcomes
        .iter()
        .filter(|o| matches!(o.result, Err(Unmatchable::Shortfall(_))))
        .count();
    let listings_used: usize = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .map(|m| m.listings.len())
        .sum();
    println!(
        "full pass: {matched} of {} jobs matched on {listings_used} listings, {short} short of listings",
        jobs.len()
    );
    if let Some(reason) = outcomes.iter().find_map(|o| o.result.as_ref().err()) {
        println!("e.g. {reason}");
    }

    let mut group = c.benchmark_group("matcher");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    group.bench_function("full pass 100k listings x 10k jobs", |b| {
        b.iter_batched(
            || book.clone(),
            |mut book| book.match_all(jobs.iter().map(|(a, j)| (*a, j)), NOW),
            BatchSize::LargeInput,
        )
    });
    group.finish();

    // Jobs a fresh book matches, and those it cannot (their explanation
    // counts every listing, so they are timed apart).
    let (matchable, unmatchable): (Vec<_>, Vec<_>) = jobs
        .iter()
        .partition(|(a, j)| book.match_job(*a, j, NOW).is_ok());
    let mut group = c.benchmark_group("matcher");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut next = 0usize;
    group.bench_function("match one new job (100k-listing book)", |b| {
        b.iter(|| {
            let (address, job) = matchable[next % matchable.len()];
            next += 1;
            black_box(book.match_job(*address, job, NOW))
        })
    });
    let mut next = 0usize;
    group.bench_function("explain one unmatchable job (100k-listing book)", |b| {
        b.iter(|| {
            let (address, job) = unmatchable[next % unmatchable.len()];
            next += 1;
            black_box(book.match_job(*address, job, NOW))
        })
    });
    // Account updates: new prices, heartbeats, GPUs taken and freed.
    let mut rng = Rng::new(7);
    let updates: Vec<(Address, GpuListing)> = (0..4_096)
        .map(|_| {
            let (address, mut listing) = listings[rng.below(listings.len() as u64) as usize];
            listing.spec.price_per_gpu_hour =
                rng.price(listing.spec.price_per_gpu_hour / 1_000, 90, 110);
            listing.last_heartbeat = NOW;
            listing.gpus_free = rng.below(u64::from(listing.spec.gpu_count) + 1) as u16;
            (address, listing)
        })
        .collect();
    let mut book = book;
    let mut next = 0usize;
    group.bench_function("upsert one listing (100k-listing book)", |b| {
        b.iter(|| {
            let (address, listing) = &updates[next % updates.len()];
            next += 1;
            book.upsert(*address, listing);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
