//! The iogrid keeper. This first increment watches the network: each tick it
//! reads Config, the IO supply and the vault balances over JSON-RPC and logs
//! them, backing off on RPC errors, until SIGINT/SIGTERM. Matching, fault
//! reporting and proof relaying grow on this loop as the program gains the
//! instructions they call.

use {
    anyhow::Result,
    clap::Parser,
    iogrid_sdk::{constants::format_io, rpc::network_state},
    solana_commitment_config::CommitmentConfig,
    solana_rpc_client::nonblocking::rpc_client::RpcClient,
    std::time::Duration,
    tokio::signal::unix::{signal, SignalKind},
    tracing::{info, warn},
};

#[derive(Debug, Parser)]
#[command(name = "iogrid-keeper", version)]
struct Args {
    /// JSON-RPC URL of the cluster.
    #[arg(
        short = 'u',
        long,
        env = "IOGRID__RPC__URL",
        default_value = "http://127.0.0.1:8899"
    )]
    url: String,
    /// Time between reads of the network state.
    #[arg(long, env = "IOGRID__KEEPER__INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Stop after this many successful ticks (0 = run until signalled).
    #[arg(long, default_value_t = 0)]
    ticks: u64,
}

/// Longest wait between retries after consecutive RPC failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let rpc = RpcClient::new_with_commitment(args.url.clone(), CommitmentConfig::confirmed());
    info!(url = %args.url, interval = ?args.interval, "keeper starting");
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut ticks = 0u64;
    let mut failures = 0u32;
    loop {
        let wait = match watch_once(&rpc).await {
            Ok(()) => {
                failures = 0;
                ticks += 1;
                if args.ticks != 0 && ticks >= args.ticks {
                    break;
                }
                args.interval
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                let backoff = backoff(args.interval, failures);
                warn!(error = %err, failures, retry_in = ?backoff, "reading the network failed");
                backoff
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    info!(ticks, "keeper stopped");
    Ok(())
}

async fn watch_once(rpc: &RpcClient) -> Result<()> {
    let state = network_state(rpc).await?;
    let config = &state.config;
    info!(
        supply = %format_io(state.supply),
        emitted = %format_io(config.emitted),
        staked = %format_io(state.staked_balance),
        treasury = %format_io(state.treasury_balance),
        keepers = config.active_keepers().len(),
        paused = config.is_paused(),
        "network"
    );
    Ok(())
}

/// Doubles the wait per consecutive failure, up to [`MAX_BACKOFF`].
fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1u32 << failures.min(16))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(base, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, 3), Duration::from_secs(8));
        assert_eq!(backoff(base, 30), MAX_BACKOFF);
    }
}
