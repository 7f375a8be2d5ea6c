//! What every iogrid command line shares (the wallet CLI and the worker):
//! the cluster flag, the output format, and how a failure ends the process.

use {
    crate::{cluster, output::OutputFormat},
    iogrid_sdk::rpc::NonblockingRpcClient as RpcClient,
};

#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// Cluster: l(ocalhost), d(evnet), t(estnet), m(ainnet-beta) or a JSON-RPC
    /// URL. Defaults to the Solana CLI config, else localhost.
    #[arg(short = 'u', long = "url", global = true, env = "IOGRID_URL")]
    pub url: Option<String>,
    /// How results print: for people, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Display)]
    pub output: OutputFormat,
}

impl CommonArgs {
    /// A client for the chosen cluster.
    pub fn rpc(&self) -> anyhow::Result<RpcClient> {
        Ok(cluster::rpc_client(cluster::url_or_default(
            self.url.as_deref(),
        )?))
    }
}

/// Prints `error: …` with every cause and exits with status 1.
pub fn exit_on_error(result: anyhow::Result<()>) {
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
