//! `iogrid rewards`: a listing's emission rewards — what it has earned so far
//! (`show`, computed at the chain's clock exactly as the program will settle
//! it) and paying them to the owner's IO account (`claim`).

use {
    crate::{
        commands::{
            balance::io_balance,
            market::{age, send},
        },
        keys::load_keypair,
        output::{print, OutputFormat},
    },
    anyhow::{ensure, Result},
    clap::{Args, Subcommand},
    iogrid_sdk::{
        accounts::{GpuListing, RewardPool},
        constants::{format_io, REWARD_PRECISION},
        emission,
        instructions::ClaimRewardsAccounts,
        rpc::{chain_now, read_listing, ChainNow, NonblockingRpcClient as RpcClient},
        token, Address,
    },
    serde::Serialize,
    solana_signer::Signer,
    std::{fmt, path::Path},
};

#[derive(Debug, Args)]
pub struct RewardsArgs {
    #[command(subcommand)]
    pub command: RewardsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RewardsCommand {
    /// A listing's rewards: claimable now, claimed, forfeited.
    Show {
        /// The listing's address.
        listing: Address,
    },
    /// Pay a listing's rewards to your IO account (created if missing).
    Claim {
        /// The listing's address.
        listing: Address,
    },
}

/// The reward accumulator as `update(now)` would leave it (the program's
/// `RewardPool::accumulator_at`): emission released since the last update,
/// split over the GPUs online, rounded down.
pub fn accumulator_at(pool: &RewardPool, now: i64, emission_start: i64) -> u64 {
    if now <= pool.last_update || pool.gpus_online == 0 {
        return pool.acc_reward_per_gpu;
    }
    let accounted = emission::emitted_by(now.saturating_sub(emission_start)).max(pool.accounted);
    let fresh = u128::from(accounted - pool.accounted);
    let increment = fresh * u128::from(REWARD_PRECISION) / u128::from(pool.gpus_online);
    pool.acc_reward_per_gpu
        .saturating_add(u64::try_from(increment).unwrap_or(u64::MAX))
}

/// A listing's rewards at one moment of the chain's clock.
#[derive(Debug, Serialize)]
pub struct RewardsView {
    pub listing: String,
    pub owner: String,
    /// Settled and waiting to be paid.
    pub accrued: u64,
    /// Earned since the last settlement (forfeited instead if the worker is stale).
    pub pending: u64,
    /// What `rewards claim` pays now.
    pub claimable: u64,
    pub claimed: u64,
    pub forfeited: u64,
    /// The worker has been silent past the heartbeat timeout.
    pub stale: bool,
    pub heartbeat_age_secs: i64,
    /// Set after `rewards claim`.
    pub paid: Option<u64>,
    pub signature: Option<String>,
}

impl RewardsView {
    pub(crate) fn new(address: &Address, listing: &GpuListing, chain: &ChainNow) -> Self {
        let pool = &chain.config.rewards;
        let acc = accumulator_at(pool, chain.now, chain.config.emission_start);
        let pending = listing.pending_rewards(acc);
        let heartbeat_age_secs = chain.now.saturating_sub(listing.last_heartbeat).max(0);
        let stale = heartbeat_age_secs > i64::from(chain.config.params.heartbeat_timeout_secs);
        Self {
            listing: address.to_string(),
            owner: listing.owner.to_string(),
            accrued: listing.rewards_accrued,
            pending,
            claimable: listing.rewards_accrued + if stale { 0 } else { pending },
            claimed: listing.rewards_claimed,
            forfeited: listing.rewards_forfeited,
            stale,
            heartbeat_age_secs,
            paid: None,
            signature: None,
        }
    }
}

impl fmt::Display for RewardsView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(signature) = &self.signature {
            writeln!(f, "transaction {signature}")?;
        }
        if let Some(paid) = self.paid {
            writeln!(f, "paid {} to {}'s IO account", format_io(paid), self.owner)?;
        }
        writeln!(f, "rewards of listing {}", self.listing)?;
        writeln!(f, "  claimable  {}", format_io(self.claimable))?;
        if self.stale && self.pending > 0 {
            writeln!(
                f,
                "  at risk    {} earned since the last settlement is forfeited: \
                 the worker has been silent for {}",
                format_io(self.pending),
                age(self.heartbeat_age_secs)
            )?;
        }
        writeln!(f, "  claimed    {}", format_io(self.claimed))?;
        write!(f, "  forfeited  {}", format_io(self.forfeited))
    }
}

pub async fn execute(
    args: &RewardsArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    match &args.command {
        RewardsCommand::Show { listing } => {
            let state = read_listing(rpc, listing).await?;
            let chain = chain_now(rpc).await?;
            print(output, &RewardsView::new(listing, &state, &chain))
        }
        RewardsCommand::Claim { listing } => {
            let signer = load_keypair(keypair)?;
            let owner = signer.pubkey();
            let state = read_listing(rpc, listing).await?;
            ensure!(
                state.owner == owner,
                "listing {listing} belongs to {}; you are {owner} (pass its owner's --keypair)",
                state.owner
            );
            let chain = chain_now(rpc).await?;
            let before = RewardsView::new(listing, &state, &chain);
            ensure!(
                before.claimable > 0,
                "listing {listing} has no rewards to claim yet{}",
                if before.stale {
                    format!(
                        " (its worker has been silent for {}: a silent listing earns nothing)",
                        age(before.heartbeat_age_secs)
                    )
                } else {
                    String::new()
                }
            );
            let balance_before = io_balance(rpc, &owner).await?;
            let ixs = [
                token::create_io_account_idempotent(&owner, &owner),
                ClaimRewardsAccounts::new(owner, *listing, token::io_account_of(&owner))
                    .instruction(),
            ];
            let signature = send(rpc, &signer, &ixs, "claim the rewards").await?;
            let paid = io_balance(rpc, &owner)
                .await?
                .saturating_sub(balance_before);
            let state = read_listing(rpc, listing).await?;
            let chain = chain_now(rpc).await?;
            let view = RewardsView {
                paid: Some(paid),
                signature: Some(signature),
                ..RewardsView::new(listing, &state, &chain)
            };
            print(output, &view)
        }
    }
}

#[cfg(test)]
mod tests {
    use {super::*, bytemuck::Zeroable, iogrid_sdk::constants::IO};

    fn pool(gpus_online: u64) -> RewardPool {
        RewardPool {
            acc_reward_per_gpu: 7,
            gpus_online,
            accounted: 0,
            unallocated: 0,
            claimed: 0,
            last_update: 0,
        }
    }

    #[test]
    fn the_accumulator_splits_fresh_emission_over_online_gpus() {
        let month = emission::MONTH_SECS as i64;
        let acc = accumulator_at(&pool(4), month, 0);
        assert_eq!(
            acc,
            7 + emission::FIRST_MONTH * REWARD_PRECISION / 4,
            "a month's emission over four GPUs"
        );
        assert_eq!(accumulator_at(&pool(0), month, 0), 7, "nobody online");
        let mut caught_up = pool(4);
        caught_up.last_update = month;
        assert_eq!(accumulator_at(&caught_up, month, 0), 7, "same second");
        caught_up.accounted = emission::emitted_by(2 * month);
        assert_eq!(
            accumulator_at(&caught_up, 2 * month - 1, 0),
            7,
            "never less than what is already accounted"
        );
    }

    #[test]
    fn claimable_rewards_count_pending_only_while_the_worker_is_alive() {
        let mut listing = GpuListing::zeroed();
        listing.spec.gpu_count = 2;
        listing.status = 0; // Available
        listing.rewards_accrued = 5 * IO;
        listing.last_heartbeat = 1_000;
        let mut config = iogrid_sdk::accounts::Config::zeroed();
        config.params.heartbeat_timeout_secs = 300;
        config.rewards = pool(2);
        config.rewards.last_update = 1_000;
        config.rewards.accounted = emission::emitted_by(1_000);
        let chain = ChainNow { config, now: 1_200 };
        let view = RewardsView::new(&Address::new_unique(), &listing, &chain);
        let fresh = emission::emitted_by(1_200) - emission::emitted_by(1_000);
        // Debt 0, so the pending part is the whole accumulator's worth.
        let acc = 7 + fresh * REWARD_PRECISION / 2;
        assert_eq!(view.pending, 2 * acc / REWARD_PRECISION, "{view:?}");
        assert_eq!(view.claimable, 5 * IO + view.pending);
        assert!(!view.stale);

        let chain = ChainNow { config, now: 1_301 };
        let view = RewardsView::new(&Address::new_unique(), &listing, &chain);
        assert!(view.stale && view.pending > 0);
        assert_eq!(view.claimable, 5 * IO, "pending is forfeited at settlement");
    }
}
