//! Real distributed workloads on the local chain: for each template in
//! `templates/` (Ray Tune, Ray Data batch inference, Ray Train DDP, RLlib
//! PPO), a user escrows a 2-GPU job with `iogrid job create --template`;
//! the keeper matches it across two suppliers whose `iogrid-worker`s run in
//! their own network namespaces (separate IPs, as separate machines); the
//! workers form one Ray cluster, run the workload, hash its outputs, both
//! prove, and the job settles with every IO accounted for. Checked: both
//! nodes did work (the workload's own summary names their IPs), the head's
//! on-chain result is the Merkle root of the outputs it kept, the claims
//! are no more than the measured time, and the money adds up.
//!
//! Ignored by default: it needs the validator (`scripts/install-validator`),
//! Ray (`scripts/ray-env`) and root (network namespaces). `scripts/e2e-ray`
//! runs it; `IOGRID_RAY_TEMPLATES=tune,infer` picks templates.

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

const RPC_PORT: u16 = 38_899;
const FAUCET_PORT: u16 = 39_900;
const KEEPER_PORT: u16 = 38_780;
/// The root namespace's address on the namespaces' bridge (`scripts/netns`).
const BRIDGE_IP: &str = "10.77.0.1";
const TEMPLATES: [&str; 4] = ["tune", "infer", "train", "rl"];

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs solana-test-validator, Ray (scripts/ray-env) and root; run by scripts/e2e-ray"]
async fn templates_run_across_two_suppliers_in_network_namespaces() {
    netns(&["up", "2"]);
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
            run.stop().await;
        }
    })
    .await;
    if let Err(panic) = result {
        for log in ["keeper", "worker-1", "worker-2"] {
            let text = std::fs::read_to_string(logs.join(format!("{log}.log"))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("---- {log} (last 40 lines) ----");
            tail.iter().rev().for_each(|l| eprintln!("{l}"));
        }
        localnet.stop().await.unwrap();
        netns(&["down"]);
        std::panic::resume_unwind(panic.into_panic());
    }
    localnet.stop().await.unwrap();
    netns(&["down"]);
}

fn selected_templates() -> Vec<String> {
    match std::env::var("IOGRID_RAY_TEMPLATES") {
        Ok(list) if !list.trim().is_empty() => {
            list.split(',').map(|t| t.trim().to_string()).collect()
        }
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

struct Run {
    chain: Chain,
    keys: Vec<(String, String)>,
    user: Address,
    logs: PathBuf,
    keeper: Process,
    workers: Vec<Process>,
    listings: [Address; 2],
    suppliers: [Address; 2],
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
            let listed = cli(
                &rpc,
                &supplier,
                &[
                    "listing",
                    "create",
                    "--worker",
                    &workers[i].to_string(),
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
                ],
            );
            listings[i] = listed["address"].as_str().unwrap().parse().unwrap();
            suppliers[i] = listed["owner"].as_str().unwrap().parse().unwrap();
        }
        let ray = std::env::var("IOGRID_RAY").unwrap_or_else(|_| {
            let home = std::env::var("HOME").unwrap();
            format!("{home}/.local/share/iogrid/ray-venv/bin/ray")
        });
        let worker_processes = (0..2)
            .map(|i| {
                let n = i + 1;
                let args = [
                    "-u".to_string(),
                    format!("http://{BRIDGE_IP}:{RPC_PORT}"),
                    "run".into(),
                    "--listing".into(),
                    listings[i].to_string(),
                    "--worker-keypair".into(),
                    key_file(&format!("worker-{n}")),
                    "--simulate".into(),
                    "--keeper-url".into(),
                    format!("http://{BRIDGE_IP}:{KEEPER_PORT}"),
                    "--node-ip".into(),
                    format!("10.77.0.{}", 10 + n),
                    "--gloo-ifname".into(),
                    format!("veth-s{n}"),
                    "--outputs-dir".into(),
                    logs.join(format!("outputs-{n}")).display().to_string(),
                    "--ray".into(),
                    ray.clone(),
                ];
                Process::spawn_in_netns(
                    &format!("iogrid-s{n}"),
                    &format!("worker-{n}"),
                    "iogrid-worker",
                    &args,
                    &logs,
                )
            })
            .collect();
        Self {
            chain,
            keys,
            user,
            logs,
            keeper,
            workers: worker_processes,
            listings,
            suppliers,
            next_id: 1,
        }
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
        let id = self.next_id;
        self.next_id += 1;
        let rpc = format!("http://{BRIDGE_IP}:{RPC_PORT}");
        let escrowed = Instant::now();
        let created = cli(
            &rpc,
            &self.user_key(),
            &[
                "job",
                "create",
                "--id",
                &id.to_string(),
                "--gpus",
                "2",
                "--max-listings",
                "2",
                "--model",
                "H100-80GB",
                "--max-price",
                "36",
                "--hours",
                "0.25",
                "--template",
                &repo_root()
                    .join("templates")
                    .join(template)
                    .display()
                    .to_string(),
                "--keeper-url",
                &format!("http://{BRIDGE_IP}:{KEEPER_PORT}"),
            ],
        );
        let job: Address = created["address"].as_str().unwrap().parse().unwrap();
        let chain = &self.chain;
        let status_is = |status: JobStatus| async move {
            chain.job(&job).await.filter(|j| j.job.status() == status)
        };
        let running = chain
            .wait_for(
                &format!("{template}: job running"),
                Duration::from_secs(30),
                || status_is(JobStatus::Running),
            )
            .await;
        let matched = escrowed.elapsed();
        let mut assigned: Vec<Address> = running.assignments.iter().map(|a| a.listing).collect();
        assigned.sort();
        let mut expected = self.listings.to_vec();
        expected.sort();
        assert_eq!(assigned, expected, "{template}: one GPU from each supplier");
        let proven = chain
            .wait_for(
                &format!("{template}: job proven"),
                Duration::from_secs(600),
                || status_is(JobStatus::Proven),
            )
            .await;
        let wall = escrowed.elapsed();
        let head = proven.assignments[0];
        assert_eq!(head.status(), AssignmentStatus::Proven);
        // The head kept its outputs: their Merkle root is what it proved.
        let kept = self.kept_outputs(&job, head.nonce);
        let root = merkle_root(kept.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        assert_eq!(
            root, head.result_hash,
            "{template}: the proven result is the outputs' root"
        );
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
        let window = network_state(&chain.rpc)
            .await
            .unwrap()
            .config
            .params
            .challenge_window_secs;
        chain
            .wait_for(
                &format!("{template}: job settled"),
                Duration::from_secs(u64::from(window) + 60),
                || async { chain.job(&job).await.is_none().then_some(()) },
            )
            .await;
        let after = Balances::read(&self.chain, &self.user, &self.suppliers).await;
        let deposit = proven.job.deposit;
        let suppliers_net: u64 = (0..2)
            .map(|i| after.suppliers[i] - before.suppliers[i])
            .sum();
        let refund = deposit - (before.user - after.user);
        let fees = after.treasury - before.treasury - (after.rewards_paid - before.rewards_paid);
        let burned = after.burned - before.burned;
        assert_eq!(
            suppliers_net + fees + burned + refund,
            deposit,
            "{template}: payouts + fees + burn + refund == deposit"
        );
        assert!(suppliers_net > 0, "{template}: both suppliers were paid");
        let ready = cluster_ready_secs(&self.logs, &job);
        println!(
            "template {template}: escrow → matched {:.1} s, cluster ready {ready} s after assignment, escrow → proven {:.1} s, claims {:?} GPU-s, paid {suppliers_net}, refund {refund}",
            matched.as_secs_f64(),
            wall.as_secs_f64(),
            proven.assignments.iter().map(|a| a.gpu_seconds).collect::<Vec<_>>(),
        );
    }

    fn kept_outputs(&self, job: &Address, nonce: u64) -> BTreeMap<String, Vec<u8>> {
        let dir = (1..=2)
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
