use {
    clap::{Parser, Subcommand},
    iogrid_cli::{
        cluster,
        commands::{
            balance::{self, BalanceArgs},
            gov::{self, GovArgs},
            localnet::{self, LocalnetArgs},
            market::{self, JobArgs, JobsArgs, ListingArgs, ListingsArgs},
            network::{self, NetworkArgs},
            rewards::{self, RewardsArgs},
            stake::{self, StakeArgs},
            worker::{self, WorkerArgs},
        },
        output::OutputFormat,
    },
    std::path::PathBuf,
};

/// iogrid: a decentralized GPU compute marketplace on Solana.
#[derive(Debug, Parser)]
#[command(name = "iogrid", version)]
struct Cli {
    /// Cluster: l(ocalhost), d(evnet), t(estnet), m(ainnet-beta) or a JSON-RPC
    /// URL. Defaults to the Solana CLI config, else localhost.
    #[arg(short = 'u', long = "url", global = true, env = "IOGRID_URL")]
    url: Option<String>,
    /// Signer keypair file. Defaults to the Solana CLI config's, else
    /// ~/.config/solana/id.json.
    #[arg(short = 'k', long, global = true, env = "IOGRID_KEYPAIR")]
    keypair: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Display)]
    output: OutputFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Network parameters and state.
    Network(NetworkArgs),
    /// Stake IO, unbond and withdraw it.
    Stake(StakeArgs),
    /// Suppliers: list GPUs, show, update or delist a listing.
    Listing(ListingArgs),
    /// ML engineers: escrow a job, show it, cancel, approve or dispute it.
    Job(JobArgs),
    /// Every listing on the network, as a table or JSON.
    Listings(ListingsArgs),
    /// Every job on the network, as a table or JSON.
    Jobs(JobsArgs),
    /// Suppliers: a listing's emission rewards; claim them.
    Rewards(RewardsArgs),
    /// Governance: propose, vote, finalize, execute, hand over.
    Gov(GovArgs),
    /// Run a local validator with the iogrid network initialized and funded.
    Localnet(LocalnetArgs),
    /// A wallet's SOL and IO.
    Balance(BalanceArgs),
    /// Suppliers: the worker node agent (heartbeats, runs jobs, proves them).
    Worker(WorkerArgs),
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(err) = run(cli).await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let rpc = || -> anyhow::Result<_> {
        Ok(cluster::rpc_client(cluster::url_or_default(
            cli.url.as_deref(),
        )?))
    };
    match &cli.command {
        Command::Network(args) => {
            network::execute(args, &rpc()?, cli.output, cli.keypair.as_deref()).await
        }
        Command::Stake(args) => {
            stake::execute(args, &rpc()?, cli.output, cli.keypair.as_deref()).await
        }
        Command::Listing(args) => {
            market::execute_listing(args, &rpc()?, cli.output, cli.keypair.as_deref()).await
        }
        Command::Job(args) => {
            market::execute_job(args, &rpc()?, cli.output, cli.keypair.as_deref()).await
        }
        Command::Listings(args) => market::execute_listings(args, &rpc()?, cli.output).await,
        Command::Jobs(args) => market::execute_jobs(args, &rpc()?, cli.output).await,
        Command::Rewards(args) => {
            rewards::execute(args, &rpc()?, cli.output, cli.keypair.as_deref()).await
        }
        Command::Gov(args) => gov::execute(args, &rpc()?, cli.output, cli.keypair.as_deref()).await,
        Command::Balance(args) => {
            balance::execute(args, &rpc()?, cli.output, cli.keypair.as_deref()).await
        }
        Command::Worker(args) => worker::execute(args, &rpc()?, cli.output).await,
        // It starts its own cluster.
        Command::Localnet(args) => localnet::execute(args, cli.output).await,
    }
}
