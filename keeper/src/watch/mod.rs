//! Observing the chain. The keeper needs two things from a source: a full
//! read (Config, every listing, every job, and the slot it vouches for) and
//! a stream of account updates in between. [`WatchSource`] is that
//! contract; [`RpcSource`] fills it with `getProgramAccounts` and the
//! `programSubscribe` websocket (`iogrid_node::watch`, shared with the
//! worker). Either path may fail at any time; each retries with backoff, and
//! a stream that comes back asks for a resync so nothing missed while it
//! was down is lost.
//!
//! At a million listings a full read is ≈ 256 MB, too much to repeat on
//! each reconnect and more than a public RPC node serves. A Geyser source
//! (Yellowstone gRPC, filtered to the program's owner) implements the same
//! trait: `snapshot` from the keeper's last checkpoint plus the stream's
//! replay from its slot, `follow` from the gRPC account stream, resuming
//! from a slot after a disconnect (`Connected { again: false }` when the
//! replay covered the gap, so no full read follows). Nothing else in the
//! keeper changes: the state already orders every write by slot.

use {
    crate::{state::Snapshot, Shared},
    iogrid_node::{
        backoff,
        watch::{follow_program, ProgramEvent},
        Shutdown,
    },
    iogrid_sdk::{
        accounts::{Config, GpuListing, Job, ProgramAccount},
        rpc::{program_accounts, NonblockingRpcClient as RpcClient, RpcReadError},
    },
    std::{future::Future, sync::Arc, time::Duration},
    tracing::{debug, info, warn},
};

/// Where the keeper's picture of the chain comes from.
pub trait WatchSource: Send + Sync + 'static {
    /// Config, every listing and every job, with the slot they vouch for.
    fn snapshot(&self) -> impl Future<Output = Result<Snapshot, RpcReadError>> + Send;

    /// Account updates until `shutdown`, reconnecting by itself; reports
    /// `Connected { again: true }` when updates may have been missed.
    fn follow(
        &self,
        shutdown: &Shutdown,
        on_event: impl FnMut(ProgramEvent) + Send,
    ) -> impl Future<Output = ()> + Send;
}

/// JSON-RPC for full reads, the RPC node's websocket for updates.
pub struct RpcSource {
    pub rpc: Arc<RpcClient>,
    pub ws_url: String,
}

impl WatchSource for RpcSource {
    async fn snapshot(&self) -> Result<Snapshot, RpcReadError> {
        snapshot(&self.rpc).await
    }

    async fn follow(&self, shutdown: &Shutdown, on_event: impl FnMut(ProgramEvent) + Send) {
        follow_program(
            &self.ws_url,
            None,
            Duration::from_millis(250),
            shutdown,
            on_event,
        )
        .await;
    }
}

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
pub async fn run_resync<S: WatchSource>(
    shared: Arc<Shared>,
    source: Arc<S>,
    interval: Duration,
    shutdown: Shutdown,
) {
    let mut failures = 0u32;
    loop {
        let wait = match source.snapshot().await {
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

/// Follows the source's updates; each reconnect that may have missed some
/// triggers a resync.
pub async fn run_subscription<S: WatchSource>(
    shared: Arc<Shared>,
    source: Arc<S>,
    shutdown: Shutdown,
) {
    let on_event = |event: ProgramEvent| match event {
        ProgramEvent::Connected { again } => {
            shared.set_ws_connected(true);
            if again {
                shared.metrics.ws_reconnects.inc();
                info!("websocket resubscribed; resyncing what was missed");
                shared.resync.notify_one();
            }
        }
        ProgramEvent::Disconnected { error } => {
            shared.set_ws_connected(false);
            match error {
                None => warn!("websocket closed; reconnecting"),
                Some(error) => warn!(%error, "websocket failed; reconnecting"),
            }
        }
        ProgramEvent::Update {
            address,
            data,
            slot,
            closed,
        } => {
            let change = {
                let mut state = shared.state.lock().unwrap();
                if closed {
                    state.remove(address, slot)
                } else {
                    state.apply(address, &data, slot)
                }
            };
            debug!(%address, slot, ?change, "account update");
            shared.wake.notify_one();
        }
    };
    source.follow(&shutdown, on_event).await;
}
