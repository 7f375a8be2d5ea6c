//! `iogrid job` (ML engineers: create, show, scale, extend, cancel, approve,
//! dispute, logs) and the market-wide read `iogrid jobs`, as signed
//! transactions and JSON-RPC reads against any cluster: the commands'
//! arguments, the job spec and workload they commit to (a URI or an uploaded
//! template), how a job grows, and what they print.

use {
    crate::{
        commands::{
            balance::ensure_io,
            market::{age, ensure_owner, io_number, parse_price, send, table},
        },
        keys::load_keypair,
        output::{print, OutputFormat},
        tx,
    },
    anyhow::{anyhow, bail, ensure, Context, Result},
    clap::{Args, Subcommand, ValueEnum},
    iogrid_sdk::{
        accounts::{ascii_field, ascii_text, Job, JobAccount, JobSpec, JobStatus, ProgramAccount},
        constants::{format_io, SECS_PER_HOUR, SUPPLY_CAP},
        instructions::{
            ApproveJobAccounts, CancelJobAccounts, CreateJobAccounts, DisputeJobAccounts,
            TopUpJobAccounts,
        },
        pda,
        rpc::{
            account_exists, chain_now, program_accounts, read_job,
            NonblockingRpcClient as RpcClient,
        },
        token,
        workload::{WorkloadSpec, SPEC_URI_PREFIX},
        Address,
    },
    serde::Serialize,
    sha2::{Digest, Sha256},
    solana_instruction::Instruction,
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

// ---------------------------------------------------------------------------
// Commands

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

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::commands::{
            listing::ListingsArgs,
            market::test_cli::{parse, Top, KEY},
        },
        iogrid_sdk::constants::IO,
    };

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
}
