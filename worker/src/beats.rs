//! `iogrid-worker heartbeats`: one process sends the liveness of every
//! listing a worker key serves, in batches (`heartbeat_many`), instead of
//! one transaction per listing per interval. A rack of eight one-GPU
//! listings then costs one transaction an interval, not eight
//! (docs/scale.md works out what that means at a million GPUs).
//!
//! Each round reads the key's listings from the chain (one filtered
//! `getProgramAccounts`), so listings added, taken offline or delisted are
//! followed without a restart. The agents serving those listings run with
//! `run --pooled-heartbeats` so they do not beat as well.

use {
    anyhow::{anyhow, Context, Result},
    clap::Args,
    iogrid_cli::output::{print, OutputFormat},
    iogrid_node::{backoff::backoff, Shutdown},
    iogrid_sdk::{
        accounts::GpuListing,
        constants::MAX_HEARTBEAT_BATCH,
        instructions::HeartbeatManyAccounts,
        rpc::{config_if_initialized, listings_of_worker, NonblockingRpcClient as RpcClient},
        send::{send_and_confirm, transaction_size, SendOptions, PACKET_DATA_SIZE},
        Address,
    },
    serde::Serialize,
    solana_keypair::{read_keypair_file, Keypair},
    solana_signer::Signer,
    std::{fmt, path::PathBuf, time::Duration},
    tracing::{info, warn},
};

/// Listings per transaction when none is asked for: what fits one packet
/// without an address lookup table, with room for a priority-fee instruction.
pub const DEFAULT_BATCH: u16 = 24;

#[derive(Debug, Args)]
pub struct HeartbeatsArgs {
    /// The worker key the listings share. It signs and pays for every batch.
    #[arg(long)]
    pub worker_keypair: PathBuf,
    /// Listings per transaction (1–24 fit one packet).
    #[arg(
        long,
        default_value_t = DEFAULT_BATCH,
        value_parser = clap::value_parser!(u16).range(1..=MAX_HEARTBEAT_BATCH as i64)
    )]
    pub batch: u16,
    /// Send one round, print what it recorded, and exit.
    #[arg(long)]
    pub once: bool,
}

/// What one round recorded.
#[derive(Debug, Default, Serialize)]
pub struct Round {
    pub worker: String,
    /// Online listings of this key.
    pub listings: usize,
    /// Listings whose heartbeat landed.
    pub recorded: usize,
    pub transactions: usize,
    /// Batches the program refused (listed again next round).
    pub failed: usize,
    /// Listings of this key that are offline: the program refuses their beats.
    pub offline: usize,
}

impl fmt::Display for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} listings recorded in {} transaction(s), {} failed, {} offline (worker {})",
            self.recorded, self.listings, self.transactions, self.failed, self.offline, self.worker
        )
    }
}

pub async fn execute(args: &HeartbeatsArgs, rpc: &RpcClient, output: OutputFormat) -> Result<()> {
    let worker = read_keypair_file(&args.worker_keypair).map_err(|e| {
        anyhow!(
            "cannot read the worker keypair {}: {e}",
            args.worker_keypair.display()
        )
    })?;
    let config = config_if_initialized(rpc)
        .await?
        .ok_or_else(|| anyhow!("the iogrid network is not initialized on {}", rpc.url()))?;
    let batch = usize::from(args.batch);
    if args.once {
        let round = beat_round(rpc, &worker, batch).await?;
        return print(output, &round);
    }
    let interval = Duration::from_secs(config.params.heartbeat_interval_secs.max(1).into());
    let shutdown = Shutdown::new();
    shutdown
        .on_signals()
        .context("installing signal handlers")?;
    info!(
        "heartbeating every listing of worker {} every {} s, {batch} per transaction",
        worker.pubkey(),
        interval.as_secs()
    );
    run_rounds(rpc, &worker, batch, interval, &shutdown).await;
    Ok(())
}

/// Rounds until shutdown. A round that fails entirely (the RPC node is
/// down) is retried sooner, backing off up to the interval.
async fn run_rounds(
    rpc: &RpcClient,
    worker: &Keypair,
    batch: usize,
    interval: Duration,
    shutdown: &Shutdown,
) {
    let mut failures = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        let wait = match beat_round(rpc, worker, batch).await {
            Ok(round) if round.failed == 0 => {
                failures = 0;
                info!("{round}");
                interval
            }
            Ok(round) => {
                failures = failures.saturating_add(1);
                warn!("{round}");
                backoff(Duration::from_millis(500), failures, interval)
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                warn!("heartbeat round failed ({failures} in a row): {err:#}");
                backoff(Duration::from_millis(500), failures, interval)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(started + wait) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Reads the key's listings and sends their batches at once.
pub async fn beat_round(rpc: &RpcClient, worker: &Keypair, batch: usize) -> Result<Round> {
    let listings = listings_of_worker(rpc, &worker.pubkey())
        .await
        .context("reading this worker key's listings")?;
    let (online, offline) = online_listings(&listings);
    let accounts = HeartbeatManyAccounts::new(worker.pubkey());
    let sends = batches(&online, batch).into_iter().map(|chunk| {
        let ix = accounts.instruction(chunk);
        async move {
            let sent = send_and_confirm(rpc, &[ix], &[worker], &SendOptions::default()).await;
            (chunk.len(), sent)
        }
    });
    let mut round = Round {
        worker: worker.pubkey().to_string(),
        listings: online.len(),
        offline,
        ..Round::default()
    };
    for (count, sent) in futures_util::future::join_all(sends).await {
        round.transactions += 1;
        match sent {
            Ok(_) => round.recorded += count,
            Err(err) => {
                round.failed += 1;
                warn!("a batch of {count} heartbeats failed: {err}");
            }
        }
    }
    Ok(round)
}

/// The online listings, ascending (the program's order), and how many are
/// offline.
fn online_listings(listings: &[(Address, GpuListing)]) -> (Vec<Address>, usize) {
    let mut online: Vec<Address> = listings
        .iter()
        .filter(|(_, l)| l.is_online())
        .map(|(a, _)| *a)
        .collect();
    online.sort_unstable();
    let offline = listings.len() - online.len();
    (online, offline)
}

/// `listings` cut into batches of at most `size` that each fit one packet.
pub fn batches(listings: &[Address], size: usize) -> Vec<&[Address]> {
    listings
        .chunks(size.clamp(1, MAX_HEARTBEAT_BATCH))
        .collect()
}

/// Whether a batch of `count` listings fits one packet (legacy message, one
/// signature), for `--batch` advice and the tests.
pub fn fits_one_packet(count: usize) -> bool {
    let listings: Vec<Address> = (0..count).map(|_| Address::new_unique()).collect();
    let worker = Address::new_unique();
    let ix = HeartbeatManyAccounts::new(worker).instruction(&listings);
    transaction_size(&[ix], &worker, &SendOptions::default()) <= PACKET_DATA_SIZE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_batch_fits_one_packet() {
        assert!(fits_one_packet(usize::from(DEFAULT_BATCH)));
        // With room for a compute-budget instruction or two.
        assert!(fits_one_packet(usize::from(DEFAULT_BATCH) + 4));
        assert!(!fits_one_packet(MAX_HEARTBEAT_BATCH));
    }

    #[test]
    fn batches_cover_every_listing_once() {
        let listings: Vec<Address> = (0..50).map(|_| Address::new_unique()).collect();
        let cut = batches(&listings, 24);
        assert_eq!(cut.iter().map(|b| b.len()).collect::<Vec<_>>(), [24, 24, 2]);
        assert_eq!(cut.concat(), listings);
        assert_eq!(
            batches(&listings, 0).len(),
            50,
            "a zero size means one each"
        );
    }
}
