//! The market: `iogrid listing` (suppliers: create, show, update, delist),
//! `iogrid job` (ML engineers: create, show, cancel, approve, dispute) and the
//! two market-wide reads `iogrid listings` and `iogrid jobs`, as signed
//! transactions and JSON-RPC reads against any cluster.
//!
//! Every write first checks what the chain can tell cheaply (the account
//! exists, the signer owns it, its status allows the action, the wallet holds
//! the IO) and refuses with a plain sentence before anything is signed, so a
//! mistake costs no fee; what only the program can judge comes back as its
//! decoded `#[msg]` with the program logs.

use {
    crate::{
        commands::balance::{ensure_io, io_balance},
        keys::load_keypair,
        output::{print, OutputFormat},
        tx,
    },
    anyhow::{anyhow, bail, ensure, Context, Result},
    clap::{ArgGroup, Args, Subcommand, ValueEnum},
    iogrid_sdk::{
        accounts::{
            ascii_field, ascii_text, Config, GpuListing, GpuSpec, Job, JobAccount, JobSpec,
            JobStatus, ListingStatus, ProgramAccount, StakeAccount,
        },
        constants::{format_io, parse_io, SECS_PER_HOUR, SUPPLY_CAP},
        instructions::{
            ApproveJobAccounts, CancelJobAccounts, CreateJobAccounts, DelistAccounts,
            DisputeJobAccounts, ListGpuAccounts, ListingUpdate, TopUpJobAccounts,
            UpdateListingAccounts,
        },
        pda,
        rpc::{program_account, program_accounts, NonblockingRpcClient as RpcClient, RpcReadError},
        token,
        workload::{WorkloadSpec, SPEC_URI_PREFIX},
        Address, PROGRAM_ID,
    },
    serde::Serialize,
    sha2::{Digest, Sha256},
    solana_instruction::Instruction,
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{
        fmt,
        path::{Path, PathBuf},
        time::Duration,
    },
};

/// `programs/iogrid/src/constants.rs`: the longest job the program accepts.
const MAX_JOB_DURATION_SECS: u64 = 365 * 86_400;
const MAX_CLUSTER: u16 = iogrid_sdk::constants::MAX_CLUSTER as u16;
const CLOCK_SYSVAR: Address =
    Address::from_str_const("SysvarC1ock11111111111111111111111111111111");

#[derive(Debug, Args)]
pub struct ListingArgs {
    #[command(subcommand)]
    pub command: ListingCommand,
}

#[derive(Debug, Subcommand)]
pub enum ListingCommand {
    /// List GPUs, locking min_stake_per_gpu of your stake per GPU.
    #[command(allow_negative_numbers = true)]
    Create {
        /// The worker node's key: it signs heartbeats and proofs.
        #[arg(long)]
        worker: Address,
        /// GPU model, at most 16 ASCII characters (e.g. H100-80GB).
        #[arg(long)]
        model: String,
        /// VRAM per GPU, GB.
        #[arg(long)]
        vram_gb: u16,
        /// GPUs offered by this listing (one worker node).
        #[arg(long, default_value_t = 1)]
        gpus: u16,
        /// Region code, at most 8 ASCII characters (e.g. eu-west).
        #[arg(long)]
        region: String,
        /// IO per GPU-hour, e.g. 2.5.
        #[arg(long, value_name = "IO", value_parser = parse_price)]
        price: u64,
    },
    /// Show a listing.
    Show {
        /// The listing's address.
        listing: Address,
    },
    /// Change a listing's price or worker key, or take it offline / online.
    #[command(
        allow_negative_numbers = true,
        group(ArgGroup::new("change").required(true).multiple(true)
            .args(["price", "worker", "online", "offline"]))
    )]
    Update {
        /// The listing's address.
        listing: Address,
        /// New IO per GPU-hour (running jobs keep the price they were assigned at).
        #[arg(long, value_name = "IO", value_parser = parse_price)]
        price: Option<u64>,
        /// New worker key (only while no GPU runs a job).
        #[arg(long)]
        worker: Option<Address>,
        /// Back online: earns emission again and can be matched.
        #[arg(long, conflicts_with = "offline")]
        online: bool,
        /// Offline: no matching, no emission (only while no GPU runs a job).
        #[arg(long)]
        offline: bool,
    },
    /// Remove a listing with nothing running: unlocks its stake, pays its
    /// rewards to your IO account and closes it.
    Delist {
        /// The listing's address.
        listing: Address,
    },
}

#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(subcommand)]
    pub command: JobCommand,
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Escrow max price × GPUs × duration for a job (`id` must be unused).
    #[command(allow_negative_numbers = true)]
    Create {
        /// Your number for the job; its address derives from it and your
        /// key. Default: a fresh one (from the current time), unused.
        #[arg(long)]
        id: Option<u64>,
        /// GPUs in all, from one listing or spread over several suppliers.
        #[arg(long, default_value_t = 1)]
        gpus: u16,
        /// Highest IO per GPU-hour you accept, e.g. 3.
        #[arg(long, value_name = "IO", value_parser = parse_price)]
        max_price: u64,
        /// How long the job runs once assigned, e.g. 0.5; escrowed in full
        /// and refunded for what goes unused.
        #[arg(long)]
        hours: f64,
        /// GPU model (any when omitted).
        #[arg(long)]
        model: Option<String>,
        /// Minimum VRAM per GPU, GB (0: any).
        #[arg(long, default_value_t = 0)]
        min_vram_gb: u16,
        /// Region (any when omitted).
        #[arg(long)]
        region: Option<String>,
        /// Where workers fetch the workload (≤ 64 ASCII characters); its
        /// SHA-256 is the workload hash.
        #[arg(
            long,
            required_unless_present = "template",
            conflicts_with = "template"
        )]
        uri: Option<String>,
        /// A workload template: a directory with a `workload.toml` (or the
        /// name of one under ./templates or $IOGRID_TEMPLATES). Its spec is
        /// uploaded to the keeper and the job commits to its SHA-256.
        #[arg(long)]
        template: Option<String>,
        /// The keeper's HTTP API, where --template's spec is uploaded.
        #[arg(
            long,
            env = "IOGRID_KEEPER_URL",
            default_value = "http://127.0.0.1:8780"
        )]
        keeper_url: String,
        /// Listings the job may span (default: one per GPU, at most 16).
        #[arg(long)]
        max_listings: Option<u8>,
    },
    /// Show a job.
    #[command(visible_alias = "status")]
    Show {
        /// The job's address.
        job: Address,
    },
    /// Grow an open or running job to `--gpus` GPUs in all, escrowing the
    /// added GPUs for the time the job has left; the keeper assigns them and
    /// their workers join the job's cluster.
    Scale {
        /// The job's address.
        job: Address,
        /// The job's GPUs after scaling (more than it has now).
        #[arg(long)]
        gpus: u16,
    },
    /// Give an open or running job `--hours` more, escrowing them for every
    /// GPU.
    Extend {
        /// The job's address.
        job: Address,
        /// Hours to add, e.g. 0.5.
        #[arg(long)]
        hours: f64,
    },
    /// Refund a job nobody was assigned to.
    Cancel {
        /// The job's address.
        job: Address,
    },
    /// Accept a proven job's results at once (pays the suppliers without
    /// waiting out the challenge window).
    Approve {
        /// The job's address.
        job: Address,
    },
    /// Contest a proven job's results within the challenge window (the
    /// arbiter decides the split).
    Dispute {
        /// The job's address.
        job: Address,
    },
    /// Print a Ray job's log from its cluster's head (`--follow`: as it
    /// grows, until the job ends).
    Logs {
        /// The job's address.
        job: Address,
        /// Keep printing as the log grows, until the Ray job ends.
        #[arg(long, short)]
        follow: bool,
        /// The keeper's HTTP API, which publishes the job's cluster.
        #[arg(
            long,
            env = "IOGRID_KEEPER_URL",
            default_value = "http://127.0.0.1:8780"
        )]
        keeper_url: String,
    },
}

/// `iogrid listings`: every listing on the network.
#[derive(Debug, Args)]
pub struct ListingsArgs {
    /// Only this supplier's.
    #[arg(long)]
    pub owner: Option<Address>,
    /// Only this GPU model (case-insensitive).
    #[arg(long)]
    pub model: Option<String>,
    /// Only listings a job could be matched to now: Available, a GPU free and
    /// a heartbeat within the timeout.
    #[arg(long)]
    pub available: bool,
}

/// `iogrid jobs`: every open job account on the network.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Only this owner's.
    #[arg(long)]
    pub owner: Option<Address>,
    /// Only jobs in this status.
    #[arg(long, value_enum)]
    pub status: Option<JobStatusArg>,
}

/// [`JobStatus`] as a command-line value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JobStatusArg {
    Open,
    Running,
    Proven,
    Approved,
    Disputed,
    Resolved,
}

impl From<JobStatusArg> for JobStatus {
    fn from(value: JobStatusArg) -> Self {
        match value {
            JobStatusArg::Open => JobStatus::Open,
            JobStatusArg::Running => JobStatus::Running,
            JobStatusArg::Proven => JobStatus::Proven,
            JobStatusArg::Approved => JobStatus::Approved,
            JobStatusArg::Disputed => JobStatus::Disputed,
            JobStatusArg::Resolved => JobStatus::Resolved,
        }
    }
}

// ---------------------------------------------------------------------------
// Input

/// An IO amount as typed: like `parse_io`, but says which rule it breaks.
pub fn parse_amount(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!("{text:?} is negative; IO amounts are positive"));
    }
    if let Some((_, fraction)) = trimmed.split_once('.') {
        if fraction.len() > 6 && fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{text:?} has {} decimals; IO has 6 (the smallest amount is 0.000001)",
                fraction.len()
            ));
        }
    }
    parse_io(text)
}

/// A price per GPU-hour: an IO amount above zero.
pub fn parse_price(text: &str) -> Result<u64, String> {
    match parse_amount(text)? {
        0 => Err(format!("{text:?}: a price must be more than 0 IO")),
        price => Ok(price),
    }
}

/// What a job commits to run: the URI workers fetch and the SHA-256 they
/// check it against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadRef {
    pub uri: String,
    pub hash: [u8; 32],
}

impl WorkloadRef {
    /// A URI that is its own workload (`sim:cpu:…`, `cmd:…`): the hash of the URI.
    pub fn of_uri(uri: &str) -> Self {
        Self {
            uri: uri.to_string(),
            hash: Sha256::digest(uri.as_bytes()).into(),
        }
    }
}

/// The template directory `name` designates: itself if it is one, else
/// `./templates/<name>`, else `$IOGRID_TEMPLATES/<name>`.
pub fn template_dir(name: &str) -> Result<PathBuf> {
    let mut candidates = vec![PathBuf::from(name), Path::new("templates").join(name)];
    if let Some(root) = std::env::var_os("IOGRID_TEMPLATES") {
        candidates.push(PathBuf::from(root).join(name));
    }
    candidates
        .iter()
        .find(|dir| dir.join("workload.toml").is_file())
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "no template {name:?}: expected a directory with a workload.toml at {}",
                candidates
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Builds the template's spec, uploads it to the keeper's spec store and
/// returns what the job commits to: `spec:<name>` and the spec's SHA-256.
pub async fn upload_template(name: &str, keeper_url: &str) -> Result<WorkloadRef> {
    let dir = template_dir(name)?;
    let spec = WorkloadSpec::from_template(&dir)
        .with_context(|| format!("the template at {}", dir.display()))?;
    let bytes = spec.to_canonical_json();
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    let url = format!("{}/v1/specs", keeper_url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .put(&url)
        .body(bytes)
        .send()
        .await
        .with_context(|| format!("uploading the spec to the keeper at {url}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    ensure!(
        status.is_success(),
        "the keeper refused the spec (HTTP {status}): {}",
        body["error"].as_str().unwrap_or("no reason given")
    );
    ensure!(
        body["sha256"].as_str() == Some(hex_string(&hash).as_str()),
        "the keeper stored the spec under another hash: {body}"
    );
    let label = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "template".into());
    let mut uri = format!("{SPEC_URI_PREFIX}{label}");
    uri.truncate(64);
    Ok(WorkloadRef { uri, hash })
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `iogrid job logs`: the Ray job's log from the head of the job's cluster
/// (as the keeper publishes it), printed once or followed to the job's end.
async fn print_logs(job: &Address, keeper_url: &str, follow: bool) -> Result<()> {
    let http = reqwest::Client::new();
    let cluster_url = format!("{}/v1/jobs/{job}/cluster", keeper_url.trim_end_matches('/'));
    let mut printed = 0usize;
    loop {
        let cluster: serde_json::Value = http
            .get(&cluster_url)
            .send()
            .await
            .with_context(|| format!("asking the keeper at {cluster_url}"))?
            .json()
            .await
            .context("reading the keeper's answer")?;
        let head = &cluster["head"];
        let (Some(dashboard), Some(id)) = (
            head["dashboard_url"].as_str(),
            head["submission_id"].as_str(),
        ) else {
            ensure!(
                follow,
                "job {job} has no Ray cluster yet: {}",
                cluster["error"]
                    .as_str()
                    .unwrap_or("the head has not announced itself")
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let answer = http
            .get(format!("{dashboard}/api/jobs/{id}/logs"))
            .send()
            .await;
        let logs: serde_json::Value = match answer {
            Ok(response) => response.json().await.unwrap_or_default(),
            // The head tears its cluster down shortly after the job ends.
            Err(_) if printed > 0 => {
                eprintln!("the cluster's head at {dashboard} is gone: the Ray job ended");
                return Ok(());
            }
            Err(err) => {
                return Err(err).with_context(|| {
                    format!("reading the log from the cluster's head at {dashboard}")
                })
            }
        };
        let text = logs["logs"].as_str().unwrap_or_default();
        if text.len() > printed {
            print!("{}", &text[printed..]);
            printed = text.len();
        }
        if !follow {
            return Ok(());
        }
        let status = ray_job_status(&http, dashboard, id).await;
        if let Some(status) =
            status.filter(|s| ["SUCCEEDED", "FAILED", "STOPPED"].contains(&s.as_str()))
        {
            eprintln!("the Ray job {id} ended: {status}");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The Ray job's status on its head (`None`: the head does not answer).
async fn ray_job_status(http: &reqwest::Client, dashboard: &str, id: &str) -> Option<String> {
    let status: serde_json::Value = http
        .get(format!("{dashboard}/api/jobs/{id}"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    status["status"].as_str().map(str::to_string)
}

/// The job spec `job create` sends, checked as the program will check it.
#[allow(clippy::too_many_arguments)]
pub fn job_spec(
    gpus: u16,
    max_price: u64,
    hours: f64,
    model: Option<&str>,
    min_vram_gb: u16,
    region: Option<&str>,
    workload: &WorkloadRef,
    max_listings: Option<u8>,
) -> Result<JobSpec> {
    let text = |e: String| anyhow!(e);
    ensure!(hours > 0.0 && hours.is_finite(), "--hours must be positive");
    let duration_secs = (hours * SECS_PER_HOUR as f64).round() as u64;
    ensure!(
        (1..=MAX_JOB_DURATION_SECS).contains(&duration_secs),
        "--hours must be between 1 second and a year (8760)"
    );
    ensure!(gpus > 0, "--gpus must be at least 1");
    let max_listings = max_listings.unwrap_or(gpus.min(MAX_CLUSTER) as u8);
    ensure!(
        (1..=MAX_CLUSTER).contains(&u16::from(max_listings)),
        "--max-listings must be between 1 and {MAX_CLUSTER}"
    );
    ensure!(max_price > 0, "--max-price must be more than 0 IO");
    let deposit = iogrid_sdk::rules::pay::escrow_for(max_price, gpus, duration_secs);
    ensure!(
        deposit.is_ok_and(|io| io <= SUPPLY_CAP),
        "the escrow (max price × GPUs × hours) would be more IO than will ever exist"
    );
    let mut workload_uri = [0u8; 64];
    let uri = &workload.uri;
    ensure!(
        !uri.is_empty() && uri.len() <= 64 && uri.is_ascii(),
        "--uri must be 1 to 64 ASCII characters"
    );
    workload_uri[..uri.len()].copy_from_slice(uri.as_bytes());
    Ok(JobSpec {
        workload_hash: workload.hash,
        workload_uri,
        gpu_model: model
            .map(ascii_field)
            .transpose()
            .map_err(text)?
            .unwrap_or([0; 16]),
        region: region
            .map(ascii_field)
            .transpose()
            .map_err(text)?
            .unwrap_or([0; 8]),
        max_price_per_gpu_hour: max_price,
        duration_secs,
        min_vram_gb,
        gpus,
        max_listings,
        padding: [0; 3],
    })
}

// ---------------------------------------------------------------------------
// Views

/// A listing as suppliers read it.
#[derive(Debug, Serialize)]
pub struct ListingView {
    pub address: String,
    pub owner: String,
    pub id: u64,
    pub worker: String,
    pub model: String,
    pub vram_gb: u16,
    pub region: String,
    pub gpus: u16,
    pub gpus_free: u16,
    pub price_per_gpu_hour: u64,
    pub status: String,
    pub last_heartbeat: i64,
    /// Seconds since the last heartbeat, on the chain's clock.
    pub heartbeat_age_secs: i64,
    /// Silent past the heartbeat timeout: no matching, rewards forfeited.
    pub stale: bool,
    pub stake_locked: u64,
    pub jobs_completed: u32,
    pub jobs_faulted: u32,
    pub signature: Option<String>,
}

impl ListingView {
    fn new(address: &Address, l: &GpuListing, chain: &ChainNow, signature: Option<String>) -> Self {
        let age = chain.now.saturating_sub(l.last_heartbeat).max(0);
        Self {
            address: address.to_string(),
            owner: l.owner.to_string(),
            id: l.id,
            worker: l.spec.worker.to_string(),
            model: l.spec.model(),
            vram_gb: l.spec.vram_gb,
            region: l.spec.region_code(),
            gpus: l.spec.gpu_count,
            gpus_free: l.gpus_free,
            price_per_gpu_hour: l.spec.price_per_gpu_hour,
            status: format!("{:?}", l.status()),
            last_heartbeat: l.last_heartbeat,
            heartbeat_age_secs: age,
            stale: l.is_online() && age > i64::from(chain.config.params.heartbeat_timeout_secs),
            stake_locked: l.stake_locked,
            jobs_completed: l.jobs_completed,
            jobs_faulted: l.jobs_faulted,
            signature,
        }
    }

    /// Status, with "stale" when an online listing's worker fell silent.
    fn status_text(&self) -> String {
        if self.stale {
            format!("{} (stale)", self.status)
        } else {
            self.status.clone()
        }
    }
}

impl fmt::Display for ListingView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(signature) = &self.signature {
            writeln!(f, "transaction {signature}")?;
        }
        writeln!(f, "listing {} ({})", self.address, self.status_text())?;
        writeln!(f, "  owner {} (listing #{})", self.owner, self.id)?;
        writeln!(
            f,
            "  {} × {} {} GB in {}, {} free, {} per GPU-hour",
            self.gpus,
            self.model,
            self.vram_gb,
            self.region,
            self.gpus_free,
            format_io(self.price_per_gpu_hour)
        )?;
        writeln!(
            f,
            "  worker {} (last heartbeat {} ago)",
            self.worker,
            age(self.heartbeat_age_secs)
        )?;
        write!(
            f,
            "  stake locked {}; jobs completed {}, faulted {}",
            format_io(self.stake_locked),
            self.jobs_completed,
            self.jobs_faulted
        )
    }
}

/// A job as its owner reads it.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub address: String,
    pub owner: String,
    pub id: u64,
    pub status: String,
    pub gpus: u16,
    pub gpus_assigned: u16,
    pub max_price_per_gpu_hour: u64,
    pub duration_secs: u64,
    pub deposit: u64,
    pub paid_out: u64,
    /// Unix time the paid-for duration ends (0 until the job starts).
    pub end_time: i64,
    pub workload_uri: String,
    /// (listing, GPUs, status) per assignment.
    pub assignments: Vec<(String, u16, String)>,
    pub signature: Option<String>,
    /// The chain's clock when read (for relative times in text).
    #[serde(skip)]
    now: i64,
}

impl JobView {
    fn new(address: &Address, account: &JobAccount, now: i64, signature: Option<String>) -> Self {
        let job = &account.job;
        Self {
            address: address.to_string(),
            owner: job.owner.to_string(),
            id: job.id,
            status: format!("{:?}", job.status()),
            gpus: job.gpus,
            gpus_assigned: job.gpus_assigned,
            max_price_per_gpu_hour: job.max_price_per_gpu_hour,
            duration_secs: job.duration_secs,
            deposit: job.deposit,
            paid_out: job.paid_out,
            end_time: job.end_time(),
            workload_uri: ascii_text(&job.workload_uri),
            assignments: account
                .assignments
                .iter()
                .map(|a| (a.listing.to_string(), a.gpus, format!("{:?}", a.status())))
                .collect(),
            signature,
            now,
        }
    }

    fn end_text(&self) -> String {
        match self.end_time {
            0 => "not started".to_string(),
            end if end >= self.now => format!("in {}", age(end - self.now)),
            end => format!("{} ago", age(self.now - end)),
        }
    }
}

impl fmt::Display for JobView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(signature) = &self.signature {
            writeln!(f, "transaction {signature}")?;
        }
        writeln!(f, "job {} #{} ({})", self.address, self.id, self.status)?;
        writeln!(f, "  owner {}", self.owner)?;
        writeln!(
            f,
            "  {} GPU(s), {} assigned, up to {} per GPU-hour for {} s (ends: {})",
            self.gpus,
            self.gpus_assigned,
            format_io(self.max_price_per_gpu_hour),
            self.duration_secs,
            self.end_text()
        )?;
        writeln!(
            f,
            "  escrow {} (paid out {})",
            format_io(self.deposit),
            format_io(self.paid_out)
        )?;
        write!(f, "  workload {}", self.workload_uri)?;
        for (listing, gpus, status) in &self.assignments {
            write!(f, "\n  on {listing}: {gpus} GPU(s), {status}")?;
        }
        Ok(())
    }
}

/// `iogrid listings`.
#[derive(Debug, Serialize)]
pub struct ListingsView {
    /// The slot the accounts were read at.
    pub slot: u64,
    pub listings: Vec<ListingView>,
}

impl fmt::Display for ListingsView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.listings.is_empty() {
            return write!(f, "no listings");
        }
        let rows = self.listings.iter().map(|l| {
            vec![
                l.address.clone(),
                l.owner.clone(),
                l.model.clone(),
                format!("{} GB", l.vram_gb),
                format!("{}/{}", l.gpus_free, l.gpus),
                io_number(l.price_per_gpu_hour),
                l.status_text(),
                age(l.heartbeat_age_secs),
            ]
        });
        let headers = [
            "LISTING",
            "OWNER",
            "MODEL",
            "VRAM",
            "FREE/GPUS",
            "IO/GPU-H",
            "STATUS",
            "HEARTBEAT",
        ];
        write!(f, "{}", table(&headers, rows))?;
        write!(
            f,
            "\n{} listing(s) at slot {}",
            self.listings.len(),
            self.slot
        )
    }
}

/// `iogrid jobs`.
#[derive(Debug, Serialize)]
pub struct JobsView {
    pub slot: u64,
    pub jobs: Vec<JobView>,
}

impl fmt::Display for JobsView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.jobs.is_empty() {
            return write!(f, "no jobs");
        }
        let rows = self.jobs.iter().map(|j| {
            vec![
                j.address.clone(),
                j.owner.clone(),
                j.status.clone(),
                format!("{}/{}", j.gpus_assigned, j.gpus),
                io_number(j.max_price_per_gpu_hour),
                io_number(j.deposit),
                j.end_text(),
            ]
        });
        let headers = [
            "JOB",
            "OWNER",
            "STATUS",
            "ASSIGNED/GPUS",
            "MAX IO/GPU-H",
            "DEPOSIT IO",
            "ENDS",
        ];
        write!(f, "{}", table(&headers, rows))?;
        write!(f, "\n{} job(s) at slot {}", self.jobs.len(), self.slot)
    }
}

/// A listing removed.
#[derive(Debug, Serialize)]
pub struct DelistView {
    pub listing: String,
    pub stake_unlocked: u64,
    /// Emission rewards paid to the owner's IO account.
    pub rewards_paid: u64,
    pub signature: String,
}

impl fmt::Display for DelistView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "transaction {}", self.signature)?;
        write!(
            f,
            "delisted {}: {} of stake unlocked, {} of rewards paid",
            self.listing,
            format_io(self.stake_unlocked),
            format_io(self.rewards_paid)
        )
    }
}

/// A job cancelled.
#[derive(Debug, Serialize)]
pub struct CancelView {
    pub job: String,
    pub refunded: u64,
    pub signature: String,
}

impl fmt::Display for CancelView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "transaction {}", self.signature)?;
        write!(
            f,
            "cancelled {}; the escrow of {} was refunded",
            self.job,
            format_io(self.refunded)
        )
    }
}

/// `90s`, `12m`, `5h`, `3d`: coarse, for tables.
pub(crate) fn age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3_600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// Base units as an IO number without the unit (`2.5`, `36`), for tables.
fn io_number(base_units: u64) -> String {
    let text = format_io(base_units);
    let number = text.trim_end_matches(" IO");
    number
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// Left-aligned columns, two spaces apart.
pub(crate) fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(
        rows.iter()
            .map(|row| line(row.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

// ---------------------------------------------------------------------------
// Reads

/// The network's Config and the chain's clock, read together.
pub(crate) struct ChainNow {
    pub config: Config,
    /// `Clock::unix_timestamp`.
    pub now: i64,
}

const NOT_INITIALIZED: &str =
    "the iogrid network is not initialized on this cluster (iogrid network init)";

pub(crate) async fn chain_now(rpc: &RpcClient) -> Result<ChainNow> {
    let config_address = pda::config().0;
    let accounts = rpc
        .get_multiple_accounts_with_commitment(&[config_address, CLOCK_SYSVAR], rpc.commitment())
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?
        .value;
    let config = accounts[0]
        .as_ref()
        .filter(|a| a.owner == PROGRAM_ID)
        .ok_or_else(|| anyhow!(NOT_INITIALIZED))?;
    let config = Config::decode(&config.data).context("reading the network's Config")?;
    // Clock: slot, epoch_start_timestamp, epoch, leader_schedule_epoch,
    // unix_timestamp; eight bytes each.
    let now = accounts[1]
        .as_ref()
        .and_then(|clock| clock.data.get(32..40))
        .and_then(|bytes| bytes.try_into().ok())
        .map(i64::from_le_bytes)
        .ok_or_else(|| anyhow!("the cluster returned no Clock sysvar"))?;
    Ok(ChainNow { config, now })
}

/// The listing at `address`, or a one-line reason there is none.
pub(crate) async fn read_listing(rpc: &RpcClient, address: &Address) -> Result<GpuListing> {
    program_account(rpc, address, "")
        .await
        .map_err(|e| match e {
            RpcReadError::Missing { .. } => {
                anyhow!("no listing at {address} (never created, or delisted and closed)")
            }
            RpcReadError::WrongOwner { owner, .. } => {
                anyhow!(
                    "{address} is not a listing: it belongs to {owner}, not to the iogrid program"
                )
            }
            RpcReadError::Decode { .. } => {
                anyhow!("{address} is an iogrid account but not a listing")
            }
            other => other.into(),
        })
}

/// The job at `address`, or a one-line reason there is none.
pub(crate) async fn read_job(rpc: &RpcClient, address: &Address) -> Result<JobAccount> {
    // getMultipleAccounts: getAccountInfo's "AccountNotFound" would hide an
    // unreachable node and repeat itself in the message.
    let account = rpc
        .get_multiple_accounts_with_commitment(&[*address], rpc.commitment())
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?
        .value
        .pop()
        .flatten()
        .ok_or_else(|| {
            anyhow!("no job at {address} (never created, or settled/cancelled and closed)")
        })?;
    ensure!(
        account.owner == PROGRAM_ID,
        "{address} is not a job: it belongs to {}, not to the iogrid program",
        account.owner
    );
    JobAccount::decode(&account.data)
        .map_err(|_| anyhow!("{address} is an iogrid account but not a job"))
}

fn ensure_owner(what: &str, address: &Address, owner: &Address, signer: &Address) -> Result<()> {
    ensure!(
        owner == signer,
        "{what} {address} belongs to {owner}; you are {signer} (pass its owner's --keypair)"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Commands

pub async fn execute_listing(
    args: &ListingArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    match &args.command {
        ListingCommand::Show { listing } => {
            let state = read_listing(rpc, listing).await?;
            let chain = chain_now(rpc).await?;
            print(output, &ListingView::new(listing, &state, &chain, None))
        }
        ListingCommand::Create {
            worker,
            model,
            vram_gb,
            gpus,
            region,
            price,
        } => {
            let signer = load_keypair(keypair)?;
            let spec = GpuSpec::new(*worker, model, *vram_gb, *gpus, region, *price)
                .map_err(anyhow::Error::msg)?;
            ensure!(
                (1..=iogrid_sdk::constants::MAX_GPUS_PER_LISTING).contains(gpus),
                "--gpus must be between 1 and {}",
                iogrid_sdk::constants::MAX_GPUS_PER_LISTING
            );
            let owner = signer.pubkey();
            let stake: StakeAccount = program_account(
                rpc,
                &pda::stake(&owner).0,
                "stake first: iogrid stake add <IO>",
            )
            .await?;
            let chain = chain_now(rpc).await?;
            let per_gpu = chain.config.params.min_stake_per_gpu;
            let required = per_gpu.saturating_mul(u64::from(*gpus));
            let unlocked = stake.staked.saturating_sub(stake.locked_for_listings);
            ensure!(
                unlocked >= required,
                "listing {gpus} GPU(s) locks {} of stake ({} per GPU); you have {} unlocked \
                 ({} staked, {} locked by your listings): iogrid stake add <IO>",
                format_io(required),
                format_io(per_gpu),
                format_io(unlocked),
                format_io(stake.staked),
                format_io(stake.locked_for_listings)
            );
            // An id whose listing PDA has bump 255 keeps list_gpu's compute cost fixed.
            let id = iogrid_sdk::pda::fast_listing_id(&owner, stake.next_listing_id);
            let accounts = ListGpuAccounts::new(owner, id);
            let signature = send(
                rpc,
                &signer,
                &[accounts.instruction(&spec, id)],
                "list GPUs",
            )
            .await?;
            let state = read_listing(rpc, &accounts.listing).await?;
            print(
                output,
                &ListingView::new(&accounts.listing, &state, &chain, Some(signature)),
            )
        }
        ListingCommand::Update {
            listing,
            price,
            worker,
            online,
            offline,
        } => {
            let signer = load_keypair(keypair)?;
            let owner = signer.pubkey();
            let state = read_listing(rpc, listing).await?;
            ensure_owner("listing", listing, &state.owner, &owner)?;
            let update = ListingUpdate {
                price_per_gpu_hour: *price,
                worker: *worker,
                online: match (online, offline) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            let ix = UpdateListingAccounts::new(owner, *listing).instruction(&update);
            let signature = send(rpc, &signer, &[ix], "update the listing").await?;
            let state = read_listing(rpc, listing).await?;
            let chain = chain_now(rpc).await?;
            print(
                output,
                &ListingView::new(listing, &state, &chain, Some(signature)),
            )
        }
        ListingCommand::Delist { listing } => {
            let signer = load_keypair(keypair)?;
            let owner = signer.pubkey();
            let state = read_listing(rpc, listing).await?;
            ensure_owner("listing", listing, &state.owner, &owner)?;
            let running = state.spec.gpu_count.saturating_sub(state.gpus_free);
            ensure!(
                running == 0,
                "listing {listing} has {running} GPU(s) running jobs; delist it once they end"
            );
            confirm_delist(listing, &state, &chain_now(rpc).await?)?;
            let destination = token::io_account_of(&owner);
            let before = io_balance(rpc, &owner).await?;
            let ixs = [
                token::create_io_account_idempotent(&owner, &owner),
                DelistAccounts::new(owner, *listing, destination).instruction(),
            ];
            let signature = send(rpc, &signer, &ixs, "delist").await?;
            let after = io_balance(rpc, &owner).await?;
            print(
                output,
                &DelistView {
                    listing: listing.to_string(),
                    stake_unlocked: state.stake_locked,
                    rewards_paid: after.saturating_sub(before),
                    signature,
                },
            )
        }
    }
}

pub async fn execute_job(
    args: &JobArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    match &args.command {
        JobCommand::Show { job } => {
            let account = read_job(rpc, job).await?;
            let now = chain_now(rpc).await?.now;
            print(output, &JobView::new(job, &account, now, None))
        }
        JobCommand::Create {
            id,
            gpus,
            max_price,
            hours,
            model,
            min_vram_gb,
            region,
            uri,
            template,
            keeper_url,
            max_listings,
        } => {
            let signer = load_keypair(keypair)?;
            let workload = match (uri, template) {
                (_, Some(template)) => upload_template(template, keeper_url).await?,
                (Some(uri), None) => WorkloadRef::of_uri(uri),
                (None, None) => bail!("pass --uri or --template"),
            };
            let spec = job_spec(
                *gpus,
                *max_price,
                *hours,
                model.as_deref(),
                *min_vram_gb,
                region.as_deref(),
                &workload,
                *max_listings,
            )?;
            let owner = signer.pubkey();
            let id = match id {
                Some(id) => {
                    let job = pda::job(&owner, *id).0;
                    ensure!(
                        !account_exists(rpc, &job).await?,
                        "you already have job #{id} at {job} (pick another --id)"
                    );
                    *id
                }
                None => fresh_job_id(rpc, &owner).await?,
            };
            let accounts = CreateJobAccounts::new(owner, id, token::io_account_of(&owner));
            let deposit = spec.deposit().context(
                "price × GPUs × duration does not fit in a u64 of base units: ask for less",
            )?;
            ensure_io(rpc, &owner, deposit, "the escrow").await?;
            let signature = send(
                rpc,
                &signer,
                &[accounts.instruction(id, &spec)],
                "create the job",
            )
            .await?;
            let account = read_job(rpc, &accounts.job).await?;
            let now = chain_now(rpc).await?.now;
            print(
                output,
                &JobView::new(&accounts.job, &account, now, Some(signature)),
            )
        }
        JobCommand::Logs {
            job,
            follow,
            keeper_url,
        } => print_logs(job, keeper_url, *follow).await,
        JobCommand::Scale { job, gpus } => {
            grow_job(rpc, output, keypair, job, |account, now| {
                Ok(Growth::Gpus(scale_plan(job, account, *gpus, now)?))
            })
            .await
        }
        JobCommand::Extend { job, hours } => {
            grow_job(rpc, output, keypair, job, |account, now| {
                let (extra_secs, escrow) = extend_plan(job, account, *hours, now)?;
                Ok(Growth::Time { extra_secs, escrow })
            })
            .await
        }
        JobCommand::Cancel { job } => {
            let signer = load_keypair(keypair)?;
            let owner = signer.pubkey();
            let account = read_job(rpc, job).await?;
            ensure_owner("job", job, &account.job.owner, &owner)?;
            ensure!(
                account.job.status() == JobStatus::Open && account.assignments.is_empty(),
                "job {job} is {:?} with {} GPU(s) assigned: only a job nobody was assigned to \
                 can be cancelled",
                account.job.status(),
                account.job.gpus_assigned
            );
            let ixs = [
                token::create_io_account_idempotent(&owner, &owner),
                CancelJobAccounts::new(owner, *job, token::io_account_of(&owner)).instruction(),
            ];
            let signature = send(rpc, &signer, &ixs, "cancel the job").await?;
            print(
                output,
                &CancelView {
                    job: job.to_string(),
                    refunded: account.job.deposit,
                    signature,
                },
            )
        }
        JobCommand::Approve { job } => {
            let signer = load_keypair(keypair)?;
            let owner = signer.pubkey();
            let account = read_job(rpc, job).await?;
            ensure_proven(job, &account.job, &owner, "approved")?;
            let ix = ApproveJobAccounts::new(owner, *job).instruction();
            let signature = send(rpc, &signer, &[ix], "approve the job").await?;
            let account = read_job(rpc, job).await?;
            let now = chain_now(rpc).await?.now;
            print(output, &JobView::new(job, &account, now, Some(signature)))
        }
        JobCommand::Dispute { job } => {
            let signer = load_keypair(keypair)?;
            let owner = signer.pubkey();
            let account = read_job(rpc, job).await?;
            ensure_proven(job, &account.job, &owner, "disputed")?;
            let chain = chain_now(rpc).await?;
            let closes =
                account.job.proven_at + i64::from(chain.config.params.challenge_window_secs);
            ensure!(
                chain.now <= closes,
                "the challenge window of job {job} closed {} ago: it can only be settled now",
                age(chain.now - closes)
            );
            tx::confirm(&format!(
                "Dispute job {job}? Its escrow freezes until the network's arbiter decides \
                 what share of their proven claims the suppliers get."
            ))?;
            let ix = DisputeJobAccounts::new(owner, *job).instruction();
            let signature = send(rpc, &signer, &[ix], "dispute the job").await?;
            let account = read_job(rpc, job).await?;
            print(
                output,
                &JobView::new(job, &account, chain.now, Some(signature)),
            )
        }
    }
}

/// What `job scale` sends: the GPUs it adds, the account's listing slots
/// after, and (at most) what it escrows.
#[derive(Debug, PartialEq, Eq)]
pub struct ScalePlan {
    pub extra_gpus: u16,
    pub capacity: u8,
    pub escrow: u64,
}

/// `job scale <job> --gpus <target>`, checked as the program will check it.
/// The account grows to room for one listing per GPU still to assign (the
/// worst case), within [`MAX_CLUSTER`], and never shrinks.
pub fn scale_plan(
    address: &Address,
    account: &JobAccount,
    target: u16,
    now: i64,
) -> Result<ScalePlan> {
    let job = &account.job;
    let remaining = growable_secs(address, job, now)?;
    ensure!(
        target > job.gpus,
        "job {address} already has {} GPU(s): --gpus is the total after scaling, so more than that",
        job.gpus
    );
    let extra_gpus = target - job.gpus;
    let to_assign = usize::from(target.saturating_sub(job.gpus_assigned));
    let max_slots = usize::from(MAX_CLUSTER);
    let slots = (account.assignments.len() + to_assign).max(account.capacity);
    let capacity = u8::try_from(slots.min(max_slots)).expect("MAX_CLUSTER fits in a u8");
    let escrow =
        iogrid_sdk::rules::pay::escrow_for(job.max_price_per_gpu_hour, extra_gpus, remaining)
            .ok()
            .filter(|io| *io <= SUPPLY_CAP)
            .context(
                "the added escrow would be more IO than will ever exist: ask for fewer GPUs",
            )?;
    Ok(ScalePlan {
        extra_gpus,
        capacity,
        escrow,
    })
}

/// `job extend <job> --hours <h>`: the seconds it adds and their escrow.
pub fn extend_plan(
    address: &Address,
    account: &JobAccount,
    hours: f64,
    now: i64,
) -> Result<(u64, u64)> {
    let job = &account.job;
    growable_secs(address, job, now)?;
    ensure!(hours > 0.0 && hours.is_finite(), "--hours must be positive");
    let extra_secs = (hours * SECS_PER_HOUR as f64).round() as u64;
    ensure!(
        extra_secs >= 1
            && job
                .duration_secs
                .checked_add(extra_secs)
                .is_some_and(|d| d <= MAX_JOB_DURATION_SECS),
        "a job runs at most a year (8760 hours); job {address} already has {:.2} h",
        job.duration_secs as f64 / SECS_PER_HOUR as f64
    );
    let escrow =
        iogrid_sdk::rules::pay::escrow_for(job.max_price_per_gpu_hour, job.gpus, extra_secs)
            .ok()
            .filter(|io| *io <= SUPPLY_CAP)
            .context("the added escrow would be more IO than will ever exist: ask for less")?;
    Ok((extra_secs, escrow))
}

/// The seconds an open (all of its duration) or running (until its end)
/// job has left, for growing it; an error naming why it cannot grow.
fn growable_secs(address: &Address, job: &Job, now: i64) -> Result<u64> {
    match job.status() {
        JobStatus::Open => Ok(job.duration_secs),
        JobStatus::Running => {
            let left = job.end_time().saturating_sub(now);
            ensure!(
                left > 0,
                "job {address} ran out of time {} ago: it can only be proven or expired now",
                age(-left)
            );
            Ok(left as u64)
        }
        status => bail!("job {address} is {status:?}: only an Open or Running job can grow"),
    }
}

/// How `job scale` or `job extend` grows a job.
enum Growth {
    Gpus(ScalePlan),
    Time { extra_secs: u64, escrow: u64 },
}

impl Growth {
    fn escrow(&self) -> u64 {
        match self {
            Self::Gpus(plan) => plan.escrow,
            Self::Time { escrow, .. } => *escrow,
        }
    }

    fn instruction(&self, accounts: &TopUpJobAccounts) -> Instruction {
        match self {
            Self::Gpus(plan) => accounts.scale_job(plan.extra_gpus, plan.capacity),
            Self::Time { extra_secs, .. } => accounts.extend_job(*extra_secs),
        }
    }

    /// What the transaction does, for its progress and errors.
    fn what(&self) -> &'static str {
        match self {
            Self::Gpus(_) => "scale the job",
            Self::Time { .. } => "extend the job",
        }
    }
}

/// Grows `job` as its owner (the signer), by what `plan` makes of the job
/// and the chain's clock; the owner pays the added escrow. Prints the job
/// after.
async fn grow_job(
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
    job: &Address,
    plan: impl FnOnce(&JobAccount, i64) -> Result<Growth>,
) -> Result<()> {
    let signer = load_keypair(keypair)?;
    let owner = signer.pubkey();
    let account = read_job(rpc, job).await?;
    ensure_owner("job", job, &account.job.owner, &owner)?;
    let growth = plan(&account, chain_now(rpc).await?.now)?;
    ensure_io(rpc, &owner, growth.escrow(), "the added escrow").await?;
    let accounts = TopUpJobAccounts::new(owner, *job, token::io_account_of(&owner));
    let ix = growth.instruction(&accounts);
    let signature = send(rpc, &signer, &[ix], growth.what()).await?;
    let account = read_job(rpc, job).await?;
    let now = chain_now(rpc).await?.now;
    print(output, &JobView::new(job, &account, now, Some(signature)))
}

/// Whether an account exists at `address`.
async fn account_exists(rpc: &RpcClient, address: &Address) -> Result<bool> {
    match iogrid_sdk::rpc::fetch_account(rpc, address, "account", "").await {
        Ok(_) => Ok(true),
        Err(RpcReadError::Missing { .. }) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// A job id of `owner` nobody used: from the current time in milliseconds
/// (so ids grow and a settled job's is not reused), the first whose
/// accounts cost `create_job` the least (`pda::fast_job_id`) and are free.
async fn fresh_job_id(rpc: &RpcClient, owner: &Address) -> Result<u64> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut from = now_ms;
    for _ in 0..16 {
        let id = pda::fast_job_id(owner, from);
        if !account_exists(rpc, &pda::job(owner, id).0).await? {
            return Ok(id);
        }
        from = id + 1;
    }
    bail!("no free job id found near {now_ms}: pass --id")
}

/// Delisting ends a listing for good; with rewards pending, say what
/// becomes of them and ask first.
fn confirm_delist(address: &Address, listing: &GpuListing, chain: &ChainNow) -> Result<()> {
    let rewards = super::rewards::RewardsView::new(address, listing, chain);
    if rewards.accrued == 0 && rewards.pending == 0 {
        return Ok(());
    }
    let forfeited = if rewards.stale && rewards.pending > 0 {
        format!(
            ", and {} earned since the worker went silent is forfeited",
            io_number(rewards.pending)
        )
    } else {
        String::new()
    };
    tx::confirm(&format!(
        "Delist listing {address}? It has {} IO of rewards: paid to you with the delisting{forfeited}.",
        io_number(rewards.claimable)
    ))
}

/// Approve and dispute need the owner and a proven job.
fn ensure_proven(address: &Address, job: &Job, signer: &Address, verb: &str) -> Result<()> {
    ensure_owner("job", address, &job.owner, signer)?;
    ensure!(
        job.status() == JobStatus::Proven,
        "job {address} is {:?}: only a Proven job (every assignment's proof in) can be {verb}",
        job.status()
    );
    Ok(())
}

pub async fn execute_listings(
    args: &ListingsArgs,
    rpc: &RpcClient,
    output: OutputFormat,
) -> Result<()> {
    let chain = chain_now(rpc).await?;
    let read = program_accounts(rpc, GpuListing::DISCRIMINATOR).await?;
    let model = args.model.as_deref().map(str::to_ascii_lowercase);
    let mut listings: Vec<ListingView> = read
        .accounts
        .iter()
        .filter_map(|(address, data)| {
            let listing = GpuListing::decode(data).ok()?;
            Some(ListingView::new(address, &listing, &chain, None))
        })
        .filter(|l| args.owner.is_none_or(|o| l.owner == o.to_string()))
        .filter(|l| {
            model
                .as_ref()
                .is_none_or(|m| l.model.to_ascii_lowercase() == *m)
        })
        .filter(|l| {
            !args.available
                || (l.status == format!("{:?}", ListingStatus::Available)
                    && l.gpus_free > 0
                    && !l.stale)
        })
        .collect();
    listings.sort_by(|a, b| {
        (a.price_per_gpu_hour, &a.address).cmp(&(b.price_per_gpu_hour, &b.address))
    });
    print(
        output,
        &ListingsView {
            slot: read.slot,
            listings,
        },
    )
}

pub async fn execute_jobs(args: &JobsArgs, rpc: &RpcClient, output: OutputFormat) -> Result<()> {
    let now = chain_now(rpc).await?.now;
    let read = program_accounts(rpc, Job::DISCRIMINATOR).await?;
    let status = args.status.map(JobStatus::from);
    let mut jobs: Vec<(Address, u64, JobView)> = read
        .accounts
        .iter()
        .filter_map(|(address, data)| {
            let account = JobAccount::decode(data).ok()?;
            let job = &account.job;
            if args.owner.is_some_and(|o| o != job.owner)
                || status.is_some_and(|s| s != job.status())
            {
                return None;
            }
            Some((
                job.owner,
                job.id,
                JobView::new(address, &account, now, None),
            ))
        })
        .collect();
    jobs.sort_by_key(|(owner, id, _)| (owner.to_string(), *id));
    print(
        output,
        &JobsView {
            slot: read.slot,
            jobs: jobs.into_iter().map(|(_, _, view)| view).collect(),
        },
    )
}

/// Signs and sends `ixs`; a refusal comes back as the program's decoded
/// error and logs.
pub(crate) async fn send(
    rpc: &RpcClient,
    signer: &Keypair,
    ixs: &[Instruction],
    what: &str,
) -> Result<String> {
    let sent = tx::send_and_confirm(rpc, ixs, &[signer])
        .await
        .with_context(|| format!("could not {what}"))?;
    Ok(sent.signature.to_string())
}

#[cfg(test)]
mod tests {
    use {super::*, clap::Parser, iogrid_sdk::constants::IO};

    const NOW: i64 = 1_000_000;

    /// A 2-GPU job at 36 IO per GPU-hour for an hour, running for 600 s on
    /// two one-GPU listings, in an account with room for 2.
    fn running_two_gpu_job() -> JobAccount {
        use bytemuck::Zeroable;
        let mut job = Job::zeroed();
        job.gpus = 2;
        job.gpus_assigned = 2;
        job.max_price_per_gpu_hour = 36 * IO;
        job.duration_secs = 3_600;
        job.status = 1;
        job.started_at = NOW - 600;
        let mut slot = iogrid_sdk::accounts::Assignment::zeroed();
        slot.gpus = 1;
        JobAccount {
            job,
            assignments: vec![slot, slot],
            capacity: 2,
        }
    }

    #[test]
    fn scaling_a_running_job_escrows_the_added_gpus_for_the_time_left() {
        let address = Address::new_unique();
        let plan = scale_plan(&address, &running_two_gpu_job(), 4, NOW).unwrap();
        assert_eq!(
            plan,
            ScalePlan {
                extra_gpus: 2,
                capacity: 4,
                escrow: 2 * 36 * IO * 3_000 / 3_600,
            }
        );
        // A faulted slot stays in the account: room for it and the new ones.
        let mut faulted = running_two_gpu_job();
        faulted.job.gpus_assigned = 1;
        let plan = scale_plan(&address, &faulted, 3, NOW).unwrap();
        assert_eq!((plan.extra_gpus, plan.capacity), (1, 4));
        // Never more slots than a cluster has, never fewer than the account.
        let plan = scale_plan(&address, &running_two_gpu_job(), 40, NOW).unwrap();
        assert_eq!(plan.capacity, MAX_CLUSTER as u8);
        let mut roomy = running_two_gpu_job();
        roomy.capacity = 8;
        assert_eq!(scale_plan(&address, &roomy, 3, NOW).unwrap().capacity, 8);
        // An open job escrows its whole duration.
        let mut open = running_two_gpu_job();
        open.job.status = 0;
        open.job.started_at = 0;
        open.job.gpus_assigned = 0;
        open.assignments.clear();
        let plan = scale_plan(&address, &open, 3, NOW).unwrap();
        assert_eq!(plan.escrow, 36 * IO);
        assert_eq!(plan.capacity, 3);
    }

    #[test]
    fn jobs_that_cannot_grow_are_refused_with_the_reason() {
        let address = Address::new_unique();
        let err = |r: Result<ScalePlan>| r.unwrap_err().to_string();
        let job = running_two_gpu_job();
        assert!(err(scale_plan(&address, &job, 2, NOW)).contains("already has 2 GPU(s)"));
        assert!(err(scale_plan(&address, &job, 4, NOW + 3_000)).contains("ran out of time"));
        let mut proven = job.clone();
        proven.job.status = 2;
        assert!(err(scale_plan(&address, &proven, 4, NOW)).contains("is Proven"));
        assert!(extend_plan(&address, &proven, 1.0, NOW).is_err());
        let mut pricey = job.clone();
        pricey.job.max_price_per_gpu_hour = u64::MAX / 2;
        assert!(err(scale_plan(&address, &pricey, 4, NOW)).contains("more IO than will ever exist"));
    }

    #[test]
    fn extending_a_job_escrows_every_gpu_for_the_added_time() {
        let address = Address::new_unique();
        let job = running_two_gpu_job();
        assert_eq!(
            extend_plan(&address, &job, 0.5, NOW).unwrap(),
            (1_800, 36 * IO)
        );
        for bad in [0.0, -1.0, f64::NAN, 8_760.0] {
            let message = extend_plan(&address, &job, bad, NOW)
                .unwrap_err()
                .to_string();
            assert!(
                message.contains("--hours") || message.contains("at most a year"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn job_specs_read_human_units() {
        let spec = job_spec(
            8,
            2_500_000,
            1.5,
            Some("H100-80GB"),
            80,
            None,
            &WorkloadRef::of_uri("https://x/y"),
            None,
        )
        .unwrap();
        assert_eq!(spec.max_price_per_gpu_hour, 2_500_000);
        assert_eq!(spec.duration_secs, 5_400);
        assert_eq!(spec.max_listings, 8);
        assert_eq!(spec.region, [0; 8], "any region");
        assert_eq!(spec.deposit(), Some(2_500_000 * 8 * 3 / 2));
        assert_eq!(
            job_spec(40, IO, 1.0, None, 0, None, &WorkloadRef::of_uri("u"), None)
                .unwrap()
                .max_listings,
            16,
            "one listing per GPU, at most 16"
        );
    }

    #[test]
    fn job_specs_the_program_would_refuse_are_refused_here() {
        let err = |r: Result<JobSpec>| r.unwrap_err().to_string();
        let spec = |gpus, price, hours, uri: &str, max_listings| {
            job_spec(
                gpus,
                price,
                hours,
                None,
                0,
                None,
                &WorkloadRef::of_uri(uri),
                max_listings,
            )
        };
        assert!(err(spec(1, IO, 0.0, "u", None)).contains("--hours must be positive"));
        assert!(err(spec(1, IO, -1.0, "u", None)).contains("--hours must be positive"));
        assert!(err(spec(1, IO, f64::NAN, "u", None)).contains("--hours must be positive"));
        assert!(err(spec(1, IO, 8_761.0, "u", None)).contains("a year"));
        assert!(err(spec(0, IO, 1.0, "u", None)).contains("--gpus must be at least 1"));
        assert!(err(spec(1, IO, 1.0, "u", Some(0))).contains("--max-listings"));
        assert!(err(spec(1, IO, 1.0, "u", Some(17))).contains("--max-listings"));
        assert!(err(spec(1, 0, 1.0, "u", None)).contains("more than 0"));
        assert!(err(spec(1, IO, 1.0, "", None)).contains("--uri"));
        assert!(err(spec(1, IO, 1.0, &"x".repeat(65), None)).contains("--uri"));
        assert!(err(spec(1_000, SUPPLY_CAP, 8_000.0, "u", None)).contains("will ever exist"));
        let model = job_spec(
            1,
            IO,
            1.0,
            Some("a-model-name-too-long"),
            0,
            None,
            &WorkloadRef::of_uri("u"),
            None,
        );
        assert!(err(model).contains("1 to 16 ASCII"));
    }

    #[test]
    fn amounts_say_what_is_wrong_with_them() {
        assert_eq!(parse_amount("2.5"), Ok(2_500_000));
        assert_eq!(parse_amount(" 36 "), Ok(36 * IO));
        assert_eq!(parse_amount("0.000001"), Ok(1));
        assert_eq!(parse_amount("0"), Ok(0));
        let bad = |text: &str| parse_amount(text).unwrap_err();
        assert_eq!(bad("-1"), "\"-1\" is negative; IO amounts are positive");
        assert_eq!(bad("-0.5"), "\"-0.5\" is negative; IO amounts are positive");
        assert_eq!(
            bad("1.0000001"),
            "\"1.0000001\" has 7 decimals; IO has 6 (the smallest amount is 0.000001)"
        );
        for text in [
            "abc", "1.2.3", "", "1.", ".5", "1e3", "1,5", "0x10", "+1", "1 000",
        ] {
            assert!(
                bad(text).contains("is not an IO amount"),
                "{text:?}: {}",
                bad(text)
            );
        }
        assert!(bad("900000000").contains("more than will ever exist"));
        assert_eq!(parse_price("0.5"), Ok(500_000));
        assert_eq!(
            parse_price("0").unwrap_err(),
            "\"0\": a price must be more than 0 IO"
        );
        assert_eq!(
            parse_price("0.000000").unwrap_err(),
            "\"0.000000\": a price must be more than 0 IO"
        );
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Top {
        Listing(ListingArgs),
        Job(JobArgs),
        Listings(ListingsArgs),
        Jobs(JobsArgs),
    }

    fn parse(args: &str) -> Result<Top, String> {
        Cli::try_parse_from(std::iter::once("iogrid").chain(args.split_whitespace()))
            .map(|cli| cli.command)
            .map_err(|e| e.to_string())
    }

    const KEY: &str = "56uC97afJv9SQFUK7jkUFVDJjSEnY6mQbo2VE7tF3yvi";

    #[test]
    fn malformed_prices_are_refused_while_parsing() {
        let create = |price: &str| {
            parse(&format!(
                "job create --id 1 --max-price {price} --hours 1 --uri u"
            ))
        };
        let Ok(Top::Job(JobArgs {
            command: JobCommand::Create { max_price, .. },
        })) = create("2.5")
        else {
            panic!("{:?}", create("2.5"))
        };
        assert_eq!(max_price, 2_500_000);
        for (price, message) in [
            ("abc", "is not an IO amount"),
            ("1.2.3", "is not an IO amount"),
            ("-1", "is negative"),
            ("1.0000001", "has 7 decimals"),
            ("0", "more than 0 IO"),
        ] {
            let err = create(price).unwrap_err();
            assert!(
                err.contains("--max-price <IO>") && err.contains(message),
                "{price}: {err}"
            );
        }
        let err = parse(&format!(
            "listing create --worker {KEY} --model m --vram-gb 8 --region r --price -2"
        ))
        .unwrap_err();
        assert!(err.contains("is negative"), "{err}");
        assert!(parse("job create --id 1 --max-price 1 --hours -1 --uri u").is_ok());
    }

    #[test]
    fn listing_update_needs_one_change_and_one_direction() {
        assert!(parse(&format!("listing update {KEY}"))
            .unwrap_err()
            .contains("required"));
        assert!(parse(&format!("listing update {KEY} --online --offline"))
            .unwrap_err()
            .contains("cannot be used with"));
        let Ok(Top::Listing(ListingArgs {
            command: ListingCommand::Update { price, online, .. },
        })) = parse(&format!("listing update {KEY} --price 3 --online"))
        else {
            panic!("listing update did not parse")
        };
        assert_eq!((price, online), (Some(3 * IO), true));
        assert!(parse(&format!("listing update {KEY} --price abc"))
            .unwrap_err()
            .contains("is not an IO amount"));
        assert!(parse("listing update not-a-key --offline").is_err());
    }

    #[test]
    fn job_status_is_an_alias_of_show_and_filters_are_typed() {
        assert!(matches!(
            parse(&format!("job status {KEY}")),
            Ok(Top::Job(JobArgs {
                command: JobCommand::Show { .. }
            }))
        ));
        assert!(matches!(
            parse("jobs --status running"),
            Ok(Top::Jobs(JobsArgs {
                status: Some(JobStatusArg::Running),
                ..
            }))
        ));
        assert!(parse("jobs --status finished")
            .unwrap_err()
            .contains("possible values"));
        assert!(matches!(
            parse("listings --model h100-80gb --available"),
            Ok(Top::Listings(ListingsArgs {
                available: true,
                ..
            }))
        ));
    }

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["a".to_string(), "long cell".to_string()],
            vec!["longer".to_string(), "x".to_string()],
        ];
        assert_eq!(
            table(&["H1", "H2"], rows.into_iter()),
            "H1      H2\na       long cell\nlonger  x"
        );
        assert_eq!(io_number(36 * IO), "36");
        assert_eq!(io_number(2_500_000), "2.5");
        assert_eq!(io_number(1), "0.000001");
        assert_eq!(io_number(0), "0");
        assert_eq!(age(59), "59s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3_600), "3h");
        assert_eq!(age(3 * 86_400), "3d");
    }
}
