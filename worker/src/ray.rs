//! Spec workloads of kind `ray`: the job's assigned workers form one Ray
//! cluster and run the spec's entrypoint on it as a Ray job.
//!
//! The first node of the job's cluster (`JobAccount::cluster_nodes`) starts
//! the Ray head, announces it to the keeper (signed with its worker key) and
//! waits until every node has joined; the others read the announcement from
//! the keeper (`GET /v1/jobs/<job>/cluster`) and join. The head uploads the
//! spec's files as the job's working directory and submits the entrypoint
//! through Ray's Jobs REST API, then follows it to the end. Each node's Ray
//! processes run in their own process group, killed at teardown, with a
//! scratch directory (Ray's temp dir, the files, the outputs) wiped after.
//!
//! The result each node proves is a Merkle root (`workload::merkle_root`):
//! the head's over the files the workload wrote to `IOGRID_OUTPUT_DIR` and
//! the job's log; another node's over the job's log and final status as the
//! head's Jobs API reports them. GPU-seconds are the node's own measured
//! time in the cluster times its assigned devices.

use {
    crate::{
        agent::RunError,
        gpu::{Lease, Pool},
        sandbox::{gpu_device_nodes, Cgroup, Isolation, SandboxPlan, Teardown, TEARDOWN_SETTLE},
    },
    iogrid_node::AbortOnDrop,
    iogrid_sdk::{
        accounts::{Assignment, JobAccount},
        rpc::NonblockingRpcClient as RpcClient,
        workload::{merkle_root, ClusterAnnouncement, WorkloadSpec},
        Address,
    },
    serde::Deserialize,
    serde_json::{json, Value},
    solana_keypair::Keypair,
    std::{
        collections::BTreeMap,
        io::Write,
        net::TcpListener,
        path::{Path, PathBuf},
        process::Stdio,
        time::{Duration, Instant},
    },
    tokio::time::sleep,
    tracing::{info, warn},
};

/// How the node runs Ray.
#[derive(Clone, Debug)]
pub struct RayConfig {
    /// The `ray` executable (ray[default] 2.60.0).
    pub ray: PathBuf,
    /// The address other nodes reach this one at.
    pub node_ip: String,
    /// The network interface gloo (torch.distributed on CPU) uses.
    pub gloo_ifname: Option<String>,
    /// The keeper's HTTP API.
    pub keeper_url: String,
    /// Real GPUs are assigned (CUDA); otherwise devices are simulated.
    pub use_gpu: bool,
    /// Where the head keeps each job's outputs and log after the scratch
    /// directory is wiped (`<dir>/<job>-<nonce>/`), for the job's owner.
    pub outputs_dir: Option<PathBuf>,
    /// This node's GPUs (or declared simulated ones) not serving another
    /// assignment; each Ray node leases its assignment's share, sees only
    /// those, and records them in its result.
    pub gpus: Pool,
    /// All of the node's devices, leased or not: a node's share of the
    /// machine's CPUs and memory is its assignment's part of them.
    pub device_count: usize,
    /// How the node's Ray processes are sandboxed and limited.
    pub isolation: Isolation,
}

/// What one node did for the job.
#[derive(Debug)]
pub struct NodeOutcome {
    pub result_hash: [u8; 32],
    /// Time this node spent in the cluster, which its claim is based on.
    pub in_cluster: Duration,
    /// From the start of this assignment's service to every node joined
    /// (head only).
    pub cluster_ready: Option<Duration>,
    pub role: &'static str,
}

/// What a node's part left before its result is hashed.
struct NodeWork {
    /// Named files the result's Merkle root covers.
    outputs: BTreeMap<String, Vec<u8>>,
    in_cluster: Duration,
    cluster_ready: Option<Duration>,
    role: &'static str,
    stopped: Stopped,
}

/// How long the head waits for the other nodes to join.
const JOIN_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the head keeps the cluster up after the job ends, so the other
/// nodes read its final status.
const LINGER: Duration = Duration::from_secs(20);
/// The head stays up at least this long after the job ends.
const MIN_LINGER: Duration = Duration::from_secs(3);
/// Polling period of the Jobs API and the keeper.
const POLL: Duration = Duration::from_millis(500);
/// How often the head repeats its announcement and spec to the keeper.
const REANNOUNCE: Duration = Duration::from_secs(10);
/// How long a silent head is followed before it counts as lost.
const HEAD_SILENCE: Duration = Duration::from_secs(30);
/// How long a member whose head was lost waits for the chain to name the
/// next one (the keeper's heartbeat timeout, then its replacement).
const HEAD_CHANGE_TIMEOUT: Duration = Duration::from_secs(300);
/// What `ray start` prints once the node runs.
const RAY_STARTED: &str = "Ray runtime started.";
/// How long `ray start` may take to say so.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Tries of `ray start`, each with new ports, when one was taken.
const START_ATTEMPTS: u32 = 3;
/// Ray's own limit on how long a submitted job may stay PENDING.
const JOB_START_TIMEOUT_ENV: &str = "RAY_JOB_START_TIMEOUT_SECONDS";
const JOB_START_TIMEOUT: Duration = Duration::from_secs(600);

/// A job's Ray work on this node.
pub struct RayJob<'a> {
    pub config: &'a RayConfig,
    pub http: &'a reqwest::Client,
    pub rpc: &'a RpcClient,
    pub worker: &'a Keypair,
    pub listing: Address,
    pub job: Address,
    pub assignment: Assignment,
    pub spec: WorkloadSpec,
    /// The spec's bytes as the job committed to them.
    pub spec_document: Vec<u8>,
}

impl RayJob<'_> {
    /// Runs this node's part, within `limit`.
    pub async fn run(&self, limit: Duration) -> Result<NodeOutcome, RunError> {
        let started = Instant::now();
        let lease = self
            .config
            .gpus
            .lease(self.assignment.gpus)
            .map_err(failed)?;
        let scratch = Scratch::create(&self.job, self.assignment.nonce)?;
        let checkpoints = CheckpointDir::create(&self.job)?;
        let node = NodeContext {
            scratch: &scratch,
            checkpoints: &checkpoints.0,
            lease: &lease,
        };
        let work = tokio::time::timeout(limit, self.serve(&node, started)).await;
        let scratch_dir = scratch.0.clone();
        drop(scratch);
        drop(checkpoints);
        let mut work = work.map_err(|_| RunError::TimedOut(limit.as_secs_f64()))??;
        let teardown = Teardown {
            isolation: self.config.isolation.mode,
            limits: work.stopped.limits,
            visible_gpus: lease.indices(),
            peak_memory_bytes: work.stopped.peak_memory_bytes,
            processes_left: work.stopped.processes_left,
            cgroup_removed: work.stopped.cgroup_removed,
            scratch_removed: !scratch_dir.exists(),
        };
        info!(job = %self.job, "Ray node stopped, sandbox torn down: {}", serde_json::to_string(&teardown).unwrap_or_default());
        work.outputs.insert(
            format!("teardown/{}.json", self.listing),
            serde_json::to_vec_pretty(&teardown).expect("teardown serializes"),
        );
        let result_hash = merkle_root(work.outputs.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        let is_head = work.role == "head";
        if let Some(dir) = self.config.outputs_dir.as_ref().filter(|_| is_head) {
            let kept = dir.join(format!("{}-{}", self.job, self.assignment.nonce));
            keep_outputs(&kept, &work.outputs)?;
            info!(job = %self.job, "outputs kept in {}", kept.display());
        }
        Ok(NodeOutcome {
            result_hash,
            in_cluster: work.in_cluster,
            cluster_ready: work.cluster_ready,
            role: work.role,
        })
    }

    /// This node's part: as the head of the job's cluster when the chain
    /// names it so, else as a member of the announced head. A member whose
    /// head is lost (its machine died) waits for the chain to name the next
    /// head (the keeper replaces the lost node), and serves again under it,
    /// perhaps as the head itself; the workload starts again there and
    /// resumes from the job's checkpoints.
    async fn serve(&self, ctx: &NodeContext<'_>, started: Instant) -> Result<NodeWork, RunError> {
        let mut lost: Option<Assignment> = None;
        loop {
            let nodes = self.cluster_after(lost.as_ref()).await?;
            let head = nodes[0];
            if head.listing == self.listing && head.nonce == self.assignment.nonce {
                return self.run_head(ctx, nodes.len(), started).await;
            }
            match self.run_member(ctx, &head).await? {
                Some(work) => return Ok(work),
                None => {
                    warn!(job = %self.job, head = %head.listing, "the cluster's head is lost; waiting for the chain to name the next");
                    lost = Some(head);
                }
            }
        }
    }

    /// The job's cluster nodes, head first, once the head is no longer
    /// `lost` (within [`HEAD_CHANGE_TIMEOUT`]). Fails if this node's own
    /// assignment is no longer in the cluster.
    async fn cluster_after(&self, lost: Option<&Assignment>) -> Result<Vec<Assignment>, RunError> {
        let deadline = Instant::now() + HEAD_CHANGE_TIMEOUT;
        loop {
            let account = self.job_account().await?;
            let nodes: Vec<Assignment> = account.cluster_nodes().copied().collect();
            let me = |a: &Assignment| a.listing == self.listing && a.nonce == self.assignment.nonce;
            if !nodes.iter().any(me) {
                return Err(failed(
                    "this node's assignment is no longer in the job's cluster",
                ));
            }
            let same_head = |head: &Assignment| {
                lost.is_some_and(|l| l.listing == head.listing && l.nonce == head.nonce)
            };
            match nodes.first() {
                Some(head) if !same_head(head) => return Ok(nodes),
                _ if Instant::now() >= deadline => {
                    return Err(failed(format!(
                        "the cluster's head was lost and the chain named no other within {} s",
                        HEAD_CHANGE_TIMEOUT.as_secs()
                    )))
                }
                _ => sleep(Duration::from_secs(1)).await,
            }
        }
    }

    /// Starts this node's Ray with freshly allocated ports and waits until
    /// it says it started. A port is free when allocated but another
    /// process may bind it before Ray does (outgoing connections take ports
    /// from the same range); Ray then exits saying so, and this tries again
    /// with new ports, up to [`START_ATTEMPTS`] times.
    async fn start_node(
        &self,
        ctx: &NodeContext<'_>,
        args: impl Fn(&Ports) -> Vec<String>,
    ) -> Result<(RayNode, Ports), RunError> {
        let plan = self.sandbox_plan(ctx);
        let mut attempt = 1;
        loop {
            let ports = Ports::allocate()?;
            let node = RayNode::start(self.config, &args(&ports), ctx, &plan)?;
            match node.wait_started().await {
                Ok(()) => return Ok((node, ports)),
                Err(err) if attempt < START_ATTEMPTS && node.lost_a_port() => {
                    warn!(job = %self.job, "Ray lost a port to another process (attempt {attempt}); retrying with new ports: {err}");
                    drop(node);
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The sandbox of this node's Ray processes.
    fn sandbox_plan(&self, node: &NodeContext) -> SandboxPlan {
        let venv = self
            .config
            .ray
            .parent()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        SandboxPlan {
            name: node.scratch.name(),
            writable: vec![node.scratch.0.clone(), node.checkpoints.to_path_buf()],
            read_only: venv.into_iter().collect(),
            devices: gpu_device_nodes(&node.lease.minors()),
            limits: self
                .config
                .isolation
                .share(self.assignment.gpus, self.config.device_count),
        }
    }

    async fn job_account(&self) -> Result<JobAccount, RunError> {
        let data = self
            .rpc
            .get_account_data(&self.job)
            .await
            .map_err(|e| failed(format!("reading the job: {e}")))?;
        JobAccount::decode(&data).map_err(|e| failed(format!("decoding the job: {e}")))
    }

    fn submission_id(&self) -> String {
        format!("iogrid-{}-{}", self.job, self.assignment.nonce)
    }

    fn node_resources(&self) -> (u16, String) {
        let gpus = self.assignment.gpus.max(1);
        (gpus, json!({ "iogrid_gpu": gpus }).to_string())
    }

    async fn run_head(
        &self,
        ctx: &NodeContext<'_>,
        node_count: usize,
        started: Instant,
    ) -> Result<NodeWork, RunError> {
        let scratch = ctx.scratch;
        let head_args = |ports: &Ports| {
            let mut args = vec![
                "--head".to_string(),
                format!("--port={}", ports.gcs),
                "--include-dashboard=true".into(),
                "--dashboard-host=0.0.0.0".into(),
                format!("--dashboard-port={}", ports.dashboard),
                format!("--ray-client-server-port={}", ports.client),
            ];
            args.extend(self.common_args(scratch, ports));
            args
        };
        let (node, ports) = self.start_node(ctx, head_args).await?;
        let gcs_address = format!("{}:{}", self.config.node_ip, ports.gcs);
        let dashboard = format!("http://{}:{}", self.config.node_ip, ports.dashboard);
        let jobs = JobsApi::new(self.http, &dashboard);
        jobs.wait_until_up(&node).await?;
        let in_cluster = Instant::now();
        let _announcing = self.announce(&gcs_address, &dashboard).await?;
        jobs.wait_for_nodes(node_count, &node).await?;
        let cluster_ready = started.elapsed();
        info!(job = %self.job, nodes = node_count, "Ray cluster ready in {:.1} s", cluster_ready.as_secs_f64());
        let package = jobs.upload_working_dir(&self.spec.files).await?;
        let submission_id = self.submission_id();
        let mut env_vars: BTreeMap<String, String> = self.spec.env.clone();
        env_vars.extend([
            (
                "IOGRID_OUTPUT_DIR".to_string(),
                scratch.output().display().to_string(),
            ),
            (
                "IOGRID_CHECKPOINT_DIR".to_string(),
                ctx.checkpoints.display().to_string(),
            ),
            ("IOGRID_NODES".to_string(), node_count.to_string()),
            (
                "IOGRID_USE_GPU".to_string(),
                u8::from(self.config.use_gpu).to_string(),
            ),
            ("IOGRID_JOB".to_string(), self.job.to_string()),
        ]);
        let mut runtime_env = json!({ "working_dir": package, "env_vars": env_vars });
        if !self.spec.requirements.is_empty() {
            runtime_env["pip"] = json!(self.spec.requirements);
        }
        jobs.submit(&submission_id, &self.spec.entrypoint, runtime_env)
            .await?;
        info!(job = %self.job, submission = %submission_id, "Ray job submitted: {}", self.spec.entrypoint);
        let status = jobs.wait_for_end(&submission_id, &node).await?;
        let logs = jobs.logs(&submission_id).await.unwrap_or_default();
        let elapsed = in_cluster.elapsed();
        // Let the other nodes read the final status before the head goes.
        // At least MIN_LINGER, so whoever follows the log sees the end.
        sleep(MIN_LINGER).await;
        let linger_until = Instant::now() + LINGER;
        while Instant::now() < linger_until && jobs.alive_nodes().await.unwrap_or(0) > 1 {
            sleep(POLL).await;
        }
        let stopped = node.stop();
        if status.status != "SUCCEEDED" {
            return Err(failed(format!(
                "the Ray job ended {}: {}; log tail: {}",
                status.status,
                status.message.unwrap_or_default(),
                tail(&logs, 600)
            )));
        }
        let mut outputs = read_outputs(&scratch.output())?;
        outputs.insert("ray-job.log".into(), logs.into_bytes());
        outputs.insert(self.devices_record_name(), self.devices_record(ctx.lease));
        info!(job = %self.job, outputs = outputs.len(), "Ray job succeeded");
        Ok(NodeWork {
            outputs,
            in_cluster: elapsed,
            cluster_ready: Some(cluster_ready),
            role: "head",
            stopped,
        })
    }

    /// Joins the announced `head` and follows the job to its end; `None`
    /// when the head is lost on the way (it stops answering).
    async fn run_member(
        &self,
        ctx: &NodeContext<'_>,
        expected: &Assignment,
    ) -> Result<Option<NodeWork>, RunError> {
        let head = self.wait_for_head(expected).await?;
        let member_args = |ports: &Ports| {
            let mut args = vec![format!("--address={}", head.gcs_address)];
            args.extend(self.common_args(ctx.scratch, ports));
            args
        };
        let (node, _) = self.start_node(ctx, member_args).await?;
        let joined = Instant::now();
        info!(job = %self.job, head = %head.gcs_address, "joined the job's Ray cluster");
        let jobs = JobsApi::new(self.http, &head.dashboard_url);
        let status = match jobs.wait_for_end(&head.submission_id, &node).await {
            Ok(status) => status,
            Err(err) if !jobs.answers().await => {
                info!(job = %self.job, "following the Ray job: {err}");
                drop(node);
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let logs = jobs.logs(&head.submission_id).await.unwrap_or_default();
        let in_cluster = joined.elapsed();
        let stopped = node.stop();
        if status.status != "SUCCEEDED" {
            return Err(failed(format!(
                "the Ray job ended {}: {}",
                status.status,
                status.message.unwrap_or_default()
            )));
        }
        let outputs = BTreeMap::from([
            ("ray-job.log".to_string(), logs.into_bytes()),
            ("ray-job.status".to_string(), status.status.into_bytes()),
            (self.devices_record_name(), self.devices_record(ctx.lease)),
        ]);
        Ok(Some(NodeWork {
            outputs,
            in_cluster,
            cluster_ready: None,
            role: "member",
            stopped,
        }))
    }

    /// `devices/<listing>.json`: the devices this node served the job with,
    /// `simulated: true` on declared ones, hashed into its result.
    fn devices_record_name(&self) -> String {
        format!("devices/{}.json", self.listing)
    }

    fn devices_record(&self, lease: &Lease) -> Vec<u8> {
        serde_json::to_vec_pretty(&lease.devices).expect("devices serialize")
    }

    fn common_args(&self, scratch: &Scratch, ports: &Ports) -> Vec<String> {
        let (gpus, resources) = self.node_resources();
        let (num_cpus, num_gpus) = if self.config.use_gpu {
            (gpus, gpus)
        } else {
            (gpus, 0)
        };
        vec![
            format!("--node-ip-address={}", self.config.node_ip),
            format!("--num-cpus={num_cpus}"),
            format!("--num-gpus={num_gpus}"),
            format!("--resources={resources}"),
            format!("--temp-dir={}", scratch.ray_tmp().display()),
            format!("--node-manager-port={}", ports.node_manager),
            format!("--object-manager-port={}", ports.object_manager),
            format!("--dashboard-agent-listen-port={}", ports.agent_http),
            format!("--dashboard-agent-grpc-port={}", ports.agent_grpc),
            format!("--runtime-env-agent-port={}", ports.runtime_env),
            format!("--metrics-export-port={}", ports.metrics),
            format!("--min-worker-port={}", ports.workers.0),
            format!("--max-worker-port={}", ports.workers.1),
            "--disable-usage-stats".into(),
            "--block".into(),
        ]
    }

    /// Announces the head to the keeper, then keeps announcing it (and
    /// re-uploading the spec) every [`REANNOUNCE`] until the returned guard
    /// is dropped: the keeper keeps both in memory only, so a restarted
    /// keeper learns them again before a replacement node needs them.
    async fn announce(
        &self,
        gcs_address: &str,
        dashboard_url: &str,
    ) -> Result<AbortOnDrop, RunError> {
        let announcement = ClusterAnnouncement {
            job: self.job.to_string(),
            listing: self.listing.to_string(),
            worker: String::new(),
            nonce: self.assignment.nonce,
            gcs_address: gcs_address.into(),
            dashboard_url: dashboard_url.into(),
            submission_id: self.submission_id(),
            signature: String::new(),
        }
        .sign(self.worker);
        let url = self.cluster_url();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let sent = self.http.post(&url).json(&announcement).send().await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    return Ok(self.keep_announcing(url, announcement))
                }
                Ok(response) if response.status().is_client_error() && attempt >= 10 => {
                    let body = response.text().await.unwrap_or_default();
                    return Err(failed(format!(
                        "the keeper refused the cluster announcement: {body}"
                    )));
                }
                Ok(response) => {
                    warn!(job = %self.job, status = %response.status(), "announcing the cluster head; retrying");
                }
                Err(err) => warn!(job = %self.job, "announcing the cluster head: {err}; retrying"),
            }
            sleep(Duration::from_secs(1)).await;
        }
    }

    fn keep_announcing(&self, url: String, announcement: ClusterAnnouncement) -> AbortOnDrop {
        let http = self.http.clone();
        let specs_url = format!("{}/v1/specs", self.config.keeper_url.trim_end_matches('/'));
        let document = self.spec_document.clone();
        AbortOnDrop(tokio::spawn(async move {
            loop {
                sleep(REANNOUNCE).await;
                // Best effort: the first announcement succeeded; these only
                // repair a keeper that restarted since.
                let _ = http.put(&specs_url).body(document.clone()).send().await;
                let _ = http.post(&url).json(&announcement).send().await;
            }
        }))
    }

    fn cluster_url(&self) -> String {
        format!(
            "{}/v1/jobs/{}/cluster",
            self.config.keeper_url.trim_end_matches('/'),
            self.job
        )
    }

    /// The keeper's published announcement of `expected`, the head the
    /// chain names, once it is announced.
    async fn wait_for_head(&self, expected: &Assignment) -> Result<ClusterAnnouncement, RunError> {
        #[derive(Deserialize)]
        struct Cluster {
            head: Option<ClusterAnnouncement>,
        }
        let url = self.cluster_url();
        let waiting = Instant::now();
        let mut reported = Instant::now();
        loop {
            if reported.elapsed() >= STATUS_REPORT {
                info!(job = %self.job, "no cluster head announced at {url} after {:.0} s; still waiting", waiting.elapsed().as_secs_f64());
                reported = Instant::now();
            }
            let response = self.http.get(&url).send().await;
            if let Ok(response) = response {
                if let Ok(Cluster { head: Some(head) }) = response.json::<Cluster>().await {
                    // The keeper checked it; check the signature again anyway.
                    let is_expected = head.job == self.job.to_string()
                        && head.listing == expected.listing.to_string()
                        && head.nonce == expected.nonce;
                    if is_expected && head.verify() {
                        return Ok(head);
                    }
                }
            }
            sleep(POLL).await;
        }
    }
}

fn failed(message: impl Into<String>) -> RunError {
    RunError::Failed(message.into())
}

fn tail(text: &str, max: usize) -> String {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].trim().to_string()
}

/// Every file under `dir`, by path relative to it.
fn read_outputs(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, RunError> {
    let mut outputs = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|e| failed(format!("reading outputs in {}: {e}", current.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let name = path
                    .strip_prefix(dir)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let content = std::fs::read(&path)
                    .map_err(|e| failed(format!("reading output {name}: {e}")))?;
                outputs.insert(format!("output/{name}"), content);
            }
        }
    }
    Ok(outputs)
}

/// Writes `outputs` (names are relative paths) under `dir`.
fn keep_outputs(dir: &Path, outputs: &BTreeMap<String, Vec<u8>>) -> Result<(), RunError> {
    for (name, content) in outputs {
        let path = dir.join(name);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, content));
        written.map_err(|e| failed(format!("keeping output {}: {e}", path.display())))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Ray processes

/// Ports of one Ray node, each free when allocated (another process may
/// take one before Ray binds it: `RayJob::start_node` then tries again).
struct Ports {
    gcs: u16,
    dashboard: u16,
    client: u16,
    node_manager: u16,
    object_manager: u16,
    agent_http: u16,
    agent_grpc: u16,
    runtime_env: u16,
    metrics: u16,
    workers: (u16, u16),
}

impl Ports {
    fn allocate() -> Result<Self, RunError> {
        // Hold every listener until all are chosen, so none repeats.
        let listeners = (0..10)
            .map(|_| TcpListener::bind("0.0.0.0:0"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(format!("no free port for Ray: {e}")))?;
        let port = |i: usize| listeners[i].local_addr().map(|a| a.port()).unwrap_or(0);
        // Worker ports: a range of 64 after a random base, away from the
        // ephemeral range the kernel hands out above.
        let base = 20_000 + fastrand::u16(0..10_000);
        Ok(Self {
            gcs: port(0),
            dashboard: port(1),
            client: port(2),
            node_manager: port(3),
            object_manager: port(4),
            agent_http: port(5),
            agent_grpc: port(6),
            runtime_env: port(7),
            metrics: port(8),
            workers: (base, base + 63),
        })
    }
}

/// What one node's run works in.
struct NodeContext<'a> {
    scratch: &'a Scratch,
    /// The job's checkpoint directory (`IOGRID_CHECKPOINT_DIR`).
    checkpoints: &'a Path,
    /// The GPUs this node serves the job with.
    lease: &'a Lease,
}

/// How a node's Ray processes ended.
struct Stopped {
    limits: Option<crate::sandbox::Limits>,
    peak_memory_bytes: Option<u64>,
    processes_left: usize,
    cgroup_removed: bool,
}

/// A running `ray start --block` and everything it started: in one process
/// group (and, sandboxed, one PID namespace and cgroup), all killed when
/// this is stopped or dropped.
struct RayNode {
    child: std::sync::Mutex<std::process::Child>,
    log: PathBuf,
    cgroup: Option<Cgroup>,
    limits: Option<crate::sandbox::Limits>,
}

impl RayNode {
    fn start(
        config: &RayConfig,
        args: &[String],
        ctx: &NodeContext,
        plan: &SandboxPlan,
    ) -> Result<Self, RunError> {
        let scratch = ctx.scratch;
        let log = &scratch.ray_log();
        let log_file = std::fs::File::create(log)
            .map_err(|e| failed(format!("creating {}: {e}", log.display())))?;
        let err_file = log_file
            .try_clone()
            .map_err(|e| failed(format!("opening {}: {e}", log.display())))?;
        let mut start_args = vec!["start".to_string()];
        start_args.extend_from_slice(args);
        let (mut command, cgroup) = config
            .isolation
            .command(plan, &config.ray, &start_args)
            .map_err(|e| failed(format!("making the sandbox: {e}")))?;
        command
            .env("HOME", scratch.home())
            .env("TMPDIR", scratch.tmp())
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .env("RAY_USAGE_STATS_ENABLED", "0");
        // A job Ray cannot start (resources never free, a runtime env that
        // hangs) fails with Ray's reason after this long, instead of holding
        // the GPUs until the job expires. The operator's own value wins.
        if std::env::var_os(JOB_START_TIMEOUT_ENV).is_none() {
            command.env(
                JOB_START_TIMEOUT_ENV,
                JOB_START_TIMEOUT.as_secs().to_string(),
            );
        }
        // The entrypoint's `python` is the one Ray runs on (its venv's).
        if let Some(bin) = config.ray.parent().filter(|p| !p.as_os_str().is_empty()) {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![bin.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            if let Ok(joined) = std::env::join_paths(dirs) {
                command.env("PATH", joined);
            }
        }
        if let Some(ifname) = &config.gloo_ifname {
            command.env("GLOO_SOCKET_IFNAME", ifname);
        }
        if config.use_gpu {
            // Ray and CUDA number the GPUs they are shown from 0; these are
            // the node's own (NVML's order is the PCI bus order).
            let visible: Vec<String> = ctx.lease.indices().iter().map(u32::to_string).collect();
            command
                .env("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
                .env("CUDA_VISIBLE_DEVICES", visible.join(","));
        }
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().map_err(|e| {
            failed(format!(
                "cannot start {} (install Ray with scripts/ray-env, or pass --ray): {e}",
                config.ray.display()
            ))
        })?;
        // So a later worker can reap this group if this one dies first.
        let _ = std::fs::write(scratch.pgid_file(), child.id().to_string());
        let limits = cgroup.as_ref().map(|_| plan.limits);
        Ok(Self {
            child: std::sync::Mutex::new(child),
            log: log.to_path_buf(),
            cgroup,
            limits,
        })
    }

    /// Stops every process of the node and removes its cgroup, saying how
    /// that went.
    fn stop(mut self) -> Stopped {
        self.kill_group();
        let mut stopped = Stopped {
            limits: self.limits,
            peak_memory_bytes: None,
            processes_left: 0,
            cgroup_removed: true,
        };
        if let Some(cgroup) = self.cgroup.as_mut() {
            stopped.peak_memory_bytes = cgroup.peak_memory_bytes();
            stopped.processes_left = cgroup.kill_all(TEARDOWN_SETTLE);
            stopped.cgroup_removed = cgroup.remove();
        }
        stopped
    }

    fn kill_group(&mut self) {
        let child = self.child.get_mut().unwrap();
        if child.try_wait().ok().flatten().is_some() && self.cgroup.is_none() {
            return;
        }
        let group = -(child.id() as i32);
        // SAFETY: kill(2) on a process group touches no memory.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
        // Whatever is left of the group, the raylet's workers included.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = child.wait();
    }

    /// Waits until `ray start` reports the node started (its log says so),
    /// failing if it exits first or takes longer than [`START_TIMEOUT`].
    async fn wait_started(&self) -> Result<(), RunError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.check()?;
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains(RAY_STARTED) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(failed(format!(
                    "Ray did not start within {} s: {}",
                    START_TIMEOUT.as_secs(),
                    tail(&log, 600)
                )));
            }
            sleep(POLL).await;
        }
    }

    /// Whether Ray stopped because a port it was given was taken.
    fn lost_a_port(&self) -> bool {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        ["already in use", "Failed to bind", "address in use"]
            .iter()
            .any(|m| log.contains(m))
    }

    /// Fails once `ray start --block` has exited (it does when a Ray process
    /// dies), with the end of its log.
    fn check(&self) -> Result<(), RunError> {
        let exited = self.child.lock().unwrap().try_wait().ok().flatten();
        match exited {
            None => Ok(()),
            Some(status) => {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                Err(failed(format!(
                    "Ray stopped ({status}): {}",
                    tail(&log, 600)
                )))
            }
        }
    }
}

impl Drop for RayNode {
    /// On every path that did not `stop` it (errors, timeouts); the
    /// cgroup's own drop kills what the group left.
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// The job's working directories, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn create(job: &Address, nonce: u64) -> Result<Self, RunError> {
        let short = &job.to_string()[..8];
        let path = std::env::temp_dir().join(format!(
            "{SCRATCH_PREFIX}{short}-{nonce}-{}",
            std::process::id()
        ));
        let scratch = Self(path);
        for dir in [
            scratch.ray_tmp(),
            scratch.output(),
            scratch.home(),
            scratch.tmp(),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| failed(format!("creating {}: {e}", dir.display())))?;
        }
        Ok(scratch)
    }

    /// Ray's temp dir; short, since Ray's socket paths must stay under 107 bytes.
    fn ray_tmp(&self) -> PathBuf {
        self.0.join("r")
    }

    fn output(&self) -> PathBuf {
        self.0.join("output")
    }

    /// HOME of the node's processes (pip's and Ray's caches).
    fn home(&self) -> PathBuf {
        self.0.join("home")
    }

    /// TMPDIR of the node's processes: on disk, not the sandbox's tmpfs.
    fn tmp(&self) -> PathBuf {
        self.0.join("tmp")
    }

    /// The directory's own name, which also names the node's cgroup.
    fn name(&self) -> String {
        self.0
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn ray_log(&self) -> PathBuf {
        self.0.join("ray-start.log")
    }

    fn pgid_file(&self) -> PathBuf {
        self.0.join("ray.pgid")
    }
}

/// The job's checkpoint directory, the same path on every node of the job
/// (the head names it in `IOGRID_CHECKPOINT_DIR` for all of them), writable
/// in each node's sandbox, removed when the node's part ends. Nodes that
/// share a filesystem share it; across machines each node keeps what its
/// own workers wrote.
struct CheckpointDir(PathBuf);

impl CheckpointDir {
    fn create(job: &Address) -> Result<Self, RunError> {
        let path = std::env::temp_dir().join(format!("{CHECKPOINT_PREFIX}{job}"));
        std::fs::create_dir_all(&path)
            .map_err(|e| failed(format!("creating {}: {e}", path.display())))?;
        Ok(Self(path))
    }
}

impl Drop for CheckpointDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CHECKPOINT_PREFIX: &str = "iogrid-checkpoints-";

/// Scratch directories end with the pid of the worker that made them.
const SCRATCH_PREFIX: &str = "iogrid-ray-";

/// Reaps what a worker that died without tearing down (SIGKILL, a crash)
/// left: for each scratch directory whose worker process is gone, kills the
/// Ray process group it recorded and removes the directory. Returns how
/// many were reaped. A directory whose pid is alive (this worker, another
/// worker on the host) is left alone.
pub fn reap_orphans() -> usize {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return 0;
    };
    let mut reaped = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(SCRATCH_PREFIX)
            .and_then(|rest| rest.rsplit('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if process_alive(owner) {
            continue;
        }
        let pgid = std::fs::read_to_string(entry.path().join("ray.pgid"))
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok());
        if let Some(pgid) = pgid.filter(|p| *p > 1) {
            // SAFETY: kill(2) on a process group touches no memory.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(entry.path());
        reaped += 1;
    }
    // Their sandboxes died with them (--die-with-parent); their cgroups
    // (named like the scratch directories, or `probe-<pid>`) stay empty.
    crate::sandbox::remove_stale_cgroups(|name| {
        name.rsplit('-')
            .next()
            .and_then(|pid| pid.parse::<i32>().ok())
            .is_none_or(process_alive)
    });
    reaped
}

/// Whether a process with this pid exists (EPERM: it does, not ours).
fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// Ray's Jobs REST API (the dashboard)

#[derive(Debug, Deserialize)]
struct JobStatus {
    status: String,
    #[serde(default)]
    message: Option<String>,
}

struct JobsApi<'a> {
    http: &'a reqwest::Client,
    base: String,
}

impl<'a> JobsApi<'a> {
    fn new(http: &'a reqwest::Client, base: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    async fn wait_until_up(&self, node: &RayNode) -> Result<(), RunError> {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            node.check()?;
            if self.answers().await {
                return Ok(());
            }
            sleep(POLL).await;
        }
        Err(failed(
            "the Ray head's dashboard did not come up within 90 s",
        ))
    }

    /// Whether the dashboard answers at all.
    async fn answers(&self) -> bool {
        let version = self
            .http
            .get(format!("{}/api/version", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        version.is_ok_and(|r| r.status().is_success())
    }

    async fn alive_nodes(&self) -> Result<usize, RunError> {
        let body: Value = self
            .http
            .get(format!("{}/api/v0/nodes?limit=1000", self.base))
            .send()
            .await
            .map_err(|e| failed(format!("listing Ray nodes: {e}")))?
            .json()
            .await
            .map_err(|e| failed(format!("listing Ray nodes: {e}")))?;
        let nodes = body["data"]["result"]["result"]
            .as_array()
            .map(|nodes| nodes.iter().filter(|n| n["state"] == "ALIVE").count())
            .unwrap_or(0);
        Ok(nodes)
    }

    async fn wait_for_nodes(&self, count: usize, node: &RayNode) -> Result<(), RunError> {
        let deadline = Instant::now() + JOIN_TIMEOUT;
        loop {
            node.check()?;
            let alive = self.alive_nodes().await.unwrap_or(0);
            if alive >= count {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(failed(format!(
                    "{alive} of {count} nodes joined the Ray cluster within {} s",
                    JOIN_TIMEOUT.as_secs()
                )));
            }
            sleep(POLL).await;
        }
    }

    /// Uploads the spec's files as a zip package; returns its `gcs://` URI
    /// for the runtime env's `working_dir`.
    async fn upload_working_dir(
        &self,
        files: &BTreeMap<String, String>,
    ) -> Result<String, RunError> {
        let zip = zip_files(files)?;
        let digest =
            sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &zip));
        let name = format!("_ray_pkg_{}.zip", &hex::encode(digest)[..16]);
        let response = self
            .http
            .put(format!("{}/api/packages/gcs/{name}", self.base))
            .body(zip)
            .send()
            .await
            .map_err(|e| failed(format!("uploading the working directory: {e}")))?;
        if !response.status().is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(failed(format!("Ray refused the working directory: {body}")));
        }
        Ok(format!("gcs://{name}"))
    }

    async fn submit(&self, id: &str, entrypoint: &str, runtime_env: Value) -> Result<(), RunError> {
        let response = self
            .http
            .post(format!("{}/api/jobs/", self.base))
            .json(&json!({
                "entrypoint": entrypoint,
                "submission_id": id,
                "runtime_env": runtime_env,
            }))
            .send()
            .await
            .map_err(|e| failed(format!("submitting the Ray job: {e}")))?;
        if !response.status().is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(failed(format!("Ray refused the job: {body}")));
        }
        Ok(())
    }

    async fn status(&self, id: &str) -> Option<JobStatus> {
        let response = self
            .http
            .get(format!("{}/api/jobs/{id}", self.base))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// Follows the job until it ends; fails when this node's Ray stops or
    /// the head stops answering for a minute.
    async fn wait_for_end(&self, id: &str, node: &RayNode) -> Result<JobStatus, RunError> {
        let mut last_answer = Instant::now();
        let mut progress = StatusLog::default();
        loop {
            node.check()?;
            match self.status(id).await {
                Some(status)
                    if matches!(status.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED") =>
                {
                    progress.observe(id, &status);
                    return Ok(status);
                }
                Some(status) => {
                    progress.observe(id, &status);
                    last_answer = Instant::now();
                }
                None if last_answer.elapsed() > HEAD_SILENCE => {
                    return Err(failed(format!(
                        "the Ray head stopped answering for {} s",
                        HEAD_SILENCE.as_secs()
                    )))
                }
                None => {}
            }
            sleep(POLL).await;
        }
    }

    async fn logs(&self, id: &str) -> Option<String> {
        #[derive(Deserialize)]
        struct Logs {
            logs: String,
        }
        let response = self
            .http
            .get(format!("{}/api/jobs/{id}/logs", self.base))
            .send()
            .await
            .ok()?;
        Some(response.json::<Logs>().await.ok()?.logs)
    }
}

/// How often a Ray job that stays in one state is reported again.
const STATUS_REPORT: Duration = Duration::from_secs(60);

/// Logs a Ray job's state when it changes, and again every
/// [`STATUS_REPORT`] while it stays (a job PENDING for minutes is waiting
/// for resources or its runtime env; Ray's message says which).
#[derive(Default)]
struct StatusLog {
    state: Option<(String, Instant, Instant)>,
}

impl StatusLog {
    fn observe(&mut self, submission: &str, status: &JobStatus) {
        let message = status.message.as_deref().unwrap_or("");
        let now = Instant::now();
        match &mut self.state {
            Some((state, since, reported)) if *state == status.status => {
                if reported.elapsed() >= STATUS_REPORT {
                    info!(
                        submission,
                        "Ray job still {state} after {:.0} s: {message}",
                        since.elapsed().as_secs_f64()
                    );
                    *reported = now;
                }
            }
            _ => {
                info!(submission, "Ray job {}: {message}", status.status);
                self.state = Some((status.status.clone(), now, now));
            }
        }
    }
}

/// A zip archive (stored, not compressed) of `files` at its root.
fn zip_files(files: &BTreeMap<String, String>) -> Result<Vec<u8>, RunError> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o644);
    for (name, content) in files {
        zip.start_file(name.as_str(), options)
            .and_then(|()| zip.write_all(content.as_bytes()).map_err(Into::into))
            .map_err(|e| failed(format!("packing {name}: {e}")))?;
    }
    zip.finish()
        .map_err(|e| failed(format!("packing the working directory: {e}")))?;
    Ok(buffer.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_working_directory_zip_holds_every_file_at_its_root() {
        let files = BTreeMap::from([
            ("main.py".to_string(), "print('hi')\n".to_string()),
            ("model.py".to_string(), String::new()),
        ]);
        let zip = zip_files(&files).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let mut names: Vec<String> = archive.file_names().map(String::from).collect();
        names.sort();
        assert_eq!(names, ["main.py", "model.py"]);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("main.py").unwrap(), &mut text).unwrap();
        assert_eq!(text, "print('hi')\n");
    }

    #[test]
    fn kept_outputs_hash_to_the_same_root() {
        let dir = std::env::temp_dir().join(format!("iogrid-outputs-{}", std::process::id()));
        let out = dir.join("out");
        std::fs::create_dir_all(out.join("sub")).unwrap();
        std::fs::write(out.join("summary.json"), b"{}").unwrap();
        std::fs::write(out.join("sub/model.bin"), b"\x00\x01").unwrap();
        let outputs = read_outputs(&out).unwrap();
        assert_eq!(
            outputs.keys().collect::<Vec<_>>(),
            ["output/sub/model.bin", "output/summary.json"]
        );
        keep_outputs(&dir.join("kept"), &outputs).unwrap();
        let again = read_outputs(&dir.join("kept/output")).unwrap();
        assert_eq!(again, outputs);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ports_are_distinct() {
        let ports = Ports::allocate().unwrap();
        let mut all = vec![
            ports.gcs,
            ports.dashboard,
            ports.client,
            ports.node_manager,
            ports.object_manager,
            ports.agent_http,
            ports.agent_grpc,
            ports.runtime_env,
            ports.metrics,
        ];
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 9);
        assert!(ports.workers.0 >= 20_000 && ports.workers.1 == ports.workers.0 + 63);
    }

    #[test]
    fn orphans_of_a_dead_worker_are_reaped_and_live_ones_kept() {
        // A process group standing in for Ray nodes, owned by a "worker" that
        // has exited.
        let mut dead_worker = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = dead_worker.id();
        dead_worker.wait().unwrap();
        let mut ray = std::process::Command::new("sleep");
        ray.arg("60");
        std::os::unix::process::CommandExt::process_group(&mut ray, 0);
        let mut ray = ray.spawn().unwrap();
        let orphan = std::env::temp_dir().join(format!("{SCRATCH_PREFIX}test-0-{dead_pid}"));
        std::fs::create_dir_all(&orphan).unwrap();
        std::fs::write(orphan.join("ray.pgid"), ray.id().to_string()).unwrap();
        let mine =
            std::env::temp_dir().join(format!("{SCRATCH_PREFIX}test-1-{}", std::process::id()));
        std::fs::create_dir_all(&mine).unwrap();
        assert!(reap_orphans() >= 1);
        assert!(!orphan.exists(), "the dead worker's scratch is removed");
        assert!(mine.exists(), "a live worker's scratch is kept");
        let status = ray.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL),
            "the orphaned Ray group is killed"
        );
        std::fs::remove_dir_all(&mine).unwrap();
    }

    #[test]
    fn tails_cut_on_character_boundaries() {
        assert_eq!(tail("ééé", 3), "é");
        assert_eq!(tail("abc", 10), "abc");
    }
}
