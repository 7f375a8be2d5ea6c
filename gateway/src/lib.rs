//! `iogrid-gateway`: OpenAI's inference API (`/v1/models`,
//! `/v1/chat/completions` with streaming, `/v1/embeddings`) in front of the
//! model servers that suppliers' workers run. API keys are bound to wallets
//! by a signed request; each wallet gets a free daily token quota from its
//! staked IO at the governed rate; beyond it, the wallet's prepaid credit
//! pays per token, through worker-signed receipts the gateway settles
//! on-chain (`credits`). The gateway's one key can only settle receipts
//! against credits whose owners named it; it cannot move IO anywhere else.

pub mod api;
pub mod credits;
pub mod error;
pub mod metrics;
pub mod proxy;
pub mod quota;
pub mod store;
pub mod workers;

use {
    crate::{
        credits::Credits,
        error::ApiError,
        metrics::Metrics,
        proxy::{Billing, Caller},
        quota::Quotas,
        store::Store,
        workers::Registry,
    },
    anyhow::{Context, Result},
    iogrid_node::Shutdown,
    iogrid_sdk::{
        gateway::{audience_of, Allowance},
        Address,
    },
    solana_commitment_config::CommitmentConfig,
    solana_rpc_client::nonblocking::rpc_client::RpcClient,
    std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration},
    tracing::{info, warn},
};

/// How the gateway runs (the binary's flags).
#[derive(Clone, Debug)]
pub struct Settings {
    pub rpc_url: String,
    pub listen: SocketAddr,
    /// The origin clients reach the gateway at; signed requests name it.
    pub public_url: String,
    pub state_dir: PathBuf,
    /// How long a read stake or rate is used before it is read again.
    pub stake_refresh: Duration,
    /// A worker that has not registered again for this long gets no traffic.
    pub worker_ttl: Duration,
    /// Longest wait for a worker's (non-streamed) answer.
    pub request_timeout: Duration,
    /// The key wallets' credits name for this gateway to charge paid usage
    /// and settle receipts (it pays the settlement fees); none: free quota only.
    pub settlement_keypair: Option<PathBuf>,
    /// How often due receipts are settled.
    pub settle_every: Duration,
}

pub struct Gateway {
    pub audience: String,
    pub rpc: RpcClient,
    pub store: Store,
    pub quotas: Quotas,
    pub workers: Registry,
    pub http: reqwest::Client,
    pub metrics: Metrics,
    /// Paid usage, when the gateway has a settlement key.
    pub credits: Option<Credits>,
}

/// Seconds since the Unix epoch by this machine's clock: key expiry, the
/// freshness of signed requests and the UTC day of quotas use it.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

impl Gateway {
    pub fn new(settings: &Settings) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .read_timeout(settings.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            audience: audience_of(&settings.public_url),
            rpc: RpcClient::new_with_commitment(
                settings.rpc_url.clone(),
                CommitmentConfig::confirmed(),
            ),
            store: Store::open(&settings.state_dir)?,
            quotas: Quotas::new(settings.stake_refresh),
            workers: Registry::new(settings.worker_ttl),
            http,
            metrics: Metrics::new(),
            credits: settlement_key(settings)?.map(|key| Credits::new(key, settings.stake_refresh)),
        })
    }

    pub async fn allowance(&self, wallet: &Address, now: i64) -> Result<Allowance, ApiError> {
        self.quotas
            .allowance(&self.rpc, &self.store, wallet, now)
            .await
            .map_err(|err| ApiError::internal(format!("cannot read the wallet's stake: {err}")))
    }

    /// A worker could not serve a request: it is benched (see `workers`).
    pub fn worker_failed(&self, listing: &Address) {
        self.metrics.worker_failures.inc();
        self.workers.failed(listing);
    }

    /// Counts a request's tokens against the free quota, or charges them
    /// to the credit that paid.
    pub fn record_usage(&self, caller: &Caller, billing: Billing, tokens: u64) {
        if let Billing::Paid {
            credit,
            listing,
            price_per_mtok,
        } = billing
        {
            if let Some(credits) = &self.credits {
                credits.charge(&credit, &listing, tokens, price_per_mtok);
            }
            self.metrics.paid_tokens.inc_by(tokens);
            return;
        }
        if tokens > 0 {
            self.metrics.tokens.inc_by(tokens);
            self.store
                .add_usage(&caller.wallet.to_string(), tokens, unix_now());
        }
    }
}

fn settlement_key(settings: &Settings) -> Result<Option<solana_keypair::Keypair>> {
    settings
        .settlement_keypair
        .as_ref()
        .map(|path| {
            solana_keypair::read_keypair_file(path).map_err(|err| {
                anyhow::anyhow!(
                    "cannot read the settlement keypair {}: {err}",
                    path.display()
                )
            })
        })
        .transpose()
}

/// Serves until `shutdown`; usage is written every second and at the end.
pub async fn run(settings: Settings, shutdown: Shutdown) -> Result<()> {
    let gateway = Arc::new(Gateway::new(&settings)?);
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    info!(
        "gateway listening on http://{} (audience {}), chain {}",
        listener.local_addr()?,
        gateway.audience,
        settings.rpc_url
    );
    let flusher = tokio::spawn(flush_usage(gateway.clone(), shutdown.clone()));
    let settler = tokio::spawn(settle_receipts(
        gateway.clone(),
        settings.settle_every,
        shutdown.clone(),
    ));
    let app = api::router(gateway.clone());
    let stop = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.wait().await })
        .await
        .context("serving the API")?;
    shutdown.trigger();
    let _ = flusher.await;
    let _ = settler.await;
    gateway.store.flush()
}

async fn flush_usage(gateway: Arc<Gateway>, shutdown: Shutdown) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    while !shutdown.is_triggered() {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait() => {}
        }
        if let Err(err) = gateway.store.flush() {
            warn!("cannot write usage: {err:#}");
        }
    }
}

/// Settles the workers' receipts every `every` (and once more at shutdown).
async fn settle_receipts(gateway: Arc<Gateway>, every: Duration, shutdown: Shutdown) {
    let Some(credits) = &gateway.credits else {
        return;
    };
    info!("settling paid usage with key {}", credits.key());
    let mut tick = tokio::time::interval(every);
    while !shutdown.is_triggered() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => {}
        }
        let settled = credits.settle_due(&gateway.rpc).await;
        gateway
            .metrics
            .receipts_settled
            .inc_by(settled.receipts as u64);
        gateway
            .metrics
            .receipts_dropped
            .inc_by(settled.dropped as u64);
        gateway.metrics.settled_base_units.inc_by(settled.charged);
    }
}
