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
    crate::agent::RunError,
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
    /// This node's GPUs (or declared simulated ones), recorded in every
    /// result it proves.
    pub devices: Vec<crate::gpu::Device>,
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

/// A background task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
        let account = self.job_account().await?;
        let nodes: Vec<Assignment> = account.cluster_nodes().copied().collect();
        let head = nodes
            .first()
            .ok_or_else(|| failed("the job has no cluster nodes"))?;
        let scratch = Scratch::create(&self.job, self.assignment.nonce)?;
        let outcome = if head.listing == self.listing && head.nonce == self.assignment.nonce {
            tokio::time::timeout(limit, self.run_head(&scratch, nodes.len(), started))
                .await
                .map_err(|_| RunError::TimedOut(limit.as_secs_f64()))?
        } else {
            tokio::time::timeout(limit, self.run_member(&scratch))
                .await
                .map_err(|_| RunError::TimedOut(limit.as_secs_f64()))?
        };
        drop(scratch);
        info!(job = %self.job, "Ray node stopped and scratch directory removed");
        outcome
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
        scratch: &Scratch,
        node_count: usize,
        started: Instant,
    ) -> Result<NodeOutcome, RunError> {
        let ports = Ports::allocate()?;
        let mut args = vec![
            "--head".to_string(),
            format!("--port={}", ports.gcs),
            "--include-dashboard=true".into(),
            "--dashboard-host=0.0.0.0".into(),
            format!("--dashboard-port={}", ports.dashboard),
            format!("--ray-client-server-port={}", ports.client),
        ];
        args.extend(self.common_args(scratch, &ports));
        let node = RayNode::start(self.config, &args, scratch)?;
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
                scratch.checkpoints().display().to_string(),
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
        drop(node);
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
        outputs.insert(self.devices_record_name(), self.devices_record());
        let result_hash = merkle_root(outputs.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        info!(job = %self.job, outputs = outputs.len(), "Ray job succeeded; outputs hashed");
        if let Some(dir) = &self.config.outputs_dir {
            let kept = dir.join(format!("{}-{}", self.job, self.assignment.nonce));
            keep_outputs(&kept, &outputs)?;
            info!(job = %self.job, "outputs kept in {}", kept.display());
        }
        Ok(NodeOutcome {
            result_hash,
            in_cluster: elapsed,
            cluster_ready: Some(cluster_ready),
            role: "head",
        })
    }

    /// Joins the announced head and follows the job to its end.
    async fn run_member(&self, scratch: &Scratch) -> Result<NodeOutcome, RunError> {
        let head = self.wait_for_head().await?;
        let ports = Ports::allocate()?;
        let mut args = vec![format!("--address={}", head.gcs_address)];
        args.extend(self.common_args(scratch, &ports));
        let node = RayNode::start(self.config, &args, scratch)?;
        let joined = Instant::now();
        info!(job = %self.job, head = %head.gcs_address, "joined the job's Ray cluster");
        let jobs = JobsApi::new(self.http, &head.dashboard_url);
        let status = jobs.wait_for_end(&head.submission_id, &node).await?;
        let logs = jobs.logs(&head.submission_id).await.unwrap_or_default();
        let in_cluster = joined.elapsed();
        drop(node);
        if status.status != "SUCCEEDED" {
            return Err(failed(format!(
                "the Ray job ended {}: {}",
                status.status,
                status.message.unwrap_or_default()
            )));
        }
        let devices = self.devices_record();
        let devices_name = self.devices_record_name();
        let outputs = [
            ("ray-job.log", logs.as_bytes()),
            ("ray-job.status", status.status.as_bytes()),
            (devices_name.as_str(), devices.as_slice()),
        ];
        Ok(NodeOutcome {
            result_hash: merkle_root(outputs),
            in_cluster,
            cluster_ready: None,
            role: "member",
        })
    }

    /// `devices/<listing>.json`: the devices this node served the job with,
    /// `simulated: true` on declared ones, hashed into its result.
    fn devices_record_name(&self) -> String {
        format!("devices/{}.json", self.listing)
    }

    fn devices_record(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.config.devices).expect("devices serialize")
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

    /// The keeper's published head of this job's cluster, once announced.
    async fn wait_for_head(&self) -> Result<ClusterAnnouncement, RunError> {
        #[derive(Deserialize)]
        struct Cluster {
            head: Option<ClusterAnnouncement>,
        }
        let url = self.cluster_url();
        loop {
            let response = self.http.get(&url).send().await;
            if let Ok(response) = response {
                if let Ok(Cluster { head: Some(head) }) = response.json::<Cluster>().await {
                    // The keeper checked it; check the signature again anyway.
                    if head.verify() && head.job == self.job.to_string() {
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
/// take one before Ray binds it; Ray then fails to start and says so).
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

/// A running `ray start --block` and everything it started, in one process
/// group that is killed when this is dropped.
struct RayNode {
    child: std::sync::Mutex<std::process::Child>,
    log: PathBuf,
}

impl RayNode {
    fn start(config: &RayConfig, args: &[String], scratch: &Scratch) -> Result<Self, RunError> {
        let log = &scratch.ray_log();
        let log_file = std::fs::File::create(log)
            .map_err(|e| failed(format!("creating {}: {e}", log.display())))?;
        let err_file = log_file
            .try_clone()
            .map_err(|e| failed(format!("opening {}: {e}", log.display())))?;
        let mut command = std::process::Command::new(&config.ray);
        command
            .arg("start")
            .args(args)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .env("RAY_USAGE_STATS_ENABLED", "0");
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
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().map_err(|e| {
            failed(format!(
                "cannot start {} (install Ray with scripts/ray-env, or pass --ray): {e}",
                config.ray.display()
            ))
        })?;
        // So a later worker can reap this group if this one dies first.
        let _ = std::fs::write(scratch.pgid_file(), child.id().to_string());
        Ok(Self {
            child: std::sync::Mutex::new(child),
            log: log.to_path_buf(),
        })
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
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap();
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
        for dir in [scratch.ray_tmp(), scratch.output(), scratch.checkpoints()] {
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

    fn checkpoints(&self) -> PathBuf {
        self.0.join("checkpoints")
    }

    fn ray_log(&self) -> PathBuf {
        self.0.join("ray-start.log")
    }

    fn pgid_file(&self) -> PathBuf {
        self.0.join("ray.pgid")
    }
}

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
            let up = self
                .http
                .get(format!("{}/api/version", self.base))
                .send()
                .await;
            if up.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            sleep(POLL).await;
        }
        Err(failed(
            "the Ray head's dashboard did not come up within 90 s",
        ))
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
        loop {
            node.check()?;
            match self.status(id).await {
                Some(status)
                    if matches!(status.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED") =>
                {
                    return Ok(status)
                }
                Some(_) => last_answer = Instant::now(),
                None if last_answer.elapsed() > Duration::from_secs(60) => {
                    return Err(failed("the Ray head stopped answering for 60 s"))
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
