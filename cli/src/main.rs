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
            job::{self, JobArgs, JobsArgs},
            listing::{self, ListingArgs, ListingsArgs},
            localnet::{self, LocalnetArgs},
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
    /// Signer: a keypair file, `prompt:` (seed phrase typed at the
    /// terminal) or `stdin:` (keypair JSON on standard input). Defaults to
    /// the Solana CLI config's, else ~/.config/solana/id.json.
    #[arg(short = 'k', long, global = true, env = "IOGRID_KEYPAIR")]
    keypair: Option<PathBuf>,
    /// Keypair file that pays transaction fees instead of the signer.
    #[arg(long, global = true, value_name = "KEYPAIR")]
    fee_payer: Option<PathBuf>,
    /// Priority fee: micro-lamports per compute unit added to each
    /// transaction.
    #[arg(
        long,
        global = true,
        value_name = "MICRO_LAMPORTS",
        default_value_t = 0
    )]
    with_compute_unit_price: u64,
    /// Answer yes to confirmations before irreversible actions (scripts).
    #[arg(short = 'y', long, global = true)]
    yes: bool,
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
    iogrid_cli::tx::configure(iogrid_cli::tx::TxSettings {
        fee_payer: cli
            .fee_payer
            .as_deref()
            .map(|path| iogrid_cli::keys::load_keypair(Some(path)))
            .transpose()?,
        compute_unit_price: cli.with_compute_unit_price,
        yes: cli.yes,
    });
    let rpc = || cli.common.rpc();
    let output = cli.common.output;
    match &cli.command {
        Command::Network(args) => {
            network::execute(args, &rpc()?, output, cli.keypair.as_deref()).await
        }
        Command::Stake(args) => stake::execute(args, &rpc()?, output, cli.keypair.as_deref()).await,
        Command::Listing(args) => {
            listing::execute_listing(args, &rpc()?, output, cli.keypair.as_deref()).await
        }
        Command::Job(args) => job::execute_job(args, &rpc()?, output, cli.keypair.as_deref()).await,
        Command::Listings(args) => listing::execute_listings(args, &rpc()?, output).await,
        Command::Jobs(args) => job::execute_jobs(args, &rpc()?, output).await,
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

#[cfg(test)]
mod tests {
    use {super::*, clap::CommandFactory};

    /// Every flag and argument of every subcommand, `--help` aside, says what it is.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "iogrid", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }
}
