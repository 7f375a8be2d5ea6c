//! `iogrid-gateway`: OpenAI's inference API (`/v1/models`,
//! `/v1/chat/completions` with streaming, `/v1/embeddings`) in front of the
//! model servers that suppliers' workers run. API keys are bound to wallets
//! by a signed request; each wallet gets a free daily token quota from its
//! staked IO at the governed rate. The gateway holds no key that can move
//! anyone's IO.

pub mod api;
pub mod error;
pub mod metrics;
pub mod proxy;
pub mod quota;
pub mod store;
pub mod workers;

use {
    crate::{
        error::ApiError, metrics::Metrics, proxy::Caller, quota::Quotas, store::Store,
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
}

pub struct Gateway {
    pub audience: String,
    pub rpc: RpcClient,
    pub store: Store,
    pub quotas: Quotas,
    pub workers: Registry,
    pub http: reqwest::Client,
    pub metrics: Metrics,
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

    pub fn record_usage(&self, caller: &Caller, tokens: u64) {
        if tokens > 0 {
            self.metrics.tokens.inc_by(tokens);
            self.store
                .add_usage(&caller.wallet.to_string(), tokens, unix_now());
        }
    }
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
    let app = api::router(gateway.clone());
    let stop = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.wait().await })
        .await
        .context("serving the API")?;
    shutdown.trigger();
    let _ = flusher.await;
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
