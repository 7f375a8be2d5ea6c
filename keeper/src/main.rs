//! `iogrid-keeper`: watches the network, matches jobs to listings, reports
//! silent workers, relays workers' proofs and cranks settlement, expiry and
//! emission. Settings: keeper/config.sample.toml; `--help` for the flags.

use {
    clap::Parser,
    iogrid_keeper::{
        config::{Args, Settings},
        keeper::Keeper,
    },
    iogrid_node::Shutdown,
};

#[tokio::main]
async fn main() {
    iogrid_node::logging::init();
    if let Err(err) = run().await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::resolve(Args::parse())?;
    let keeper = Keeper::new(settings)?;
    let shutdown = Shutdown::new();
    shutdown.on_signals()?;
    keeper.run(shutdown).await
}
