//! The load harness on a real local validator, shared by the load test and
//! the fault drills: owners that stake and list one-GPU listings, workers
//! that heartbeat them in batches (`heartbeat_many`), a user that creates
//! many jobs at once, and a follower that hands each assignment's proof to
//! a keeper's relay, as a worker would, until every job closes. Counted:
//! jobs lost, proofs refused, what every party was paid against what the
//! proofs entitle it to, and what the keeper spent.

use {
    iogrid_sdk::{
        accounts::{
            ascii_field, AssignmentStatus, GpuSpec, Job, JobAccount, JobSpec, JobStatus,
            ProgramAccount, StakeAccount,
        },
        constants::IO,
        instructions::{CreateJobAccounts, HeartbeatManyAccounts, ListGpuAccounts, StakeAccounts},
        pda,
        proof::Proof,
        rpc::{network_state, program_accounts, NonblockingRpcClient as RpcClient},
        rules::pay,
        send::{send_and_confirm, SendOptions},
        token, Address,
    },
    sha2::{Digest, Sha256},
    solana_keypair::Keypair,
    solana_signer::Signer,
    solana_system_interface::instruction::transfer,
    std::{
        collections::{HashMap, HashSet},
        sync::Arc,
        time::{Duration, Instant},
    },
    tokio::{sync::Semaphore, task::JoinSet},
};

/// Listings per owner: one owner's listing ids must land in rising order,
/// so each owner lists one at a time and owners run side by side.
pub const GROUP: usize = BEAT_BATCH;
pub const MODEL: &str = "LOAD-1";
/// Listings per `heartbeat_many` (one packet).
pub const BEAT_BATCH: usize = 24;
/// Under the localnet's 20 s heartbeat timeout, with room for a slow round.
pub const BEAT_EVERY: Duration = Duration::from_secs(8);
pub const JOB_SECS: u64 = 60;
/// A hundred listings' rent (≈ 0.0027 SOL each) and fees.
const OWNER_LAMPORTS: u64 = 1_000_000_000;
const WORKER_LAMPORTS: u64 = 200_000_000;
/// A worker hands its proof in again when the job still shows the
/// assignment unproven this long after (the keeper that took it may have
/// died, or its transaction been lost).
const RELAY_AGAIN_AFTER: Duration = Duration::from_secs(15);
/// A proof no keeper took is handed in again this soon (a worker retries
/// with its own backoff).
const RELAY_REFUSED_AGAIN_AFTER: Duration = Duration::from_secs(2);

/// A number from the environment, else `default`.
pub fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub listings: usize,
    pub jobs: usize,
    pub bound: Duration,
}

impl Size {
    /// Gives localnet's `supplier-1`, who funds every owner, enough for
    /// `self.listings`: 100 IO of stake per listed GPU, and 1.2 SOL per
    /// owner (rent and fees, its worker's heartbeats).
    pub fn fund_the_funder(&self, args: &mut iogrid_cli::commands::localnet::LocalnetArgs) {
        args.io_per_wallet = args.io_per_wallet.max(self.listings as u64 * 100 + 1_000);
        let owners = self.listings.div_ceil(GROUP) as u64;
        args.sol_per_wallet = args.sol_per_wallet.max(owners * 2 + 50);
    }
}

/// One owner's listings, served by one worker key.
pub struct Group {
    pub owner: Address,
    pub worker: Arc<Keypair>,
    pub listings: Vec<Address>,
}

/// Creates the owners (SOL, IO, stake), lists every listing, and starts each
/// owner's heartbeats (sent through `beat_rpc`) as soon as its listings are up.
pub async fn list_everything(
    rpc: &Arc<RpcClient>,
    beat_rpc: &Arc<RpcClient>,
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
            beat_rpc.clone(),
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
        owner: owner.pubkey(),
        worker: Arc::new(worker),
        listings,
    }
}

/// One owner's heartbeats, batched, until aborted. A failed batch is sent
/// again a second later, up to three times, as a worker would: one lost
/// answer must not cost a listing its liveness.
async fn heartbeat_forever(rpc: Arc<RpcClient>, worker: Arc<Keypair>, listings: Vec<Address>) {
    let accounts = HeartbeatManyAccounts::new(worker.pubkey());
    loop {
        let round = Instant::now();
        for batch in listings.chunks(BEAT_BATCH) {
            let ix = accounts.instruction(batch);
            for attempt in 1..=3 {
                match send_and_confirm(
                    &rpc,
                    std::slice::from_ref(&ix),
                    &[&worker],
                    &SendOptions::default(),
                )
                .await
                {
                    Ok(_) => break,
                    Err(err) if attempt == 3 => eprintln!("a heartbeat batch failed: {err}"),
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        }
        tokio::time::sleep(BEAT_EVERY.saturating_sub(round.elapsed())).await;
    }
}

/// The jobs, and when each was created.
pub struct JobRun {
    pub created: HashMap<Address, Instant>,
    pub first_created: Instant,
    pub all_created: Instant,
    user: Arc<Keypair>,
    /// Each job's id, to create it again if a rollback erased it.
    ids: HashMap<Address, u64>,
}

/// What every job of the run asks for.
fn job_spec() -> JobSpec {
    let workload = "sim:cpu:1";
    JobSpec {
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
    }
}

/// Creates the user's job `id`; its address.
async fn create_job(rpc: &RpcClient, user: &Keypair, id: u64) -> Result<Address, String> {
    let create = CreateJobAccounts::new(user.pubkey(), id, token::io_account_of(&user.pubkey()));
    let ix = create.instruction(id, &job_spec());
    send_and_confirm(rpc, &[ix], &[user], &SendOptions::default())
        .await
        .map_err(|e| format!("create_job {id}: {e}"))?;
    Ok(create.job)
}

impl JobRun {
    /// Creates `jobs` one-GPU jobs, 64 in flight at a time.
    pub async fn start(rpc: &Arc<RpcClient>, user: &Keypair, jobs: usize) -> Self {
        let user = Arc::new(user.insecure_clone());
        let slots = Arc::new(Semaphore::new(64));
        let first_created = Instant::now();
        let mut tasks = JoinSet::new();
        for id in 1_000_000..1_000_000 + jobs as u64 {
            let (rpc, user, slots) = (rpc.clone(), user.clone(), slots.clone());
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await.unwrap();
                let job = create_job(&rpc, &user, id)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                (job, id, Instant::now())
            });
        }
        let (mut created, mut ids) = (HashMap::new(), HashMap::new());
        while let Some(job) = tasks.join_next().await {
            let (job, id, at) = job.unwrap();
            created.insert(job, at);
            ids.insert(job, id);
        }
        Self {
            created,
            first_created,
            all_created: Instant::now(),
            user,
            ids,
        }
    }

    /// Hands each assignment's proof to a keeper (the first of `keepers`
    /// that answers) as its worker would, again if it stays unproven, and
    /// follows every job, reading the validator directly, until all close
    /// or `bound` passes.
    ///
    /// It survives a rollback of the chain (a restarted one-node validator
    /// keeps only what it had rooted, see docs/scale.md): a read at a lower
    /// slot than one before shows the chain that now holds. A job closed
    /// before and present again is followed again, its closing undone; an
    /// open job absent from that read was erased with its creation, and
    /// the user creates it again (same id), as a client whose transaction
    /// was rolled back does.
    pub async fn follow(
        &self,
        rpc: &Arc<RpcClient>,
        workers: &HashMap<Address, Arc<Keypair>>,
        keepers: &[String],
        bound: Duration,
    ) -> Outcome {
        let mut outcome = Outcome {
            jobs: self.created.len(),
            creating_secs: (self.all_created - self.first_created).as_secs_f64(),
            ..Outcome::default()
        };
        let mut relayed: HashMap<(Address, u64), Instant> = HashMap::new();
        let mut relays = JoinSet::new();
        let mut recreations = JoinSet::new();
        let mut last_seen: HashMap<Address, JobAccount> = HashMap::new();
        let mut open: HashSet<Address> = self.created.keys().copied().collect();
        // Jobs created again after a rollback, until they show.
        let mut recreating: HashSet<Address> = HashSet::new();
        // How each job a rollback brought back had closed before.
        let mut closed_before: HashMap<Address, Closing> = HashMap::new();
        let mut last_slot = 0;
        while !open.is_empty() && self.first_created.elapsed() < bound {
            let Ok(read) = program_accounts(rpc, Job::DISCRIMINATOR).await else {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue; // the validator is restarting
            };
            let rolled_back = read.slot < last_slot;
            last_slot = read.slot;
            let present: HashMap<Address, JobAccount> = read
                .accounts
                .iter()
                .filter(|(a, _)| self.ids.contains_key(a))
                .filter_map(|(a, data)| Some((*a, JobAccount::decode(data).ok()?)))
                .collect();
            let at = self.first_created.elapsed().as_secs_f64();
            if rolled_back {
                outcome.rollbacks += 1;
                let back: Vec<Address> = present
                    .keys()
                    .filter(|job| !open.contains(*job))
                    .copied()
                    .collect();
                for job in back {
                    closed_before.insert(job, outcome.reopen(&job));
                    open.insert(job);
                }
            }
            for job in open.clone() {
                let Some(account) = present.get(&job) else {
                    if rolled_back && !recreating.contains(&job) {
                        recreating.insert(job);
                        let (rpc, user, id) = (rpc.clone(), self.user.clone(), self.ids[&job]);
                        recreations.spawn(async move { create_job(&rpc, &user, id).await });
                    } else if !recreating.contains(&job) {
                        open.remove(&job);
                        let last = last_seen.remove(&job);
                        let proven = last
                            .as_ref()
                            .is_some_and(|j| j.job.status() == JobStatus::Proven);
                        match closed_before.remove(&job) {
                            // The first read after a restart may show an
                            // older bank than the one the node replays to
                            // (its snapshot): a job it showed open that the
                            // replayed blocks close again closed as before.
                            Some(before) if !proven => outcome.restore(job, before),
                            _ => outcome.closed(job, at, last),
                        }
                    }
                    continue;
                };
                recreating.remove(&job);
                let status = account.job.status();
                if last_seen.get(&job).map(|a| a.job.status()) != Some(status) {
                    outcome.changes_at.push(at);
                }
                if status != JobStatus::Open && outcome.assigned.insert(job) {
                    outcome.assigned_at.push(at);
                }
                for assignment in account.active() {
                    let key = (job, assignment.nonce);
                    if relayed
                        .get(&key)
                        .is_some_and(|at| at.elapsed() < RELAY_AGAIN_AFTER)
                    {
                        continue;
                    }
                    if relayed.insert(key, Instant::now()).is_some() {
                        outcome.proofs_relayed_again += 1;
                    }
                    let proof = Proof::sign(
                        &workers[&assignment.listing],
                        job,
                        assignment.listing,
                        assignment.nonce,
                        [7; 32],
                        1,
                    );
                    let keepers = keepers.to_vec();
                    relays.spawn(async move { (key, relay_proof(keepers, proof).await) });
                }
                last_seen.insert(job, account.clone());
            }
            while let Some(done) = relays.try_join_next() {
                let (key, done) = done.unwrap();
                if done.is_err() {
                    // Due again after RELAY_REFUSED_AGAIN_AFTER, not the full wait.
                    let early = RELAY_AGAIN_AFTER - RELAY_REFUSED_AGAIN_AFTER;
                    relayed.insert(
                        key,
                        Instant::now()
                            .checked_sub(early)
                            .unwrap_or_else(Instant::now),
                    );
                }
                outcome.relay_done(done);
            }
            while let Some(done) = recreations.try_join_next() {
                // "Already in use" (the system program's error 0): the
                // replayed chain holds it after all (the read showed an
                // older bank); it shows at the next read.
                match done.unwrap() {
                    Ok(_) => outcome.jobs_recreated += 1,
                    Err(err) if err.contains("custom program error 0") => {}
                    Err(err) => eprintln!("creating a job the rollback erased again: {err}"),
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        while let Some(done) = relays.join_next().await {
            outcome.relay_done(done.unwrap().1);
        }
        outcome.open_at_end = open.into_iter().collect();
        outcome
    }
}

/// Posts a worker's proof to the first keeper that accepts it.
async fn relay_proof(keepers: Vec<String>, proof: Proof) -> Result<(), String> {
    let http = reqwest::Client::new();
    let mut last = String::new();
    for keeper in &keepers {
        let sent = http
            .post(format!("http://{keeper}/v1/proofs"))
            .json(&proof.to_submission())
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => last = format!("{keeper}: {}", response.status()),
            Err(err) => last = format!("{keeper}: {err}"),
        }
    }
    Err(last)
}

/// How a job had closed, kept while a rollback has it open again.
struct Closing {
    at: Option<f64>,
    unproven: bool,
    entitled: Option<Vec<(Address, u64)>>,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub jobs: usize,
    pub creating_secs: f64,
    pub assigned: HashSet<Address>,
    /// Seconds from the first creation, as first seen by a 0.5 s poll.
    pub assigned_at: Vec<f64>,
    /// When each job was first seen closed (seconds from the first creation).
    pub closed_at: HashMap<Address, f64>,
    /// Every status change seen, any job (for the time to recover).
    pub changes_at: Vec<f64>,
    pub proofs_relayed: usize,
    pub proofs_relayed_again: usize,
    /// Hand-ins of a proof that every keeper refused. A refused proof is
    /// handed in again 2 s later, so one proof may count here several
    /// times and then in `proofs_relayed` too.
    pub proofs_refused: usize,
    /// What the suppliers are owed, net of fee and burn, for jobs that
    /// closed from `Proven` (their assignments final when last seen):
    /// `(owner, net)` per job.
    pub entitled: HashMap<Address, Vec<(Address, u64)>>,
    /// Jobs that closed without being seen proven: their pay is not
    /// predicted, so the payment check names them.
    pub closed_unproven: HashSet<Address>,
    pub open_at_end: Vec<Address>,
    /// Rollbacks of the chain seen (a read at a lower slot than before).
    pub rollbacks: usize,
    /// Closed jobs a rollback brought back, followed again.
    pub jobs_reopened: usize,
    /// Jobs a rollback erased with their creation, created again.
    pub jobs_recreated: usize,
}

impl Outcome {
    pub fn lost(&self) -> usize {
        self.open_at_end.len()
    }

    fn relay_done(&mut self, done: Result<(), String>) {
        match done {
            Ok(()) => self.proofs_relayed += 1,
            Err(err) => {
                eprintln!("a proof was refused: {err}");
                self.proofs_refused += 1;
            }
        }
    }

    /// `job` closed at `at`; `last` is how it was last seen open.
    fn closed(&mut self, job: Address, at: f64, last: Option<JobAccount>) {
        self.closed_at.insert(job, at);
        let Some(last) = last.filter(|j| j.job.status() == JobStatus::Proven) else {
            self.closed_unproven.insert(job);
            return;
        };
        let terms = &last.job.terms;
        let pay = last
            .assignments
            .iter()
            .map(|a| {
                let gross = match a.status() {
                    AssignmentStatus::Proven | AssignmentStatus::Stopped => {
                        pay::awarded(a.payment(), last.job.award_bps).unwrap()
                    }
                    // Paid when the fault was reported, for the time it served.
                    AssignmentStatus::Faulted => a.payment(),
                    _ => 0,
                };
                let net = pay::split(gross, terms.fee_bps, terms.burn_bps)
                    .unwrap()
                    .net;
                (a.supplier, net)
            })
            .collect();
        self.entitled.insert(job, pay);
    }

    /// A rollback brought a closed `job` back: its closing is undone and
    /// returned.
    fn reopen(&mut self, job: &Address) -> Closing {
        self.jobs_reopened += 1;
        Closing {
            at: self.closed_at.remove(job),
            unproven: self.closed_unproven.remove(job),
            entitled: self.entitled.remove(job),
        }
    }

    /// `job` closed again as it had before a rollback brought it back.
    fn restore(&mut self, job: Address, before: Closing) {
        self.jobs_reopened -= 1;
        if let Some(at) = before.at {
            self.closed_at.insert(job, at);
        }
        if before.unproven {
            self.closed_unproven.insert(job);
        }
        if let Some(entitled) = before.entitled {
            self.entitled.insert(job, entitled);
        }
    }

    /// Each owner's net pay across the closed jobs.
    pub fn entitled_by_owner(&self) -> HashMap<Address, u64> {
        let mut owed: HashMap<Address, u64> = HashMap::new();
        for (owner, net) in self.entitled.values().flatten() {
            *owed.entry(*owner).or_default() += net;
        }
        owed
    }

    pub fn closing_times(&self) -> Vec<f64> {
        self.closed_at.values().copied().collect()
    }

    /// Events per second from the first to the last of a kind; a span
    /// shorter than one poll counts as one poll (0.5 s).
    pub fn rate(times: &[f64]) -> f64 {
        let (first, last) = times
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
        if times.is_empty() {
            return 0.0;
        }
        times.len() as f64 / (last - first).max(0.5)
    }

    pub fn last(times: &[f64]) -> f64 {
        times.iter().copied().fold(0.0, f64::max)
    }
}

/// What a keeper process spent.
pub struct KeeperCost {
    pub cpu_secs: f64,
    pub sent: f64,
    pub rss_mib: u64,
    pub peak_mib: u64,
}

/// The keeper's transactions sent (every action, every outcome "sent").
pub async fn keeper_sends(api: &str) -> f64 {
    let Ok(text) = metrics(api).await else {
        return 0.0;
    };
    text.lines()
        .filter(|l| l.starts_with("iogrid_keeper_actions_total{") && l.contains("outcome=\"sent\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub async fn metrics(api: &str) -> reqwest::Result<String> {
    reqwest::get(format!("http://{api}/metrics"))
        .await?
        .error_for_status()?
        .text()
        .await
}

/// User plus system CPU time of `pid` (clock ticks of 10 ms, Linux's USER_HZ).
pub fn cpu_seconds(pid: u32) -> f64 {
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

/// `VmRSS` and `VmHWM` of `pid`, in MiB.
pub fn memory_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the keeper runs");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The IO of the run's parties and what the program holds for them: the
/// user's and the owners' IO accounts, the owners' stakes, the treasury,
/// the rewards vault and the escrows of the run's open jobs, plus what was
/// burned minus what emission minted. Nothing the run does may change it;
/// any difference is IO unaccounted for.
pub async fn held_by_the_run(
    rpc: &RpcClient,
    user: &Address,
    owners: &[Address],
    jobs: &[Address],
) -> (i128, HashMap<Address, u64>) {
    let state = network_state(rpc).await.expect("the network's state");
    let mut io_accounts = vec![token::io_account_of(user)];
    io_accounts.extend(owners.iter().map(token::io_account_of));
    io_accounts.extend(jobs.iter().map(|j| pda::escrow(j).0));
    let balances = token_balances(rpc, &io_accounts).await;
    let owners_io: HashMap<Address, u64> = owners
        .iter()
        .zip(&balances[1..=owners.len()])
        .map(|(o, b)| (*o, *b))
        .collect();
    let stakes: Vec<Address> = owners.iter().map(|o| pda::stake(o).0).collect();
    let staked: u64 = read_many(rpc, &stakes)
        .await
        .iter()
        .flatten()
        .filter_map(|data| StakeAccount::decode(data).ok())
        .map(|s| s.staked + s.unbonding)
        .sum();
    let config = &state.config;
    let total = balances.iter().map(|b| i128::from(*b)).sum::<i128>()
        + i128::from(staked)
        + i128::from(state.treasury_balance)
        + i128::from(state.rewards_balance)
        + i128::from(config.burned)
        - i128::from(config.emitted);
    (total, owners_io)
}

/// The program's books against its vaults: supply == genesis + emitted −
/// burned, stake vault == Σ stake, treasury == recorded, rewards vault ==
/// emitted − claimed. Returns each mismatch, in words.
pub async fn audit(rpc: &RpcClient) -> Vec<String> {
    let state = network_state(rpc).await.expect("the network's state");
    let config = &state.config;
    let stakes = program_accounts(rpc, StakeAccount::DISCRIMINATOR)
        .await
        .expect("the stake accounts");
    let owed: u64 = stakes
        .accounts
        .iter()
        .filter_map(|(_, data)| StakeAccount::decode(data).ok())
        .map(|s| s.staked + s.unbonding)
        .sum();
    let mut wrong = Vec::new();
    let mut check = |what: &str, have: u64, want: u64| {
        if have != want {
            wrong.push(format!("{what}: {have} != {want}"));
        }
    };
    check(
        "supply vs genesis + emitted − burned",
        state.supply,
        config.genesis_supply + config.emitted - config.burned,
    );
    check("stake vault vs Σ stake", state.staked_balance, owed);
    check(
        "treasury vs recorded",
        state.treasury_balance,
        config.treasury_balance,
    );
    check(
        "rewards vault vs emitted − claimed",
        state.rewards_balance,
        config.emitted - config.rewards.claimed,
    );
    wrong
}

async fn read_many(rpc: &RpcClient, addresses: &[Address]) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(addresses.len());
    for chunk in addresses.chunks(100) {
        let accounts = rpc
            .get_multiple_accounts(chunk)
            .await
            .expect("getMultipleAccounts");
        out.extend(accounts.into_iter().map(|a| a.map(|a| a.data)));
    }
    out
}

async fn token_balances(rpc: &RpcClient, accounts: &[Address]) -> Vec<u64> {
    read_many(rpc, accounts)
        .await
        .iter()
        .map(|data| data.as_deref().and_then(token::balance).unwrap_or(0))
        .collect()
}

/// The run's books at one moment: what its parties and the program hold
/// (see [`held_by_the_run`]) and each owner's IO.
pub struct Books {
    held: i128,
    owners_io: HashMap<Address, u64>,
}

/// The money check of a run: all zero when every job paid what its proofs
/// entitle and nothing else moved.
#[derive(Debug, Default)]
pub struct Payments {
    /// IO that left the run's parties and the program's books, or appeared.
    pub unaccounted: i128,
    /// Owners paid more than their proven work (a payment made twice).
    pub overpaid_owners: usize,
    pub overpaid: u64,
    /// Owners paid less than their proven work.
    pub underpaid_owners: usize,
    pub underpaid: u64,
    /// Σ net pay the proofs entitle the owners to.
    pub entitled: u64,
}

impl Books {
    pub async fn read(
        rpc: &RpcClient,
        user: &Address,
        owners: &[Address],
        jobs: &[Address],
    ) -> Self {
        let (held, owners_io) = held_by_the_run(rpc, user, owners, jobs).await;
        Self { held, owners_io }
    }

    /// Compares `after` with these books and with what `outcome`'s proofs
    /// entitle each owner to.
    pub fn payments(&self, after: &Books, outcome: &Outcome) -> Payments {
        let entitled = outcome.entitled_by_owner();
        let mut payments = Payments {
            unaccounted: after.held - self.held,
            entitled: entitled.values().sum(),
            ..Payments::default()
        };
        for (owner, before) in &self.owners_io {
            let paid = after.owners_io[owner].saturating_sub(*before);
            let owed = entitled.get(owner).copied().unwrap_or(0);
            if paid > owed {
                payments.overpaid_owners += 1;
                payments.overpaid += paid - owed;
            } else if paid < owed {
                payments.underpaid_owners += 1;
                payments.underpaid += owed - paid;
            }
        }
        payments
    }
}

impl Outcome {
    pub fn report(&self, size: Size, keeper: &KeeperCost, wall: Duration) {
        println!(
            "load: {} listings, {} jobs ({JOB_SECS} s each): created in {:.1} s; all assigned {:.1} s after the first creation (first to last: {:.1} assignments/s); \
             all closed {:.1} s after it (first to last: {:.1} settlements/s); {} proofs relayed ({} again), {} refused; jobs lost {}; \
             keeper: {:.1} CPU-s, {:.2} transactions per job, RSS {} MiB (peak {} MiB); {:.0} s in all",
            size.listings,
            self.jobs,
            self.creating_secs,
            Self::last(&self.assigned_at),
            Self::rate(&self.assigned_at),
            Self::last(&self.closing_times()),
            Self::rate(&self.closing_times()),
            self.proofs_relayed,
            self.proofs_relayed_again,
            self.proofs_refused,
            self.lost(),
            keeper.cpu_secs,
            keeper.sent / self.jobs as f64,
            keeper.rss_mib,
            keeper.peak_mib,
            wall.as_secs_f64()
        );
    }
}

impl Payments {
    /// Prints the check and fails the test unless every count is zero.
    pub fn assert_exact(&self, outcome: &Outcome) {
        println!(
            "payments: {} IO-units entitled by the proofs of {} jobs; owners overpaid {} ({} units), underpaid {} ({} units); \
             IO unaccounted {}; jobs closed without being seen proven {}",
            self.entitled,
            outcome.jobs - outcome.closed_unproven.len() - outcome.lost(),
            self.overpaid_owners,
            self.overpaid,
            self.underpaid_owners,
            self.underpaid,
            self.unaccounted,
            outcome.closed_unproven.len()
        );
        assert_eq!(self.unaccounted, 0, "IO unaccounted: {self:?}");
        // Every job here has a live worker: one that closes unproven was
        // expired or vanished (a chain that lost its recent slots).
        assert_eq!(
            outcome.closed_unproven.len(),
            0,
            "jobs closed without being seen proven: {:?}",
            outcome.closed_unproven
        );
        assert_eq!(
            (self.overpaid_owners, self.underpaid_owners),
            (0, 0),
            "{self:?}"
        );
    }
}
