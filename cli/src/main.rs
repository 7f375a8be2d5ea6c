use {
    clap::{Parser, Subcommand},
    iogrid_cli::{
        cluster,
        commands::network::{self, NetworkArgs},
        output::OutputFormat,
    },
};

/// iogrid: a decentralized GPU compute marketplace on Solana.
#[derive(Debug, Parser)]
#[command(name = "iogrid", version)]
struct Cli {
    /// Cluster: l(ocalhost), d(evnet), t(estnet), m(ainnet-beta) or a JSON-RPC
    /// URL. Defaults to the Solana CLI config, else localhost.
    #[arg(short = 'u', long = "url", global = true, env = "IOGRID_URL")]
    url: Option<String>,
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Display)]
    output: OutputFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Network parameters and state.
    Network(NetworkArgs),
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
    let rpc = cluster::rpc_client(cluster::url_or_default(cli.url.as_deref())?);
    match &cli.command {
        Command::Network(args) => network::execute(args, &rpc, cli.output).await,
    }
}
