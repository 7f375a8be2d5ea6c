//! The keeper and the workers on a real local validator (Agave's
//! solana-test-validator via `iogrid localnet`), as separate processes that
//! speak only JSON-RPC and websocket to it, exactly as against devnet:
//!
//! 1. a 2-GPU job spanning two suppliers: matched by the keeper, run and
//!    proven by both suppliers' `iogrid-worker`s, settled after the
//!    challenge window, every IO accounted for;
//! 2. job creation → assignment latency over 60 jobs (p50 / p99, in slots
//!    and milliseconds);
//! 3. the websocket dropped and refused for a while: the keeper reconnects,
//!    resyncs, and assigns a job created during the outage;
//! 4. the keeper SIGKILLed mid-job and restarted: no second assignment, the
//!    job still settles;
//! 5. a worker that stops heartbeating: fault reported, its supplier
//!    slashed, the job reassigned and completed on the replacement;
//! 6. `iogrid-worker doctor`: each failing check named with its fix;
//! 7. the retry ledger: an unpayable action backs off to its cap;
//! 8. two registered keepers split the jobs (no action sent twice), and
//!    one SIGKILLed: the other takes over its share after the grace.
//!
//! Ignored by default (it needs the validator, a long one-time build):
//! `scripts/install-validator`, then `scripts/e2e`.

use {
    iogrid_cli::commands::localnet::Localnet,
    iogrid_sdk::{
        accounts::{
            ascii_field, AssignmentStatus, GpuSpec, JobAccount, JobSpec, JobStatus, NetworkParams,
            StakeAccount,
        },
        constants::IO,
        instructions::{CreateJobAccounts, ListGpuAccounts, SetKeepersAccounts, StakeAccounts},
        pda,
        rpc::{network_state, program_account},
        token, Address,
    },
    iogrid_tests::localchain::{
        key, key_path, localnet_args, print_log_tails, workspace_bin, Balances, Chain, Process,
    },
    sha2::{Digest, Sha256},
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{
        path::{Path, PathBuf},
        sync::{
            atomic::{AtomicBool, Ordering},
            Arc, Mutex,
        },
        time::{Duration, Instant},
    },
    tokio::{net::TcpListener, task::JoinHandle},
};

const RPC_PORT: u16 = 22_899;
const FAUCET_PORT: u16 = 23_900;
const KEEPER_API: &str = "127.0.0.1:22780";
const PROXY_PORT: u16 = 22_950;
const SECOND_KEEPER_API: &str = "127.0.0.1:22781";

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs solana-test-validator (scripts/install-validator); run by scripts/e2e"]
async fn keeper_and_workers_on_a_local_validator() {
    let localnet = Localnet::start(&localnet_args(RPC_PORT, FAUCET_PORT))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let logs = PathBuf::from(&localnet.info.ledger).join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut net = Net::new(&localnet, logs).await;
    // Run in a task so a panic comes back here and the logs get printed.
    let result = tokio::spawn(async move {
        net.spanning_job_from_escrow_to_payment().await;
        net.doctor_names_what_fails();
        net.assignment_latency(60).await;
        net.websocket_outage().await;
        net.keeper_restart_mid_job().await;
        net.silent_worker_is_replaced().await;
        net.failing_action_backs_off().await;
        net.two_keepers_split_the_jobs().await;
        net
    })
    .await;
    match result {
        Ok(mut net) => {
            net.chain.latencies.report();
            net.stop().await;
            localnet.stop().await.unwrap();
        }
        Err(panic) => {
            let ledger = localnet.info.ledger.clone();
            print_log_tails(
                &Path::new(&ledger).join("logs"),
                &[
                    "keeper",
                    "keeper-2",
                    "keeper-broke",
                    "keeper-3",
                    "keeper-b",
                    "worker-1",
                    "worker-2",
                ],
            );
            localnet.stop().await.unwrap();
            std::panic::resume_unwind(panic.into_panic());
        }
    }
}

/// The running network: chain access, the keeper, the workers, the proxy.
struct Net {
    chain: Chain,
    rpc_url: String,
    keys: Keys,
    logs: PathBuf,
    params: NetworkParams,
    proxy: Proxy,
    keeper: Option<Process>,
    workers: Vec<(Address, Process)>,
    /// H100 listings of supplier-1 and supplier-2, one GPU each.
    listings: [Address; 2],
    next_job_id: u64,
    /// Tasks that run until the test ends.
    background: Vec<JoinHandle<()>>,
}

struct Keys {
    user: Keypair,
    suppliers: [Keypair; 2],
    voter: Keypair,
    key_files: Vec<(String, String)>,
}

impl Keys {
    fn file(&self, name: &str) -> String {
        self.key_files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .unwrap()
    }
}

const PRICE: u64 = 36 * IO; // 0.01 IO per GPU-second

impl Net {
    async fn new(localnet: &Localnet, logs: PathBuf) -> Self {
        let mut chain = Chain::new(localnet);
        let params = network_state(&chain.rpc).await.unwrap().config.params;
        let keys = Keys {
            user: key(localnet, "user"),
            suppliers: [key(localnet, "supplier-1"), key(localnet, "supplier-2")],
            voter: key(localnet, "voter"),
            key_files: localnet.info.keys.clone(),
        };
        let _ = key_path(localnet, "worker-1");
        let ws_port = RPC_PORT + 1;
        let proxy = Proxy::start(PROXY_PORT, ws_port).await;
        let mut listings = [Address::default(); 2];
        for (i, supplier) in keys.suppliers.iter().enumerate() {
            let worker = key(localnet, &format!("worker-{}", i + 1)).pubkey();
            stake(&mut chain, supplier, 2_000 * IO).await;
            listings[i] = list(&mut chain, supplier, 0, worker, "H100-80GB", 1, PRICE).await;
        }
        let mut net = Self {
            chain,
            rpc_url: localnet.info.rpc_url.clone(),
            keys,
            logs,
            params,
            proxy,
            keeper: None,
            workers: Vec::new(),
            listings,
            next_job_id: 1,
            background: Vec::new(),
        };
        net.start_keeper("keeper");
        for i in 0..2 {
            net.start_worker(i);
        }
        net
    }

    fn start_keeper(&mut self, log: &str) {
        let keypair = self.keys.file("keeper");
        self.start_keeper_as(log, &keypair, &[]);
    }

    /// A keeper signing and paying with `keypair`, with `extra` flags.
    fn start_keeper_as(&mut self, log: &str, keypair: &str, extra: &[&str]) {
        let mut args: Vec<String> = [
            "--url",
            &self.rpc_url,
            "--ws-url",
            &format!("ws://127.0.0.1:{PROXY_PORT}"),
            "--keypair",
            keypair,
            "--listen",
            KEEPER_API,
            "--tick",
            "500ms",
            // Long: the outage test must be rescued by the reconnect's resync.
            "--resync",
            "10m",
            "--emission-interval",
            "20s",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        self.keeper = Some(Process::spawn(log, "iogrid-keeper", &args, &self.logs));
    }

    fn start_worker(&mut self, i: usize) {
        let listing = self.listings[i];
        let args = [
            "-u".to_string(),
            self.rpc_url.clone(),
            "run".to_string(),
            "--listing".to_string(),
            listing.to_string(),
            "--worker-keypair".to_string(),
            self.keys.file(&format!("worker-{}", i + 1)),
            "--simulate".to_string(),
            "1xH100-80GB".to_string(),
            "--keeper-url".to_string(),
            format!("http://{KEEPER_API}"),
        ];
        let name = format!("worker-{}", i + 1);
        let process = Process::spawn(&name, "iogrid-worker", &args, &self.logs);
        self.workers.push((listing, process));
    }

    async fn stop(&mut self) {
        self.background.drain(..).for_each(|task| task.abort());
        if let Some(keeper) = &mut self.keeper {
            let status = keeper.terminate().await;
            assert!(
                status.success(),
                "the keeper exits cleanly on SIGTERM: {status}"
            );
        }
        for (_, worker) in &mut self.workers {
            worker.terminate().await;
        }
    }

    /// Escrows a job of `gpus` H100 GPUs (or `model`) running `workload`.
    async fn create_job(
        &mut self,
        model: &str,
        gpus: u16,
        max_listings: u8,
        duration_secs: u64,
        workload: &str,
    ) -> (Address, iogrid_sdk::send::Sent) {
        let id = self.next_job_id;
        self.next_job_id += 1;
        let spec = job_spec(model, gpus, max_listings, duration_secs, workload);
        let user = &self.keys.user;
        let create =
            CreateJobAccounts::new(user.pubkey(), id, token::io_account_of(&user.pubkey()));
        let sent = self
            .chain
            .send("create_job", &[create.instruction(id, &spec)], &[user])
            .await;
        (create.job, sent)
    }

    async fn wait_status(&self, job: &Address, status: JobStatus, timeout: Duration) {
        let chain = &self.chain;
        chain
            .wait_for(&format!("job {job} to be {status:?}"), timeout, || async {
                chain
                    .job(job)
                    .await
                    .filter(|j| j.job.status() == status)
                    .map(|_| ())
            })
            .await
    }

    async fn wait_closed(&self, job: &Address, timeout: Duration) {
        let chain = &self.chain;
        chain
            .wait_for(&format!("job {job} to be settled"), timeout, || async {
                chain.job(job).await.is_none().then_some(())
            })
            .await
    }

    /// The settlement window plus a margin for the keeper's pass.
    fn settle_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.params.challenge_window_secs) + 30)
    }

    async fn spanning_job_from_escrow_to_payment(&mut self) {
        let owners = [
            self.keys.suppliers[0].pubkey(),
            self.keys.suppliers[1].pubkey(),
        ];
        let user = self.keys.user.pubkey();
        let before = Balances::read(&self.chain, &user, &owners).await;
        let (job, _) = self.create_job("H100-80GB", 2, 2, 120, "sim:cpu:3").await;
        self.wait_status(&job, JobStatus::Running, Duration::from_secs(20))
            .await;
        let running = self.chain.job(&job).await.unwrap();
        let mut assigned: Vec<Address> = running.assignments.iter().map(|a| a.listing).collect();
        assigned.sort();
        let mut expected = self.listings.to_vec();
        expected.sort();
        assert_eq!(assigned, expected, "one GPU from each supplier");
        self.wait_status(&job, JobStatus::Proven, Duration::from_secs(60))
            .await;
        let proven = self.chain.job(&job).await.unwrap();
        let deposit = proven.job.deposit;
        let gross: Vec<u64> = proven
            .assignments
            .iter()
            .map(|a| iogrid_sdk::accounts::payment_for(a.price_per_gpu_hour, a.gpu_seconds))
            .collect();
        self.wait_closed(&job, self.settle_timeout()).await;
        let after = Balances::read(&self.chain, &user, &owners).await;

        let fee = |g: u64| g * u64::from(self.params.fee_bps) / 10_000;
        let burn = |g: u64| g * u64::from(self.params.burn_bps) / 10_000;
        for (i, g) in gross.iter().enumerate() {
            let owner_index = owners
                .iter()
                .position(|o| *o == self.listing_owner_of(&proven.assignments[i].listing))
                .unwrap();
            assert_eq!(
                after.suppliers[owner_index] - before.suppliers[owner_index],
                g - fee(*g) - burn(*g),
                "supplier {} is paid its proven GPU-seconds less fee and burn",
                owner_index + 1
            );
        }
        let paid: u64 = gross.iter().sum();
        let refund = deposit - paid;
        assert_eq!(
            before.user - after.user,
            deposit - refund,
            "the rest is refunded"
        );
        let fees: u64 = gross.iter().map(|g| fee(*g)).sum();
        let burned: u64 = gross.iter().map(|g| burn(*g)).sum();
        // The keeper may sweep unclaimable emission to the treasury meanwhile.
        let swept = after.rewards_paid - before.rewards_paid;
        assert_eq!(after.treasury - before.treasury, fees + swept);
        // Emission may mint meanwhile (the keeper cranks it): compare the burn counter.
        assert_eq!(after.burned - before.burned, burned);
        assert!(after.supply <= iogrid_sdk::constants::SUPPLY_CAP);
        let supplier_net: u64 = (0..2)
            .map(|i| after.suppliers[i] - before.suppliers[i])
            .sum();
        assert_eq!(
            supplier_net + fees + burned + refund,
            deposit,
            "payouts + fees + burn + refund == deposit"
        );
        println!(
            "spanning job: deposit {deposit}, paid {paid} ({} GPU-s), refund {refund}, fee {fees}, burn {burned}",
            proven.assignments.iter().map(|a| a.gpu_seconds).sum::<u64>()
        );
    }

    /// `iogrid-worker doctor` for supplier 1's listing: with its own worker
    /// key and matching simulated devices the chain checks pass; with the
    /// other supplier's key, a device too small for the listing, or no
    /// keeper, the check that fails is named with its fix, and the exit
    /// status is 1.
    fn doctor_names_what_fails(&self) {
        let doctor = |worker: &str, simulate: &str, keeper: &str| {
            let out = std::process::Command::new(workspace_bin("iogrid-worker"))
                .args(["-u", &self.rpc_url, "--output", "json-compact", "doctor"])
                .args(["--listing", &self.listings[0].to_string()])
                .args(["--worker-keypair", &self.keys.file(worker)])
                .args(["--simulate", simulate, "--keeper-url", keeper])
                .output()
                .unwrap();
            let report: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("doctor printed no JSON ({e}): {out:?}"));
            let verdicts: std::collections::HashMap<String, (String, String)> = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_string(),
                        (
                            c["verdict"].as_str().unwrap().to_string(),
                            c["fix"].as_str().unwrap_or("").to_string(),
                        ),
                    )
                })
                .collect();
            (out.status.code(), verdicts)
        };
        let keeper = format!("http://{KEEPER_API}");
        let (_, good) = doctor("worker-1", "1xH100-80GB", &keeper);
        for name in [
            "devices",
            "rpc",
            "keeper",
            "worker SOL",
            "worker registered",
            "listing fits",
            "stake",
        ] {
            assert_eq!(good[name].0, "ok", "doctor {name}: {good:?}");
        }
        let (status, wrong_key) = doctor("worker-2", "1xH100-80GB", &keeper);
        assert_eq!(status, Some(1));
        assert_eq!(wrong_key["worker registered"].0, "fail");
        assert!(wrong_key["worker registered"]
            .1
            .contains("iogrid listing update"));
        let (status, small) = doctor("worker-1", "1xA10:24", &keeper);
        assert_eq!(status, Some(1));
        assert_eq!(small["listing fits"].0, "fail", "{small:?}");
        let (status, no_keeper) = doctor("worker-1", "1xH100-80GB", "http://127.0.0.1:9");
        assert_eq!(status, Some(1));
        assert_eq!(no_keeper["keeper"].0, "fail");
        assert!(no_keeper["keeper"].1.contains("--keeper-url"));
        println!("doctor: a wrong worker key, a listing bigger than the node and an unreachable keeper each named with their fix");
    }

    fn listing_owner_of(&self, listing: &Address) -> Address {
        let i = self.listings.iter().position(|l| l == listing).unwrap();
        self.keys.suppliers[i].pubkey()
    }

    /// `jobs` one-GPU jobs on a 64-GPU listing heartbeated by the test itself;
    /// latency from the create transaction's confirmation to the job seen
    /// Running, and in slots from the create slot to the assign slot.
    async fn assignment_latency(&mut self, jobs: usize) {
        let worker = Keypair::new();
        self.fund_sol(&worker.pubkey()).await;
        stake(&mut self.chain, &self.keys.voter, 10_000 * IO).await;
        let listing = list(
            &mut self.chain,
            &self.keys.voter,
            0,
            worker.pubkey(),
            "BENCH-1",
            64,
            IO,
        )
        .await;
        let beating = Arc::new(AtomicBool::new(true));
        let heart = heartbeat_in_background(self.rpc_url.clone(), worker, listing, beating.clone());

        let mut millis = Vec::with_capacity(jobs);
        let mut slots = Vec::with_capacity(jobs);
        for _ in 0..jobs {
            let (job, created) = self.create_job("BENCH-1", 1, 1, 600, "sim:cpu:1").await;
            let confirmed = Instant::now();
            let running_at = self.wait_running_slot(&job).await;
            millis.push(confirmed.elapsed().as_millis() as u64);
            slots.push(running_at.saturating_sub(created.slot));
        }
        // The listing keeps beating: its 60 jobs run on, unfaulted.
        self.background.push(heart);
        drop(beating);
        millis.sort();
        slots.sort();
        let pct = |v: &[u64], p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
        println!(
            "job creation → assignment over {jobs} jobs: p50 {} ms / {} slots, p99 {} ms / {} slots, max {} slots",
            pct(&millis, 50),
            pct(&slots, 50),
            pct(&millis, 99),
            pct(&slots, 99),
            slots.last().unwrap()
        );
        assert!(pct(&millis, 50) < 5_000, "assignments keep up");
    }

    /// The slot at which a confirmed read first shows the job Running (polled
    /// every 25 ms, so at most one slot after the assignment landed).
    async fn wait_running_slot(&self, job: &Address) -> u64 {
        let rpc = &self.chain.rpc;
        self.chain
            .wait_for("the assignment", Duration::from_secs(20), || async {
                let response = rpc
                    .get_account_with_commitment(job, rpc.commitment())
                    .await
                    .ok()?;
                let account = JobAccount::decode(&response.value?.data).ok()?;
                (account.job.status() == JobStatus::Running).then_some(response.context.slot)
            })
            .await
    }

    async fn websocket_outage(&mut self) {
        self.proxy.cut_for(Duration::from_secs(4));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (job, _) = self.create_job("H100-80GB", 1, 1, 120, "sim:cpu:2").await;
        self.wait_status(&job, JobStatus::Running, Duration::from_secs(30))
            .await;
        self.wait_closed(&job, Duration::from_secs(60)).await;
        let metrics = self.keeper_metrics().await;
        let reconnects = metric(&metrics, "iogrid_keeper_ws_reconnects_total");
        assert!(reconnects >= 1.0, "the keeper reconnected: {reconnects}");
        println!("websocket outage: {reconnects} reconnect(s), the job created meanwhile settled");
    }

    async fn keeper_restart_mid_job(&mut self) {
        let (job, _) = self.create_job("H100-80GB", 1, 1, 120, "sim:cpu:6").await;
        self.wait_status(&job, JobStatus::Running, Duration::from_secs(20))
            .await;
        self.keeper.as_mut().unwrap().kill().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.start_keeper("keeper-2");
        let chain = &self.chain;
        chain
            .wait_for(
                "the proof after the restart",
                Duration::from_secs(60),
                || async {
                    let account = chain.job(&job).await?;
                    assert_eq!(account.assignments.len(), 1, "never a second assignment");
                    (account.job.status() == JobStatus::Proven).then_some(())
                },
            )
            .await;
        self.wait_closed(&job, self.settle_timeout()).await;
        // The keeper logs after its own confirmation poll: give it a moment.
        let keeper = self.keeper.as_ref().unwrap();
        let log = self
            .chain
            .wait_for(
                "the settlement in the keeper's log",
                Duration::from_secs(10),
                || async {
                    let log = keeper.output();
                    log.contains("settle_job").then_some(log)
                },
            )
            .await;
        let reassigned = log.lines().any(|l| {
            l.contains(&job.to_string()) && l.contains("assign_job") && l.contains("sent")
        });
        assert!(
            !reassigned,
            "the restarted keeper sent no assignment for the job:\n{log}"
        );
        println!(
            "keeper restart: the restarted keeper rebuilt its state from chain and settled the job"
        );
    }

    async fn silent_worker_is_replaced(&mut self) {
        let (job, _) = self.create_job("H100-80GB", 1, 1, 300, "sim:cpu:10").await;
        self.wait_status(&job, JobStatus::Running, Duration::from_secs(20))
            .await;
        let first = self.chain.job(&job).await.unwrap().assignments[0].listing;
        let (i, _) = self
            .workers
            .iter()
            .enumerate()
            .find(|(_, (l, _))| *l == first)
            .unwrap();
        let owner = self.listing_owner_of(&first);
        let stake_before: StakeAccount =
            program_account(&self.chain.rpc, &pda::stake(&owner).0, "stake")
                .await
                .unwrap();
        self.workers[i].1.kill().await;
        let timeout = Duration::from_secs(u64::from(self.params.heartbeat_timeout_secs) + 40);
        let chain = &self.chain;
        chain
            .wait_for("the fault and the reassignment", timeout, || async {
                let account = chain.job(&job).await?;
                // `reassign` reuses the faulted slot, so the silent listing
                // simply disappears from the active assignments.
                let silent_gone = !account
                    .assignments
                    .iter()
                    .any(|a| a.listing == first && a.status() == AssignmentStatus::Active);
                let replaced = account
                    .assignments
                    .iter()
                    .any(|a| a.listing != first && a.status() != AssignmentStatus::Faulted);
                (silent_gone && replaced).then_some(())
            })
            .await;
        let stake_after: StakeAccount =
            program_account(&self.chain.rpc, &pda::stake(&owner).0, "stake")
                .await
                .unwrap();
        assert!(
            stake_after.staked < stake_before.staked,
            "the silent supplier is slashed"
        );
        assert_eq!(self.chain.listing(&first).await.jobs_faulted, 1);
        self.wait_status(&job, JobStatus::Proven, Duration::from_secs(60))
            .await;
        self.wait_closed(&job, self.settle_timeout()).await;
        println!(
            "silent worker: slashed {} base units, job completed on the replacement",
            stake_before.staked - stake_after.staked
        );
    }

    /// The retry ledger: a keeper whose wallet is empty cannot pay for an
    /// action that is due (a job nobody can serve, past its expiry). It
    /// waits 1 s, 2 s, 4 s … (capped at 4 s here) between tries instead of
    /// trying on every 100 ms pass, and says so in GET /v1/jobs/<job> and
    /// /metrics. A funded keeper then expires and closes the job.
    async fn failing_action_backs_off(&mut self) {
        let (job, _) = self.create_job("A100-40GB", 1, 1, 2, "sim:cpu:1").await;
        self.keeper.as_mut().unwrap().kill().await;
        let broke = solana_keypair::Keypair::new();
        let broke_file = self.logs.join("broke-keeper.json");
        std::fs::write(&broke_file, format!("{:?}", broke.to_bytes().to_vec())).unwrap();
        let broke_file = broke_file.display().to_string();
        self.start_keeper_as("keeper-broke", &broke_file, &["--retry-cap", "4s"]);
        let view_url = format!("http://{KEEPER_API}/v1/jobs/{job}");
        let grace = u64::from(self.params.job_grace_secs);
        let first_failure = self
            .chain
            .wait_for(
                "the expiry's first failed send",
                Duration::from_secs(grace + 60),
                || async {
                    let view: serde_json::Value =
                        reqwest::get(&view_url).await.ok()?.json().await.ok()?;
                    (!view["retries"].as_array()?.is_empty()).then(Instant::now)
                },
            )
            .await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        let watched = first_failure.elapsed().as_secs_f64();
        let text = self.keeper_metrics().await;
        let failed = metric(
            &text,
            "iogrid_keeper_actions_total{action=\"expire_job\",outcome=\"failed\"}",
        );
        let retried = metric(
            &text,
            "iogrid_keeper_action_retries_total{action=\"expire_job\"}",
        );
        let backing_off = metric(
            &text,
            "iogrid_keeper_actions_backing_off{action=\"expire_job\"}",
        );
        // Tries at 0, 1, 3, 7, then every 3–4 s: at most 9 in 21 s (a
        // pass every 100 ms without the ledger: ~200).
        assert!(
            (4.0..=10.0).contains(&failed),
            "{failed} failed sends in {watched:.1} s:\n{text}"
        );
        assert_eq!(
            retried,
            failed - 1.0,
            "every send after the first is a retry"
        );
        assert_eq!(backing_off, 1.0, "{text}");
        let view: serde_json::Value = reqwest::get(&view_url).await.unwrap().json().await.unwrap();
        let retry = &view["retries"][0];
        assert_eq!(retry["action"], "expire_job", "{view}");
        assert!(retry["failures"].as_u64().unwrap() >= 4, "{view}");
        assert!(retry["backoff_secs"].as_f64().unwrap() <= 4.0, "{view}");
        assert!(!retry["last_error"].as_str().unwrap().is_empty(), "{view}");
        self.keeper.as_mut().unwrap().kill().await;
        self.start_keeper("keeper-3");
        self.wait_closed(&job, Duration::from_secs(60)).await;
        println!(
            "retry ledger: an unpayable expiry tried {failed} times in {watched:.1} s (cap 4 s; last wait {:.1} s), then expired by a funded keeper",
            retry["backoff_secs"].as_f64().unwrap()
        );
    }

    /// A second keeper registered beside the first: each sends its share
    /// of 24 jobs' assignments, expiries and settlements, and no action is
    /// sent by both. Then the second is SIGKILLed mid-run: the first takes
    /// its share of 8 more jobs over after the grace, and every job closes.
    async fn two_keepers_split_the_jobs(&mut self) {
        const JOBS: usize = 24;
        const AFTER_KILL: usize = 8;
        let grace = Duration::from_secs(10);
        let first = read_keypair(&self.keys.file("keeper"));
        let second = Keypair::new();
        self.fund_sol(&second.pubkey()).await;
        let second_file = self.logs.join("keeper-b.json");
        solana_keypair::write_keypair_file(&second, &second_file).unwrap();
        let authority = read_keypair(&self.keys.file("authority"));
        let keepers = [first.pubkey(), second.pubkey()];
        let ix = SetKeepersAccounts::new(authority.pubkey()).instruction(&keepers);
        self.chain
            .send("set_keepers (2)", &[ix], &[&authority])
            .await;
        let mut second_keeper = self.spawn_second_keeper(&second_file);
        // A 32-GPU listing nobody serves: its jobs run to expiry, so each
        // needs an assignment, an expiry and a settlement.
        let bench_worker = Keypair::new();
        self.fund_sol(&bench_worker.pubkey()).await;
        stake(&mut self.chain, &self.keys.voter, 4_000 * IO).await;
        let id = self.next_listing_id(&self.keys.voter.pubkey()).await;
        let voter = self.keys.voter.insecure_clone();
        list(
            &mut self.chain,
            &voter,
            id,
            bench_worker.pubkey(),
            "BENCH-2",
            32,
            IO,
        )
        .await;
        let listing = ListGpuAccounts::new(voter.pubkey(), id).listing;
        let beating = Arc::new(AtomicBool::new(true));
        self.background.push(heartbeat_in_background(
            self.rpc_url.clone(),
            bench_worker,
            listing,
            beating,
        ));
        let before = [
            self.keeper_metrics().await,
            metrics_at(SECOND_KEEPER_API).await,
        ];
        let mut jobs = Vec::new();
        for _ in 0..JOBS {
            jobs.push(self.create_job("BENCH-2", 1, 1, 5, "sim:cpu:1").await.0);
        }
        let window = Duration::from_secs(u64::from(self.params.job_grace_secs) + 90);
        for job in &jobs {
            self.wait_closed(job, window).await;
        }
        // A keeper counts a send once its confirmation poll returns, which
        // can trail the closed account the test sees: wait for the counts.
        let mut after = Vec::new();
        for _ in 0..50 {
            after = vec![
                self.keeper_metrics().await,
                metrics_at(SECOND_KEEPER_API).await,
            ];
            let total: f64 = after.iter().map(|t| job_actions(t, "sent")).sum::<f64>()
                - before.iter().map(|t| job_actions(t, "sent")).sum::<f64>();
            if total >= (3 * JOBS) as f64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let count = job_actions;
        let sent: Vec<f64> = (0..2)
            .map(|k| count(&after[k], "sent") - count(&before[k], "sent"))
            .collect();
        let duplicates: f64 = (0..2)
            .map(|k| count(&after[k], "already_done") - count(&before[k], "already_done"))
            .sum();
        let takeovers: f64 = (0..2)
            .map(|k| {
                metric_sum(&after[k], "iogrid_keeper_takeovers_total")
                    - metric_sum(&before[k], "iogrid_keeper_takeovers_total")
            })
            .sum();
        println!(
            "two keepers, {JOBS} jobs ({} actions): sent {} + {}, duplicates {duplicates}, takeovers {takeovers}",
            3 * JOBS,
            sent[0],
            sent[1]
        );
        // At least: jobs of earlier scenarios may close meanwhile too.
        assert!(
            sent[0] + sent[1] >= (3 * JOBS) as f64,
            "every action sent: {sent:?}"
        );
        assert!(
            sent[0] > 0.0 && sent[1] > 0.0,
            "both keepers have a share: {sent:?}"
        );
        assert_eq!(duplicates, 0.0, "no action sent by both");

        second_keeper.kill().await;
        let mut taken_over = Vec::new();
        let mut own = Vec::new();
        for _ in 0..AFTER_KILL {
            let (job, _) = self.create_job("BENCH-2", 1, 1, 5, "sim:cpu:1").await;
            let created = Instant::now();
            let owned_by_second =
                iogrid_keeper::share::owner(&job, &keepers) == Some(second.pubkey());
            (if owned_by_second {
                &mut taken_over
            } else {
                &mut own
            })
            .push((job, created));
        }
        // Each job's creation → assignment, all polled together.
        let mut delays = Vec::new();
        let mut unassigned: Vec<(Address, Instant, bool)> = taken_over
            .iter()
            .map(|(j, c)| (*j, *c, true))
            .chain(own.iter().map(|(j, c)| (*j, *c, false)))
            .collect();
        let deadline = Instant::now() + grace + Duration::from_secs(30);
        while !unassigned.is_empty() {
            assert!(Instant::now() < deadline, "unassigned: {unassigned:?}");
            let mut still = Vec::new();
            for (job, created, theirs) in unassigned {
                let running = self
                    .chain
                    .job(&job)
                    .await
                    .is_some_and(|j| j.job.status() != JobStatus::Open);
                if running {
                    delays.push((created.elapsed().as_secs_f64(), theirs));
                } else {
                    still.push((job, created, theirs));
                }
            }
            unassigned = still;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (job, _) in taken_over.iter().chain(&own) {
            self.wait_closed(job, window + grace * 2).await;
        }
        let slowest_own = delays
            .iter()
            .filter(|d| !d.1)
            .map(|d| d.0)
            .fold(0.0, f64::max);
        let slowest_taken = delays
            .iter()
            .filter(|d| d.1)
            .map(|d| d.0)
            .fold(0.0, f64::max);
        println!(
            "keeper SIGKILLed: {} of {AFTER_KILL} jobs were its share, taken over and closed by the other (assigned within {slowest_taken:.1} s, grace {} s; its own within {slowest_own:.1} s)",
            taken_over.len(),
            grace.as_secs()
        );
        let quickest_taken = delays
            .iter()
            .filter(|d| d.1)
            .map(|d| d.0)
            .fold(f64::MAX, f64::min);
        assert!(
            slowest_own < grace.as_secs_f64(),
            "the survivor's own share is not held: {delays:?}"
        );
        assert!(
            taken_over.is_empty() || quickest_taken >= grace.as_secs_f64() * 0.9,
            "the silent keeper's share waits out the grace before a takeover: {delays:?}"
        );
        // Back to one keeper, as the network started.
        let ix = SetKeepersAccounts::new(authority.pubkey()).instruction(&keepers[..1]);
        self.chain
            .send("set_keepers (1)", &[ix], &[&authority])
            .await;
    }

    fn spawn_second_keeper(&self, keypair: &Path) -> Process {
        let args: Vec<String> = [
            "--url",
            &self.rpc_url,
            "--keypair",
            &keypair.display().to_string(),
            "--listen",
            SECOND_KEEPER_API,
            "--tick",
            "500ms",
            "--emission-interval",
            "20s",
        ]
        .map(String::from)
        .to_vec();
        Process::spawn("keeper-b", "iogrid-keeper", &args, &self.logs)
    }

    /// 10 SOL for a new key's fees.
    async fn fund_sol(&self, to: &Address) {
        iogrid_sdk::send::airdrop(&self.chain.rpc, to, 10_000_000_000, &Default::default())
            .await
            .unwrap();
    }

    async fn next_listing_id(&self, owner: &Address) -> u64 {
        program_account::<StakeAccount>(&self.chain.rpc, &pda::stake(owner).0, "staked")
            .await
            .unwrap()
            .next_listing_id
    }

    async fn keeper_metrics(&self) -> String {
        metrics_at(KEEPER_API).await
    }
}

/// A keeper's /metrics, once it answers (a keeper just started may not yet).
async fn metrics_at(api: &str) -> String {
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("http://{api}/metrics")).await {
            if let Ok(text) = response.text().await {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no keeper answers at {api}");
}

fn read_keypair(path: &str) -> Keypair {
    solana_keypair::read_keypair_file(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// A keeper's assignments, expiries and settlements with `outcome`.
fn job_actions(text: &str, outcome: &str) -> f64 {
    ["assign_job", "expire_job", "settle_job"]
        .iter()
        .map(|a| {
            metric(
                text,
                &format!("iogrid_keeper_actions_total{{action=\"{a}\",outcome=\"{outcome}\"}}"),
            )
        })
        .sum()
}

/// The sum of every series of the family `name` (all label values).
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn job_spec(
    model: &str,
    gpus: u16,
    max_listings: u8,
    duration_secs: u64,
    workload: &str,
) -> JobSpec {
    JobSpec {
        workload_hash: Sha256::digest(workload.as_bytes()).into(),
        workload_uri: ascii_field(workload).unwrap(),
        gpu_model: ascii_field(model).unwrap(),
        region: [0; 8],
        max_price_per_gpu_hour: PRICE,
        duration_secs,
        min_vram_gb: 16,
        gpus,
        max_listings,
        padding: [0; 3],
    }
}

async fn stake(chain: &mut Chain, owner: &Keypair, amount: u64) {
    let ix = StakeAccounts::new(owner.pubkey(), token::io_account_of(&owner.pubkey()))
        .instruction(amount);
    chain.send("stake", &[ix], &[owner]).await;
}

async fn list(
    chain: &mut Chain,
    owner: &Keypair,
    id: u64,
    worker: Address,
    model: &str,
    gpus: u16,
    price: u64,
) -> Address {
    let spec = GpuSpec::new(worker, model, 80, gpus, "local", price).unwrap();
    let list = ListGpuAccounts::new(owner.pubkey(), id);
    chain
        .send("list_gpu", &[list.instruction(&spec, id)], &[owner])
        .await;
    list.listing
}

/// Heartbeats `listing` every 2 s until `beating` is cleared.
fn heartbeat_in_background(
    rpc_url: String,
    worker: Keypair,
    listing: Address,
    beating: Arc<AtomicBool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let rpc = iogrid_cli::cluster::rpc_client(rpc_url);
        while beating.load(Ordering::Relaxed) {
            let ix = iogrid_sdk::instructions::HeartbeatAccounts::new(worker.pubkey(), listing)
                .instruction();
            let _ =
                iogrid_sdk::send::send_and_confirm(&rpc, &[ix], &[&worker], &Default::default())
                    .await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    })
}

/// A TCP proxy in front of the validator's websocket that can cut every
/// connection and refuse new ones for a while: a network outage.
struct Proxy {
    refuse_until: Arc<Mutex<Option<Instant>>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(port: u16, upstream: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let refuse_until: Arc<Mutex<Option<Instant>>> = Arc::default();
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (refuse, conns) = (refuse_until.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if refuse
                    .lock()
                    .unwrap()
                    .is_some_and(|until| Instant::now() < until)
                {
                    drop(inbound);
                    continue;
                }
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().unwrap().push(handle);
            }
        });
        Self {
            refuse_until,
            connections,
        }
    }

    /// Drops every open connection and refuses new ones for `outage`.
    fn cut_for(&self, outage: Duration) {
        *self.refuse_until.lock().unwrap() = Some(Instant::now() + outage);
        for handle in self.connections.lock().unwrap().drain(..) {
            handle.abort();
        }
    }
}
