//! Load on a real local validator: many listings heartbeating in batches
//! (`heartbeat_many`), many jobs created at once, the keeper matching them,
//! proofs handed to the keeper's relay, settlement after the challenge
//! window. Counted at the end: jobs lost (not closed), proofs refused, the
//! keeper's CPU and memory, the transactions it sent per job. Bounded in
//! count and time.
//!
//! `scripts/load` runs it at 10,000 listings and 1,000 jobs
//! (`IOGRID_LOAD_LISTINGS`, `IOGRID_LOAD_JOBS`, `IOGRID_LOAD_SECS`); CI runs
//! a short version through `scripts/e2e`.

use {
    iogrid_cli::commands::localnet::Localnet,
    iogrid_sdk::{
        accounts::{ascii_field, GpuSpec, Job, JobAccount, JobSpec, JobStatus, ProgramAccount},
        constants::IO,
        instructions::{CreateJobAccounts, HeartbeatManyAccounts, ListGpuAccounts, StakeAccounts},
        proof::Proof,
        rpc::{program_accounts, NonblockingRpcClient as RpcClient},
        send::{send_and_confirm, SendOptions},
        token, Address,
    },
    iogrid_tests::localchain::{key, key_path, localnet_args, print_log_tails, Process},
    sha2::{Digest, Sha256},
    solana_keypair::Keypair,
    solana_signer::Signer,
    solana_system_interface::instruction::transfer,
    std::{
        collections::{HashMap, HashSet},
        path::{Path, PathBuf},
        sync::Arc,
        time::{Duration, Instant},
    },
    tokio::{sync::Semaphore, task::JoinSet},
};

const RPC_PORT: u16 = 28_899;
const FAUCET_PORT: u16 = 29_900;
const KEEPER_API: &str = "127.0.0.1:28780";
/// Listings per owner: one owner's listing ids must land in rising order,
/// so each owner lists one at a time and owners run side by side.
const GROUP: usize = 100;
const MODEL: &str = "LOAD-1";
/// Listings per `heartbeat_many` (one packet).
const BEAT_BATCH: usize = 24;
/// Under the localnet's 20 s heartbeat timeout, with room for a slow round.
const BEAT_EVERY: Duration = Duration::from_secs(8);
const JOB_SECS: u64 = 60;
/// A hundred listings' rent (≈ 0.0027 SOL each) and fees.
const OWNER_LAMPORTS: u64 = 1_000_000_000;
const WORKER_LAMPORTS: u64 = 200_000_000;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs solana-test-validator (scripts/install-validator); run by scripts/load and scripts/e2e"]
async fn load_on_a_local_validator() {
    let size = Size {
        listings: setting("IOGRID_LOAD_LISTINGS", 10_000) as usize,
        jobs: setting("IOGRID_LOAD_JOBS", 1_000) as usize,
        bound: Duration::from_secs(setting("IOGRID_LOAD_SECS", 1_200)),
    };
    let mut args = localnet_args(RPC_PORT, FAUCET_PORT);
    // supplier-1 funds every owner's stake: 100 IO per listed GPU.
    args.io_per_wallet = args.io_per_wallet.max(size.listings as u64 * 100 + 1_000);
    // And their SOL: 1.2 SOL per owner of up to 100 listings.
    let owners = size.listings.div_ceil(GROUP) as u64;
    args.sol_per_wallet = args.sol_per_wallet.max(owners * 2 + 50);
    let localnet = Localnet::start(&args)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let logs = PathBuf::from(&localnet.info.ledger).join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let keys = Keys {
        keeper: key_path(&localnet, "keeper"),
        funder: key(&localnet, "supplier-1"),
        user: key(&localnet, "user"),
    };
    let rpc_url = localnet.info.rpc_url.clone();
    let result = tokio::spawn({
        let logs = logs.clone();
        async move { run(size, rpc_url, keys, &logs).await }
    })
    .await;
    if result.is_err() {
        print_log_tails(&logs, &["keeper"]);
    }
    localnet.stop().await.unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
}

#[derive(Clone, Copy, Debug)]
struct Size {
    listings: usize,
    jobs: usize,
    bound: Duration,
}

struct Keys {
    keeper: String,
    funder: Keypair,
    user: Keypair,
}

/// One owner's listings, served by one worker key.
struct Group {
    worker: Arc<Keypair>,
    listings: Vec<Address>,
}

async fn run(size: Size, rpc_url: String, keys: Keys, logs: &Path) {
    let started = Instant::now();
    let rpc = Arc::new(iogrid_cli::cluster::rpc_client(rpc_url.clone()));
    let keeper = Process::spawn(
        "keeper",
        "iogrid-keeper",
        &[
            "--url",
            &rpc_url,
            "--keypair",
            &keys.keeper,
            "--listen",
            KEEPER_API,
            "--tick",
            "500ms",
        ]
        .map(String::from),
        logs,
    );
    let keeper_pid = keeper.child.id().expect("the keeper runs");

    let listed = Instant::now();
    let (groups, mut beating) = list_everything(&rpc, &keys.funder, size.listings).await;
    let listing_secs = listed.elapsed().as_secs_f64();
    println!(
        "{} listings by {} owners in {listing_secs:.1} s ({:.0} listings/s), heartbeating {BEAT_BATCH} per transaction every {} s",
        size.listings,
        groups.len(),
        size.listings as f64 / listing_secs,
        BEAT_EVERY.as_secs()
    );
    let workers: HashMap<Address, Arc<Keypair>> = groups
        .iter()
        .flat_map(|g| g.listings.iter().map(|l| (*l, g.worker.clone())))
        .collect();

    let cpu_before = cpu_seconds(keeper_pid);
    let sent_before = keeper_sends().await;
    let run = JobRun::start(&rpc, &keys.user, size.jobs).await;
    let outcome = run.follow(&rpc, &workers, size.bound).await;
    let cpu = cpu_seconds(keeper_pid) - cpu_before;
    let sent = keeper_sends().await - sent_before;
    let (rss, peak) = memory_kib(keeper_pid);
    beating.abort_all();
    outcome.report(size, cpu, sent, rss, peak, started.elapsed());
    assert_eq!(outcome.lost(), 0, "every job closed: {outcome:?}");
    assert_eq!(outcome.proofs_refused, 0, "{outcome:?}");
}

/// Creates the owners (SOL, IO, stake), lists every listing, and starts each
/// owner's heartbeats as soon as its listings are up.
async fn list_everything(
    rpc: &Arc<RpcClient>,
    funder: &Keypair,
    listings: usize,
) -> (Vec<Group>, JoinSet<()>) {
    let funder = Arc::new(funder.insecure_clone());
    let mut tasks = JoinSet::new();
    for first in (0..listings).step_by(GROUP) {
        let count = GROUP.min(listings - first);
        let (rpc, funder) = (rpc.clone(), funder.clone());
        tasks.spawn(async move { list_group(&rpc, &funder, count).await });
    }
    let mut groups = Vec::new();
    let mut beating = JoinSet::new();
    while let Some(group) = tasks.join_next().await {
        let group = group.expect("an owner's listings");
        beating.spawn(heartbeat_forever(
            rpc.clone(),
            group.worker.clone(),
            group.listings.clone(),
        ));
        groups.push(group);
    }
    (groups, beating)
}

async fn list_group(rpc: &RpcClient, funder: &Keypair, count: usize) -> Group {
    let options = SendOptions::default();
    let owner = Keypair::new();
    let worker = Keypair::new();
    let stake = count as u64 * 100 * IO;
    // Listing rent and fees for the owner, heartbeat fees for the worker.
    let fund = [
        transfer(&funder.pubkey(), &owner.pubkey(), OWNER_LAMPORTS),
        transfer(&funder.pubkey(), &worker.pubkey(), WORKER_LAMPORTS),
        token::create_io_account_idempotent(&funder.pubkey(), &owner.pubkey()),
        token::transfer_io(
            &token::io_account_of(&funder.pubkey()),
            &token::io_account_of(&owner.pubkey()),
            &funder.pubkey(),
            stake,
        ),
    ];
    send_and_confirm(rpc, &fund, &[funder], &options)
        .await
        .unwrap();
    let ix = StakeAccounts::new(owner.pubkey(), token::io_account_of(&owner.pubkey()))
        .instruction(stake);
    send_and_confirm(rpc, &[ix], &[&owner], &options)
        .await
        .unwrap();
    let spec = GpuSpec::new(worker.pubkey(), MODEL, 80, 1, "local", IO).unwrap();
    let mut listings = Vec::with_capacity(count);
    for id in 0..count as u64 {
        let list = ListGpuAccounts::new(owner.pubkey(), id);
        send_and_confirm(rpc, &[list.instruction(&spec, id)], &[&owner], &options)
            .await
            .unwrap_or_else(|e| panic!("list_gpu {id}: {e}"));
        listings.push(list.listing);
    }
    Group {
        worker: Arc::new(worker),
        listings,
    }
}

/// One owner's heartbeats, batched, until aborted. A failed batch is
/// retried at the next round (the timeout leaves room for one miss).
async fn heartbeat_forever(rpc: Arc<RpcClient>, worker: Arc<Keypair>, listings: Vec<Address>) {
    let accounts = HeartbeatManyAccounts::new(worker.pubkey());
    loop {
        let round = Instant::now();
        for batch in listings.chunks(BEAT_BATCH) {
            let ix = accounts.instruction(batch);
            if let Err(err) =
                send_and_confirm(&rpc, &[ix], &[&worker], &SendOptions::default()).await
            {
                eprintln!("a heartbeat batch failed: {err}");
            }
        }
        tokio::time::sleep(BEAT_EVERY.saturating_sub(round.elapsed())).await;
    }
}

/// The jobs, and when each was created.
struct JobRun {
    created: HashMap<Address, Instant>,
    first_created: Instant,
    all_created: Instant,
}

impl JobRun {
    /// Creates `jobs` one-GPU jobs, 64 in flight at a time.
    async fn start(rpc: &Arc<RpcClient>, user: &Keypair, jobs: usize) -> Self {
        let user = Arc::new(user.insecure_clone());
        let workload = "sim:cpu:1";
        let spec = JobSpec {
            workload_hash: Sha256::digest(workload.as_bytes()).into(),
            workload_uri: ascii_field(workload).unwrap(),
            gpu_model: ascii_field(MODEL).unwrap(),
            region: [0; 8],
            max_price_per_gpu_hour: IO,
            duration_secs: JOB_SECS,
            min_vram_gb: 16,
            gpus: 1,
            max_listings: 1,
            padding: [0; 3],
        };
        let slots = Arc::new(Semaphore::new(64));
        let first_created = Instant::now();
        let mut tasks = JoinSet::new();
        for id in 0..jobs as u64 {
            let (rpc, user, slots) = (rpc.clone(), user.clone(), slots.clone());
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await.unwrap();
                let create = CreateJobAccounts::new(
                    user.pubkey(),
                    1_000_000 + id,
                    token::io_account_of(&user.pubkey()),
                );
                let ix = create.instruction(1_000_000 + id, &spec);
                send_and_confirm(&rpc, &[ix], &[&*user], &SendOptions::default())
                    .await
                    .unwrap_or_else(|e| panic!("create_job: {e}"));
                (create.job, Instant::now())
            });
        }
        let mut created = HashMap::new();
        while let Some(job) = tasks.join_next().await {
            let (job, at) = job.unwrap();
            created.insert(job, at);
        }
        Self {
            created,
            first_created,
            all_created: Instant::now(),
        }
    }

    /// Hands each assignment's proof to the keeper as its worker would, and
    /// follows every job until it closes or `bound` passes.
    async fn follow(
        &self,
        rpc: &RpcClient,
        workers: &HashMap<Address, Arc<Keypair>>,
        bound: Duration,
    ) -> Outcome {
        let http = reqwest::Client::new();
        let mut outcome = Outcome {
            jobs: self.created.len(),
            creating_secs: (self.all_created - self.first_created).as_secs_f64(),
            ..Outcome::default()
        };
        let mut proved: HashSet<(Address, u64)> = HashSet::new();
        let mut relays = JoinSet::new();
        let mut open: HashSet<Address> = self.created.keys().copied().collect();
        while !open.is_empty() && self.first_created.elapsed() < bound {
            let read = program_accounts(rpc, Job::DISCRIMINATOR)
                .await
                .expect("reading the jobs");
            let present: HashMap<Address, JobAccount> = read
                .accounts
                .iter()
                .filter(|(a, _)| open.contains(a))
                .filter_map(|(a, data)| Some((*a, JobAccount::decode(data).ok()?)))
                .collect();
            let at = self.first_created.elapsed().as_secs_f64();
            for job in open.clone() {
                let Some(account) = present.get(&job) else {
                    open.remove(&job);
                    outcome.closed_at.push(at);
                    continue;
                };
                if account.job.status() != JobStatus::Open && !outcome.assigned.contains(&job) {
                    outcome.assigned.insert(job);
                    outcome.assigned_at.push(at);
                }
                for assignment in account.active() {
                    if !proved.insert((job, assignment.nonce)) {
                        continue;
                    }
                    let worker = &workers[&assignment.listing];
                    let proof = Proof::sign(
                        worker,
                        job,
                        assignment.listing,
                        assignment.nonce,
                        [7; 32],
                        1,
                    );
                    let request = http
                        .post(format!("http://{KEEPER_API}/v1/proofs"))
                        .json(&proof.to_submission());
                    relays.spawn(async move { request.send().await.map(|r| r.status()) });
                }
            }
            while let Some(done) = relays.try_join_next() {
                match done.unwrap() {
                    Ok(status) if status.is_success() => outcome.proofs_relayed += 1,
                    other => {
                        eprintln!("a proof was refused: {other:?}");
                        outcome.proofs_refused += 1;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        while let Some(done) = relays.join_next().await {
            match done.unwrap() {
                Ok(status) if status.is_success() => outcome.proofs_relayed += 1,
                _ => outcome.proofs_refused += 1,
            }
        }
        outcome.open_at_end = open.len();
        outcome
    }
}

#[derive(Debug, Default)]
struct Outcome {
    jobs: usize,
    creating_secs: f64,
    assigned: HashSet<Address>,
    /// Seconds from the first creation, as first seen by a 0.5 s poll.
    assigned_at: Vec<f64>,
    closed_at: Vec<f64>,
    proofs_relayed: usize,
    proofs_refused: usize,
    open_at_end: usize,
}

impl Outcome {
    fn lost(&self) -> usize {
        self.open_at_end
    }

    /// Events per second from the first to the last of a kind; a span
    /// shorter than one poll counts as one poll (0.5 s).
    fn rate(times: &[f64]) -> f64 {
        let (first, last) = times
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
        if times.is_empty() {
            return 0.0;
        }
        times.len() as f64 / (last - first).max(0.5)
    }

    fn report(&self, size: Size, cpu: f64, sent: f64, rss: u64, peak: u64, wall: Duration) {
        let last = |t: &[f64]| t.iter().copied().fold(0.0, f64::max);
        println!(
            "load: {} listings, {} jobs ({JOB_SECS} s each): created in {:.1} s; all assigned {:.1} s after the first creation (first to last: {:.1} assignments/s); \
             all closed {:.1} s after it (first to last: {:.1} settlements/s); {} proofs relayed, {} refused; jobs lost {}; \
             keeper: {cpu:.1} CPU-s, {:.2} transactions per job, RSS {} MiB (peak {} MiB); {:.0} s in all",
            size.listings,
            self.jobs,
            self.creating_secs,
            last(&self.assigned_at),
            Self::rate(&self.assigned_at),
            last(&self.closed_at),
            Self::rate(&self.closed_at),
            self.proofs_relayed,
            self.proofs_refused,
            self.lost(),
            sent / self.jobs as f64,
            rss / 1024,
            peak / 1024,
            wall.as_secs_f64()
        );
    }
}

/// The keeper's transactions sent (every action, every outcome "sent").
async fn keeper_sends() -> f64 {
    let text = reqwest::get(format!("http://{KEEPER_API}/metrics"))
        .await
        .and_then(|r| r.error_for_status())
        .expect("the keeper's /metrics")
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("iogrid_keeper_actions_total{") && l.contains("outcome=\"sent\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// User plus system CPU time of `pid` (clock ticks of 10 ms, Linux's USER_HZ).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the keeper runs");
    // Fields after the command name (which may hold spaces) start at ") ".
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .expect("a stat line")
        .1
        .split(' ')
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the keeper runs");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
