//! Helpers for the end-to-end tests on a real local validator
//! (`iogrid localnet`): sending with latency records, balances, the chain's
//! clock, the demo keys, and the project's binaries as child processes that
//! die with the test.

use {
    crate::repo_root,
    iogrid_cli::commands::localnet::{Localnet, LocalnetArgs},
    iogrid_sdk::{
        accounts::{GpuListing, GpuSpec, JobAccount},
        instructions::{HeartbeatAccounts, ListGpuAccounts, StakeAccounts},
        rpc::{network_state, program_account, NonblockingRpcClient as RpcClient},
        send::{send_and_confirm, SendOptions, Sent},
        token, Address,
    },
    solana_instruction::Instruction,
    solana_keypair::{read_keypair_file, Keypair},
    solana_signer::Signer,
    std::{
        path::PathBuf,
        process::Stdio,
        time::{Duration, Instant},
    },
    tokio::process::{Child, Command},
};

/// Localnet settings for a test: its own ports, the repo's program and migration.
pub fn localnet_args(rpc_port: u16, faucet_port: u16) -> LocalnetArgs {
    let root = repo_root();
    LocalnetArgs {
        ledger: None,
        rpc_port,
        faucet_port,
        bind_address: std::net::Ipv4Addr::LOCALHOST.into(),
        validator: None,
        program: root.join("target/deploy/iogrid.so"),
        config: root.join("migrations/localnet.toml"),
        io_per_wallet: 100_000,
        sol_per_wallet: 100,
        exit_when_ready: false,
        console: None,
        console_keeper_url: String::new(),
    }
}

/// A demo key `localnet` created (`keeper`, `user`, `supplier-1`, `worker-1`, …).
pub fn key(localnet: &Localnet, name: &str) -> Keypair {
    read_keypair_file(key_path(localnet, name)).expect(name)
}

pub fn key_path(localnet: &Localnet, name: &str) -> String {
    localnet
        .info
        .keys
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("localnet has no key {name}"))
        .1
        .clone()
}

/// Confirmation latencies, printed at the end.
#[derive(Default)]
pub struct Latencies(pub Vec<(String, Duration)>);

impl Latencies {
    pub fn report(&self) {
        println!("confirmation latency on the local validator (send → confirmed):");
        for (name, took) in &self.0 {
            println!("  {name:<28} {:>6} ms", took.as_millis());
        }
        let mut all: Vec<Duration> = self.0.iter().map(|(_, d)| *d).collect();
        all.sort();
        if let Some(median) = all.get(all.len() / 2) {
            println!(
                "  median over {} transactions: {} ms",
                all.len(),
                median.as_millis()
            );
        }
    }
}

/// JSON-RPC access for a test, recording each transaction's latency.
pub struct Chain {
    pub rpc: RpcClient,
    pub latencies: Latencies,
}

impl Chain {
    pub fn new(localnet: &Localnet) -> Self {
        Self {
            rpc: iogrid_cli::cluster::rpc_client(localnet.info.rpc_url.clone()),
            latencies: Latencies::default(),
        }
    }

    /// Sends and confirms, panicking with the decoded error and logs.
    pub async fn send(&mut self, name: &str, ixs: &[Instruction], signers: &[&Keypair]) -> Sent {
        let started = Instant::now();
        // Poll often: the latency is the measurement.
        let options = SendOptions {
            poll_interval: Duration::from_millis(25),
            ..SendOptions::default()
        };
        let sent = send_and_confirm(&self.rpc, ixs, signers, &options)
            .await
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        self.latencies.0.push((name.to_string(), started.elapsed()));
        sent
    }

    /// Waits until the cluster's confirmed slot is past `slot`: a program
    /// deployed, extended or upgraded in a slot runs from the next one, and
    /// a loaded machine can take well over a second per slot.
    pub async fn wait_past_slot(&self, slot: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.rpc.get_slot().await {
                Ok(now) if now > slot => return,
                _ if Instant::now() > deadline => panic!("the cluster stayed at slot {slot}"),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Stakes `amount` base units of `owner`'s IO.
    pub async fn stake(&mut self, owner: &Keypair, amount: u64) {
        let ix = StakeAccounts::new(owner.pubkey(), token::io_account_of(&owner.pubkey()))
            .instruction(amount);
        self.send("stake", &[ix], &[owner]).await;
    }

    /// Lists `gpus` GPUs of `model` (80 GB, region `local`) as `owner`'s
    /// listing `id`, served by `worker`; returns the listing.
    pub async fn list_gpus(
        &mut self,
        owner: &Keypair,
        id: u64,
        worker: Address,
        (model, gpus): (&str, u16),
        price: u64,
    ) -> Address {
        let spec = GpuSpec::new(worker, model, 80, gpus, "local", price).unwrap();
        let list = ListGpuAccounts::new(owner.pubkey(), id);
        self.send("list_gpu", &[list.instruction(&spec, id)], &[owner])
            .await;
        list.listing
    }

    pub async fn heartbeat(&mut self, worker: &Keypair, listing: &Address) {
        let ix = HeartbeatAccounts::new(worker.pubkey(), *listing).instruction();
        self.send("heartbeat", &[ix], &[worker]).await;
    }

    /// `owner`'s IO balance (0 without an IO account).
    pub async fn balance(&self, owner: &Address) -> u64 {
        let data = self
            .rpc
            .get_account_data(&token::io_account_of(owner))
            .await
            .unwrap_or_default();
        token::balance(&data).unwrap_or(0)
    }

    /// The chain's unix time (block time of the current slot).
    pub async fn now(&self) -> i64 {
        let slot = self.rpc.get_slot().await.unwrap();
        self.rpc.get_block_time(slot).await.unwrap_or(0)
    }

    /// The job account, or None once it is closed.
    pub async fn job(&self, job: &Address) -> Option<JobAccount> {
        let data = self.rpc.get_account_data(job).await.ok()?;
        JobAccount::decode(&data).ok()
    }

    pub async fn listing(&self, listing: &Address) -> GpuListing {
        program_account(&self.rpc, listing, "listing")
            .await
            .unwrap()
    }

    /// Polls `check` every 50 ms until it returns Some, or panics after `timeout`.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let started = Instant::now();
        loop {
            if let Some(value) = check().await {
                return value;
            }
            if started.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A binary of this workspace (`iogrid`, `iogrid-keeper`), built beforehand
/// by `scripts/e2e` (`cargo build --workspace --bins`).
pub fn workspace_bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` (scripts/e2e does)",
        path.display()
    );
    path
}

/// Prints the last 40 lines of each `<logs>/<name>.log` that exists (after
/// a failed end-to-end test, to show what the processes said).
pub fn print_log_tails(logs: &std::path::Path, names: &[&str]) {
    for name in names {
        if let Ok(text) = std::fs::read_to_string(logs.join(format!("{name}.log"))) {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("---- {name} (last 40 lines) ----");
            tail.iter().rev().for_each(|line| eprintln!("{line}"));
        }
    }
}

/// A child process killed when dropped; its output goes to `<log>`.
pub struct Process {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(name: &str, bin: &str, args: &[String], log_dir: &std::path::Path) -> Self {
        Self::spawn_command(name, Command::new(workspace_bin(bin)), args, log_dir)
    }

    /// `bin` run inside network namespace `iogrid-s<netns>` (`scripts/netns
    /// exec`, which mounts the cgroups there and execs it: signals reach it
    /// directly).
    pub fn spawn_in_netns(
        netns: usize,
        name: &str,
        bin: &str,
        args: &[String],
        log_dir: &std::path::Path,
    ) -> Self {
        let mut command = Command::new(repo_root().join("scripts/netns"));
        command
            .args(["exec", &netns.to_string()])
            .arg(workspace_bin(bin));
        Self::spawn_command(name, command, args, log_dir)
    }

    fn spawn_command(
        name: &str,
        mut command: Command,
        args: &[String],
        log_dir: &std::path::Path,
    ) -> Self {
        let log = log_dir.join(format!("{name}.log"));
        // Appended: a process restarted under the same name keeps its
        // earlier log.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = command
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self {
            name: name.to_string(),
            child,
            log,
        }
    }

    /// SIGKILL: no chance to clean up, as a crash or power loss.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not stop on SIGTERM", self.name))
            .unwrap()
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// IO balances that a settlement moves.
pub struct Balances {
    pub user: u64,
    pub suppliers: [u64; 2],
    pub treasury: u64,
    /// Paid out of the rewards vault: here only the unclaimable emission
    /// the keeper sweeps to the treasury (nobody claims rewards).
    pub rewards_paid: u64,
    pub supply: u64,
    pub burned: u64,
}

impl Balances {
    pub async fn read(chain: &Chain, user: &Address, suppliers: &[Address; 2]) -> Self {
        let state = network_state(&chain.rpc).await.unwrap();
        Self {
            user: chain.balance(user).await,
            suppliers: [
                chain.balance(&suppliers[0]).await,
                chain.balance(&suppliers[1]).await,
            ],
            treasury: state.treasury_balance,
            rewards_paid: state.config.rewards.claimed,
            supply: state.supply,
            burned: state.config.burned,
        }
    }
}

/// Where a settlement's deposits went between two [`Balances`] readings.
#[derive(Debug)]
pub struct Flows {
    pub suppliers: u64,
    pub fees: u64,
    pub burned: u64,
    pub refund: u64,
}

impl Balances {
    /// The flows since `before` of jobs whose deposits sum to `deposits`,
    /// asserting that they add up: payouts + fees + burn + refund ==
    /// deposits. Treasury income other than fees is the emission the keeper
    /// swept (the rewards vault's `claimed`).
    pub fn flows_since(&self, before: &Balances, deposits: u64, what: &str) -> Flows {
        let flows = Flows {
            suppliers: (0..2)
                .map(|i| self.suppliers[i] - before.suppliers[i])
                .sum(),
            fees: self.treasury - before.treasury - (self.rewards_paid - before.rewards_paid),
            burned: self.burned - before.burned,
            refund: deposits - (before.user - self.user),
        };
        assert_eq!(
            flows.suppliers + flows.fees + flows.burned + flows.refund,
            deposits,
            "{what}: payouts + fees + burn + refund == deposits ({flows:?})"
        );
        flows
    }
}
