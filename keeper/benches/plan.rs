//! One planning pass at the size issue 16 names: 100,000 jobs over 10,000
//! listings. Most jobs are running with live workers (nothing to do), some
//! are proven inside or past their challenge window, some are open and
//! matchable, some open and unmatchable (their explanation counts every
//! listing). Deterministic data (fastrand, seeded), so runs compare.
//!
//! `cargo bench -p iogrid-keeper --bench plan` (about half a minute).

use {
    bytemuck::Zeroable,
    criterion::{criterion_group, criterion_main, BatchSize, Criterion},
    iogrid_keeper::{
        decide::plan::plan,
        state::{encode, ChainState},
    },
    iogrid_sdk::{
        accounts::{ascii_field, Assignment, Config, GpuListing, GpuSpec, Job, JobAccount},
        constants::IO,
        Address,
    },
    std::{collections::HashSet, time::Duration},
};

const NOW: i64 = 1_800_000_000;
const LISTINGS: usize = 10_000;
const JOBS: usize = 100_000;
const GPUS_PER_LISTING: u16 = 8;

fn address(rng: &mut fastrand::Rng) -> Address {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes);
    Address::new_from_array(bytes)
}

fn config() -> Config {
    let mut config = Config::zeroed();
    config.params.heartbeat_timeout_secs = 300;
    config.params.challenge_window_secs = 3_600;
    config.params.job_grace_secs = 600;
    config.params.min_stake_per_gpu = 100 * IO;
    config
}

/// An eight-GPU H100 listing that heartbeated within the last minute, with
/// `free` GPUs not taken by jobs.
fn listing(rng: &mut fastrand::Rng, free: u16) -> GpuListing {
    let mut listing = GpuListing::zeroed();
    listing.owner = address(rng);
    let price = (2 + rng.u64(..2)) * IO;
    listing.spec = GpuSpec::new(
        address(rng),
        "H100-80GB",
        80,
        GPUS_PER_LISTING,
        "eu-west",
        price,
    )
    .unwrap();
    listing.stake_locked = 100 * IO * u64::from(GPUS_PER_LISTING);
    listing.last_heartbeat = NOW - rng.i64(0..60);
    listing.gpus_free = free;
    listing.status = u8::from(free < GPUS_PER_LISTING);
    listing
}

fn job(model: &str, status: u8) -> JobAccount {
    let mut job = Job::zeroed();
    job.gpu_model = ascii_field(model).unwrap();
    job.min_vram_gb = 80;
    job.gpus = 1;
    job.max_price_per_gpu_hour = 5 * IO;
    job.duration_secs = 4 * 3_600;
    job.created_at = NOW - 600;
    job.terms.challenge_window_secs = 3_600;
    job.terms.job_grace_secs = 600;
    job.status = status;
    JobAccount {
        job,
        assignments: Vec::new(),
        capacity: 1,
    }
}

/// A one-GPU job on `listing`, running since ten minutes ago; `proven_ago`
/// makes it proven that long ago.
fn assigned_job(listing: Address, proven_ago: Option<i64>) -> JobAccount {
    let mut account = job("H100-80GB", 1);
    let mut assignment = Assignment::zeroed();
    assignment.listing = listing;
    assignment.gpus = 1;
    assignment.started_at = NOW - 600;
    account.job.started_at = NOW - 600;
    account.job.gpus_assigned = 1;
    if let Some(ago) = proven_ago {
        assignment.status = 1;
        account.job.status = 2;
        account.job.proven_at = NOW - ago;
    }
    account.assignments.push(assignment);
    account
}

/// The state and what it holds, by kind of job.
fn world() -> (ChainState, [(&'static str, usize); 5]) {
    let mut rng = fastrand::Rng::with_seed(16);
    let mut state = ChainState::default();
    state.apply(address(&mut rng), &encode::config(&config()), 1);
    let mut listings = Vec::with_capacity(LISTINGS);
    for n in 0..LISTINGS {
        // One listing in ten has a GPU free for the matchable open jobs.
        let free = u16::from(n % 10 == 0);
        let address = address(&mut rng);
        state.apply(address, &encode::listing(&listing(&mut rng, free)), 2);
        listings.push(address);
    }
    let mut kinds = [
        ("running, live workers", 0),
        ("proven, window open", 0),
        ("proven, window over (settle)", 0),
        ("open, matchable", 0),
        ("open, no such GPU (explained)", 0),
    ];
    for _ in 0..JOBS {
        let on = listings[rng.usize(..listings.len())];
        let (kind, account) = match rng.u32(..100) {
            0..=84 => (0, assigned_job(on, None)),
            85..=89 => (1, assigned_job(on, Some(60))),
            90..=93 => (2, assigned_job(on, Some(7_200))),
            94 => (3, job("H100-80GB", 0)),
            _ => (4, job("B200-192GB", 0)),
        };
        kinds[kind].1 += 1;
        state.apply(address(&mut rng), &encode::job(&account), 3);
    }
    (state, kinds)
}

fn bench(c: &mut Criterion) {
    let (state, kinds) = world();
    let mut first = state.clone();
    let started = std::time::Instant::now();
    let once = plan(&mut first, NOW, &HashSet::new());
    println!(
        "one pass over {JOBS} jobs and {LISTINGS} listings: {} actions, {} jobs explained, {:.1} ms ({kinds:?})",
        once.actions.len(),
        once.unmatched.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let mut group = c.benchmark_group("plan");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("one pass, 100k jobs x 10k listings", |b| {
        b.iter_batched(
            || state.clone(),
            |mut state| {
                // The state goes back out so its drop is not timed.
                let plan = plan(&mut state, NOW, &HashSet::new());
                (state, plan)
            },
            BatchSize::LargeInput,
        )
    });
    // Steady state: the first pass's actions have landed (those jobs are
    // gone), every other job has its deadline filed. A pass then looks only
    // at what changed: here 1,000 job accounts written since the last pass.
    let mut steady = state.clone();
    let first = plan(&mut steady, NOW, &HashSet::new());
    for action in &first.actions {
        steady.remove(action.job(), 4);
    }
    plan(&mut steady, NOW, &HashSet::new());
    let mut rng = fastrand::Rng::with_seed(7);
    let jobs: Vec<Address> = steady.jobs.keys().copied().collect();
    let changed: Vec<(Address, Vec<u8>)> = (0..1_000)
        .map(|_| {
            let job = jobs[rng.usize(..jobs.len())];
            let mut account = steady.jobs[&job].account.clone();
            account.job.compensation += 1;
            (job, encode::job(&account))
        })
        .collect();
    let mut probe = steady.clone();
    for (job, data) in &changed {
        probe.apply(*job, data, 5);
    }
    let pass = plan(&mut probe, NOW, &HashSet::new());
    println!(
        "steady state: {} jobs held, a pass after 1,000 writes looks at {} of them",
        steady.jobs.len(),
        pass.considered.len()
    );
    group.bench_function("incremental pass, 1,000 of 100k jobs changed", |b| {
        b.iter_batched(
            || {
                let mut state = steady.clone();
                for (job, data) in &changed {
                    state.apply(*job, data, 5);
                }
                state
            },
            |mut state| {
                // The state goes back out so its drop is not timed.
                let plan = plan(&mut state, NOW, &HashSet::new());
                (state, plan)
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("incremental pass, nothing changed", |b| {
        b.iter_batched(
            || steady.clone(),
            |mut state| {
                // The state goes back out so its drop is not timed.
                let plan = plan(&mut state, NOW, &HashSet::new());
                (state, plan)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
