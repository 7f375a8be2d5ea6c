//! Observing the chain: a `getProgramAccounts` snapshot at start and every
//! resync interval, and a `programSubscribe` websocket in between. Either
//! path may fail at any time; each retries with backoff, and a websocket that
//! comes back asks for a resync so nothing missed while it was down is lost.

use {
    crate::{
        state::{ChainState, Snapshot},
        Shared,
    },
    futures_util::StreamExt,
    iogrid_node::{backoff, Shutdown},
    iogrid_sdk::{
        accounts::{Config, GpuListing, Job, ProgramAccount},
        rpc::{program_accounts, NonblockingRpcClient as RpcClient, RpcReadError},
        PROGRAM_ID,
    },
    solana_account_decoder_client_types::UiAccountEncoding,
    solana_pubsub_client::nonblocking::pubsub_client::PubsubClient,
    solana_rpc_client_api::config::{RpcAccountInfoConfig, RpcProgramAccountsConfig},
    std::{sync::Arc, time::Duration},
    tracing::{debug, info, warn},
};

/// Longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Doubles `base` per consecutive failure, up to [`MAX_BACKOFF`], with up to
/// 25% jitter so several keepers do not retry in lockstep.
pub fn backoff(base: Duration, failures: u32) -> Duration {
    backoff::jittered(backoff::backoff(base, failures, MAX_BACKOFF))
}

/// Config, every listing and every job, read with three calls.
pub async fn snapshot(rpc: &RpcClient) -> Result<Snapshot, RpcReadError> {
    let config = program_accounts(rpc, Config::DISCRIMINATOR).await?;
    let listings = program_accounts(rpc, GpuListing::DISCRIMINATOR).await?;
    let jobs = program_accounts(rpc, Job::DISCRIMINATOR).await?;
    // The oldest of the three reads is the slot the whole snapshot vouches for.
    let slot = config.slot.min(listings.slot).min(jobs.slot);
    let mut accounts = listings.accounts;
    accounts.extend(jobs.accounts);
    Ok(Snapshot {
        slot,
        config: config.accounts.into_iter().next().map(|(_, data)| data),
        accounts,
    })
}

/// Resyncs at start, every `interval`, and whenever asked (`shared.resync`).
pub async fn run_resync(
    shared: Arc<Shared>,
    rpc: Arc<RpcClient>,
    interval: Duration,
    shutdown: Shutdown,
) {
    let mut failures = 0u32;
    loop {
        let wait = match snapshot(&rpc).await {
            Ok(snapshot) => {
                failures = 0;
                let (listings, jobs) = {
                    let mut state = shared.state.lock().unwrap();
                    state.resync(&snapshot);
                    (state.listings.len(), state.jobs.len())
                };
                shared.synced(snapshot.slot);
                shared.metrics.resyncs.inc();
                debug!(slot = snapshot.slot, listings, jobs, "resynced");
                shared.wake.notify_one();
                interval
            }
            Err(err) => {
                failures += 1;
                shared.metrics.rpc_errors.inc();
                let wait = backoff(Duration::from_millis(500), failures);
                warn!(error = %err, failures, retry_in = ?wait, "snapshot failed");
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.resync.notified() => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Follows `programSubscribe`, reconnecting with backoff when the socket
/// drops; each reconnect triggers a resync for what was missed.
pub async fn run_subscription(shared: Arc<Shared>, ws_url: String, shutdown: Shutdown) {
    let mut failures = 0u32;
    let mut connected_before = false;
    loop {
        let ended = tokio::select! {
            ended = follow(&shared, &ws_url, &mut connected_before) => ended,
            _ = shutdown.wait() => return,
        };
        shared.set_ws_connected(false);
        match ended {
            Ok(()) => {
                failures = 0;
                warn!("websocket closed; reconnecting");
            }
            Err(err) => {
                failures += 1;
                warn!(error = %err, failures, "websocket failed; reconnecting");
            }
        }
        let wait = backoff(Duration::from_millis(250), failures);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// One websocket session: subscribe, then apply notifications until the
/// stream ends.
async fn follow(shared: &Shared, ws_url: &str, connected_before: &mut bool) -> anyhow::Result<()> {
    let client = PubsubClient::new(ws_url).await?;
    let config = RpcProgramAccountsConfig {
        account_config: RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            commitment: Some(solana_commitment_config::CommitmentConfig::confirmed()),
            ..RpcAccountInfoConfig::default()
        },
        ..RpcProgramAccountsConfig::default()
    };
    let (mut updates, unsubscribe) = client.program_subscribe(&PROGRAM_ID, Some(config)).await?;
    shared.set_ws_connected(true);
    if *connected_before {
        shared.metrics.ws_reconnects.inc();
        info!("websocket resubscribed; resyncing what was missed");
        shared.resync.notify_one();
    }
    *connected_before = true;
    while let Some(update) = updates.next().await {
        let slot = update.context.slot;
        let Ok(address) = update.value.pubkey.parse() else {
            continue;
        };
        let data = update.value.account.data.decode().unwrap_or_default();
        let change = shared.state.lock().unwrap().apply_update(
            address,
            &data,
            slot,
            &update.value.account.owner,
        );
        debug!(%address, slot, ?change, "account update");
        shared.wake.notify_one();
    }
    // The socket is gone: nothing to unsubscribe from.
    drop((updates, unsubscribe));
    client.shutdown().await?;
    Ok(())
}

impl ChainState {
    /// A websocket update: an account no longer owned by the program (or
    /// emptied) is a closed one.
    pub fn apply_update(
        &mut self,
        address: iogrid_sdk::Address,
        data: &[u8],
        slot: u64,
        owner: &str,
    ) -> crate::state::Change {
        if owner != PROGRAM_ID.to_string() || data.is_empty() {
            return self.remove(address, slot);
        }
        self.apply(address, data, slot)
    }
}
