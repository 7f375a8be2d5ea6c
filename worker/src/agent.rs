//! `iogrid-worker run`: the supplier's node agent. It heartbeats for one
//! listing, follows the job accounts over the RPC node's websocket (with a
//! full read every 30 s and after a reconnect) for jobs assigned to that
//! listing, runs each workload, signs the completion proof with the worker
//! key and hands it to the keeper, or relays it itself when the keeper
//! cannot be reached.
//!
//! GPUs come from NVML ([`crate::gpu`]); without a driver the worker runs
//! only with declared simulated devices (`--simulate <count>x<model>`),
//! whose work runs on the CPU. Each Ray node sees only the GPUs leased to
//! its assignment, in its sandbox ([`crate::sandbox`]).
//! Workload URIs:
//! - `spec:<label>` or `http(s)://…`: a workload spec (`iogrid_sdk::workload`)
//!   whose SHA-256 is the job's `workload_hash`, fetched from the keeper's
//!   spec store by that hash or from the URL; kind `ray` runs on the job's
//!   Ray cluster ([`crate::ray`]);
//! - `sim:cpu:<seconds>` (built in) and `cmd:<shell command>` (only with
//!   `--allow-shell`, since the command is whatever the job's owner wrote),
//!   whose `workload_hash` is the SHA-256 of the URI itself.
//!
//! Progress goes to stderr as timestamped log lines (`RUST_LOG` filters
//! them); the result of `--once` goes to stdout as text or `--output json`.

use {
    crate::{
        gpu::{self, Device, Simulated},
        ray::{RayConfig, RayJob},
        sandbox::{Isolation, IsolationMode, Limits, SandboxPlan},
    },
    anyhow::{anyhow, bail, ensure, Context, Result},
    clap::Args,
    iogrid_cli::output::{print, OutputFormat},
    iogrid_node::{
        backoff::backoff,
        clock::chain_time,
        watch::{follow_program, websocket_url, ProgramEvent},
        AbortOnDrop, Shutdown,
    },
    iogrid_sdk::{
        accounts::{
            ascii_text, Assignment, GpuListing, Job, JobAccount, JobStatus, ProgramAccount,
        },
        errors::IogridError,
        instructions::HeartbeatAccounts,
        proof::{Proof, ProofSubmission},
        rpc::{
            config_if_initialized, program_account, program_accounts,
            NonblockingRpcClient as RpcClient, RpcReadError,
        },
        send::{send_and_confirm, SendError, SendOptions},
        workload::{self, Kind, WorkloadSpec, SPEC_URI_PREFIX},
        Address,
    },
    serde::Serialize,
    sha2::{Digest, Sha256},
    solana_keypair::{read_keypair_file, Keypair},
    solana_signer::Signer,
    std::{
        collections::HashSet,
        fmt,
        path::{Path, PathBuf},
        process::Stdio,
        sync::{
            atomic::{AtomicBool, AtomicU64, Ordering},
            Arc,
        },
        time::{Duration, Instant},
    },
    tokio::task::JoinSet,
    tracing::{debug, info, warn},
};

/// How often every job is read again (`getProgramAccounts`): assignments
/// arrive over the websocket; this catches what a dropped socket missed.
const RESYNC_INTERVAL: Duration = Duration::from_secs(30);
/// A workload stops this long before the job's end, leaving time to sign
/// and deliver the proof; work past the end is not paid anyway.
const END_MARGIN_SECS: i64 = 5;

/// What `run` and `doctor` both need: the listing, its worker key, the
/// devices, the keeper, Ray.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The listing this node serves.
    #[arg(long)]
    pub listing: Address,
    /// The listing's worker key. It signs heartbeats and proofs and pays
    /// the heartbeat fees, so it needs SOL.
    #[arg(long)]
    pub worker_keypair: PathBuf,
    /// Serve with declared simulated GPUs instead of NVML's, e.g.
    /// `2xH100-80GB` or `1xRTX4090:24`: their work runs on the CPU and they
    /// are marked simulated wherever they appear.
    #[arg(long, value_name = "COUNTxMODEL")]
    pub simulate: Option<Simulated>,
    /// The keeper's HTTP API, where proofs are handed in.
    #[arg(
        long,
        env = "IOGRID_KEEPER_URL",
        default_value = "http://127.0.0.1:8780"
    )]
    pub keeper_url: String,
    /// The `ray` executable of Ray 2.60.0 (`scripts/ray-env` installs it;
    /// default: that venv's, else `ray` on the PATH).
    #[arg(long, env = "IOGRID_RAY")]
    pub ray: Option<PathBuf>,
    /// How workloads are isolated: `bwrap` (a bubblewrap sandbox in a
    /// cgroup with CPU, memory and process limits) or `none` (they run as
    /// the worker, seeing what it sees, its keypair included).
    #[arg(long, env = "IOGRID_ISOLATION", value_enum, default_value = "bwrap")]
    pub isolation: IsolationMode,
    /// At most this much memory (GiB) for one node of a job, whatever its
    /// share of the machine: what is left stays the host's. A workload that
    /// needs more is killed by the kernel and its job fails.
    #[arg(long, value_name = "GIB")]
    pub node_memory_gib: Option<u32>,
}

impl NodeArgs {
    /// The `ray` to run: the flag, else `scripts/ray-env`'s venv, else the PATH.
    pub fn ray_executable(&self) -> PathBuf {
        if let Some(path) = &self.ray {
            return path.clone();
        }
        let venv = std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".local/share/iogrid/ray-venv/bin/ray"));
        venv.filter(|path| path.exists())
            .unwrap_or_else(|| PathBuf::from("ray"))
    }

    pub fn read_worker_key(&self) -> Result<Keypair> {
        read_keypair_file(&self.worker_keypair).map_err(|e| {
            anyhow!(
                "cannot read the worker keypair {}: {e}",
                self.worker_keypair.display()
            )
        })
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Run `cmd:` workloads: shell commands taken from the chain, written by
    /// whoever created the job.
    #[arg(long)]
    pub allow_shell: bool,
    /// Exit after the first job whose proof is accepted.
    #[arg(long)]
    pub once: bool,
    /// Send no heartbeats for this listing: `iogrid-worker heartbeats`
    /// for its worker key sends them, many listings per transaction.
    #[arg(long)]
    pub pooled_heartbeats: bool,
    /// The IP address the job's other Ray nodes reach this node at.
    #[arg(long, env = "IOGRID_NODE_IP", default_value = "127.0.0.1")]
    pub node_ip: String,
    /// The network interface for gloo (distributed training on CPU), when
    /// the host has several.
    #[arg(long, env = "GLOO_SOCKET_IFNAME")]
    pub gloo_ifname: Option<String>,
    /// The RPC node's websocket (default: the RPC URL with ws:// and port
    /// + 1, the Solana convention).
    #[arg(long, env = "IOGRID_WS_URL")]
    pub ws_url: Option<String>,
    /// Keep each Ray job's outputs and log here (`<dir>/<job>-<nonce>/`)
    /// when this node is its cluster's head.
    #[arg(long)]
    pub outputs_dir: Option<PathBuf>,
    #[command(flatten)]
    pub serve: crate::serve::ServeArgs,
}

/// Who got a proof on-chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// The keeper relayed it.
    Keeper,
    /// The keeper was unreachable; this worker sent complete_job itself.
    Worker,
    /// Someone had already proven the assignment.
    AlreadyProven,
}

/// One served job, as `--once` prints it.
#[derive(Debug, Serialize)]
pub struct JobReport {
    pub job: String,
    pub listing: String,
    pub workload: String,
    pub gpus: u16,
    pub elapsed_secs: f64,
    pub result_hash: String,
    pub gpu_seconds: u64,
    pub delivered_by: Delivery,
    pub signature: Option<String>,
    /// Ray workloads: this node's role in the job's cluster.
    pub cluster_role: Option<&'static str>,
    /// Ray workloads, on the head: assignment seen → every node joined.
    pub cluster_ready_secs: Option<f64>,
}

impl fmt::Display for JobReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "job {} proven for listing {}", self.job, self.listing)?;
        writeln!(
            f,
            "  {} on {} GPU(s) in {:.1} s, {} GPU-seconds claimed",
            self.workload, self.gpus, self.elapsed_secs, self.gpu_seconds
        )?;
        if let (Some(role), ready) = (self.cluster_role, self.cluster_ready_secs) {
            match ready {
                Some(secs) => writeln!(f, "  Ray cluster {role}, cluster ready in {secs:.1} s")?,
                None => writeln!(f, "  Ray cluster {role}")?,
            }
        }
        writeln!(f, "  result {}", self.result_hash)?;
        let by = match self.delivered_by {
            Delivery::Keeper => "relayed by the keeper",
            Delivery::Worker => "relayed by this worker",
            Delivery::AlreadyProven => "already proven",
        };
        match &self.signature {
            Some(signature) => write!(f, "  {by}, transaction {signature}"),
            None => write!(f, "  {by}"),
        }
    }
}

pub async fn execute(args: &WorkerArgs, rpc: &RpcClient, output: OutputFormat) -> Result<()> {
    iogrid_node::logging::init();
    let node = &args.node;
    let devices = gpu::inventory(node.simulate.as_ref()).map_err(|e| anyhow!(e))?;
    for device in &devices {
        info!("{device}");
    }
    if node.simulate.is_some() {
        info!("simulated devices: workloads run on the CPU");
    }
    let worker = node.read_worker_key()?;
    let inference = args.serve.plan(node.listing, &args.node_ip)?;
    let interval = check_listing(rpc, &node.listing, &worker.pubkey(), &devices).await?;
    // Nodes an earlier run left serving assignments the chain still gives
    // this listing are reattached to; the rest are reaped.
    let serving = match program_accounts(rpc, Job::DISCRIMINATOR).await {
        Ok(read) => Some(
            assignments_for(&node.listing, &read.accounts)
                .iter()
                .map(Assigned::key)
                .collect::<HashSet<_>>(),
        ),
        Err(err) => {
            warn!("reading the jobs to know which running nodes to keep: {err}; keeping them all");
            None
        }
    };
    let reaped = crate::ray::reap_orphans(&node.listing, serving.as_ref());
    if reaped > 0 {
        warn!("reaped {reaped} Ray node(s) left by a worker that stopped before they ended");
    }
    let isolation = Isolation::resolve(node.isolation, vec![node.worker_keypair.clone()])
        .map_err(|e| anyhow!(e))?
        .with_memory_cap(node.node_memory_gib.map(|gib| u64::from(gib) << 30));
    match isolation.mode {
        IsolationMode::Bwrap => info!("workloads run in bubblewrap sandboxes with cgroup limits"),
        IsolationMode::None => warn!("--isolation none: workloads run unsandboxed, as this worker"),
    }
    let agent = Arc::new(Agent {
        // The tasks below outlive this borrow: a second client, same cluster.
        rpc: RpcClient::new_with_commitment(rpc.url(), rpc.commitment()),
        worker,
        listing: node.listing,
        http: http_client()?,
        proofs_url: format!("{}/v1/proofs", node.keeper_url.trim_end_matches('/')),
        keeper_url: node.keeper_url.trim_end_matches('/').to_string(),
        ws_url: match &args.ws_url {
            Some(url) => url.clone(),
            None => websocket_url(&rpc.url())?,
        },
        ray: RayConfig {
            ray: node.ray_executable(),
            node_ip: args.node_ip.clone(),
            gloo_ifname: args.gloo_ifname.clone(),
            keeper_url: node.keeper_url.clone(),
            use_gpu: devices.iter().any(|d| !d.simulated),
            outputs_dir: args.outputs_dir.clone(),
            device_count: devices.len(),
            gpus: gpu::Pool::new(devices),
            isolation,
        },
        allow_shell: args.allow_shell,
        stop: AtomicBool::new(false),
    });
    let heartbeat = if args.pooled_heartbeats {
        info!("heartbeats are pooled: `iogrid-worker heartbeats` for this worker key sends them");
        None
    } else {
        Some(AbortOnDrop(tokio::spawn(heartbeat_loop(
            agent.clone(),
            interval,
        ))))
    };
    // Inference beside the jobs; the model server stops with the worker.
    let _inference = inference.map(|plan| {
        let key = Arc::new(agent.worker.insecure_clone());
        AbortOnDrop(tokio::spawn(crate::serve::serve(
            plan,
            key,
            agent.http.clone(),
        )))
    });
    let report = agent.clone().serve(args.once).await;
    // Stop the CPU workloads (blocking threads the runtime would wait for).
    agent.stop.store(true, Ordering::Relaxed);
    drop(heartbeat);
    match report {
        Some(report) => print(output, &report),
        None => Ok(()),
    }
}

/// Refuses to start for a listing this key cannot serve; returns the
/// network's heartbeat interval.
async fn check_listing(
    rpc: &RpcClient,
    listing: &Address,
    worker: &Address,
    devices: &[Device],
) -> Result<Duration> {
    let state: GpuListing = program_account(
        rpc,
        listing,
        "no such listing (create one with `iogrid listing create`)",
    )
    .await?;
    ensure!(
        state.spec.worker == *worker,
        "this listing's worker key is {}, not {worker} (the key in --worker-keypair)",
        state.spec.worker
    );
    gpu::check_listing_claim(devices, state.spec.gpu_count, state.spec.vram_gb)
        .map_err(|e| anyhow!("not serving listing {listing}: {e}"))?;
    let config = config_if_initialized(rpc)
        .await?
        .ok_or_else(|| anyhow!("the iogrid network is not initialized on {}", rpc.url()))?;
    info!(
        "serving listing {listing}: {} × {} ({:?}), worker {worker}",
        state.spec.gpu_count,
        state.spec.model(),
        state.status()
    );
    if !state.is_online() {
        warn!(
            "the listing is {:?}: the program refuses its heartbeats",
            state.status()
        );
    }
    Ok(Duration::from_secs(
        config.params.heartbeat_interval_secs.max(1).into(),
    ))
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        // The keeper answers after the relayed transaction is confirmed.
        .timeout(Duration::from_secs(90))
        .build()
        .context("building the HTTP client")
}

/// What the worker's tasks share.
struct Agent {
    rpc: RpcClient,
    worker: Keypair,
    listing: Address,
    http: reqwest::Client,
    proofs_url: String,
    keeper_url: String,
    /// The RPC node's websocket, where job updates arrive.
    ws_url: String,
    ray: RayConfig,
    allow_shell: bool,
    /// Set on shutdown; CPU workloads check it.
    stop: AtomicBool,
}

// ---------------------------------------------------------------------------
// Heartbeats

/// Heartbeats until aborted: one now, then one every `interval`. A failure
/// is retried sooner (1 s, 2 s, 4 s … capped at the interval) and never ends
/// the loop: a node whose heartbeats stop is reported faulty and slashed.
async fn heartbeat_loop(agent: Arc<Agent>, interval: Duration) {
    let ix = HeartbeatAccounts::new(agent.worker.pubkey(), agent.listing).instruction();
    let mut failures = 0u32;
    let mut beaten = false;
    loop {
        let started = tokio::time::Instant::now();
        let sent = send_and_confirm(
            &agent.rpc,
            std::slice::from_ref(&ix),
            &[&agent.worker],
            &SendOptions::default(),
        )
        .await;
        let wait = match sent {
            Ok(sent) => {
                // Info only when the state changes; every beat would bury
                // the workload's own lines in the log.
                if !beaten {
                    info!(
                        "heartbeating every {} s (first at slot {})",
                        interval.as_secs_f64(),
                        sent.slot
                    );
                } else if failures > 0 {
                    info!(
                        "heartbeats resumed after {failures} failures (slot {})",
                        sent.slot
                    );
                } else {
                    debug!("heartbeat ok (slot {})", sent.slot);
                }
                beaten = true;
                failures = 0;
                interval
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                let wait = retry_delay(failures, interval);
                warn!(
                    "heartbeat failed ({failures} in a row), retrying in {} s: {err}",
                    wait.as_secs_f64()
                );
                wait
            }
        };
        // From the start of this beat, so confirmation time does not drift it.
        tokio::time::sleep_until(started + wait).await;
    }
}

/// Exponential backoff from 1 s, never longer than `cap`.
pub fn retry_delay(failures: u32, cap: Duration) -> Duration {
    backoff(Duration::from_millis(500), failures, cap)
}

// ---------------------------------------------------------------------------
// Finding assignments

/// A running assignment of this worker's listing.
#[derive(Clone, Debug)]
pub struct Assigned {
    pub job_address: Address,
    pub job: Job,
    pub assignment: Assignment,
}

impl Assigned {
    /// One assignment is served once; a reassignment has a new nonce.
    fn key(&self) -> (Address, u64) {
        (self.job_address, self.assignment.nonce)
    }
}

/// The active assignments of `listing` among raw job accounts. Accounts that
/// do not decode are someone else's problem (the keeper reports them).
pub fn assignments_for(listing: &Address, accounts: &[(Address, Vec<u8>)]) -> Vec<Assigned> {
    accounts
        .iter()
        .filter_map(|(address, data)| Some((address, JobAccount::decode(data).ok()?)))
        .filter(|(_, account)| account.job.status() == JobStatus::Running)
        .flat_map(|(address, account)| {
            account
                .active()
                .filter(|a| a.listing == *listing)
                .map(|a| Assigned {
                    job_address: *address,
                    job: account.job,
                    assignment: *a,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

impl Agent {
    /// Follows the job accounts over the websocket (`programSubscribe`,
    /// jobs only), reads them all at start, every [`RESYNC_INTERVAL`] and
    /// after a reconnect, and serves each new assignment in its own task
    /// until shutdown, or, with `once`, until the first proof is accepted
    /// (its report).
    async fn serve(self: Arc<Self>, once: bool) -> Option<JobReport> {
        let mut seen: HashSet<(Address, u64)> = HashSet::new();
        let mut jobs: JoinSet<Option<JobReport>> = JoinSet::new();
        let mut poll = tokio::time::interval(RESYNC_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut poll_failures = 0u32;
        let shutdown = Shutdown::new();
        if let Err(err) = shutdown.on_signals() {
            warn!("cannot watch for SIGINT/SIGTERM: {err}");
        }
        let (events, mut updates) = tokio::sync::mpsc::unbounded_channel();
        let following = tokio::spawn({
            let (ws_url, shutdown) = (self.ws_url.clone(), shutdown.clone());
            async move {
                let send = |event| drop(events.send(event));
                follow_program(
                    &ws_url,
                    Some(&Job::DISCRIMINATOR),
                    Duration::from_millis(250),
                    &shutdown,
                    send,
                )
                .await;
            }
        });
        let _following = AbortOnDrop(following);
        info!("waiting for assignments (websocket {})", self.ws_url);
        loop {
            tokio::select! {
                _ = shutdown.wait() => {
                    if jobs.is_empty() {
                        info!("stopping");
                    } else {
                        // A restart must not cost the jobs: the next start
                        // reattaches to the Ray nodes (`crate::ray`).
                        crate::ray::detach_on_exit();
                        info!("stopping; {} job(s) in progress keep their Ray nodes running for the next start to reattach (until their jobs end)", jobs.len());
                    }
                    jobs.abort_all();
                    return None;
                }
                Some(event) = updates.recv() => match event {
                    ProgramEvent::Update { address, data, closed: false, .. } => {
                        let assigned = assignments_for(&self.listing, &[(address, data)]);
                        self.start_assigned(assigned, &mut seen, &mut jobs);
                    }
                    ProgramEvent::Update { .. } => {}
                    ProgramEvent::Connected { again } => {
                        if again {
                            info!("websocket resubscribed; reading every job for what was missed");
                            poll.reset_immediately();
                        }
                    }
                    ProgramEvent::Disconnected { error } => {
                        warn!("websocket dropped ({}); reconnecting", error.as_deref().unwrap_or("closed"));
                    }
                },
                _ = poll.tick() => match self.poll().await {
                    Ok(assigned) => {
                        poll_failures = 0;
                        // A full read: what it no longer holds is done.
                        let current: HashSet<_> = assigned.iter().map(Assigned::key).collect();
                        seen.retain(|key| current.contains(key));
                        self.start_assigned(assigned, &mut seen, &mut jobs);
                    }
                    Err(err) => {
                        poll_failures = poll_failures.saturating_add(1);
                        // Once when it starts failing, then about every 5 min.
                        if poll_failures % 10 == 1 {
                            warn!("polling for jobs failed ({poll_failures} in a row): {err}");
                        }
                    }
                },
                Some(done) = jobs.join_next() => {
                    if let Ok(Some(report)) = done {
                        if once {
                            jobs.abort_all();
                            return Some(report);
                        }
                    }
                }
            }
        }
    }

    async fn poll(&self) -> Result<Vec<Assigned>, RpcReadError> {
        let read = program_accounts(&self.rpc, Job::DISCRIMINATOR).await?;
        Ok(assignments_for(&self.listing, &read.accounts))
    }

    /// Spawns a task for every assignment not seen before. (The full reads
    /// forget the ones no longer assigned, so the set stays as small as the
    /// work in hand.)
    fn start_assigned(
        self: &Arc<Self>,
        assigned: Vec<Assigned>,
        seen: &mut HashSet<(Address, u64)>,
        jobs: &mut JoinSet<Option<JobReport>>,
    ) {
        for item in assigned {
            if seen.insert(item.key()) {
                jobs.spawn(self.clone().run_job(item));
            }
        }
    }

    /// Serves one assignment; a failure is logged here and ends only this job.
    async fn run_job(self: Arc<Self>, assigned: Assigned) -> Option<JobReport> {
        let job = assigned.job_address;
        match self.serve_job(assigned).await {
            Ok(report) => Some(report),
            Err(err) => {
                warn!("job {job}: {err:#}");
                None
            }
        }
    }

    async fn serve_job(self: &Arc<Self>, assigned: Assigned) -> Result<JobReport> {
        let Assigned {
            job_address,
            job,
            assignment,
        } = assigned;
        info!(
            "assigned job {job_address} ({} GPU(s), nonce {})",
            assignment.gpus, assignment.nonce
        );
        let (uri, workload) = self.workload_of(&job).await?;
        let limit = time_limit(job.end_time(), chain_time(&self.rpc).await?)?;
        info!(
            "job {job_address}: running {uri} (time limit {} s)",
            limit.as_secs()
        );
        let ran = self
            .run_workload(workload, limit, &job_address, &assignment)
            .await?;
        let elapsed = ran.elapsed;
        let result_hash = ran.result_hash;
        let gpu_seconds = gpu_seconds(elapsed, assignment.gpus);
        info!(
            "job {job_address}: workload done in {:.1} s, result {}…, claiming {gpu_seconds} GPU-seconds",
            elapsed.as_secs_f64(),
            hex_prefix(&result_hash)
        );
        let proof = Proof::sign(
            &self.worker,
            job_address,
            self.listing,
            assignment.nonce,
            result_hash,
            gpu_seconds,
        );
        let (delivered_by, signature) = self.deliver(&proof).await?;
        Ok(JobReport {
            job: job_address.to_string(),
            listing: self.listing.to_string(),
            workload: uri,
            gpus: assignment.gpus,
            elapsed_secs: elapsed.as_secs_f64(),
            result_hash: to_hex(&result_hash),
            gpu_seconds,
            delivered_by,
            signature,
            cluster_role: ran.cluster_role,
            cluster_ready_secs: ran.cluster_ready.map(|d| d.as_secs_f64()),
        })
    }

    /// What the job runs, checked against its `workload_hash`.
    async fn workload_of(&self, job: &Job) -> Result<(String, Workload)> {
        let uri = ascii_text(&job.workload_uri);
        let Some(source) = spec_source(&uri, &self.keeper_url, &job.workload_hash) else {
            let uri = check_integrity(job)?;
            let workload = parse_workload(&uri, self.allow_shell)?;
            return Ok((uri, workload));
        };
        let bytes = fetch_spec(&self.http, &source).await?;
        let spec = workload::load(&bytes, &job.workload_hash)
            .map_err(|e| anyhow!("refusing the workload spec {uri}: {e}"))?;
        match spec.kind {
            Kind::Ray => Ok((
                uri,
                Workload::Ray {
                    spec: Box::new(spec),
                    document: bytes,
                },
            )),
            Kind::Container => Err(Refusal::ContainerUnsupported { uri }.into()),
        }
    }

    async fn run_workload(
        self: &Arc<Self>,
        workload: Workload,
        limit: Duration,
        job: &Address,
        assignment: &Assignment,
    ) -> Result<Ran, RunError> {
        let started = Instant::now();
        let output = match workload {
            Workload::Ray { spec, document } => {
                let ray_job = RayJob {
                    config: &self.ray,
                    http: &self.http,
                    rpc: &self.rpc,
                    worker: &self.worker,
                    listing: self.listing,
                    job: *job,
                    assignment: *assignment,
                    spec: *spec,
                    spec_document: document,
                };
                let outcome = ray_job.run(limit).await?;
                return Ok(Ran {
                    result_hash: outcome.result_hash,
                    elapsed: outcome.in_cluster,
                    cluster_role: Some(outcome.role),
                    cluster_ready: outcome.cluster_ready,
                });
            }
            Workload::SimCpu { secs } => {
                // CPU-bound: a blocking thread, so heartbeats keep their timing.
                let agent = self.clone();
                tokio::task::spawn_blocking(move || {
                    run_sim(Duration::from_secs(secs), limit, &agent.stop)
                })
                .await
                .map_err(|e| RunError::Failed(format!("the workload thread died: {e}")))?
            }
            Workload::Shell { command } => {
                let env = [
                    ("IOGRID_JOB", job.to_string()),
                    ("IOGRID_LISTING", self.listing.to_string()),
                    ("IOGRID_GPUS", assignment.gpus.to_string()),
                ];
                let limits = self
                    .ray
                    .isolation
                    .share(assignment.gpus, self.ray.device_count);
                run_shell(&command, limit, &env, &self.ray.isolation, limits).await
            }
        }?;
        Ok(Ran {
            result_hash: Sha256::digest(&output).into(),
            elapsed: started.elapsed(),
            cluster_role: None,
            cluster_ready: None,
        })
    }
}

/// What a finished workload gives its proof.
struct Ran {
    result_hash: [u8; 32],
    /// Measured time the claim is based on.
    elapsed: Duration,
    cluster_role: Option<&'static str>,
    cluster_ready: Option<Duration>,
}

/// Where a spec URI's document is: the keeper's store (by the job's hash)
/// or the URL itself. `None`: not a spec URI.
pub fn spec_source(uri: &str, keeper_url: &str, hash: &[u8; 32]) -> Option<String> {
    if uri.starts_with(SPEC_URI_PREFIX) {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        return Some(format!("{keeper_url}/v1/specs/{hex}"));
    }
    (uri.starts_with("https://") || uri.starts_with("http://")).then(|| uri.to_string())
}

/// The spec's bytes, at most `MAX_SPEC_BYTES` of them.
async fn fetch_spec(http: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("fetching the workload spec from {url}"))?;
    ensure!(
        response.status().is_success(),
        "fetching the workload spec from {url}: HTTP {}",
        response.status()
    );
    let bytes = response
        .bytes()
        .await
        .with_context(|| format!("reading the workload spec from {url}"))?;
    ensure!(
        bytes.len() <= workload::MAX_SPEC_BYTES,
        "the workload spec at {url} is over {} bytes",
        workload::MAX_SPEC_BYTES
    );
    Ok(bytes.to_vec())
}

// ---------------------------------------------------------------------------
// Workloads

/// Why an assigned job is not run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("the workload URI {uri:?} does not match the job's workload hash; not running it")]
    IntegrityMismatch { uri: String },
    #[error("running commands from the chain needs --allow-shell; not running {uri:?}")]
    ShellNotAllowed { uri: String },
    #[error("unsupported workload {uri:?}: this worker runs sim:cpu:<seconds> and, with --allow-shell, cmd:<command>")]
    Unsupported { uri: String },
    #[error("container workloads are not run by this worker yet (isolation is being built); not running {uri:?}")]
    ContainerUnsupported { uri: String },
    #[error(
        "no time left: the job ends at {end}, it is {now} on-chain (margin {END_MARGIN_SECS} s)"
    )]
    NoTimeLeft { end: i64, now: i64 },
}

/// What an assigned job asks to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    /// A `ray` workload spec, run on the job's Ray cluster.
    Ray {
        spec: Box<WorkloadSpec>,
        /// The spec's bytes, as hashed on-chain.
        document: Vec<u8>,
    },
    /// The built-in CPU workload, for this many seconds.
    SimCpu { secs: u64 },
    /// A shell command, run with `sh -c`.
    Shell { command: String },
}

/// The job's workload URI, if it hashes to the job's `workload_hash` (as
/// `iogrid job create` sets it): what runs is what the owner paid for.
pub fn check_integrity(job: &Job) -> Result<String, Refusal> {
    let uri = ascii_text(&job.workload_uri);
    let hash: [u8; 32] = Sha256::digest(uri.as_bytes()).into();
    if hash == job.workload_hash {
        Ok(uri)
    } else {
        Err(Refusal::IntegrityMismatch { uri })
    }
}

pub fn parse_workload(uri: &str, allow_shell: bool) -> Result<Workload, Refusal> {
    let unsupported = || Refusal::Unsupported {
        uri: uri.to_string(),
    };
    if let Some(secs) = uri.strip_prefix("sim:cpu:") {
        let secs = secs.parse().map_err(|_| unsupported())?;
        return Ok(Workload::SimCpu { secs });
    }
    if let Some(command) = uri.strip_prefix("cmd:") {
        if command.trim().is_empty() {
            return Err(unsupported());
        }
        if !allow_shell {
            return Err(Refusal::ShellNotAllowed {
                uri: uri.to_string(),
            });
        }
        return Ok(Workload::Shell {
            command: command.to_string(),
        });
    }
    Err(unsupported())
}

/// How long a workload may run: until the job's end (chain time) less a margin.
pub fn time_limit(end_time: i64, chain_now: i64) -> Result<Duration, Refusal> {
    let left = end_time
        .saturating_sub(chain_now)
        .saturating_sub(END_MARGIN_SECS);
    if left <= 0 {
        return Err(Refusal::NoTimeLeft {
            end: end_time,
            now: chain_now,
        });
    }
    Ok(Duration::from_secs(left as u64))
}

/// GPU-seconds claimed: whole seconds rounded up, times the GPUs, at least 1.
/// The program cuts a claim to the time elapsed on-chain, so rounding up
/// costs the job's owner nothing while rounding down would lose pay.
pub fn gpu_seconds(elapsed: Duration, gpus: u16) -> u64 {
    let secs = elapsed.as_secs() + u64::from(elapsed.subsec_nanos() > 0);
    secs.saturating_mul(u64::from(gpus)).max(1)
}

/// Why a workload produced no result.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RunError {
    #[error("the workload did not finish within its {0:.0} s time limit; no proof is sent (expiry pays the heartbeat-verified time)")]
    TimedOut(f64),
    #[error("the worker is stopping")]
    Stopped,
    #[error("the workload failed: {0}")]
    Failed(String),
}

/// Steps of the sim workload between clock checks (about a millisecond).
const SIM_BATCH: u64 = 4096;

/// The built-in CPU workload: the hash chain `d ← sha256(d ‖ i)` for
/// `i = 0, 1, …` over `secs`, whose output is the last digest. The digest
/// depends only on the number of steps done (see [`sim_steps`]), which
/// depends on the CPU's speed. Stops at `limit` (timed out) or on `stop`.
pub fn run_sim(secs: Duration, limit: Duration, stop: &AtomicBool) -> Result<Vec<u8>, RunError> {
    let started = Instant::now();
    let mut digest = [0u8; 32];
    let mut step = 0u64;
    loop {
        let elapsed = started.elapsed();
        if elapsed >= secs {
            return Ok(digest.to_vec());
        }
        if elapsed >= limit {
            return Err(RunError::TimedOut(limit.as_secs_f64()));
        }
        if stop.load(Ordering::Relaxed) {
            return Err(RunError::Stopped);
        }
        digest = sim_steps(digest, step, SIM_BATCH);
        step += SIM_BATCH;
    }
}

/// `count` steps of the sim hash chain from step `from`.
pub fn sim_steps(mut digest: [u8; 32], from: u64, count: u64) -> [u8; 32] {
    for i in from..from + count {
        let mut hasher = Sha256::new();
        hasher.update(digest);
        hasher.update(i.to_le_bytes());
        digest = hasher.finalize().into();
    }
    digest
}

/// Runs `command` with `sh -c` in a fresh scratch directory, stdin closed,
/// and returns its stdout. A non-zero exit is a failure. The shell leads its
/// own process group, so a timeout, or the worker stopping (the future is
/// dropped), kills everything the command started.
pub async fn run_shell(
    command: &str,
    limit: Duration,
    env: &[(&str, String)],
    isolation: &Isolation,
    limits: Limits,
) -> Result<Vec<u8>, RunError> {
    let dir = ScratchDir::create()
        .map_err(|e| RunError::Failed(format!("cannot create a scratch directory: {e}")))?;
    let plan = SandboxPlan {
        name: dir.name(),
        writable: vec![dir.0.clone()],
        read_only: Vec::new(),
        devices: Vec::new(),
        limits,
        outlives_worker: false,
    };
    let (sh, _cgroup) = isolation
        .command(&plan, Path::new("/bin/sh"), &["-c".into(), command.into()])
        .map_err(|e| RunError::Failed(format!("making the sandbox: {e}")))?;
    let child = tokio::process::Command::from(sh)
        .current_dir(&dir.0)
        .envs(env.iter().map(|(key, value)| (*key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| RunError::Failed(format!("cannot start sh: {e}")))?;
    let _group = child.id().map(ProcessGroup);
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Err(_) => Err(RunError::TimedOut(limit.as_secs_f64())),
        Ok(Err(e)) => Err(RunError::Failed(format!("waiting for the command: {e}"))),
        Ok(Ok(out)) if out.status.success() => Ok(out.stdout),
        Ok(Ok(out)) => Err(RunError::Failed(format!(
            "{}; stderr: {}",
            out.status,
            tail(&out.stderr, 400)
        ))),
    }
}

/// Kills a process group when dropped: whatever the command left behind.
struct ProcessGroup(u32);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a negative pid signals that process group; it
        // touches no memory. ESRCH (already gone) is the usual outcome.
        unsafe { libc::kill(-(self.0 as i32), libc::SIGKILL) };
    }
}

/// A temporary directory removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create() -> std::io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // The pid last, as the stale-cgroup sweep reads it.
        let name = format!(
            "iogrid-shell-{}-{}",
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::process::id()
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    fn name(&self) -> String {
        self.0
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The last `max` bytes of a command's output, as text.
fn tail(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(max)..]);
    text.trim().to_string()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_prefix(bytes: &[u8; 32]) -> String {
    to_hex(&bytes[..4])
}

// ---------------------------------------------------------------------------
// Proof delivery

/// How often, and how patiently, the keeper is tried before relaying.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    /// Before the second attempt; doubles after each further one.
    pub first_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(500),
        }
    }
}

/// What one POST came back with: the status and body, or why there was none.
pub type PostResult = Result<(u16, String), String>;

/// The keeper's final word on a proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeeperAnswer {
    /// 2xx: relayed; the body is the keeper's JSON (signature, slot).
    Accepted(String),
    /// 409: proven already (or no longer this worker's to prove).
    AlreadyProven(String),
    /// Another 4xx: the proof is wrong for the chain; retrying cannot help.
    Refused { status: u16, body: String },
    /// No answer, or 5xx, on every attempt: relay it ourselves.
    Unreachable(String),
}

/// After a POST: done, or try again after a while.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Done(KeeperAnswer),
    RetryAfter(Duration),
}

/// The decision, apart from the I/O: 2xx, 409 and other 4xx are final;
/// anything else (no connection, 5xx) is retried with backoff until
/// `policy.attempts` are used up.
pub fn next_step(result: PostResult, attempt: u32, policy: &RetryPolicy) -> Step {
    let transient = match result {
        Ok((status, body)) if (200..300).contains(&status) => {
            return Step::Done(KeeperAnswer::Accepted(body))
        }
        Ok((409, body)) => return Step::Done(KeeperAnswer::AlreadyProven(body)),
        Ok((status, body)) if (400..500).contains(&status) => {
            return Step::Done(KeeperAnswer::Refused { status, body })
        }
        Ok((status, body)) => format!("HTTP {status}: {}", body.trim()),
        Err(err) => err,
    };
    if attempt >= policy.attempts {
        return Step::Done(KeeperAnswer::Unreachable(transient));
    }
    let doublings = attempt.saturating_sub(1).min(16);
    Step::RetryAfter(policy.first_delay.saturating_mul(1 << doublings))
}

/// POSTs `submission` to `url` until [`next_step`] says done.
pub async fn post_proof(
    http: &reqwest::Client,
    url: &str,
    submission: &ProofSubmission,
    policy: &RetryPolicy,
) -> KeeperAnswer {
    let mut attempt = 1;
    loop {
        let result = post_once(http, url, submission).await;
        let why = match &result {
            Ok((status, body)) => format!("HTTP {status}: {}", body.trim()),
            Err(err) => err.clone(),
        };
        match next_step(result, attempt, policy) {
            Step::Done(answer) => return answer,
            Step::RetryAfter(delay) => {
                warn!(
                    "keeper at {url} did not take the proof (attempt {attempt}/{}: {why}), retrying in {:.1} s",
                    policy.attempts,
                    delay.as_secs_f64()
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

async fn post_once(http: &reqwest::Client, url: &str, submission: &ProofSubmission) -> PostResult {
    let response = http
        .post(url)
        .json(submission)
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let status = response.status().as_u16();
    // A body that fails to arrive still leaves the status to decide on.
    let body = response.text().await.unwrap_or_default();
    Ok((status, body))
}

/// An error with its causes: reqwest's own text ("error sending request")
/// leaves out the useful part ("Connection refused").
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The transaction signature in a keeper's `{"signature": …}` answer.
fn signature_in(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(value.get("signature")?.as_str()?.to_string())
}

impl Agent {
    /// Hands the proof to the keeper; relays it with this worker's own
    /// transaction when the keeper cannot be reached.
    async fn deliver(&self, proof: &Proof) -> Result<(Delivery, Option<String>)> {
        let submission = proof.to_submission();
        let policy = RetryPolicy::default();
        match post_proof(&self.http, &self.proofs_url, &submission, &policy).await {
            KeeperAnswer::Accepted(body) => {
                let signature = signature_in(&body);
                match &signature {
                    Some(signature) => info!("proof relayed by keeper: tx {signature}"),
                    None => info!("proof accepted by keeper: {}", body.trim()),
                }
                Ok((Delivery::Keeper, signature))
            }
            KeeperAnswer::AlreadyProven(body) => {
                info!(
                    "keeper says the assignment is already proven: {}",
                    body.trim()
                );
                Ok((Delivery::AlreadyProven, None))
            }
            KeeperAnswer::Refused { status, body } => {
                bail!(
                    "the keeper refused the proof (HTTP {status}): {}",
                    body.trim()
                )
            }
            KeeperAnswer::Unreachable(why) => {
                warn!("keeper unreachable ({why}); relaying the proof with this worker's key");
                self.relay(proof).await
            }
        }
    }

    /// Sends the Ed25519 check and complete_job itself (no signer needed
    /// beyond the fee payer). Transient RPC failures are retried a few times.
    async fn relay(&self, proof: &Proof) -> Result<(Delivery, Option<String>)> {
        let policy = RetryPolicy::default();
        let mut attempt = 1;
        loop {
            let sent = send_and_confirm(
                &self.rpc,
                &proof.instructions(),
                &[&self.worker],
                &SendOptions::default(),
            )
            .await;
            match sent {
                Ok(sent) => {
                    info!(
                        "proof relayed by this worker: tx {} (slot {})",
                        sent.signature, sent.slot
                    );
                    return Ok((Delivery::Worker, Some(sent.signature.to_string())));
                }
                Err(err) if is_already_proven(&err) => {
                    info!("nothing left to prove: {err}");
                    return Ok((Delivery::AlreadyProven, None));
                }
                Err(err @ SendError::Failed { .. }) => {
                    return Err(err).context("the program refused the proof")
                }
                Err(err) if attempt >= policy.attempts => {
                    return Err(err).context("relaying the proof failed")
                }
                Err(err) => {
                    let delay = retry_delay(attempt, Duration::from_secs(8));
                    warn!("relaying the proof failed (attempt {attempt}), retrying: {err}");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// The program's answer when the assignment is no longer running: someone
/// (usually the keeper, late) proved it, or it was faulted meanwhile.
fn is_already_proven(err: &SendError) -> bool {
    err.failure().and_then(|f| f.iogrid()) == Some(IogridError::NoActiveAssignment)
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        iogrid_sdk::accounts::{job_space, AssignmentStatus, JOB_ITEMS_OFFSET, JOB_LEN_OFFSET},
        std::path::Path,
        tokio::{
            io::{AsyncReadExt, AsyncWriteExt},
            net::TcpListener,
        },
    };

    const LIMITS: Limits = Limits {
        cpus: 1.0,
        memory_bytes: 1 << 30,
        pids: 64,
    };

    /// Shell workloads as the worker, for tests that run without root.
    fn unsandboxed() -> Isolation {
        Isolation::resolve(IsolationMode::None, Vec::new()).unwrap()
    }

    fn job_with_uri(uri: &str) -> Job {
        let mut job: Job = bytemuck::Zeroable::zeroed();
        job.workload_uri[..uri.len()].copy_from_slice(uri.as_bytes());
        job.workload_hash = Sha256::digest(uri.as_bytes()).into();
        job
    }

    #[test]
    fn workload_schemes_parse() {
        assert_eq!(
            parse_workload("sim:cpu:3", false),
            Ok(Workload::SimCpu { secs: 3 })
        );
        assert_eq!(
            parse_workload("cmd:echo hi", true),
            Ok(Workload::Shell {
                command: "echo hi".into()
            })
        );
        for uri in [
            "sim:cpu:",
            "sim:cpu:-1",
            "sim:cpu:3s",
            "sim:gpu:3",
            "https://x/y",
            "cmd: ",
        ] {
            assert_eq!(
                parse_workload(uri, true),
                Err(Refusal::Unsupported { uri: uri.into() }),
                "{uri}"
            );
        }
    }

    #[test]
    fn shell_workloads_need_allow_shell() {
        let err = parse_workload("cmd:rm -rf ~", false).unwrap_err();
        assert_eq!(
            err,
            Refusal::ShellNotAllowed {
                uri: "cmd:rm -rf ~".into()
            }
        );
        assert!(err.to_string().contains("needs --allow-shell"), "{err}");
    }

    #[test]
    fn integrity_mismatch_is_refused() {
        let job = job_with_uri("sim:cpu:3");
        assert_eq!(check_integrity(&job), Ok("sim:cpu:3".into()));
        let mut tampered = job;
        tampered.workload_uri[8] = b'9';
        assert_eq!(
            check_integrity(&tampered),
            Err(Refusal::IntegrityMismatch {
                uri: "sim:cpu:9".into()
            })
        );
    }

    #[test]
    fn gpu_seconds_round_up_times_gpus_at_least_one() {
        assert_eq!(gpu_seconds(Duration::from_millis(4_100), 2), 10);
        assert_eq!(gpu_seconds(Duration::from_secs(4), 2), 8);
        assert_eq!(gpu_seconds(Duration::from_millis(1), 1), 1);
        assert_eq!(gpu_seconds(Duration::ZERO, 3), 1);
        assert_eq!(gpu_seconds(Duration::from_secs(5), 0), 1);
    }

    #[test]
    fn time_limit_is_end_less_now_less_margin() {
        assert_eq!(time_limit(1_100, 1_000), Ok(Duration::from_secs(95)));
        assert_eq!(
            time_limit(1_005, 1_000),
            Err(Refusal::NoTimeLeft {
                end: 1_005,
                now: 1_000
            })
        );
        // A job that has not started has end time 0.
        assert!(time_limit(0, 1_000).is_err());
    }

    #[test]
    fn retry_delay_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(5);
        let delays: Vec<_> = (1..=5).map(|n| retry_delay(n, cap).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        assert_eq!(retry_delay(u32::MAX, cap), cap);
    }

    #[test]
    fn sim_steps_are_deterministic() {
        let a = sim_steps([0; 32], 0, 1_000);
        assert_eq!(a, sim_steps([0; 32], 0, 1_000));
        // The chain composes: 1,000 steps are 400 then 600.
        assert_eq!(a, sim_steps(sim_steps([0; 32], 0, 400), 400, 600));
        assert_ne!(a, sim_steps([0; 32], 0, 999));
    }

    #[test]
    fn sim_workload_outputs_32_bytes_and_stops_on_time() {
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let out = run_sim(Duration::from_millis(300), Duration::from_secs(10), &stop).unwrap();
        let took = started.elapsed();
        assert_eq!(out.len(), 32);
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{took:?}"
        );

        let started = Instant::now();
        let err = run_sim(Duration::from_secs(60), Duration::from_millis(200), &stop).unwrap_err();
        assert_eq!(err, RunError::TimedOut(0.2));
        assert!(started.elapsed() < Duration::from_secs(2));

        stop.store(true, Ordering::Relaxed);
        let err = run_sim(Duration::from_secs(60), Duration::from_secs(60), &stop).unwrap_err();
        assert_eq!(err, RunError::Stopped);
    }

    #[tokio::test]
    #[ignore = "needs root and bubblewrap; run by scripts/e2e-ray"]
    async fn shell_workloads_run_in_the_sandbox() {
        let isolation = Isolation::resolve(IsolationMode::Bwrap, Vec::new()).unwrap();
        let out = run_shell(
            "echo homes=$(ls -A /root | wc -l) pid=$$; touch made && echo wrote",
            Duration::from_secs(20),
            &[],
            &isolation,
            LIMITS,
        )
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        // An empty /root, and sh is among the first pids of its namespace.
        let pid: u32 = text
            .split("pid=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(u32::MAX);
        assert!(text.starts_with("homes=0 ") && pid < 10, "{text}");
        assert!(text.ends_with("wrote\n"), "{text}");
    }

    #[tokio::test]
    async fn shell_workloads_capture_stdout_and_time_out() {
        let env = [("IOGRID_GPUS", "2".to_string())];
        let out = run_shell(
            "echo gpus=$IOGRID_GPUS; pwd",
            Duration::from_secs(10),
            &env,
            &unsandboxed(),
            LIMITS,
        )
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("gpus=2\n"), "{text}");
        // It ran in a scratch directory, removed afterwards.
        let dir = text.lines().nth(1).unwrap();
        assert!(dir.contains("iogrid-shell-"), "{dir}");
        assert!(!Path::new(dir).exists());

        let err = run_shell(
            "echo oops >&2; exit 3",
            Duration::from_secs(10),
            &[],
            &unsandboxed(),
            LIMITS,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, RunError::Failed(m) if m.contains("oops")),
            "{err}"
        );

        let started = Instant::now();
        let err = run_shell(
            "sleep 30",
            Duration::from_millis(300),
            &[],
            &unsandboxed(),
            LIMITS,
        )
        .await
        .unwrap_err();
        assert_eq!(err, RunError::TimedOut(0.3));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// A job account's bytes, as the program lays them out.
    fn job_account(status: JobStatus, assignments: &[Assignment]) -> Vec<u8> {
        let mut job = job_with_uri("sim:cpu:1");
        job.status = match status {
            JobStatus::Open => 0,
            JobStatus::Running => 1,
            _ => 2,
        };
        let mut data = vec![0u8; job_space(assignments.len().max(1))];
        data[..8].copy_from_slice(&Job::DISCRIMINATOR);
        data[8..JOB_LEN_OFFSET].copy_from_slice(bytemuck::bytes_of(&job));
        data[JOB_LEN_OFFSET..JOB_LEN_OFFSET + 4]
            .copy_from_slice(&(assignments.len() as u32).to_le_bytes());
        let size = std::mem::size_of::<Assignment>();
        for (i, a) in assignments.iter().enumerate() {
            let at = JOB_ITEMS_OFFSET + i * size;
            data[at..at + size].copy_from_slice(bytemuck::bytes_of(a));
        }
        data
    }

    fn assignment(listing: Address, status: AssignmentStatus, started_at: i64) -> Assignment {
        let mut a: Assignment = bytemuck::Zeroable::zeroed();
        a.listing = listing;
        a.gpus = 2;
        a.started_at = started_at;
        a.nonce = started_at as u64;
        a.status = match status {
            AssignmentStatus::Active => 0,
            AssignmentStatus::Proven => 1,
            _ => 2,
        };
        a
    }

    #[test]
    fn only_active_assignments_of_this_listing_in_running_jobs_are_ours() {
        let (ours, other) = (Address::new_unique(), Address::new_unique());
        let running = Address::new_unique();
        let proven = Address::new_unique();
        let open = Address::new_unique();
        let accounts = vec![
            (
                running,
                job_account(
                    JobStatus::Running,
                    &[
                        assignment(other, AssignmentStatus::Active, 10),
                        assignment(ours, AssignmentStatus::Active, 10),
                    ],
                ),
            ),
            (
                proven,
                job_account(
                    JobStatus::Running,
                    &[assignment(ours, AssignmentStatus::Proven, 10)],
                ),
            ),
            (open, job_account(JobStatus::Open, &[])),
            (Address::new_unique(), vec![1, 2, 3]),
        ];
        let found = assignments_for(&ours, &accounts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key(), (running, 10));
        assert_eq!(found[0].assignment.gpus, 2);
    }

    #[test]
    fn keeper_answers_decide_retry_or_fallback() {
        let policy = RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(100),
        };
        let ok = |status: u16| Ok((status, format!("{{\"status\":{status}}}")));
        assert_eq!(
            next_step(ok(200), 1, &policy),
            Step::Done(KeeperAnswer::Accepted("{\"status\":200}".into()))
        );
        assert!(matches!(
            next_step(ok(409), 1, &policy),
            Step::Done(KeeperAnswer::AlreadyProven(_))
        ));
        assert!(matches!(
            next_step(ok(422), 1, &policy),
            Step::Done(KeeperAnswer::Refused { status: 422, .. })
        ));
        assert_eq!(
            next_step(ok(502), 1, &policy),
            Step::RetryAfter(Duration::from_millis(100))
        );
        assert_eq!(
            next_step(Err("refused".into()), 2, &policy),
            Step::RetryAfter(Duration::from_millis(200))
        );
        assert_eq!(
            next_step(Err("refused".into()), 3, &policy),
            Step::Done(KeeperAnswer::Unreachable("refused".into()))
        );
    }

    /// An HTTP server answering the statuses in `script` in turn (the last
    /// one from then on); returns its proofs URL and a request counter.
    async fn scripted_keeper(script: Vec<u16>) -> (String, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/proofs", listener.local_addr().unwrap());
        let count = Arc::new(AtomicU64::new(0));
        let served = count.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let n = served.fetch_add(1, Ordering::SeqCst) as usize;
                let status = script[n.min(script.len() - 1)];
                read_request(&mut stream).await;
                let body = format!("{{\"signature\":\"sig{n}\"}}");
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(response.as_bytes()).await.unwrap();
                let _ = stream.shutdown().await;
            }
        });
        (url, count)
    }

    /// Reads one request: the headers, then content-length bytes of body.
    async fn read_request(stream: &mut tokio::net::TcpStream) {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    return;
                }
            }
        }
    }

    fn submission() -> ProofSubmission {
        Proof::sign(
            &Keypair::new(),
            Address::new_unique(),
            Address::new_unique(),
            7,
            [1; 32],
            60,
        )
        .to_submission()
    }

    #[tokio::test]
    async fn proofs_go_to_the_keeper_with_retries_then_fall_back() {
        let http = http_client().unwrap();
        let policy = RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(10),
        };
        let proof = submission();

        let (url, count) = scripted_keeper(vec![200]).await;
        let answer = post_proof(&http, &url, &proof, &policy).await;
        assert_eq!(
            answer,
            KeeperAnswer::Accepted("{\"signature\":\"sig0\"}".into())
        );
        assert_eq!(
            signature_in("{\"signature\":\"sig0\"}").as_deref(),
            Some("sig0")
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);

        let (url, count) = scripted_keeper(vec![500, 200]).await;
        let answer = post_proof(&http, &url, &proof, &policy).await;
        assert!(matches!(answer, KeeperAnswer::Accepted(_)), "{answer:?}");
        assert_eq!(count.load(Ordering::SeqCst), 2);

        let (url, count) = scripted_keeper(vec![409]).await;
        let answer = post_proof(&http, &url, &proof, &policy).await;
        assert!(
            matches!(answer, KeeperAnswer::AlreadyProven(_)),
            "{answer:?}"
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);

        let (url, count) = scripted_keeper(vec![400]).await;
        let answer = post_proof(&http, &url, &proof, &policy).await;
        assert!(
            matches!(answer, KeeperAnswer::Refused { status: 400, .. }),
            "{answer:?}"
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);

        let (url, count) = scripted_keeper(vec![500]).await;
        let answer = post_proof(&http, &url, &proof, &policy).await;
        assert!(
            matches!(&answer, KeeperAnswer::Unreachable(why) if why.contains("HTTP 500")),
            "{answer:?}"
        );
        assert_eq!(count.load(Ordering::SeqCst), 3);

        // Nobody listening: connection refused on every attempt.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/proofs", closed.local_addr().unwrap());
        drop(closed);
        let answer = post_proof(&http, &url, &proof, &policy).await;
        assert!(
            matches!(&answer, KeeperAnswer::Unreachable(why) if why.contains("refused")),
            "{answer:?}"
        );
    }
}
