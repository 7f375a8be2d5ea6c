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
//! A worker restart does not stop the job: a Ray node's sandbox outlives
//! the worker, which on SIGTERM leaves it running (its cgroup, scratch and
//! checkpoints too). Each node records what it serves in its scratch
//! directory (`node.json`: its process, the head's addresses, the Ray job,
//! when it joined); the next start of the worker finds the record for the
//! assignment the chain still gives it and reattaches: the head announces
//! itself again and both follow the same Ray job to its end, claiming the
//! time since the node joined. A node is bounded by the job's end
//! (`timeout`), so one whose worker never comes back stops by itself.
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
        sandbox::{
            gpu_device_nodes, Cgroup, Isolation, Limits, SandboxPlan, Teardown, TEARDOWN_SETTLE,
        },
    },
    iogrid_node::AbortOnDrop,
    iogrid_sdk::{
        accounts::{Assignment, JobAccount},
        rpc::NonblockingRpcClient as RpcClient,
        workload::{merkle_root, ClusterAnnouncement, WorkloadSpec},
        Address,
    },
    serde::{Deserialize, Serialize},
    serde_json::{json, Value},
    solana_keypair::Keypair,
    std::{
        collections::{BTreeMap, HashSet},
        io::Write,
        net::TcpListener,
        path::{Path, PathBuf},
        process::Stdio,
        sync::atomic::{AtomicBool, Ordering},
        time::{Duration, Instant, SystemTime, UNIX_EPOCH},
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
/// How long the head submits again while its job agent is not ready.
const SUBMIT_PATIENCE: Duration = Duration::from_secs(180);
/// How long a silent head is followed before it counts as lost.
const HEAD_SILENCE: Duration = Duration::from_secs(30);
/// How long a member follows a head that answers but has not submitted
/// the job: the head waits for every node, then for its job agent.
const UNSUBMITTED_LIMIT: Duration = JOIN_TIMEOUT
    .saturating_add(SUBMIT_PATIENCE)
    .saturating_add(HEAD_SILENCE);
/// How long a member whose head was lost waits for the chain to name the
/// next one (the keeper's heartbeat timeout, then its replacement).
const HEAD_CHANGE_TIMEOUT: Duration = Duration::from_secs(300);
/// The log of the node's dashboard agent, which runs submitted jobs.
const RAY_AGENT_LOG: &str = "dashboard_agent.log";
/// What `ray start` prints once the node runs.
const RAY_STARTED: &str = "Ray runtime started.";
/// How long `ray start` may take to say so.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Tries of `ray start`, each with new ports, when one was taken or the
/// raylet was too slow to register.
const START_ATTEMPTS: u32 = 3;
/// Ray's own limit on how long a submitted job may stay PENDING.
const JOB_START_TIMEOUT_ENV: &str = "RAY_JOB_START_TIMEOUT_SECONDS";
const JOB_START_TIMEOUT: Duration = Duration::from_secs(600);

/// A node outlives its job's end by at most this much (its `timeout`).
const NODE_LIFETIME_MARGIN: Duration = Duration::from_secs(60);

/// Set when the worker exits while serving: its Ray nodes (processes,
/// cgroups, scratch and checkpoint directories) are left running for the
/// next start to reattach to, instead of torn down.
static DETACHING: AtomicBool = AtomicBool::new(false);

/// The worker is stopping: leave the Ray nodes running (see [`DETACHING`]).
pub fn detach_on_exit() {
    DETACHING.store(true, Ordering::SeqCst);
}

fn detaching() -> bool {
    DETACHING.load(Ordering::SeqCst)
}

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
        let adopted = Adoptable::find(&self.job, self.assignment.nonce, &self.listing);
        let lease = match &adopted {
            Some(node) => self.config.gpus.lease_these(&node.record.gpus),
            None => self.config.gpus.lease(self.assignment.gpus),
        }
        .map_err(failed)?;
        let scratch = match &adopted {
            Some(node) => Scratch(node.dir.clone()),
            None => Scratch::create(&self.job, self.assignment.nonce)?,
        };
        let checkpoints = CheckpointDir::create(&self.job)?;
        let node = NodeContext {
            scratch: &scratch,
            checkpoints: &checkpoints.0,
            lease: &lease,
            lifetime: limit + NODE_LIFETIME_MARGIN,
        };
        let record = adopted.map(|node| node.record);
        let work = tokio::time::timeout(limit, self.serve(&node, started, record)).await;
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
        let is_head = work.role == HEAD;
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
    async fn serve(
        &self,
        ctx: &NodeContext<'_>,
        started: Instant,
        adopted: Option<NodeRecord>,
    ) -> Result<NodeWork, RunError> {
        let mut lost: Option<(Address, u64)> = None;
        if let Some(record) = adopted {
            info!(job = %self.job, role = %record.role, "reattached to this node's Ray {}, left running by the worker's previous run", record.role);
            if record.role == HEAD {
                return self.resume_head(ctx, &record).await;
            }
            match self.resume_member(ctx, &record).await? {
                Some(work) => return Ok(work),
                None => {
                    warn!(job = %self.job, "the cluster's head is lost; waiting for the chain to name the next");
                    lost = Some(record.head()?);
                }
            }
        }
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
                    lost = Some((head.listing, head.nonce));
                }
            }
        }
    }

    /// The job's cluster nodes, head first, once the head is no longer
    /// `lost` (within [`HEAD_CHANGE_TIMEOUT`]). Fails if this node's own
    /// assignment is no longer in the cluster.
    async fn cluster_after(
        &self,
        lost: Option<&(Address, u64)>,
    ) -> Result<Vec<Assignment>, RunError> {
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
            let same_head = |head: &Assignment| lost == Some(&(head.listing, head.nonce));
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
                Err(err) if attempt < START_ATTEMPTS && node.may_start_again() => {
                    warn!(job = %self.job, "Ray did not start (attempt {attempt}: a port taken, or its raylet too slow to register); starting again with new ports: {err}");
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
            outlives_worker: true,
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
        let announcing = self.announce(&gcs_address, &dashboard).await?;
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
        if let Err(err) = jobs
            .submit(&submission_id, &self.spec.entrypoint, runtime_env)
            .await
        {
            let agent_log = scratch.ray_log_tail(RAY_AGENT_LOG, 2_000);
            warn!(job = %self.job, "the Ray head's {RAY_AGENT_LOG} ends: {agent_log}");
            return Err(err);
        }
        info!(job = %self.job, submission = %submission_id, "Ray job submitted: {}", self.spec.entrypoint);
        let record = NodeRecord {
            role: HEAD.into(),
            head_listing: self.listing.to_string(),
            head_nonce: self.assignment.nonce,
            gcs_address,
            dashboard_url: dashboard,
            submission_id,
            cluster_ready_secs: Some(cluster_ready.as_secs_f64()),
            ..self.node_record(ctx, &node, in_cluster)
        };
        record.save(&scratch.0);
        self.finish_head(ctx, node, &jobs, &record, in_cluster, announcing)
            .await
    }

    /// The head this worker's previous run left serving: announced again,
    /// and followed to the end of the same Ray job.
    async fn resume_head(
        &self,
        ctx: &NodeContext<'_>,
        record: &NodeRecord,
    ) -> Result<NodeWork, RunError> {
        let node = RayNode::adopt(record, ctx.scratch);
        node.check()?;
        let jobs = JobsApi::new(self.http, &record.dashboard_url);
        let announcing = self
            .announce(&record.gcs_address, &record.dashboard_url)
            .await?;
        self.finish_head(
            ctx,
            node,
            &jobs,
            record,
            record.in_cluster_since(),
            announcing,
        )
        .await
    }

    /// The head's part once the Ray job is submitted: follows it to the
    /// end, keeps the cluster up a little for the other nodes, stops, and
    /// gathers the outputs.
    async fn finish_head(
        &self,
        ctx: &NodeContext<'_>,
        node: RayNode,
        jobs: &JobsApi<'_>,
        record: &NodeRecord,
        in_cluster: Instant,
        _announcing: AbortOnDrop,
    ) -> Result<NodeWork, RunError> {
        let submission_id = &record.submission_id;
        let status = jobs.wait_for_end(submission_id, &node).await?;
        let logs = jobs.logs(submission_id).await.unwrap_or_default();
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
        let mut outputs = read_outputs(&ctx.scratch.output())?;
        outputs.insert("ray-job.log".into(), logs.into_bytes());
        outputs.insert(self.devices_record_name(), self.devices_record(ctx.lease));
        info!(job = %self.job, outputs = outputs.len(), "Ray job succeeded");
        Ok(NodeWork {
            outputs,
            in_cluster: elapsed,
            cluster_ready: record.cluster_ready_secs.map(Duration::from_secs_f64),
            role: HEAD,
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
        let record = NodeRecord {
            role: MEMBER.into(),
            head_listing: expected.listing.to_string(),
            head_nonce: expected.nonce,
            gcs_address: head.gcs_address,
            dashboard_url: head.dashboard_url,
            submission_id: head.submission_id,
            ..self.node_record(ctx, &node, joined)
        };
        record.save(&ctx.scratch.0);
        self.finish_member(ctx, node, &record, joined).await
    }

    /// The member this worker's previous run left in the cluster: follows
    /// the same Ray job to its end.
    async fn resume_member(
        &self,
        ctx: &NodeContext<'_>,
        record: &NodeRecord,
    ) -> Result<Option<NodeWork>, RunError> {
        let node = RayNode::adopt(record, ctx.scratch);
        node.check()?;
        self.finish_member(ctx, node, record, record.in_cluster_since())
            .await
    }

    /// A member's part in the cluster: follows the head's Ray job to its
    /// end; `None` when the head is lost on the way (it stops answering).
    async fn finish_member(
        &self,
        ctx: &NodeContext<'_>,
        node: RayNode,
        record: &NodeRecord,
        joined: Instant,
    ) -> Result<Option<NodeWork>, RunError> {
        let jobs = JobsApi::new(self.http, &record.dashboard_url);
        let status = match jobs.wait_for_end(&record.submission_id, &node).await {
            Ok(status) => status,
            Err(err) if !jobs.answers().await => {
                info!(job = %self.job, "following the Ray job: {err}");
                drop(node);
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let logs = jobs.logs(&record.submission_id).await.unwrap_or_default();
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
            role: MEMBER,
            stopped,
        }))
    }

    /// The part of a node's record this node's run knows; the role and the
    /// cluster it serves are filled in by the caller.
    fn node_record(
        &self,
        ctx: &NodeContext<'_>,
        node: &RayNode,
        in_cluster: Instant,
    ) -> NodeRecord {
        let since = unix_ms().saturating_sub(in_cluster.elapsed().as_millis() as u64);
        NodeRecord {
            job: self.job.to_string(),
            nonce: self.assignment.nonce,
            listing: self.listing.to_string(),
            role: String::new(),
            pid: node.pid,
            sandboxed: node.cgroup.is_some(),
            limits: node.limits,
            gpus: ctx.lease.indices(),
            in_cluster_since_ms: since,
            cluster_ready_secs: None,
            head_listing: String::new(),
            head_nonce: 0,
            gcs_address: String::new(),
            dashboard_url: String::new(),
            submission_id: String::new(),
        }
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
///
/// All are chosen below the kernel's ephemeral range. A port the kernel
/// may hand to an outgoing connection can be taken, between this choice
/// and Ray's bind, by any of the hundreds of connections Ray's own
/// processes open while the node starts; the dashboard agent binds last
/// and, losing its port so, leaves the head refusing every job ("No
/// available agent to submit job").
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

/// Where Ray's ports are chosen from: up to the ephemeral range's start.
const RAY_PORTS_FROM: u16 = 10_000;
/// Ports Ray's worker processes may use: a range this long.
const WORKER_PORTS: u16 = 64;
/// The kernel's default ephemeral range start, when /proc does not say.
const EPHEMERAL_START: u16 = 32_768;

impl Ports {
    fn allocate() -> Result<Self, RunError> {
        Self::allocate_below(ephemeral_range_start())
    }

    /// Chooses every port in `RAY_PORTS_FROM..below`: the worker range
    /// first, then single ports each bound (and held until all are
    /// chosen, so none repeats) to prove it free.
    fn allocate_below(below: u16) -> Result<Self, RunError> {
        let pool = RAY_PORTS_FROM..below;
        if pool.len() < 4 * usize::from(WORKER_PORTS) {
            return Err(failed(format!(
                "no room for Ray's ports below the kernel's ephemeral range ({below}); \
                 raise net.ipv4.ip_local_port_range's start"
            )));
        }
        let base = fastrand::u16(pool.start..pool.end - WORKER_PORTS);
        let workers = base..base + WORKER_PORTS;
        let mut held: Vec<TcpListener> = Vec::with_capacity(9);
        let mut tries = 0;
        while held.len() < 9 {
            tries += 1;
            if tries > 1_000 {
                return Err(failed("no free port for Ray below the ephemeral range"));
            }
            let port = fastrand::u16(pool.clone());
            if workers.contains(&port) {
                continue;
            }
            if let Ok(listener) = TcpListener::bind(("0.0.0.0", port)) {
                held.push(listener);
            }
        }
        let port = |i: usize| held[i].local_addr().map(|a| a.port()).unwrap_or(0);
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
            workers: (workers.start, workers.end - 1),
        })
    }
}

/// The first port of this network namespace's ephemeral range.
fn ephemeral_range_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(EPHEMERAL_START)
}

/// What one node's run works in.
struct NodeContext<'a> {
    scratch: &'a Scratch,
    /// The job's checkpoint directory (`IOGRID_CHECKPOINT_DIR`).
    checkpoints: &'a Path,
    /// The GPUs this node serves the job with.
    lease: &'a Lease,
    /// How long the node's processes may run at most (to the job's end and
    /// a margin), even if the worker is gone.
    lifetime: Duration,
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
    /// `None` for a node adopted from an earlier run of the worker (not
    /// this process's child).
    child: Option<std::sync::Mutex<std::process::Child>>,
    /// `ray start`'s process (bwrap's when sandboxed), its group's leader.
    pid: i32,
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
        // Bounded by the job's end even if the worker is gone (a node
        // outlives its worker so a restarted worker can reattach).
        // --foreground: `timeout` stays in the node's process group.
        let mut start_args = vec![
            "--foreground".to_string(),
            "-s".into(),
            "KILL".into(),
            format!("{}s", ctx.lifetime.as_secs().max(1)),
            config.ray.display().to_string(),
            "start".into(),
        ];
        start_args.extend_from_slice(args);
        let (mut command, cgroup) = config
            .isolation
            .command(plan, Path::new("timeout"), &start_args)
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
        let _ = std::fs::write(pgid_file(&scratch.0), child.id().to_string());
        let limits = cgroup.as_ref().map(|_| plan.limits);
        Ok(Self {
            pid: child.id() as i32,
            child: Some(std::sync::Mutex::new(child)),
            log: log.to_path_buf(),
            cgroup,
            limits,
        })
    }

    /// The node `record` describes, left running by an earlier run of the
    /// worker: its process group, its cgroup, its log.
    fn adopt(record: &NodeRecord, scratch: &Scratch) -> Self {
        Self {
            child: None,
            pid: record.pid,
            log: scratch.ray_log(),
            cgroup: record
                .sandboxed
                .then(|| Cgroup::adopt(&scratch.name()))
                .flatten(),
            limits: record.limits,
        }
    }

    /// How `ray start --block` ended, once it has.
    fn exited(&self) -> Option<String> {
        match &self.child {
            Some(child) => child
                .lock()
                .unwrap()
                .try_wait()
                .ok()
                .flatten()
                .map(|status| status.to_string()),
            None => (!node_alive(self.pid)).then(|| "exited".to_string()),
        }
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
        if self.exited().is_some() && self.cgroup.is_none() {
            return;
        }
        let group = -self.pid;
        // SAFETY: kill(2) on a process group touches no memory.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.exited().is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
        // Whatever is left of the group, the raylet's workers included.
        unsafe { libc::kill(group, libc::SIGKILL) };
        if let Some(child) = self.child.as_mut() {
            let _ = child.get_mut().unwrap().wait();
        }
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

    /// Whether Ray stopped for a reason a new start can cure: a port it was
    /// given was taken, or its raylet missed Ray's fixed 30 s to register
    /// with the GCS (seen in CI when two nodes joined a cluster whose trials
    /// held both cores: load average 12.8 on 2).
    fn may_start_again(&self) -> bool {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        [
            "already in use",
            "Failed to bind",
            "address in use",
            "timed out during startup",
        ]
        .iter()
        .any(|m| log.contains(m))
    }

    /// Fails once `ray start --block` has exited (it does when a Ray process
    /// dies), with the end of its log.
    fn check(&self) -> Result<(), RunError> {
        match self.exited() {
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
    /// cgroup's own drop kills what the group left. Left running when the
    /// worker exits ([`detach_on_exit`]).
    fn drop(&mut self) {
        if detaching() {
            if let Some(cgroup) = self.cgroup.take() {
                cgroup.detach();
            }
            return;
        }
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

    /// The last `chars` characters of one of this node's Ray logs (where
    /// a Ray process says why it failed), or why there are none.
    fn ray_log_tail(&self, name: &str, chars: usize) -> String {
        let path = self.ray_tmp().join("session_latest/logs").join(name);
        match std::fs::read_to_string(&path) {
            Ok(log) => tail(&log, chars),
            Err(err) => format!("({} unreadable: {err})", path.display()),
        }
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
}

/// Files about a node the worker keeps beside its scratch directory, not in
/// it: the sandbox can write its scratch, and these name processes the
/// worker signals and cgroups it removes.
fn pgid_file(scratch: &Path) -> PathBuf {
    scratch.with_extension("pgid")
}

fn record_file(scratch: &Path) -> PathBuf {
    scratch.with_extension("node.json")
}

/// Removes a scratch directory and the worker's files beside it.
fn remove_scratch(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_file(pgid_file(dir));
    let _ = std::fs::remove_file(record_file(dir));
}

/// Roles in a job's cluster.
const HEAD: &str = "head";
const MEMBER: &str = "member";

/// What a restarted worker needs to reattach to a node its previous run
/// left serving: written beside the node's scratch directory once it
/// serves ([`record_file`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct NodeRecord {
    job: String,
    nonce: u64,
    listing: String,
    /// [`HEAD`] or [`MEMBER`].
    role: String,
    /// `ray start`'s process (bwrap's when sandboxed), its group's leader.
    pid: i32,
    /// Sandboxed: its cgroup is named like its scratch directory.
    sandboxed: bool,
    limits: Option<Limits>,
    /// The GPUs (indices) the node sees.
    gpus: Vec<u32>,
    /// Unix time (ms) the node joined the cluster: its claim counts from it.
    in_cluster_since_ms: u64,
    cluster_ready_secs: Option<f64>,
    /// The cluster it serves: its head's assignment and addresses, and the
    /// Ray job.
    head_listing: String,
    head_nonce: u64,
    gcs_address: String,
    dashboard_url: String,
    submission_id: String,
}

impl NodeRecord {
    /// Beside the node's scratch directory `dir`.
    fn save(&self, dir: &Path) {
        let text = serde_json::to_vec_pretty(self).expect("a node record serializes");
        if let Err(err) = std::fs::write(record_file(dir), text) {
            warn!(job = %self.job, "recording the node for a restart to reattach: {err}");
        }
    }

    fn load(dir: &Path) -> Option<Self> {
        let record: Self = serde_json::from_slice(&std::fs::read(record_file(dir)).ok()?).ok()?;
        // A process group of its own, never init's or "every process".
        (record.pid > 1).then_some(record)
    }

    /// When the node joined, on this process's clock.
    fn in_cluster_since(&self) -> Instant {
        let ago = Duration::from_millis(unix_ms().saturating_sub(self.in_cluster_since_ms));
        Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
    }

    /// The head's assignment (listing, nonce).
    fn head(&self) -> Result<(Address, u64), RunError> {
        let listing = self.head_listing.parse().map_err(|_| {
            failed(format!(
                "the node record names no head: {:?}",
                self.head_listing
            ))
        })?;
        Ok((listing, self.head_nonce))
    }

    fn assignment(&self) -> Option<(Address, u64)> {
        Some((self.job.parse().ok()?, self.nonce))
    }
}

/// A node an earlier run of the worker left serving an assignment.
struct Adoptable {
    dir: PathBuf,
    record: NodeRecord,
}

impl Adoptable {
    /// The running node another (exited) worker process left for this
    /// assignment of `listing`, if any.
    fn find(job: &Address, nonce: u64, listing: &Address) -> Option<Self> {
        let own = std::process::id() as i32;
        scratch_dirs()
            .filter(|(_, owner)| *owner != own && !process_alive(*owner))
            .filter_map(|(dir, _)| Some((NodeRecord::load(&dir)?, dir)))
            .find(|(record, _)| {
                record.job == job.to_string()
                    && record.nonce == nonce
                    && record.listing == listing.to_string()
                    && node_alive(record.pid)
            })
            .map(|(record, dir)| Self { dir, record })
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Whether process `pid` runs (exists and is not a zombie: an adopted
/// node's process is not this worker's child, so nobody here reaps it).
fn node_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) state …": the state follows the last ')'.
    stat.rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|state| state != "Z" && state != "X")
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
        if !detaching() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

const CHECKPOINT_PREFIX: &str = "iogrid-checkpoints-";

/// Scratch directories end with the pid of the worker that made them.
const SCRATCH_PREFIX: &str = "iogrid-ray-";

/// The scratch directories on this host, with the pid of the worker
/// process that made each.
fn scratch_dirs() -> impl Iterator<Item = (PathBuf, i32)> {
    std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let owner = name
                .strip_prefix(SCRATCH_PREFIX)?
                .rsplit('-')
                .next()?
                .parse::<i32>()
                .ok()?;
            Some((entry.path(), owner))
        })
}

/// Reaps what earlier runs of workers left, except nodes a worker will
/// reattach to: for each scratch directory whose worker process is gone,
/// kills the Ray node it holds and removes it — unless the node still runs
/// and is recorded as serving another listing (its own worker reattaches)
/// or one of `serving`, this listing's assignments the chain still gives it
/// (`None`: unknown, keep them all). A directory whose worker is alive
/// (this one, another on the host) is left alone. Returns how many were
/// reaped.
pub fn reap_orphans(listing: &Address, serving: Option<&HashSet<(Address, u64)>>) -> usize {
    let mut reaped = 0;
    for (dir, owner) in scratch_dirs() {
        if process_alive(owner) {
            continue;
        }
        let record = NodeRecord::load(&dir);
        if let Some(record) = record.as_ref().filter(|r| node_alive(r.pid)) {
            let ours = record.listing == listing.to_string();
            let still_assigned = record
                .assignment()
                .is_some_and(|a| serving.is_none_or(|s| s.contains(&a)));
            if !ours || still_assigned {
                continue;
            }
        }
        let pgid = record.as_ref().map(|r| r.pid).or_else(|| {
            std::fs::read_to_string(pgid_file(&dir))
                .ok()
                .and_then(|text| text.trim().parse::<i32>().ok())
        });
        if let Some(pgid) = pgid.filter(|p| *p > 1) {
            // SAFETY: kill(2) on a process group touches no memory.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        if let Some(mut cgroup) = name.as_deref().and_then(Cgroup::adopt) {
            cgroup.remove();
        }
        remove_scratch(&dir);
        reaped += 1;
    }
    // Cgroups of workers that died, left empty (named like the scratch
    // directories, or `probe-<pid>`); one still holding processes (a node
    // left running) cannot be removed.
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
        if !detaching() {
            remove_scratch(&self.0);
        }
    }
}

// ---------------------------------------------------------------------------
// Ray's Jobs REST API (the dashboard)

/// One poll of a Ray job's state.
enum Polled {
    Status(JobStatus),
    /// The head answers, but knows no job of that id (yet).
    NotSubmitted,
    /// No answer, or one that is not a job's state.
    Silent,
}

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

    /// Submits the job. Ray answers "No available agent to submit job" while
    /// the head's dashboard agent is still registering (seen for a minute
    /// and more after `ray start` on a loaded machine): that is retried for
    /// [`SUBMIT_PATIENCE`]; any other refusal fails the workload.
    async fn submit(&self, id: &str, entrypoint: &str, runtime_env: Value) -> Result<(), RunError> {
        const AGENT_NOT_READY: &str = "No available agent to submit job";
        let request = json!({
            "entrypoint": entrypoint,
            "submission_id": id,
            "runtime_env": runtime_env,
        });
        let started = Instant::now();
        let mut next_report = Duration::ZERO;
        loop {
            let response = self
                .http
                .post(format!("{}/api/jobs/", self.base))
                .json(&request)
                .send()
                .await
                .map_err(|e| failed(format!("submitting the Ray job: {e}")))?;
            if response.status().is_success() {
                return Ok(());
            }
            let body = response.text().await.unwrap_or_default();
            let waited = started.elapsed();
            if !body.contains(AGENT_NOT_READY) || waited >= SUBMIT_PATIENCE {
                return Err(failed(format!("Ray refused the job: {body}")));
            }
            if waited >= next_report {
                info!(
                    submission = id,
                    "the Ray head's job agent is not ready after {:.0} s; submitting again every 2 s for up to {} s",
                    waited.as_secs_f64(),
                    SUBMIT_PATIENCE.as_secs()
                );
                next_report = waited + Duration::from_secs(30);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// The job's state as the head reports it.
    async fn status(&self, id: &str) -> Polled {
        let response = self
            .http
            .get(format!("{}/api/jobs/{id}", self.base))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match response {
            Ok(response) if response.status() == reqwest::StatusCode::NOT_FOUND => {
                Polled::NotSubmitted
            }
            Ok(response) if response.status().is_success() => match response.json().await {
                Ok(status) => Polled::Status(status),
                Err(_) => Polled::Silent,
            },
            _ => Polled::Silent,
        }
    }

    /// Follows the job until it ends; fails when this node's Ray stops,
    /// the head stops answering for [`HEAD_SILENCE`], or the head answers
    /// but the job is still not submitted past the head's own patience
    /// (a member may start following before the head has submitted).
    async fn wait_for_end(&self, id: &str, node: &RayNode) -> Result<JobStatus, RunError> {
        let mut last_answer = Instant::now();
        let unsubmitted_since = Instant::now();
        let mut progress = StatusLog::default();
        loop {
            node.check()?;
            match self.status(id).await {
                Polled::Status(status)
                    if matches!(status.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED") =>
                {
                    progress.observe(id, &status);
                    return Ok(status);
                }
                Polled::Status(status) => {
                    progress.observe(id, &status);
                    last_answer = Instant::now();
                }
                Polled::NotSubmitted if unsubmitted_since.elapsed() > UNSUBMITTED_LIMIT => {
                    return Err(failed(format!(
                        "the Ray head did not submit the job within {} s",
                        UNSUBMITTED_LIMIT.as_secs()
                    )))
                }
                Polled::NotSubmitted => last_answer = Instant::now(),
                Polled::Silent if last_answer.elapsed() > HEAD_SILENCE => {
                    return Err(failed(format!(
                        "the Ray head stopped answering for {} s",
                        HEAD_SILENCE.as_secs()
                    )))
                }
                Polled::Silent => {}
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
        let below = ephemeral_range_start();
        assert!(all.iter().all(|p| (RAY_PORTS_FROM..below).contains(p)));
        let workers = ports.workers.0..=ports.workers.1;
        assert!(all.iter().all(|p| !workers.contains(p)));
        assert!(ports.workers.0 >= RAY_PORTS_FROM && ports.workers.1 < below);
        assert_eq!(ports.workers.1, ports.workers.0 + 63);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 9);
    }

    #[test]
    fn no_ray_ports_without_room_below_the_ephemeral_range() {
        let err = Ports::allocate_below(RAY_PORTS_FROM + 100).err().unwrap();
        assert!(err.to_string().contains("ip_local_port_range"), "{err}");
    }

    #[test]
    fn orphans_of_a_dead_worker_are_reaped_and_live_ones_kept() {
        // Process groups standing in for Ray nodes, made by a "worker" that
        // has exited.
        let dead_pid = exited_pid();
        let (orphan, mut ray) = left_node(&format!("test-0-{dead_pid}"));
        std::fs::write(pgid_file(&orphan), ray.id().to_string()).unwrap();
        // Recorded nodes: one of this listing the chain still assigns, one
        // of another listing, one of this listing no longer assigned.
        let listing = Address::new_unique();
        let other_listing = Address::new_unique();
        let (job, done_job) = (Address::new_unique(), Address::new_unique());
        let recorded = |name: &str, listing: &Address, job: &Address| {
            let (dir, node) = left_node(&format!("{name}-{dead_pid}"));
            record(listing, job, node.id() as i32).save(&dir);
            (dir, node)
        };
        let (kept, mut kept_node) = recorded("test-2", &listing, &job);
        let (others, mut others_node) = recorded("test-3", &other_listing, &job);
        let (done, mut done_node) = recorded("test-4", &listing, &done_job);
        let mine =
            std::env::temp_dir().join(format!("{SCRATCH_PREFIX}test-1-{}", std::process::id()));
        std::fs::create_dir_all(&mine).unwrap();
        let serving = HashSet::from([(job, 7)]);
        assert!(reap_orphans(&listing, Some(&serving)) >= 2);
        assert!(!orphan.exists(), "the dead worker's scratch is removed");
        assert!(mine.exists(), "a live worker's scratch is kept");
        assert!(
            kept.exists(),
            "a node still assigned to this listing is kept"
        );
        assert!(
            others.exists(),
            "another listing's node is its worker's to reattach"
        );
        assert!(!done.exists(), "a node no longer assigned is reaped");
        let killed = |node: &mut std::process::Child| {
            std::os::unix::process::ExitStatusExt::signal(&node.wait().unwrap())
        };
        assert_eq!(
            killed(&mut ray),
            Some(libc::SIGKILL),
            "the orphaned Ray group is killed"
        );
        assert_eq!(killed(&mut done_node), Some(libc::SIGKILL));
        assert!(node_alive(kept_node.id() as i32) && node_alive(others_node.id() as i32));
        // Unknown assignments (the chain unreadable): every recorded node
        // of this listing is kept.
        assert!(Adoptable::find(&job, 7, &listing).is_some());
        reap_orphans(&listing, None);
        assert!(kept.exists());
        for node in [&mut kept_node, &mut others_node] {
            node.kill().unwrap();
            node.wait().unwrap();
        }
        assert!(
            !node_alive(kept_node.id() as i32),
            "a reaped process is not alive"
        );
        reap_orphans(&listing, None);
        assert!(
            !kept.exists() && !others.exists(),
            "nodes that died are cleaned up"
        );
        std::fs::remove_dir_all(&mine).unwrap();
    }

    /// The pid of a process that has exited.
    fn exited_pid() -> u32 {
        let mut process = std::process::Command::new("true").spawn().unwrap();
        let pid = process.id();
        process.wait().unwrap();
        pid
    }

    /// A scratch directory `<prefix><name>` and a process group standing in
    /// for the Ray node left in it.
    fn left_node(name: &str) -> (PathBuf, std::process::Child) {
        let dir = std::env::temp_dir().join(format!("{SCRATCH_PREFIX}{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut sleep = std::process::Command::new("sleep");
        sleep.arg("60");
        std::os::unix::process::CommandExt::process_group(&mut sleep, 0);
        (dir, sleep.spawn().unwrap())
    }

    fn record(listing: &Address, job: &Address, pid: i32) -> NodeRecord {
        NodeRecord {
            job: job.to_string(),
            nonce: 7,
            listing: listing.to_string(),
            role: MEMBER.into(),
            pid,
            sandboxed: false,
            limits: None,
            gpus: vec![0],
            in_cluster_since_ms: unix_ms() - 90_000,
            cluster_ready_secs: None,
            head_listing: Address::new_unique().to_string(),
            head_nonce: 3,
            gcs_address: "10.0.0.1:6379".into(),
            dashboard_url: "http://10.0.0.1:8265".into(),
            submission_id: "iogrid-x-7".into(),
        }
    }

    #[test]
    fn a_node_record_tells_a_restarted_worker_what_it_serves() {
        let listing = Address::new_unique();
        let job = Address::new_unique();
        let dir =
            std::env::temp_dir().join(format!("{SCRATCH_PREFIX}test-record-{}", exited_pid()));
        std::fs::create_dir_all(&dir).unwrap();
        let scratch = Scratch(dir.clone());
        let saved = record(&listing, &job, std::process::id() as i32);
        saved.save(&dir);
        let loaded = NodeRecord::load(&dir).unwrap();
        assert_eq!(loaded.assignment(), Some((job, 7)));
        assert_eq!(loaded.head().unwrap().1, 3);
        // Its claim counts from when it joined, not from the restart.
        let joined = loaded.in_cluster_since().elapsed().as_secs();
        assert!((89..=91).contains(&joined), "{joined}");
        let found = Adoptable::find(&job, 7, &listing).expect("the running node is found");
        assert_eq!(found.dir, dir);
        assert!(
            Adoptable::find(&job, 8, &listing).is_none(),
            "another nonce"
        );
        assert!(
            Adoptable::find(&job, 7, &Address::new_unique()).is_none(),
            "another listing"
        );
        // Kept beside the scratch, where the sandbox cannot write (it sees
        // only the scratch itself under a hidden /tmp).
        assert_eq!(record_file(&dir).parent(), dir.parent());
        // A record naming init or "every process" is never adopted.
        for pid in [1, 0, -1] {
            record(&listing, &job, pid).save(&dir);
            assert!(NodeRecord::load(&dir).is_none(), "pid {pid}");
        }
        drop(scratch);
        assert!(!dir.exists() && !record_file(&dir).exists());
    }

    #[test]
    fn tails_cut_on_character_boundaries() {
        assert_eq!(tail("ééé", 3), "é");
        assert_eq!(tail("abc", 10), "abc");
    }
}
