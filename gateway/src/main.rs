//! `iogrid-gateway`: see the crate docs; `--help` for the flags.

use {
    clap::Parser,
    iogrid_gateway::{run, Settings},
    iogrid_node::Shutdown,
    std::{net::SocketAddr, path::PathBuf, time::Duration},
};

#[derive(Debug, Parser)]
#[command(
    name = "iogrid-gateway",
    version,
    about = "OpenAI-compatible inference in front of iogrid workers, gated by staked IO"
)]
struct Args {
    /// JSON-RPC URL of the cluster.
    #[arg(
        short = 'u',
        long,
        env = "IOGRID_RPC_URL",
        default_value = "http://127.0.0.1:8899"
    )]
    url: String,
    /// Address to serve the API on.
    #[arg(long, env = "IOGRID_GATEWAY_LISTEN", default_value = "127.0.0.1:8790")]
    listen: SocketAddr,
    /// The URL clients use to reach this gateway (signed requests must name
    /// its origin); default `http://<listen>`.
    #[arg(long, env = "IOGRID_GATEWAY_PUBLIC_URL")]
    public_url: Option<String>,
    /// Where keys and usage are kept (default ~/.local/share/iogrid/gateway).
    #[arg(long, env = "IOGRID_GATEWAY_STATE")]
    state_dir: Option<PathBuf>,
    /// How long a wallet's stake is trusted before it is read again.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    stake_refresh: Duration,
    /// A worker that has not registered again within this gets no requests.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    worker_ttl: Duration,
    /// Longest silence from a worker while it answers.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,
    /// The key wallets name in `iogrid credit open --gateway` for this
    /// gateway to charge paid usage and settle workers' receipts (it pays
    /// the settlement fees, so it needs SOL). Without it: free quota only.
    #[arg(long, env = "IOGRID_GATEWAY_KEYPAIR")]
    keypair: Option<PathBuf>,
    /// How often workers' receipts are settled on-chain.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    settle_every: Duration,
}

#[tokio::main]
async fn main() {
    iogrid_node::logging::init();
    if let Err(err) = start(Args::parse()).await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn start(args: Args) -> anyhow::Result<()> {
    let state_dir = match args.state_dir {
        Some(dir) => dir,
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".local/share/iogrid/gateway"),
    };
    let settings = Settings {
        public_url: args
            .public_url
            .unwrap_or_else(|| format!("http://{}", args.listen)),
        rpc_url: args.url,
        listen: args.listen,
        state_dir,
        stake_refresh: args.stake_refresh,
        worker_ttl: args.worker_ttl,
        request_timeout: args.request_timeout,
        settlement_keypair: args.keypair,
        settle_every: args.settle_every,
    };
    let shutdown = Shutdown::new();
    shutdown.on_signals()?;
    run(settings, shutdown).await
}
