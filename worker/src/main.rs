//! `iogrid-worker`: the supplier's node agent. `iogrid-worker run --help`
//! for the flags.

use {
    clap::{Parser, Subcommand},
    iogrid_cli::app::{exit_on_error, CommonArgs},
    iogrid_worker::{
        agent::{self, NodeArgs, WorkerArgs},
        beats::{self, HeartbeatsArgs},
        doctor,
    },
};

/// iogrid-worker: serves one listing's assignments (heartbeats, runs each
/// workload, proves it).
#[derive(Debug, Parser)]
#[command(name = "iogrid-worker", version)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Heartbeat for a listing and serve the jobs assigned to it.
    Run(Box<WorkerArgs>),
    /// Check everything serving a listing needs (devices, Ray, container
    /// runtime, disk, cgroups, keeper, RPC, worker key and SOL, the
    /// listing's fit, the owner's stake); each failure says how to fix it.
    Doctor(NodeArgs),
    /// Heartbeat every online listing of one worker key, many per
    /// transaction (`heartbeat_many`), for agents run with
    /// `--pooled-heartbeats`.
    Heartbeats(HeartbeatsArgs),
}

#[tokio::main]
async fn main() {
    exit_on_error(run(Cli::parse()).await);
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let rpc = cli.common.rpc()?;
    match &cli.command {
        Command::Run(args) => agent::execute(args, &rpc, cli.common.output).await,
        Command::Doctor(args) => doctor::execute(args, &rpc, cli.common.output).await,
        Command::Heartbeats(args) => beats::execute(args, &rpc, cli.common.output).await,
    }
}
