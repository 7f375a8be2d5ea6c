//! Real distributed workloads on the local chain: for each template in
//! `templates/` (Ray Tune, Ray Data batch inference, Ray Train DDP, RLlib
//! PPO), a user escrows a 2-GPU job with `iogrid job create --template`;
//! the keeper matches it across two suppliers whose `iogrid-worker`s run in
//! their own network namespaces (separate IPs, as separate machines); the
//! workers form one Ray cluster, run the workload, hash its outputs, both
//! prove, and the job settles with every IO accounted for. Checked: both
//! nodes did work (the workload's own summary names their IPs), the head's
//! on-chain result is the Merkle root of the outputs it kept, the claims
//! are no more than the measured time, and the money adds up. Then a
//! running Tune job is scaled from 2 to 4 GPUs (the added nodes join and
//! run trials), a member and a head are lost mid-training (replaced,
//! resumed from checkpoints), and bad input is refused.
//!
//! Ignored by default: it needs the validator (`scripts/install-validator`),
//! Ray (`scripts/ray-env`) and root (network namespaces). `scripts/e2e-ray`
//! runs it; `IOGRID_RAY_TEMPLATES=tune,infer` picks templates (`none`:
//! none), `IOGRID_RAY_DRILL=0|ci|scale|restart|bad` skips the rest, runs
//! CI's short set (scaling, the member loss, bad input) or only one.

use {
    iogrid_cli::commands::localnet::Localnet,
    iogrid_sdk::{
        accounts::{AssignmentStatus, JobStatus},
        rpc::network_state,
        workload::merkle_root,
        Address,
    },
    iogrid_tests::{
        localchain::{key, localnet_args, workspace_bin, Balances, Chain, Process},
        repo_root,
    },
    solana_signer::Signer,
    std::{
        collections::BTreeMap,
        path::{Path, PathBuf},
        process::Command,
        time::{Duration, Instant},
    },
};

const RPC_PORT: u16 = 14_899;
const FAUCET_PORT: u16 = 15_900;
const KEEPER_PORT: u16 = 14_780;
/// The root namespace's address on the namespaces' bridge (`scripts/netns`).
const BRIDGE_IP: &str = "10.77.0.1";
const TEMPLATES: [&str; 4] = ["tune", "infer", "train", "rl"];
/// Each worker's cap on one node's memory: the templates peak under 2 GiB;
/// the memory-hog bad workload wants 6.
const NODE_MEMORY_GIB: u64 = 4;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs solana-test-validator, Ray (scripts/ray-env) and root; run by scripts/e2e-ray"]
async fn templates_run_across_two_suppliers_in_network_namespaces() {
    netns(&["up", "4"]);
    let mut args = localnet_args(RPC_PORT, FAUCET_PORT);
    args.bind_address = BRIDGE_IP.parse().unwrap();
    let localnet = Localnet::start(&args)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let logs = PathBuf::from(&localnet.info.ledger).join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let result = tokio::spawn({
        let logs = logs.clone();
        let keys = localnet.info.keys.clone();
        let chain = Chain::new(&localnet);
        let user = key(&localnet, "user").pubkey();
        let workers = [
            key(&localnet, "worker-1").pubkey(),
            key(&localnet, "worker-2").pubkey(),
        ];
        async move {
            let mut run = Run::start(chain, keys, user, workers, logs).await;
            for template in selected_templates() {
                run.template_job(&template).await;
            }
            // IOGRID_RAY_DRILL: unset, scaling, the restart and both loss
            // drills, bad input; "ci", scaling, the member loss and bad
            // input (the short run CI makes; scripts/soak runs them all);
            // "scale", "restart" or "bad", only that; "0", none.
            let drills = std::env::var("IOGRID_RAY_DRILL").unwrap_or_default();
            let all = drills.is_empty();
            let ci = drills == "ci";
            if all || ci || drills == "scale" {
                // Scaling brings up the two listings the drills then use
                // as replacements.
                run.scale_a_running_tune_job().await;
            }
            if all || drills == "restart" {
                run.workers_restart_mid_training().await;
            }
            if all || ci {
                run.member_lost_mid_training().await;
            }
            if all {
                run.head_lost_mid_training().await;
            }
            if all || ci || drills == "bad" {
                run.bad_workloads_are_not_proven().await;
            }
            run.stop().await;
        }
    })
    .await;
    if let Err(panic) = result {
        for log in ["keeper", "worker-1", "worker-2", "worker-3", "worker-4"] {
            print_tail(&logs.join(format!("{log}.log")), 60);
        }
        print_ray_logs();
        localnet.stop().await.unwrap();
        netns(&["down"]);
        std::panic::resume_unwind(panic.into_panic());
    }
    localnet.stop().await.unwrap();
    netns(&["down"]);
}

/// The head's teardown record (hashed into its result): its Ray node ran
/// in a bubblewrap sandbox under limits, seeing its one leased GPU, and
/// left no process, cgroup or scratch behind. Returns the record.
fn assert_torn_down(
    kept: &BTreeMap<String, Vec<u8>>,
    listing: &Address,
    what: &str,
) -> serde_json::Value {
    let name = format!("teardown/{listing}.json");
    let record: serde_json::Value = serde_json::from_slice(
        kept.get(&name)
            .unwrap_or_else(|| panic!("{what}: no {name} in the outputs")),
    )
    .unwrap();
    assert_eq!(record["isolation"], "bwrap", "{what}: {record}");
    assert_eq!(
        record["visible_gpus"],
        serde_json::json!([0]),
        "{what}: {record}"
    );
    assert_eq!(
        record["limits"]["memory_bytes"].as_u64().unwrap(),
        NODE_MEMORY_GIB << 30,
        "{what}: {record}"
    );
    assert!(
        record["limits"]["cpus"].as_f64().unwrap() > 0.0,
        "{what}: {record}"
    );
    assert!(
        record["peak_memory_bytes"].as_u64().unwrap() > 0,
        "{what}: {record}"
    );
    assert_eq!(record["processes_left"], 0, "{what}: {record}");
    assert_eq!(record["cgroup_removed"], true, "{what}: {record}");
    assert_eq!(record["scratch_removed"], true, "{what}: {record}");
    record
}

fn print_tail(path: &Path, lines: usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(lines).collect();
    eprintln!("---- {} (last {lines} lines) ----", path.display());
    tail.iter().rev().for_each(|l| eprintln!("{l}"));
}

/// What the killed workers' Ray nodes left in their scratch directories
/// (`/tmp/iogrid-ray-*`, reaped by the next worker start): how each node
/// started, and the job driver's and runtime env's own logs.
fn print_ray_logs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for scratch in entries.flatten().map(|e| e.path()) {
        let is_ray = scratch
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("iogrid-ray-"));
        if !is_ray {
            continue;
        }
        print_tail(&scratch.join("ray-start.log"), 20);
        let session_logs = scratch.join("r/session_latest/logs");
        for log in std::fs::read_dir(&session_logs)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = log.file_name().to_string_lossy().to_string();
            if name.starts_with("job-driver-") || name.starts_with("runtime_env_setup") {
                print_tail(&log.path(), 30);
            }
        }
    }
}

fn selected_templates() -> Vec<String> {
    match std::env::var("IOGRID_RAY_TEMPLATES") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| t != "none")
            .collect(),
        _ => TEMPLATES.map(String::from).to_vec(),
    }
}

fn netns(args: &[&str]) {
    let status = Command::new(repo_root().join("scripts/netns"))
        .args(args)
        .status()
        .expect("running scripts/netns");
    assert!(status.success(), "scripts/netns {args:?}: {status}");
}

/// How a worker is stopped.
enum Stop {
    /// SIGTERM: a service restart.
    Terminate,
    /// SIGKILL: a crash.
    Kill,
}

struct Run {
    chain: Chain,
    keys: Vec<(String, String)>,
    user: Address,
    logs: PathBuf,
    keeper: Process,
    workers: Vec<Process>,
    /// Each namespace's current worker in `workers`.
    worker_index: BTreeMap<usize, usize>,
    listings: [Address; 2],
    suppliers: [Address; 2],
    /// Each served listing's namespace number (its worker's `n`).
    namespaces: BTreeMap<Address, usize>,
    next_id: u64,
}

impl Run {
    async fn start(
        chain: Chain,
        keys: Vec<(String, String)>,
        user: Address,
        workers: [Address; 2],
        logs: PathBuf,
    ) -> Self {
        let key_file = |name: &str| {
            keys.iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| p.clone())
                .unwrap()
        };
        let rpc = format!("http://{BRIDGE_IP}:{RPC_PORT}");
        let keeper = Process::spawn(
            "keeper",
            "iogrid-keeper",
            &[
                "--url",
                &rpc,
                "--keypair",
                &key_file("keeper"),
                "--listen",
                &format!("0.0.0.0:{KEEPER_PORT}"),
                "--tick",
                "500ms",
            ]
            .map(String::from),
            &logs,
        );
        let mut listings = [Address::default(); 2];
        let mut suppliers = [Address::default(); 2];
        for i in 0..2 {
            let supplier = key_file(&format!("supplier-{}", i + 1));
            cli(&rpc, &supplier, &["stake", "add", "1000"]);
            let listed = list_one_h100(&rpc, &supplier, &workers[i]);
            listings[i] = listed["address"].as_str().unwrap().parse().unwrap();
            suppliers[i] = listed["owner"].as_str().unwrap().parse().unwrap();
        }
        let mut run = Self {
            chain,
            keys,
            user,
            logs,
            keeper,
            workers: Vec::new(),
            worker_index: BTreeMap::new(),
            listings,
            suppliers,
            namespaces: BTreeMap::new(),
            next_id: 1,
        };
        for (i, listing) in listings.iter().enumerate() {
            run.start_worker(i + 1, listing);
        }
        run
    }

    fn key_file(&self, name: &str) -> String {
        self.keys
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .unwrap()
    }

    /// `iogrid-worker` for `listing` with key `worker-<n>`, in namespace
    /// `iogrid-s<n>` (IP 10.77.0.(10 + n)), as a supplier's machine.
    fn start_worker(&mut self, n: usize, listing: &Address) {
        self.namespaces.insert(*listing, n);
        let ray = std::env::var("IOGRID_RAY").unwrap_or_else(|_| {
            let home = std::env::var("HOME").unwrap();
            format!("{home}/.local/share/iogrid/ray-venv/bin/ray")
        });
        let args = [
            "-u".to_string(),
            format!("http://{BRIDGE_IP}:{RPC_PORT}"),
            "run".into(),
            "--listing".into(),
            listing.to_string(),
            "--worker-keypair".into(),
            self.key_file(&format!("worker-{n}")),
            "--simulate".into(),
            "1xH100-80GB".into(),
            "--keeper-url".into(),
            format!("http://{BRIDGE_IP}:{KEEPER_PORT}"),
            "--node-ip".into(),
            format!("10.77.0.{}", 10 + n),
            "--gloo-ifname".into(),
            format!("veth-s{n}"),
            "--outputs-dir".into(),
            self.logs.join(format!("outputs-{n}")).display().to_string(),
            "--node-memory-gib".into(),
            NODE_MEMORY_GIB.to_string(),
            "--ray".into(),
            ray,
        ];
        let process = Process::spawn_in_netns(
            n,
            &format!("worker-{n}"),
            "iogrid-worker",
            &args,
            &self.logs,
        );
        self.worker_index.insert(n, self.workers.len());
        self.workers.push(process);
    }
}

impl Run {
    /// `iogrid job create --template <dir>`: 2 GPUs, 15 minutes.
    fn create_template_job(&mut self, template: &Path) -> Address {
        let template = template.display().to_string();
        self.create_job(2, "0.25", ["--template", &template])
    }

    /// `iogrid job create` for `gpus` H100s (one listing each) for `hours`,
    /// running `workload` (`--uri …` or `--template …`).
    fn create_job(&mut self, gpus: u16, hours: &str, workload: [&str; 2]) -> Address {
        let id = self.next_id.to_string();
        self.next_id += 1;
        let gpus = gpus.to_string();
        let keeper = format!("http://{BRIDGE_IP}:{KEEPER_PORT}");
        let args = [
            "job",
            "create",
            "--id",
            &id,
            "--gpus",
            &gpus,
            "--max-listings",
            &gpus,
            "--model",
            "H100-80GB",
            "--max-price",
            "36",
            "--hours",
            hours,
            workload[0],
            workload[1],
            "--keeper-url",
            &keeper,
        ];
        let rpc = format!("http://{BRIDGE_IP}:{RPC_PORT}");
        let created = cli(&rpc, &self.user_key(), &args);
        created["address"].as_str().unwrap().parse().unwrap()
    }

    fn user_key(&self) -> String {
        self.keys
            .iter()
            .find(|(n, _)| n == "user")
            .map(|(_, p)| p.clone())
            .unwrap()
    }

    async fn template_job(&mut self, template: &str) {
        let before = Balances::read(&self.chain, &self.user, &self.suppliers).await;
        let escrowed = Instant::now();
        let job = self.create_template_job(&repo_root().join("templates").join(template));
        // What the user watches: the Ray job's log, followed to its end.
        let logs = std::process::Command::new(workspace_bin("iogrid"))
            .args(["job", "logs", &job.to_string(), "--follow", "--keeper-url"])
            .arg(format!("http://{BRIDGE_IP}:{KEEPER_PORT}"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let chain = &self.chain;
        let running = wait_job_status(
            chain,
            &job,
            JobStatus::Running,
            &format!("{template}: job running"),
            Duration::from_secs(30),
        )
        .await;
        let matched = escrowed.elapsed();
        let mut assigned: Vec<Address> = running.assignments.iter().map(|a| a.listing).collect();
        assigned.sort();
        let mut expected = self.listings.to_vec();
        expected.sort();
        assert_eq!(assigned, expected, "{template}: one GPU from each supplier");
        let proven = wait_job_status(
            chain,
            &job,
            JobStatus::Proven,
            &format!("{template}: job proven"),
            Duration::from_secs(600),
        )
        .await;
        let wall = escrowed.elapsed();
        let followed = tokio::task::spawn_blocking(move || logs.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let followed_text = String::from_utf8_lossy(&followed.stdout);
        assert!(
            followed.status.success() && followed_text.contains("\"node_ips\""),
            "{template}: `iogrid job logs --follow` streamed the job's log to its end: {followed:?}"
        );
        let head = proven.assignments[0];
        assert_eq!(head.status(), AssignmentStatus::Proven);
        // The head kept its outputs: their Merkle root is what it proved.
        let kept = self.kept_outputs(&job, head.nonce);
        let root = merkle_root(kept.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        assert_eq!(
            root, head.result_hash,
            "{template}: the proven result is the outputs' root"
        );
        let teardown = assert_torn_down(&kept, &head.listing, template);
        let summary: serde_json::Value =
            serde_json::from_slice(&kept["output/summary.json"]).expect("summary.json");
        let ips: Vec<&str> = summary["node_ips"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for ip in ["10.77.0.11", "10.77.0.12"] {
            assert!(
                ips.contains(&ip),
                "{template}: node {ip} did work: {summary}"
            );
        }
        // Claims: measured time, never more than the job's elapsed time.
        let elapsed_secs = wall.as_secs() + 1;
        for a in &proven.assignments {
            assert!(
                a.gpu_seconds >= 1 && a.gpu_seconds <= elapsed_secs,
                "{template}: claim {} ≤ {elapsed_secs} s",
                a.gpu_seconds
            );
        }
        wait_settled(chain, &job, template).await;
        let after = Balances::read(&self.chain, &self.user, &self.suppliers).await;
        let flows = after.flows_since(&before, proven.job.deposit, template);
        let (suppliers_net, refund) = (flows.suppliers, flows.refund);
        assert!(suppliers_net > 0, "{template}: both suppliers were paid");
        let ready = cluster_ready_secs(&self.logs, &job);
        println!(
            "template {template}: escrow → matched {:.1} s, cluster ready {ready} s after assignment, escrow → proven {:.1} s, claims {:?} GPU-s, paid {suppliers_net}, refund {refund}; head sandbox peak memory {} MiB of {} MiB",
            matched.as_secs_f64(),
            wall.as_secs_f64(),
            proven.assignments.iter().map(|a| a.gpu_seconds).collect::<Vec<_>>(),
            teardown["peak_memory_bytes"].as_u64().unwrap_or(0) >> 20,
            teardown["limits"]["memory_bytes"].as_u64().unwrap_or(0) >> 20,
        );
    }

    /// Scaling: a Tune job of 16 trials starts on the two suppliers'
    /// listings; two more listings come up (workers 3 and 4) and the user
    /// runs `iogrid job scale --gpus 4`. The keeper assigns them, their
    /// workers join the running Ray cluster and Tune runs pending trials on
    /// them; all four prove and the job settles with every IO accounted
    /// for. The new listings then stand by for the drills.
    async fn scale_a_running_tune_job(&mut self) {
        let rpc = format!("http://{BRIDGE_IP}:{RPC_PORT}");
        // The new listings' stake, before the balances the job's flows are
        // measured from.
        cli(
            &rpc,
            &self.key_file("supplier-1"),
            &["stake", "add", "2000"],
        );
        let before = Balances::read(&self.chain, &self.user, &self.suppliers).await;
        let escrowed = Instant::now();
        let job = self.create_template_job(&busy_tune_template(&self.logs));
        let running = wait_job_status(
            &self.chain,
            &job,
            JobStatus::Running,
            "scale: job running",
            Duration::from_secs(30),
        )
        .await;
        let first: Vec<Address> = running.assignments.iter().map(|a| a.listing).collect();
        // Scaled while the workload runs (its first trials take both nodes).
        wait_for_any_log(
            &self.logs,
            "Ray job RUNNING",
            &job,
            Duration::from_secs(120),
        )
        .await;
        let added_listings = [self.add_listing(3), self.add_listing(4)];
        let scaled_at = Instant::now();
        let scaled = cli(
            &rpc,
            &self.user_key(),
            &["job", "scale", &job.to_string(), "--gpus", "4"],
        );
        assert_eq!(scaled["gpus"], 4, "scale: {scaled}");
        let chain = &self.chain;
        let grown = chain
            .wait_for(
                "scale: the added GPUs assigned",
                Duration::from_secs(120),
                || async { chain.job(&job).await.filter(|j| j.active().count() == 4) },
            )
            .await;
        let assigned_after = scaled_at.elapsed();
        let mut added: Vec<Address> = grown
            .active()
            .map(|a| a.listing)
            .filter(|l| !first.contains(l))
            .collect();
        added.sort();
        let mut expected = added_listings.to_vec();
        expected.sort();
        assert_eq!(added, expected, "scale: the new listings were assigned");
        for listing in &added {
            let n = self.namespaces[listing];
            wait_for_log(&self.logs, n, "joined the job's Ray cluster", &job).await;
        }
        let joined_after = scaled_at.elapsed();
        let proven = wait_job_status(
            chain,
            &job,
            JobStatus::Proven,
            "scale: job proven",
            Duration::from_secs(600),
        )
        .await;
        let wall = escrowed.elapsed();
        assert!(
            proven
                .assignments
                .iter()
                .all(|a| a.status() == AssignmentStatus::Proven)
                && proven.assignments.len() == 4,
            "scale: all four nodes proved: {:?}",
            proven.assignments
        );
        let head = proven.assignments[0];
        let kept = self.kept_outputs(&job, head.nonce);
        let summary: serde_json::Value =
            serde_json::from_slice(&kept["output/summary.json"]).unwrap();
        let mut trials_per_node = BTreeMap::<String, u32>::new();
        for trial in summary["trials"].as_array().unwrap() {
            *trials_per_node
                .entry(trial["node_ip"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        for listing in &added {
            assert!(
                trials_per_node.contains_key(&self.node_ip(listing)),
                "scale: the added node {} ran trials: {summary}",
                self.node_ip(listing)
            );
        }
        let elapsed_secs = wall.as_secs() + 1;
        for a in &proven.assignments {
            assert!(
                a.gpu_seconds >= 1 && a.gpu_seconds <= elapsed_secs,
                "scale: claim {} ≤ {elapsed_secs} s",
                a.gpu_seconds
            );
        }
        wait_settled(chain, &job, "scale").await;
        let after = Balances::read(chain, &self.user, &self.suppliers).await;
        let flows = after.flows_since(&before, proven.job.deposit, "scale");
        println!(
            "scale: 2 → 4 GPUs: added listings assigned {:.1} s and joined the Ray cluster {:.1} s after `iogrid job scale`; escrow → proven {:.1} s; trials per node {trials_per_node:?}; claims {:?} GPU-s; paid {}, refund {}",
            assigned_after.as_secs_f64(),
            joined_after.as_secs_f64(),
            wall.as_secs_f64(),
            proven.assignments.iter().map(|a| a.gpu_seconds).collect::<Vec<_>>(),
            flows.suppliers,
            flows.refund,
        );
    }

    /// Worker restarts: mid-training, the head's worker is stopped with
    /// SIGTERM (a supplier restarting the service) and the member's with
    /// SIGKILL (a crash), and both are started again. The Ray nodes they
    /// left running are reattached: no fault, no replacement, the Ray job
    /// is submitted once and trains on without restarting, both prove with
    /// claims that cover the time before the restart, and the job settles.
    async fn workers_restart_mid_training(&mut self) {
        let (job, running) = self.drill_job("restart").await;
        let nodes: Vec<(Address, u64)> = running
            .assignments
            .iter()
            .map(|a| (a.listing, a.nonce))
            .collect();
        let faults_before = self.chain.listing(&nodes[0].0).await.jobs_faulted
            + self.chain.listing(&nodes[1].0).await.jobs_faulted;
        let restarted = Instant::now();
        self.restart_worker(&nodes[0].0, Stop::Terminate).await;
        self.restart_worker(&nodes[1].0, Stop::Kill).await;
        println!("restart: both workers stopped (head SIGTERM, member SIGKILL) and started again");
        for (listing, _) in &nodes {
            let n = self.namespaces[listing];
            wait_for_log(&self.logs, n, "reattached to this node's Ray", &job).await;
        }
        let chain = &self.chain;
        let proven = wait_job_status(
            chain,
            &job,
            JobStatus::Proven,
            "restart: job proven",
            Duration::from_secs(600),
        )
        .await;
        let since_restart = restarted.elapsed().as_secs();
        let provers: Vec<(Address, u64)> = proven
            .assignments
            .iter()
            .filter(|a| a.status() == AssignmentStatus::Proven)
            .map(|a| (a.listing, a.nonce))
            .collect();
        assert_eq!(
            provers, nodes,
            "the same two assignments proved: no replacement"
        );
        let faults_after = chain.listing(&nodes[0].0).await.jobs_faulted
            + chain.listing(&nodes[1].0).await.jobs_faulted;
        assert_eq!(faults_after, faults_before, "restart: no fault reported");
        for a in &proven.assignments {
            assert!(
                a.gpu_seconds > since_restart,
                "restart: the claim {} covers time before the restart ({since_restart} s since)",
                a.gpu_seconds
            );
        }
        let kept = self.kept_outputs(&job, proven.assignments[0].nonce);
        assert_torn_down(&kept, &nodes[0].0, "restart");
        let summary: serde_json::Value =
            serde_json::from_slice(&kept["output/summary.json"]).unwrap();
        assert_eq!(
            summary["resumed_from_epoch"].as_u64().unwrap_or(0),
            0,
            "restart: training ran through, never restarted: {summary}"
        );
        let head_log = std::fs::read_to_string(
            self.logs
                .join(format!("worker-{}.log", self.namespaces[&nodes[0].0])),
        )
        .unwrap();
        let submissions = head_log
            .lines()
            .filter(|l| l.contains("Ray job submitted") && l.contains(&job.to_string()))
            .count();
        assert_eq!(submissions, 1, "restart: the Ray job was submitted once");
        wait_settled(chain, &job, "restart").await;
        println!(
            "restart: reattached; job proven {since_restart} s after the restart with claims {:?} GPU-s (no fault, no resubmission), settled",
            proven.assignments.iter().map(|a| a.gpu_seconds).collect::<Vec<_>>()
        );
    }

    /// Stops `listing`'s worker (`how`) and starts it again, as its
    /// supplier would; its Ray nodes are left as they are.
    async fn restart_worker(&mut self, listing: &Address, how: Stop) {
        let n = self.namespaces[listing];
        let index = self
            .worker_index
            .get(&n)
            .copied()
            .expect("a worker runs in that namespace");
        let worker = &mut self.workers[index];
        match how {
            Stop::Terminate => {
                let status = worker.terminate().await;
                assert!(
                    status.success(),
                    "worker-{n} stops cleanly on SIGTERM: {status}"
                );
            }
            Stop::Kill => worker.kill().await,
        }
        self.start_worker(n, listing);
    }

    /// The fault drill: a 2-node DDP training job loses its non-head node
    /// (every process of that supplier's namespace SIGKILLed, as a machine
    /// dying). Its heartbeats stop, the keeper reports the fault and assigns
    /// a third supplier's listing, whose worker joins the running Ray
    /// cluster; Ray Train restarts the worker group from the last
    /// checkpoint; the job is proven by the head and the replacement and
    /// settles.
    async fn member_lost_mid_training(&mut self) {
        let (job, running) = self.drill_job("drill").await;
        let head = running.assignments[0].listing;
        let member = running.assignments[1].listing;
        let (killed, replaced, replacement) = self
            .kill_until_replaced(&job, &running, &member, "drill")
            .await;
        let reassigned_after = killed.elapsed();
        let chain = &self.chain;
        // The fault was paid and the slot handed to the replacement.
        assert!(
            replaced.assignments.iter().all(|a| a.listing != member),
            "the lost node's assignment was replaced"
        );
        assert_eq!(
            self.chain.listing(&member).await.jobs_faulted,
            1,
            "the lost node's fault is on its listing's record"
        );
        let proven = wait_job_status(
            chain,
            &job,
            JobStatus::Proven,
            "drill: job proven",
            Duration::from_secs(600),
        )
        .await;
        let recovered_after = killed.elapsed();
        let statuses: Vec<(Address, AssignmentStatus)> = proven
            .assignments
            .iter()
            .map(|a| (a.listing, a.status()))
            .collect();
        assert_eq!(
            statuses,
            [
                (head, AssignmentStatus::Proven),
                (replacement, AssignmentStatus::Proven)
            ],
            "head and replacement proved"
        );
        let kept = self.kept_outputs(&job, proven.assignments[0].nonce);
        assert_torn_down(&kept, &head, "drill");
        let summary: serde_json::Value =
            serde_json::from_slice(&kept["output/summary.json"]).unwrap();
        let job_log = String::from_utf8_lossy(&kept["ray-job.log"]).into_owned();
        let notable: Vec<&str> = job_log
            .lines()
            .filter(|l| {
                ["heckpoint", "estor", "ailure", "rror", "died"]
                    .iter()
                    .any(|w| l.contains(w))
            })
            .take(60)
            .collect();
        assert!(
            summary["resumed_from_epoch"].as_u64().unwrap_or(0) > 0,
            "training resumed from a checkpoint: {summary}\n{}",
            notable.join("\n")
        );
        let ips = summary["node_ips"].to_string();
        assert!(
            ips.contains(&self.node_ip(&replacement)),
            "the replacement trained: {summary}"
        );
        wait_settled(chain, &job, "drill").await;
        println!(
            "drill: node lost → replacement assigned {:.1} s, → job proven {:.1} s (resumed from epoch {}), settled",
            reassigned_after.as_secs_f64(),
            recovered_after.as_secs_f64(),
            summary["resumed_from_epoch"]
        );
    }

    /// The second drill: a training job loses its head's machine (the Ray
    /// head, with the cluster's control plane, SIGKILLed with its worker).
    /// The keeper reports the fault and assigns a fourth supplier listing;
    /// the surviving node notices the head is gone (it stops answering),
    /// reads the next head from the chain and serves under it, perhaps as
    /// the head itself; the workload starts again on the new cluster and
    /// resumes from the job's checkpoints; the survivor and the replacement
    /// prove and the job settles.
    async fn head_lost_mid_training(&mut self) {
        let (job, running) = self.drill_job("head drill").await;
        let head = running.assignments[0].listing;
        let survivor = running.assignments[1].listing;
        let (killed, _, replacement) = self
            .kill_until_replaced(&job, &running, &head, "head drill")
            .await;
        let reassigned_after = killed.elapsed();
        let chain = &self.chain;
        let proven = wait_job_status(
            chain,
            &job,
            JobStatus::Proven,
            "head drill: job proven",
            Duration::from_secs(600),
        )
        .await;
        let recovered_after = killed.elapsed();
        let mut provers: Vec<Address> = proven
            .assignments
            .iter()
            .filter(|a| a.status() == AssignmentStatus::Proven)
            .map(|a| a.listing)
            .collect();
        provers.sort();
        let mut expected = vec![survivor, replacement];
        expected.sort();
        assert_eq!(provers, expected, "the survivor and the replacement proved");
        let new_head = proven.cluster_nodes().next().copied().unwrap();
        let kept = self.kept_outputs(&job, new_head.nonce);
        assert_torn_down(&kept, &new_head.listing, "head drill");
        let summary: serde_json::Value =
            serde_json::from_slice(&kept["output/summary.json"]).unwrap();
        assert!(
            summary["resumed_from_epoch"].as_u64().unwrap_or(0) > 0,
            "training resumed from the job's checkpoints on the new cluster: {summary}"
        );
        let ips = summary["node_ips"].to_string();
        assert!(
            ips.contains(&self.node_ip(&survivor)) && ips.contains(&self.node_ip(&replacement)),
            "the survivor and the replacement trained: {summary}"
        );
        // Settled before the next step reads balances.
        wait_settled(chain, &job, "head drill").await;
        let role = if new_head.listing == survivor {
            "the survivor"
        } else {
            "the replacement"
        };
        println!(
            "head drill: head lost → replacement assigned {:.1} s, → job proven {:.1} s (resumed from epoch {}; new head: {role}), settled",
            reassigned_after.as_secs_f64(),
            recovered_after.as_secs_f64(),
            summary["resumed_from_epoch"]
        );
    }

    /// A drill's slow training job, running across two of the healthy
    /// listings (the others stand by to replace a lost node); returns once
    /// the job has checkpointed an epoch (the namespaces share the host's
    /// filesystem: the test sees it).
    async fn drill_job(&mut self, what: &str) -> (Address, iogrid_sdk::accounts::JobAccount) {
        let template = slow_training_template(&self.logs);
        let job = self.create_template_job(&template);
        let running = wait_job_status(
            &self.chain,
            &job,
            JobStatus::Running,
            &format!("{what}: job running"),
            Duration::from_secs(30),
        )
        .await;
        wait_for_checkpoint(&job, Duration::from_secs(180)).await;
        (job, running)
    }

    /// SIGKILLs every process of `victim`'s namespace (a machine lost) and
    /// waits until a listing the job did not have (`running`: the job
    /// before) is assigned in its place; when the kill happened, the job
    /// then, and the replacement listing.
    async fn kill_until_replaced(
        &self,
        job: &Address,
        running: &iogrid_sdk::accounts::JobAccount,
        victim: &Address,
        what: &str,
    ) -> (Instant, iogrid_sdk::accounts::JobAccount, Address) {
        let n = self.namespaces[victim];
        let killed = Instant::now();
        netns(&["kill", &n.to_string()]);
        println!("{what}: supplier node {n} (listing {victim}) killed mid-training");
        let before: Vec<Address> = running.assignments.iter().map(|a| a.listing).collect();
        let chain = &self.chain;
        let replaced = chain
            .wait_for(
                &format!("{what}: replacement assigned"),
                Duration::from_secs(120),
                || async {
                    chain
                        .job(job)
                        .await
                        .filter(|j| j.active().any(|a| !before.contains(&a.listing)))
                },
            )
            .await;
        let replacement = replaced
            .active()
            .find(|a| !before.contains(&a.listing))
            .map(|a| a.listing)
            .unwrap();
        (killed, replaced, replacement)
    }

    /// `listing`'s worker's IP (its namespace's).
    fn node_ip(&self, listing: &Address) -> String {
        format!("10.77.0.{}", 10 + self.namespaces[listing])
    }

    /// A new one-H100 listing of supplier 1 (who staked for it) served by
    /// a worker with key `worker-<n>` in namespace `n`.
    fn add_listing(&mut self, n: usize) -> Address {
        let rpc = format!("http://{BRIDGE_IP}:{RPC_PORT}");
        let supplier = self.key_file("supplier-1");
        let worker = solana_keypair::read_keypair_file(self.key_file(&format!("worker-{n}")));
        let listed = list_one_h100(&rpc, &supplier, &worker.unwrap().pubkey());
        let listing: Address = listed["address"].as_str().unwrap().parse().unwrap();
        self.start_worker(n, &listing);
        listing
    }

    /// Bad input, on the listings the drills left healthy: a `spec:` job
    /// whose hash names no spec anyone uploaded, a spec whose requirements
    /// cannot be installed, and a workload that wants more memory than its
    /// node's cgroup allows (the kernel kills it). The workers say why in their logs
    /// and prove nothing; the jobs expire and settle with every IO
    /// accounted for (the suppliers get the heartbeat-verified time they
    /// held the GPU for, the user the rest).
    async fn bad_workloads_are_not_proven(&mut self) {
        let before = Balances::read(&self.chain, &self.user, &self.suppliers).await;
        let bad_requirements = self.logs.join("bad-requirements");
        std::fs::create_dir_all(&bad_requirements).unwrap();
        std::fs::write(
            bad_requirements.join("workload.toml"),
            "kind = \"ray\"\nentrypoint = \"python main.py\"\n\
             requirements = [\"iogrid-no-such-package==0.0.1\"]\n",
        )
        .unwrap();
        std::fs::write(bad_requirements.join("main.py"), "print('never runs')\n").unwrap();
        // 6 GiB touched, on nodes capped at NODE_MEMORY_GIB.
        let memory_hog = self.logs.join("memory-hog");
        std::fs::create_dir_all(&memory_hog).unwrap();
        std::fs::write(
            memory_hog.join("workload.toml"),
            "kind = \"ray\"\nentrypoint = \"python main.py\"\n",
        )
        .unwrap();
        std::fs::write(
            memory_hog.join("main.py"),
            "held = []\nfor _ in range(48):\n    block = bytearray(128 << 20)\n    \
             memoryview(block)[::4096] = b'\\x01' * (len(block) // 4096)\n    held.append(block)\n\
             print('allocated 6 GiB')\n",
        )
        .unwrap();
        // Two at a time: the drills left two healthy listings, and a refused
        // job holds its listing until it expires.
        let first = [
            (
                ["--uri", "spec:nobody-uploaded-this"],
                "0.05",
                "fetching the workload spec",
            ),
            (
                ["--template", bad_requirements.to_str().unwrap()],
                "0.05",
                "the Ray job ended FAILED",
            ),
        ];
        let mut deposits = self.refused_and_settled(&first).await;
        let hog = [(
            ["--template", memory_hog.to_str().unwrap()],
            "0.02",
            "the workload failed",
        )];
        deposits += self.refused_and_settled(&hog).await;
        let after = Balances::read(&self.chain, &self.user, &self.suppliers).await;
        let flows = after.flows_since(&before, deposits, "bad workloads");
        println!(
            "bad workloads refused with their reasons; expired and settled: deposits {deposits}, suppliers {}, refund {}",
            flows.suppliers, flows.refund
        );
    }

    /// Creates a 1-GPU job per `(workload args, hours, reason)`, waits until a
    /// worker logs the reason for each, then until each expired and settled,
    /// never proven. Returns their deposits.
    async fn refused_and_settled(&mut self, bad: &[([&str; 2], &str, &str)]) -> u64 {
        let jobs: Vec<Address> = bad
            .iter()
            .map(|(workload, hours, _)| self.create_job(1, hours, *workload))
            .collect();
        // Read now: a job refused early may expire and close before the
        // other's refusal is logged.
        let mut deposits = 0;
        for job in &jobs {
            deposits += self
                .chain
                .job(job)
                .await
                .expect("a job just created is open")
                .job
                .deposit;
        }
        for (job, (_, _, reason)) in jobs.iter().zip(bad) {
            wait_for_any_log(&self.logs, reason, job, Duration::from_secs(180)).await;
        }
        let chain = &self.chain;
        for job in &jobs {
            chain
                .wait_for(
                    "bad workload: job expired and settled",
                    Duration::from_secs(300),
                    || async {
                        match chain.job(job).await {
                            None => Some(()),
                            Some(open) => {
                                let status = open.job.status();
                                assert!(
                                    !matches!(status, JobStatus::Proven | JobStatus::Approved),
                                    "a bad workload is never proven"
                                );
                                None
                            }
                        }
                    },
                )
                .await;
        }
        deposits
    }

    fn kept_outputs(&self, job: &Address, nonce: u64) -> BTreeMap<String, Vec<u8>> {
        let dir = (1..=4)
            .map(|n| self.logs.join(format!("outputs-{n}/{job}-{nonce}")))
            .find(|d| d.is_dir())
            .unwrap_or_else(|| panic!("no worker kept the outputs of {job}"));
        let mut kept = BTreeMap::new();
        collect_files(&dir, &dir, &mut kept);
        kept
    }

    async fn stop(&mut self) {
        for worker in &mut self.workers {
            worker.terminate().await;
        }
        let status = self.keeper.terminate().await;
        assert!(status.success(), "the keeper exits cleanly: {status}");
    }
}

fn collect_files(root: &Path, dir: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, into);
        } else {
            let name = path.strip_prefix(root).unwrap().display().to_string();
            into.insert(name, std::fs::read(&path).unwrap());
        }
    }
}

/// `templates/tune` with 16 trials (the grid 4 times), enough to still be
/// running when scaled nodes join.
fn busy_tune_template(logs: &Path) -> PathBuf {
    variant_of_template(
        "tune",
        logs,
        "IOGRID_TUNE_EPOCHS = \"40\"",
        "IOGRID_TUNE_EPOCHS = \"40\"\nIOGRID_TUNE_SAMPLES = \"4\"",
    )
}

/// A copy of `templates/<name>` under `logs` with `from` replaced by `to` in
/// its `workload.toml`.
fn variant_of_template(name: &str, logs: &Path, from: &str, to: &str) -> PathBuf {
    let dir = logs.join(format!("{name}-variant"));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(repo_root().join("templates").join(name))
        .unwrap()
        .flatten()
    {
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let manifest = dir.join("workload.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        text.contains(from),
        "templates/{name}/workload.toml has {from}"
    );
    std::fs::write(&manifest, text.replace(from, to)).unwrap();
    dir
}

/// `templates/train` made slow enough to lose a node mid-run: 8 epochs of
/// at least 4 s, up to 10 restarts of the worker group.
fn slow_training_template(logs: &Path) -> PathBuf {
    variant_of_template(
        "train",
        logs,
        "IOGRID_TRAIN_EPOCHS = \"6\"",
        "IOGRID_TRAIN_EPOCHS = \"8\"\nIOGRID_TRAIN_EPOCH_SLEEP_S = \"4\"\nIOGRID_TRAIN_MAX_FAILURES = \"10\"",
    )
}

/// Waits until the training of `job` has written a checkpoint under the
/// head's scratch directory (`<tmp>/iogrid-ray-<job prefix>-…/checkpoints`).
async fn wait_for_checkpoint(job: &Address, timeout: Duration) {
    // The job's checkpoint directory (IOGRID_CHECKPOINT_DIR), which the
    // workers make at this path on every node.
    let run_dir = std::env::temp_dir().join(format!("iogrid-checkpoints-{job}/iogrid-train"));
    let started = Instant::now();
    loop {
        let found = std::fs::read_dir(&run_dir)
            .into_iter()
            .flat_map(|entries| entries.flatten())
            .any(|e| e.file_name().to_string_lossy().starts_with("checkpoint_"));
        if found {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "no checkpoint of {job} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `job` is settled and closed (its challenge window, then the
/// keeper's settlement).
async fn wait_settled(chain: &Chain, job: &Address, what: &str) {
    let window = network_state(&chain.rpc)
        .await
        .unwrap()
        .config
        .params
        .challenge_window_secs;
    chain
        .wait_for(
            &format!("{what}: job settled"),
            Duration::from_secs(u64::from(window) + 60),
            || async { chain.job(job).await.is_none().then_some(()) },
        )
        .await;
}

/// Waits until `job` has `status`; its account then.
async fn wait_job_status(
    chain: &Chain,
    job: &Address,
    status: JobStatus,
    what: &str,
    timeout: Duration,
) -> iogrid_sdk::accounts::JobAccount {
    chain
        .wait_for(what, timeout, || async {
            chain.job(job).await.filter(|j| j.job.status() == status)
        })
        .await
}

/// Waits (up to 180 s: the new nodes start Ray while the machine's two
/// cores run the others' trials) until `worker-<n>`'s log has a line with
/// `text` about `job`; on timeout the panic carries the log's last lines.
async fn wait_for_log(logs: &Path, n: usize, text: &str, job: &Address) {
    let started = Instant::now();
    let log = logs.join(format!("worker-{n}.log"));
    loop {
        let content = std::fs::read_to_string(&log).unwrap_or_default();
        let found = content
            .lines()
            .any(|l| l.contains(text) && l.contains(&job.to_string()));
        if found {
            return;
        }
        if started.elapsed() >= Duration::from_secs(180) {
            let lines: Vec<&str> = content.lines().collect();
            let last = lines[lines.len().saturating_sub(40)..].join("\n");
            panic!("worker-{n} never logged {text:?} for {job}; its log ends:\n{last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until some worker's log has a line with `text` about `job`.
async fn wait_for_any_log(logs: &Path, text: &str, job: &Address, timeout: Duration) {
    let started = Instant::now();
    loop {
        let found = (1..=4).any(|n| {
            std::fs::read_to_string(logs.join(format!("worker-{n}.log")))
                .unwrap_or_default()
                .lines()
                .any(|l| l.contains(text) && l.contains(&job.to_string()))
        });
        if found {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "no worker logged {text:?} for {job}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// "Ray cluster ready in X s" from the head's log for `job`.
fn cluster_ready_secs(logs: &Path, job: &Address) -> String {
    (1..=2)
        .filter_map(|n| std::fs::read_to_string(logs.join(format!("worker-{n}.log"))).ok())
        .flat_map(|text| {
            text.lines()
                .filter(|l| l.contains("Ray cluster ready in") && l.contains(&job.to_string()))
                .filter_map(|l| {
                    l.split("ready in ")
                        .nth(1)?
                        .split(' ')
                        .next()
                        .map(String::from)
                })
                .collect::<Vec<_>>()
        })
        .next()
        .unwrap_or_else(|| "?".into())
}

/// `iogrid listing create`: one H100 at 36 IO/h served by `worker`.
fn list_one_h100(rpc: &str, supplier: &str, worker: &Address) -> serde_json::Value {
    let worker = worker.to_string();
    let args = [
        "listing",
        "create",
        "--worker",
        &worker,
        "--model",
        "H100-80GB",
        "--vram-gb",
        "80",
        "--gpus",
        "1",
        "--region",
        "local",
        "--price",
        "36",
    ];
    cli(rpc, supplier, &args)
}

/// Runs the `iogrid` CLI with `--output json-compact`; its parsed answer.
fn cli(rpc: &str, keypair: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(workspace_bin("iogrid"))
        .args(["-u", rpc, "-k", keypair, "--output", "json-compact"])
        .args(args)
        .output()
        .expect("running iogrid");
    assert!(
        out.status.success(),
        "iogrid {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "iogrid {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
