//! `iogrid listing` (suppliers: create, show, update, delist) and the
//! market-wide read `iogrid listings`, as signed transactions and JSON-RPC
//! reads against any cluster: the commands' arguments, what they print and
//! the checks they make before anything is signed.

use {
    crate::{
        commands::{
            balance::io_balance,
            market::{age, ensure_owner, io_number, parse_price, send, table},
        },
        keys::load_keypair,
        output::{print, OutputFormat},
        tx,
    },
    anyhow::{ensure, Result},
    clap::{ArgGroup, Args, Subcommand},
    iogrid_sdk::{
        accounts::{GpuListing, GpuSpec, ListingStatus, ProgramAccount, StakeAccount},
        constants::format_io,
        instructions::{DelistAccounts, ListGpuAccounts, ListingUpdate, UpdateListingAccounts},
        pda,
        rpc::{
            chain_now, program_account, program_accounts, read_listing, ChainNow,
            NonblockingRpcClient as RpcClient,
        },
        token, Address,
    },
    serde::Serialize,
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

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::commands::market::test_cli::{parse, Top, KEY},
        iogrid_sdk::constants::IO,
    };

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
}
