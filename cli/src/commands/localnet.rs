//! `iogrid localnet`: a real Solana validator on this machine with the iogrid
//! program at genesis, the network initialized through `migrations/`, a
//! registered keeper and funded demo wallets. Everything else (keeper, CLI,
//! workers) talks to it over JSON-RPC and websocket exactly as to devnet.
//! Ctrl-C (or SIGTERM) stops the validator and removes a temporary ledger.

use {
    crate::{
        migrate::{self, MigrationFile},
        output::{print, OutputFormat},
    },
    anyhow::{bail, Context, Result},
    clap::Args,
    iogrid_sdk::{
        constants::{format_io, IO},
        pda,
        rpc::NonblockingRpcClient as RpcClient,
        send::{airdrop, send_and_confirm, SendOptions},
        token, Address, PROGRAM_ID,
    },
    serde::Serialize,
    solana_keypair::{read_keypair_file, write_keypair_file, Keypair},
    solana_signer::Signer,
    std::{
        fmt,
        path::{Path, PathBuf},
        process::Stdio,
        time::{Duration, Instant},
    },
    tokio::process::{Child, Command},
};

/// Demo wallets `localnet` creates and funds, by name.
pub const DEMO_WALLETS: [&str; 4] = ["user", "supplier-1", "supplier-2", "voter"];
/// Worker keys for the suppliers' worker agents: SOL for heartbeats, no IO.
pub const WORKER_KEYS: [&str; 4] = ["worker-1", "worker-2", "worker-3", "worker-4"];
const LAMPORTS_PER_SOL: u64 = 1_000_000_000;

#[derive(Debug, Args)]
pub struct LocalnetArgs {
    /// Ledger directory; kept, and reused with its keys when it exists.
    /// Default: a temporary directory removed on exit.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    #[arg(long, default_value_t = 8899)]
    /// JSON-RPC port (the websocket is the next one).
    pub rpc_port: u16,
    #[arg(long, default_value_t = 9900)]
    /// The validator's SOL faucet port.
    pub faucet_port: u16,
    /// The IPv4 address the validator listens on (RPC, websocket, faucet,
    /// gossip), e.g. a bridge's address to serve workers in other network
    /// namespaces. The validator refuses 0.0.0.0.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: std::net::IpAddr,
    /// The validator binary (default: solana-test-validator on PATH).
    #[arg(long, env = "IOGRID_VALIDATOR")]
    pub validator: Option<PathBuf>,
    /// The program binary loaded at genesis.
    #[arg(long, default_value = "target/deploy/iogrid.so")]
    pub program: PathBuf,
    /// The migration file that initializes the network.
    #[arg(long, default_value = "migrations/localnet.toml")]
    pub config: PathBuf,
    /// IO each demo wallet receives from the genesis distribution.
    #[arg(long, default_value_t = 100_000)]
    pub io_per_wallet: u64,
    /// SOL each key receives from the validator's faucet.
    #[arg(long, default_value_t = 100)]
    pub sol_per_wallet: u64,
    /// Set everything up, print it, stop the validator and exit (a check).
    #[arg(long)]
    pub exit_when_ready: bool,
    /// Also serve the web console (app/dist, built by scripts/app-build) at
    /// this address, e.g. 127.0.0.1:8800.
    #[arg(long, value_name = "ADDR")]
    pub console: Option<std::net::SocketAddr>,
    /// The keeper's HTTP API the console uses (with --console).
    #[arg(long, default_value = "http://127.0.0.1:8780", requires = "console")]
    pub console_keeper_url: String,
}

/// Where the running local network is; also written to `<ledger>/ready.json`
/// once everything is set up, so scripts can wait for that file.
#[derive(Debug, Serialize)]
pub struct LocalnetInfo {
    pub rpc_url: String,
    pub websocket_url: String,
    pub program_id: String,
    pub ledger: String,
    /// Keypair files: the bootstrap authority, the keeper and demo wallets.
    pub keys: Vec<(String, String)>,
    pub io_per_wallet: u64,
    pub setup_seconds: f64,
    pub migration: migrate::InitReport,
}

impl fmt::Display for LocalnetInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "iogrid localnet is ready ({:.1} s)", self.setup_seconds)?;
        writeln!(f, "  JSON-RPC    {}", self.rpc_url)?;
        writeln!(f, "  websocket   {}", self.websocket_url)?;
        writeln!(f, "  program     {}", self.program_id)?;
        writeln!(f, "  ledger      {}", self.ledger)?;
        for (name, path) in &self.keys {
            writeln!(f, "  key {name:<11} {path}")?;
        }
        writeln!(
            f,
            "  demo wallets hold {} each",
            format_io(self.io_per_wallet * IO)
        )?;
        write!(f, "{}", self.migration)?;
        write!(f, "Ctrl-C stops the validator.")
    }
}

/// The validator process; killed when dropped, so no exit path leaks it.
struct Validator {
    child: Child,
    log: PathBuf,
}

impl Drop for Validator {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A running local network; [`Localnet::stop`] shuts it down (dropping it
/// kills the validator too).
pub struct Localnet {
    validator: Validator,
    pub info: LocalnetInfo,
    temporary_ledger: Option<PathBuf>,
}

impl Localnet {
    /// Starts the validator, initializes the network, funds the wallets, and
    /// writes `<ledger>/ready.json`.
    pub async fn start(args: &LocalnetArgs) -> Result<Self> {
        let started = Instant::now();
        let validator_bin = find_validator(args.validator.as_deref())?;
        if !args.program.exists() {
            bail!(
                "{} does not exist: build the program first (scripts/build-program)",
                args.program.display()
            );
        }
        let (ledger, temporary_ledger) = match &args.ledger {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = temp_ledger_dir()?;
                (dir.clone(), Some(dir))
            }
        };
        match set_up(args, &validator_bin, &ledger, started).await {
            Ok((validator, info)) => Ok(Self {
                validator,
                info,
                temporary_ledger,
            }),
            Err(err) => {
                if let Some(dir) = temporary_ledger {
                    let _ = std::fs::remove_dir_all(dir);
                }
                Err(err)
            }
        }
    }

    /// SIGTERM, then wait: the validator flushes its ledger and exits; a
    /// temporary ledger is removed.
    pub async fn stop(mut self) -> Result<()> {
        stop_child(&mut self.validator.child).await?;
        if let Some(dir) = self.temporary_ledger.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(())
    }

    /// Stops the validator as an operator's restart would (SIGTERM, then
    /// wait), leaves it down for `down`, and starts it again on the same
    /// ledger, returning once it is healthy. The fault drills use it: the
    /// keeper and the workers must ride through it.
    ///
    /// The test validator resumes from its last snapshot (one every 100
    /// slots) and replays its ledger from there; before its first snapshot a
    /// restart starts over from genesis, so this waits for one first.
    /// Waits until the validator has written a snapshot it can resume from.
    pub async fn wait_for_a_snapshot(&self) -> Result<()> {
        wait_for_a_snapshot(Path::new(&self.info.ledger)).await
    }

    /// Returns how long the node was gone (stop to healthy).
    pub async fn restart_validator(
        &mut self,
        args: &LocalnetArgs,
        down: Duration,
    ) -> Result<Duration> {
        let ledger = PathBuf::from(&self.info.ledger);
        wait_for_a_snapshot(&ledger).await?;
        let stopped = Instant::now();
        stop_child(&mut self.validator.child).await?;
        tokio::time::sleep(down).await;
        let authority = load_or_create_key(&ledger.join("keys"), "authority")?;
        let bin = find_validator(args.validator.as_deref())?;
        self.validator = start_validator(args, &bin, &ledger, &authority).await?;
        let rpc = crate::cluster::rpc_client(self.info.rpc_url.clone());
        wait_until_healthy(&rpc, &mut self.validator).await?;
        Ok(stopped.elapsed())
    }

    /// Waits for Ctrl-C or SIGTERM; fails if the validator dies first.
    pub async fn wait_for_stop_signal(&mut self) -> Result<()> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = term.recv() => Ok(()),
            status = self.validator.child.wait() => {
                bail!("the validator exited unexpectedly ({})", status?)
            }
        }
    }
}

/// Waits (up to 120 s) until the ledger holds a full snapshot archive.
async fn wait_for_a_snapshot(ledger: &Path) -> Result<()> {
    let has_snapshot = || {
        std::fs::read_dir(ledger).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("snapshot-") && name.ends_with(".tar.zst")
            })
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !has_snapshot() {
        if Instant::now() > deadline {
            bail!(
                "the validator wrote no snapshot in {} within 120 s",
                ledger.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// SIGTERM, then wait up to 20 s (the validator flushes its ledger), then
/// SIGKILL.
async fn stop_child(child: &mut Child) -> Result<()> {
    if let Some(pid) = child.id() {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
    match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
        Ok(status) => {
            status?;
        }
        Err(_) => child.kill().await?,
    }
    Ok(())
}

pub async fn execute(args: &LocalnetArgs, output: OutputFormat) -> Result<()> {
    let mut localnet = Localnet::start(args).await?;
    print(output, &localnet.info)?;
    if let Some(listen) = args.console {
        serve_console(listen, &args.console_keeper_url, &localnet.info).await?;
    }
    if !args.exit_when_ready {
        if let Err(err) = localnet.wait_for_stop_signal().await {
            let _ = localnet.stop().await;
            return Err(err);
        }
    }
    localnet.stop().await
}

/// Serves the web console for this network in the background.
async fn serve_console(
    listen: std::net::SocketAddr,
    keeper_url: &str,
    info: &LocalnetInfo,
) -> Result<()> {
    let console = super::console::ConsoleArgs {
        listen,
        dir: "app/dist".into(),
        keeper_url: keeper_url.to_string(),
        templates: "templates".into(),
        ws_url: Some(info.websocket_url.clone()),
    };
    let app = super::console::router(&console, &info.rpc_url)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the console to {listen}"))?;
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            eprintln!("the console stopped: {err}");
        }
    });
    println!("console at http://{listen}");
    Ok(())
}

async fn set_up(
    args: &LocalnetArgs,
    validator_bin: &Path,
    ledger: &Path,
    started: Instant,
) -> Result<(Validator, LocalnetInfo)> {
    let keys_dir = ledger.join("keys");
    std::fs::create_dir_all(&keys_dir)
        .with_context(|| format!("creating {}", keys_dir.display()))?;
    let authority = load_or_create_key(&keys_dir, "authority")?;
    let distribution = load_or_create_key(&keys_dir, "distribution")?;
    let keeper = load_or_create_key(&keys_dir, "keeper")?;
    let wallets = DEMO_WALLETS
        .iter()
        .map(|name| load_or_create_key(&keys_dir, name))
        .collect::<Result<Vec<_>>>()?;
    let workers = WORKER_KEYS
        .iter()
        .map(|name| load_or_create_key(&keys_dir, name))
        .collect::<Result<Vec<_>>>()?;

    let mut validator = start_validator(args, validator_bin, ledger, &authority).await?;
    let rpc_url = format!("http://{}:{}", args.bind_address, args.rpc_port);
    let rpc = crate::cluster::rpc_client(rpc_url.clone());
    wait_until_healthy(&rpc, &mut validator).await?;

    let options = SendOptions::default();
    for key in [&authority, &distribution, &keeper]
        .into_iter()
        .chain(&wallets)
        .chain(&workers)
    {
        fund_sol(&rpc, &key.pubkey(), args.sol_per_wallet, &options).await?;
    }
    let mut migration =
        MigrationFile::load(&args.config)?.resolve(&authority, Some(distribution.pubkey()))?;
    if !migration.keepers.contains(&keeper.pubkey()) {
        migration.keepers.push(keeper.pubkey());
    }
    let report = migrate::run(&rpc, &authority, &migration).await?;
    for wallet in &wallets {
        fund_io(
            &rpc,
            &distribution,
            &wallet.pubkey(),
            args.io_per_wallet * IO,
            &options,
        )
        .await?;
    }

    let keys = ["authority", "distribution", "keeper"]
        .into_iter()
        .chain(DEMO_WALLETS)
        .chain(WORKER_KEYS)
        .map(|name| (name.to_string(), key_path(&keys_dir, name)))
        .collect();
    let info = LocalnetInfo {
        websocket_url: format!("ws://{}:{}", args.bind_address, args.rpc_port + 1),
        rpc_url,
        program_id: PROGRAM_ID.to_string(),
        ledger: ledger.display().to_string(),
        keys,
        io_per_wallet: args.io_per_wallet,
        setup_seconds: started.elapsed().as_secs_f64(),
        migration: report,
    };
    std::fs::write(ledger.join("ready.json"), serde_json::to_vec_pretty(&info)?)?;
    Ok((validator, info))
}

fn key_path(dir: &Path, name: &str) -> String {
    dir.join(format!("{name}.json")).display().to_string()
}

/// The keypair `<dir>/<name>.json`, created on first use.
fn load_or_create_key(dir: &Path, name: &str) -> Result<Keypair> {
    let path = dir.join(format!("{name}.json"));
    if path.exists() {
        return read_keypair_file(&path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()));
    }
    let key = Keypair::new();
    write_keypair_file(&key, &path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    Ok(key)
}

fn temp_ledger_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("iogrid-localnet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// `--validator`, else `solana-test-validator` on PATH or in ~/.cargo/bin.
pub fn find_validator(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = flag {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        bail!("the validator {} does not exist", path.display());
    }
    let name = "solana-test-validator";
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .with_context(|| {
            format!(
                "{name} not found on PATH: install it with scripts/install-validator \
                 (Agave 4.2.2 from crates.io, a long one-time build), or pass --validator"
            )
        })
}

/// Agave's `disable_sbpf_v0_v1_v2_deployment` feature gate.
const DISABLE_SBPF_V0_DEPLOYMENT: &str = "B8JJXCy5amZyWG9r7EnUYLwzXSXTxG7GZ1qZ1qggo83g";

async fn start_validator(
    args: &LocalnetArgs,
    bin: &Path,
    ledger: &Path,
    authority: &Keypair,
) -> Result<Validator> {
    let log = ledger.join("validator.out");
    // Appended to: a restart on the same ledger keeps the earlier output.
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    let child = Command::new(bin)
        .arg("--ledger")
        .arg(ledger)
        .args(["--bind-address", &args.bind_address.to_string()])
        .args(["--rpc-port", &args.rpc_port.to_string()])
        .args(["--faucet-port", &args.faucet_port.to_string()])
        // Gossip defaults to port 8000 for every validator: derive it so two
        // local networks (a demo and the tests) can run side by side.
        .args(["--gossip-port", &(args.faucet_port + 1).to_string()])
        .arg("--upgradeable-program")
        .arg(PROGRAM_ID.to_string())
        .arg(&args.program)
        .arg(authority.pubkey().to_string())
        // sbpf-linker emits SBPF v0. Agave 4.2's test validator activates
        // `disable_sbpf_v0_v1_v2_deployment`, under which a v0 program runs
        // but can never be upgraded again: keep upgrades (through a
        // governance vote) possible on the local network.
        .args(["--deactivate-feature", DISABLE_SBPF_V0_DEPLOYMENT])
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(Validator { child, log })
}

/// Polls `getHealth` until the node answers "ok"; fails with the
/// validator's own output if it exits first.
async fn wait_until_healthy(rpc: &RpcClient, validator: &mut Validator) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = validator.child.try_wait()? {
            let log = std::fs::read_to_string(&validator.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "the validator exited ({status}) before it was healthy; its output:\n{}",
                tail.join("\n")
            );
        }
        if rpc.get_health().await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the validator was not healthy after 120 s (see {})",
                validator.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Tops `to` up to `sol` SOL from the faucet (idempotent on a reused ledger).
async fn fund_sol(rpc: &RpcClient, to: &Address, sol: u64, options: &SendOptions) -> Result<()> {
    let want = sol * LAMPORTS_PER_SOL;
    let have = rpc.get_balance(to).await.context("getBalance")?;
    if have < want {
        airdrop(rpc, to, want - have, options)
            .await
            .with_context(|| format!("airdropping SOL to {to}"))?;
    }
    Ok(())
}

/// Gives `to` an IO account holding at least `amount`, paid from the genesis
/// distribution, signed by its token owner.
async fn fund_io(
    rpc: &RpcClient,
    distributor: &Keypair,
    to: &Address,
    amount: u64,
    options: &SendOptions,
) -> Result<()> {
    let account = token::io_account_of(to);
    let have = match rpc.get_account_data(&account).await {
        Ok(data) => token::balance(&data).unwrap_or(0),
        Err(_) => 0,
    };
    if have >= amount {
        return Ok(());
    }
    let ixs = [
        token::create_io_account_idempotent(&distributor.pubkey(), to),
        token::transfer_io(
            &pda::distribution().0,
            &account,
            &distributor.pubkey(),
            amount - have,
        ),
    ];
    send_and_confirm(rpc, &ixs, &[distributor], options)
        .await
        .with_context(|| format!("funding {to} with IO"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_validator_says_how_to_install_it() {
        let err = find_validator(Some(Path::new("/nonexistent/solana-test-validator")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn keys_are_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("iogrid-keys-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = load_or_create_key(&dir, "keeper").unwrap();
        let again = load_or_create_key(&dir, "keeper").unwrap();
        assert_eq!(first.pubkey(), again.pubkey());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
