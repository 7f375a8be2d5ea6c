//! Keeper settings: a TOML file, then environment variables
//! (`IOGRID__SECTION__KEY`), then flags — each overriding the one before —
//! with a default for everything. `keeper/config.sample.toml` documents them.

use {
    anyhow::{Context, Result},
    clap::Parser,
    serde::Deserialize,
    std::{net::SocketAddr, path::PathBuf, time::Duration},
};

#[derive(Debug, Parser, Default)]
#[command(
    name = "iogrid-keeper",
    version,
    about = "The iogrid keeper: watch, match, send, faults, proofs"
)]
pub struct Args {
    /// TOML settings file (see keeper/config.sample.toml).
    #[arg(short = 'c', long, env = "IOGRID__KEEPER__CONFIG")]
    pub config: Option<PathBuf>,
    /// JSON-RPC URL of the cluster.
    #[arg(short = 'u', long, env = "IOGRID__RPC__URL")]
    pub url: Option<String>,
    /// Websocket URL (default: the RPC URL with ws:// and port + 1).
    #[arg(long, env = "IOGRID__RPC__WS_URL")]
    pub ws_url: Option<String>,
    /// The registered keeper's keypair file; it signs and pays.
    #[arg(short = 'k', long, env = "IOGRID__KEEPER__KEYPAIR")]
    pub keypair: Option<PathBuf>,
    /// Address of the HTTP API (/v1/proofs, /v1/jobs/<job>, /metrics, /healthz).
    #[arg(long, env = "IOGRID__API__LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Longest time between planning passes (account updates wake it sooner).
    #[arg(long, env = "IOGRID__KEEPER__TICK", value_parser = humantime::parse_duration)]
    pub tick: Option<Duration>,
    /// Time between full getProgramAccounts resyncs.
    #[arg(long, env = "IOGRID__KEEPER__RESYNC", value_parser = humantime::parse_duration)]
    pub resync: Option<Duration>,
    /// Time between crank_emission calls (0s: never).
    #[arg(long, env = "IOGRID__KEEPER__EMISSION_INTERVAL", value_parser = humantime::parse_duration)]
    pub emission_interval: Option<Duration>,
    /// Priority fee, micro-lamports per compute unit.
    #[arg(long, env = "IOGRID__KEEPER__PRIORITY_FEE")]
    pub priority_fee: Option<u64>,
    /// Longest wait between two tries of an action that keeps failing (it
    /// doubles from 1 s per failure in a row up to this).
    #[arg(long, env = "IOGRID__KEEPER__RETRY_CAP", value_parser = humantime::parse_duration)]
    pub retry_cap: Option<Duration>,
    /// With several registered keepers, how long a job's action may stay
    /// undone by the keeper whose share it is before this one sends it (the
    /// n-th in line waits n times this).
    #[arg(long, env = "IOGRID__KEEPER__TAKEOVER_GRACE", value_parser = humantime::parse_duration)]
    pub takeover_grace: Option<Duration>,
}

/// The `[rpc]`, `[keeper]` and `[api]` tables of the settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct File {
    rpc: RpcFile,
    keeper: KeeperFile,
    api: ApiFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RpcFile {
    url: Option<String>,
    ws_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct KeeperFile {
    keypair: Option<PathBuf>,
    #[serde(with = "humantime_serde")]
    tick: Option<Duration>,
    #[serde(with = "humantime_serde")]
    resync: Option<Duration>,
    #[serde(with = "humantime_serde")]
    emission_interval: Option<Duration>,
    priority_fee: Option<u64>,
    #[serde(with = "humantime_serde")]
    retry_cap: Option<Duration>,
    #[serde(with = "humantime_serde")]
    takeover_grace: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ApiFile {
    listen: Option<SocketAddr>,
}

/// Resolved settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub url: String,
    pub ws_url: String,
    pub keypair: PathBuf,
    pub listen: SocketAddr,
    pub tick: Duration,
    pub resync: Duration,
    pub emission_interval: Duration,
    pub priority_fee: u64,
    pub retry_cap: Duration,
    pub takeover_grace: Duration,
}

impl Settings {
    /// Flags and environment (already merged by clap) over the file over defaults.
    pub fn resolve(args: Args) -> Result<Self> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str::<File>(&text)
                    .with_context(|| format!("invalid settings in {}", path.display()))?
            }
            None => File::default(),
        };
        let url = args
            .url
            .or(file.rpc.url)
            .unwrap_or_else(|| "http://127.0.0.1:8899".into());
        let ws_url = match args.ws_url.or(file.rpc.ws_url) {
            Some(ws) => ws,
            None => iogrid_node::watch::websocket_url(&url)?,
        };
        Ok(Self {
            ws_url,
            url,
            keypair: expand_home(
                &args
                    .keypair
                    .or(file.keeper.keypair)
                    .unwrap_or_else(|| "~/.config/solana/id.json".into()),
            ),
            listen: args
                .listen
                .or(file.api.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8780))),
            tick: args
                .tick
                .or(file.keeper.tick)
                .unwrap_or(Duration::from_secs(1)),
            resync: args
                .resync
                .or(file.keeper.resync)
                .unwrap_or(Duration::from_secs(30)),
            emission_interval: args
                .emission_interval
                .or(file.keeper.emission_interval)
                .unwrap_or(Duration::from_secs(600)),
            priority_fee: args.priority_fee.or(file.keeper.priority_fee).unwrap_or(0),
            retry_cap: args
                .retry_cap
                .or(file.keeper.retry_cap)
                .unwrap_or(crate::retry::RETRY_CAP),
            takeover_grace: args
                .takeover_grace
                .or(file.keeper.takeover_grace)
                .unwrap_or(crate::share::TAKEOVER_GRACE),
        })
    }
}

/// `~/…` as the shell would expand it (the default, `~/.config/solana/id.json`,
/// is the Solana CLI's).
fn expand_home(path: &std::path::Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(rest),
        Err(_) => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("iogrid-keeper-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keeper.toml");
        std::fs::write(
            &path,
            "[rpc]\nurl = \"http://10.0.0.1:9000\"\n[keeper]\ntick = \"250ms\"\npriority_fee = 7\n",
        )
        .unwrap();
        let args = Args {
            config: Some(path.clone()),
            priority_fee: Some(9),
            ..Args::default()
        };
        let settings = Settings::resolve(args).unwrap();
        assert_eq!(settings.url, "http://10.0.0.1:9000");
        assert_eq!(settings.ws_url, "ws://10.0.0.1:9001");
        assert_eq!(settings.tick, Duration::from_millis(250));
        assert_eq!(settings.priority_fee, 9, "the flag wins");
        assert_eq!(settings.resync, Duration::from_secs(30), "the default");
        assert_eq!(settings.retry_cap, Duration::from_secs(60), "the default");

        std::fs::write(&path, "[keeper]\ntick_rate = 1\n").unwrap();
        let err = Settings::resolve(Args {
            config: Some(path),
            ..Args::default()
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `tick_rate`"),
            "{err:#}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
