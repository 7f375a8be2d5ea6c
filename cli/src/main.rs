use {
    clap::{Parser, Subcommand},
    iogrid_cli::{
        app::{exit_on_error, CommonArgs},
        commands::{
            ai::{self, AiArgs},
            balance::{self, BalanceArgs},
            console::{self, ConsoleArgs},
            credit::{self, CreditArgs},
            gov::{self, GovArgs},
            localnet::{self, LocalnetArgs},
            market::{self, JobArgs, JobsArgs, ListingArgs, ListingsArgs},
            network::{self, NetworkArgs},
            rewards::{self, RewardsArgs},
            stake::{self, StakeArgs},
        },
    },
    std::path::PathBuf,
};

/// iogrid: a decentralized GPU compute marketplace on Solana.
#[derive(Debug, Parser)]
#[command(name = "iogrid", version)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// Signer keypair file. Defaults to the Solana CLI config's, else
    /// ~/.config/solana/id.json.
    #[arg(short = 'k', long, global = true, env = "IOGRID_KEYPAIR")]
    keypair: Option<PathBuf>,
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
    /// Inference: API keys, models, chat and quota on an iogrid gateway.
    Ai(AiArgs),
    /// Inference: your prepaid IO credit on-chain (open, deposit, withdraw).
    Credit(CreditArgs),
    /// Serve the web console (wallets sign in the browser) for this cluster.
    Console(ConsoleArgs),
}

#[tokio::main]
async fn main() {
    exit_on_error(run(Cli::parse()).await);
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let rpc = || cli.common.rpc();
    let output = cli.common.output;
    match &cli.command {
        Command::Network(args) => {
            network::execute(args, &rpc()?, output, cli.keypair.as_deref()).await
        }
        Command::Stake(args) => stake::execute(args, &rpc()?, output, cli.keypair.as_deref()).await,
        Command::Listing(args) => {
            market::execute_listing(args, &rpc()?, output, cli.keypair.as_deref()).await
        }
        Command::Job(args) => {
            market::execute_job(args, &rpc()?, output, cli.keypair.as_deref()).await
        }
        Command::Listings(args) => market::execute_listings(args, &rpc()?, output).await,
        Command::Jobs(args) => market::execute_jobs(args, &rpc()?, output).await,
        Command::Rewards(args) => {
            rewards::execute(args, &rpc()?, output, cli.keypair.as_deref()).await
        }
        Command::Gov(args) => gov::execute(args, &rpc()?, output, cli.keypair.as_deref()).await,
        Command::Credit(args) => {
            credit::execute(args, &rpc()?, output, cli.keypair.as_deref()).await
        }
        Command::Balance(args) => {
            balance::execute(args, &rpc()?, output, cli.keypair.as_deref()).await
        }
        Command::Ai(args) => ai::execute(args, &rpc()?, output, cli.keypair.as_deref()).await,
        Command::Console(args) => {
            let url = iogrid_cli::cluster::url_or_default(cli.common.url.as_deref())?;
            console::execute(args, &url).await
        }
        // It starts its own cluster.
        Command::Localnet(args) => localnet::execute(args, output).await,
    }
}
