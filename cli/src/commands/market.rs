//! `iogrid listing` (suppliers) and `iogrid job` (ML engineers): create, show
//! and cancel, as signed transactions against any cluster.

use {
    crate::{
        keys::load_keypair,
        output::{print, OutputFormat},
    },
    anyhow::{Context, Result},
    clap::{Args, Subcommand},
    iogrid_sdk::{
        accounts::{
            ascii_field, ascii_text, GpuListing, GpuSpec, JobAccount, JobSpec, StakeAccount,
        },
        constants::{format_io, parse_io, SECS_PER_HOUR},
        instructions::{CancelJobAccounts, CreateJobAccounts, ListGpuAccounts},
        pda,
        rpc::{program_account, NonblockingRpcClient as RpcClient},
        send::{send_and_confirm, SendOptions},
        token, Address,
    },
    serde::Serialize,
    sha2::{Digest, Sha256},
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{fmt, path::Path},
};

#[derive(Debug, Args)]
pub struct ListingArgs {
    #[command(subcommand)]
    pub command: ListingCommand,
}

#[derive(Debug, Subcommand)]
pub enum ListingCommand {
    /// List GPUs, locking min_stake_per_gpu of your stake per GPU.
    Create {
        /// The worker node's key: it signs heartbeats and proofs.
        #[arg(long)]
        worker: Address,
        #[arg(long)]
        model: String,
        #[arg(long)]
        vram_gb: u16,
        #[arg(long, default_value_t = 1)]
        gpus: u16,
        #[arg(long)]
        region: String,
        /// IO per GPU-hour, e.g. 2.5.
        #[arg(long)]
        price: String,
    },
    /// Show a listing.
    Show { listing: Address },
}

#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(subcommand)]
    pub command: JobCommand,
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Escrow max price × GPUs × duration for a job (`id` must be unused).
    Create {
        #[arg(long)]
        id: u64,
        #[arg(long, default_value_t = 1)]
        gpus: u16,
        /// Highest IO per GPU-hour you accept, e.g. 3.
        #[arg(long)]
        max_price: String,
        #[arg(long)]
        hours: f64,
        /// GPU model (any when omitted).
        #[arg(long)]
        model: Option<String>,
        #[arg(long, default_value_t = 0)]
        min_vram_gb: u16,
        /// Region (any when omitted).
        #[arg(long)]
        region: Option<String>,
        /// Where workers fetch the workload (≤ 64 ASCII characters).
        #[arg(long)]
        uri: String,
        /// Listings the job may span (default: one per GPU, at most 16).
        #[arg(long)]
        max_listings: Option<u8>,
    },
    /// Show a job.
    Show { job: Address },
    /// Refund a job nobody was assigned to.
    Cancel { job: Address },
}

/// A listing as suppliers read it.
#[derive(Debug, Serialize)]
pub struct ListingView {
    pub address: String,
    pub owner: String,
    pub worker: String,
    pub model: String,
    pub vram_gb: u16,
    pub region: String,
    pub gpus: u16,
    pub gpus_free: u16,
    pub price_per_gpu_hour: u64,
    pub status: String,
    pub last_heartbeat: i64,
    pub stake_locked: u64,
    pub jobs_completed: u32,
    pub jobs_faulted: u32,
    pub signature: Option<String>,
}

impl ListingView {
    fn new(address: &Address, l: &GpuListing, signature: Option<String>) -> Self {
        Self {
            address: address.to_string(),
            owner: l.owner.to_string(),
            worker: l.spec.worker.to_string(),
            model: l.spec.model(),
            vram_gb: l.spec.vram_gb,
            region: l.spec.region_code(),
            gpus: l.spec.gpu_count,
            gpus_free: l.gpus_free,
            price_per_gpu_hour: l.spec.price_per_gpu_hour,
            status: format!("{:?}", l.status()),
            last_heartbeat: l.last_heartbeat,
            stake_locked: l.stake_locked,
            jobs_completed: l.jobs_completed,
            jobs_faulted: l.jobs_faulted,
            signature,
        }
    }
}

impl fmt::Display for ListingView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(signature) = &self.signature {
            writeln!(f, "transaction {signature}")?;
        }
        writeln!(f, "listing {} ({})", self.address, self.status)?;
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
            "  worker {} (last heartbeat {})",
            self.worker, self.last_heartbeat
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
    pub workload_uri: String,
    /// (listing, GPUs, status) per assignment.
    pub assignments: Vec<(String, u16, String)>,
    pub signature: Option<String>,
}

impl JobView {
    fn new(address: &Address, account: &JobAccount, signature: Option<String>) -> Self {
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
            workload_uri: ascii_text(&job.workload_uri),
            assignments: account
                .assignments
                .iter()
                .map(|a| (a.listing.to_string(), a.gpus, format!("{:?}", a.status())))
                .collect(),
            signature,
        }
    }
}

impl fmt::Display for JobView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(signature) = &self.signature {
            writeln!(f, "transaction {signature}")?;
        }
        writeln!(f, "job {} #{} ({})", self.address, self.id, self.status)?;
        writeln!(
            f,
            "  {} GPU(s), {} assigned, up to {} per GPU-hour for {} s",
            self.gpus,
            self.gpus_assigned,
            format_io(self.max_price_per_gpu_hour),
            self.duration_secs
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

/// The job spec `job create` sends.
#[allow(clippy::too_many_arguments)]
pub fn job_spec(
    gpus: u16,
    max_price: &str,
    hours: f64,
    model: Option<&str>,
    min_vram_gb: u16,
    region: Option<&str>,
    uri: &str,
    max_listings: Option<u8>,
) -> Result<JobSpec> {
    let text = |e: String| anyhow::anyhow!(e);
    anyhow::ensure!(hours > 0.0 && hours.is_finite(), "--hours must be positive");
    let mut workload_uri = [0u8; 64];
    anyhow::ensure!(
        !uri.is_empty() && uri.len() <= 64 && uri.is_ascii(),
        "--uri must be 1 to 64 ASCII characters"
    );
    workload_uri[..uri.len()].copy_from_slice(uri.as_bytes());
    Ok(JobSpec {
        workload_hash: Sha256::digest(uri.as_bytes()).into(),
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
        max_price_per_gpu_hour: parse_io(max_price).map_err(text)?,
        duration_secs: (hours * SECS_PER_HOUR as f64).round() as u64,
        min_vram_gb,
        gpus,
        max_listings: max_listings.unwrap_or(gpus.min(16) as u8),
        padding: [0; 3],
    })
}

pub async fn execute_listing(
    args: &ListingArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    match &args.command {
        ListingCommand::Show { listing } => {
            let state: GpuListing = program_account(rpc, listing, "no such listing").await?;
            print(output, &ListingView::new(listing, &state, None))
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
            let price = parse_io(price).map_err(anyhow::Error::msg)?;
            let spec = GpuSpec::new(*worker, model, *vram_gb, *gpus, region, price)
                .map_err(anyhow::Error::msg)?;
            let owner = signer.pubkey();
            let stake: StakeAccount = program_account(
                rpc,
                &pda::stake(&owner).0,
                "stake first: iogrid stake add <IO>",
            )
            .await?;
            let accounts = ListGpuAccounts::new(owner, stake.next_listing_id);
            let signature = send(rpc, &signer, accounts.instruction(&spec), "list GPUs").await?;
            let state: GpuListing = program_account(rpc, &accounts.listing, "listing").await?;
            print(
                output,
                &ListingView::new(&accounts.listing, &state, Some(signature)),
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
            let data = rpc
                .get_account_data(job)
                .await
                .with_context(|| format!("no job at {job}"))?;
            print(
                output,
                &JobView::new(job, &JobAccount::decode(&data)?, None),
            )
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
            max_listings,
        } => {
            let signer = load_keypair(keypair)?;
            let spec = job_spec(
                *gpus,
                max_price,
                *hours,
                model.as_deref(),
                *min_vram_gb,
                region.as_deref(),
                uri,
                *max_listings,
            )?;
            let owner = signer.pubkey();
            let accounts = CreateJobAccounts::new(owner, *id, token::io_account_of(&owner));
            let signature = send(
                rpc,
                &signer,
                accounts.instruction(*id, &spec),
                "create the job",
            )
            .await?;
            let data = rpc.get_account_data(&accounts.job).await?;
            print(
                output,
                &JobView::new(&accounts.job, &JobAccount::decode(&data)?, Some(signature)),
            )
        }
        JobCommand::Cancel { job } => {
            let signer = load_keypair(keypair)?;
            let owner = signer.pubkey();
            let ix =
                CancelJobAccounts::new(owner, *job, token::io_account_of(&owner)).instruction();
            let signature = send(rpc, &signer, ix, "cancel the job").await?;
            println!("cancelled {job}; the escrow was refunded (transaction {signature})");
            Ok(())
        }
    }
}

async fn send(
    rpc: &RpcClient,
    signer: &Keypair,
    ix: solana_instruction::Instruction,
    what: &str,
) -> Result<String> {
    let sent = send_and_confirm(rpc, &[ix], &[signer], &SendOptions::default())
        .await
        .with_context(|| format!("could not {what}"))?;
    Ok(sent.signature.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_specs_read_human_units() {
        let spec = job_spec(
            8,
            "2.5",
            1.5,
            Some("H100-80GB"),
            80,
            None,
            "https://x/y",
            None,
        )
        .unwrap();
        assert_eq!(spec.max_price_per_gpu_hour, 2_500_000);
        assert_eq!(spec.duration_secs, 5_400);
        assert_eq!(spec.max_listings, 8);
        assert_eq!(spec.region, [0; 8], "any region");
        assert_eq!(spec.deposit(), 2_500_000 * 8 * 3 / 2);
        assert!(job_spec(1, "1", 0.0, None, 0, None, "u", None).is_err());
        assert!(job_spec(1, "1", 1.0, None, 0, None, "", None).is_err());
        assert!(job_spec(1, "x", 1.0, None, 0, None, "u", None).is_err());
    }
}
