//! Fault drills on a real local validator: the load harness's jobs (one-GPU
//! listings heartbeating in batches, jobs matched, proven through a
//! keeper's relay, settled) while everything between the keepers or the
//! workers and the validator goes wrong:
//! - a chaos proxy refuses JSON-RPC requests, loses responses after the
//!   validator acted on them, sends requests twice and delays responses so
//!   that they overtake each other; on the websocket it drops, duplicates,
//!   delays and reorders notifications and cuts connections;
//! - two keepers splitting the jobs, one of them SIGKILLed at random points
//!   and restarted;
//! - the RPC node gone for 8 s behind both proxies (every request refused,
//!   every websocket cut) while the chain goes on, as when a keeper's RPC
//!   provider restarts;
//! - the validator stopped and restarted on the same ledger mid-run: on a
//!   one-node cluster a rollback to its last root, which the follower
//!   survives by counting only the finalized chain and creating again the
//!   jobs the rollback erased (`IOGRID_DRILL_VALIDATOR_RESTART=0` skips it).
//!
//! Counted at the end, all required to be 0: jobs lost (not closed),
//! double payments (an owner paid more than its proofs entitle it to),
//! IO unaccounted (the run's parties and the program's books against
//! before), and the program's books against its vaults. Also: the time
//! from each fault's end to the next job making progress, and the RPC
//! calls per job the proxy carried.
//!
//! `scripts/drills` runs 1,000 jobs over 2,000 listings
//! (`IOGRID_DRILL_LISTINGS`, `IOGRID_DRILL_JOBS`, `IOGRID_DRILL_SECS`);
//! CI runs a short version through `scripts/e2e`.

use {
    iogrid_cli::commands::localnet::{Localnet, LocalnetArgs},
    iogrid_sdk::{
        instructions::SetKeepersAccounts,
        rpc::NonblockingRpcClient as RpcClient,
        send::{send_and_confirm, SendOptions},
        Address,
    },
    iogrid_tests::{
        chaos::{ChaosProxy, Faults},
        load::{audit, keeper_sends, list_everything, setting, Books, JobRun, Outcome, Size},
        localchain::{key, localnet_args, print_log_tails, Process},
    },
    solana_commitment_config::CommitmentConfig,
    solana_keypair::{write_keypair_file, Keypair},
    solana_signer::Signer,
    std::{
        collections::HashMap,
        path::{Path, PathBuf},
        sync::Arc,
        time::{Duration, Instant},
    },
};

const RPC_PORT: u16 = 26_899;
const FAUCET_PORT: u16 = 27_900;
/// The keepers' chaos proxy: JSON-RPC here, websocket on the next port.
const PROXY_PORT: u16 = 26_950;
/// The workers' (their heartbeats), kept apart to count the keepers' calls.
const WORKER_PROXY_PORT: u16 = 26_960;
const KEEPER_APIS: [&str; 2] = ["127.0.0.1:26780", "127.0.0.1:26781"];
/// When, after the first job is created, the RPC node goes away (every
/// request refused, every websocket cut) while the chain goes on, as when
/// a keeper's RPC provider restarts; and for how long.
const RPC_OUTAGE_AT: Duration = Duration::from_secs(12);
const RPC_OUTAGE: Duration = Duration::from_secs(8);
/// How long the validator stays down when it is restarted.
const VALIDATOR_DOWN: Duration = Duration::from_secs(3);
/// When, after the first job is created, the validator restarts.
const VALIDATOR_RESTART_AT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs solana-test-validator (scripts/install-validator); run by scripts/drills and scripts/e2e"]
async fn fault_drills_over_many_jobs() {
    let size = Size {
        listings: setting("IOGRID_DRILL_LISTINGS", 2_000) as usize,
        jobs: setting("IOGRID_DRILL_JOBS", 1_000) as usize,
        bound: Duration::from_secs(setting("IOGRID_DRILL_SECS", 1_500)),
    };
    let mut args = localnet_args(RPC_PORT, FAUCET_PORT);
    // A ledger of its own, kept after a failure for its validator log.
    let ledger = std::env::temp_dir().join("iogrid-drills-ledger");
    let _ = std::fs::remove_dir_all(&ledger);
    args.ledger = Some(ledger);
    size.fund_the_funder(&mut args);
    let mut localnet = Localnet::start(&args)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let logs = PathBuf::from(&localnet.info.ledger).join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let result = drill(size, &mut localnet, &args, &logs).await;
    if result.is_err() {
        print_log_tails(&logs, &["keeper-a", "keeper-b"]);
    }
    localnet.stop().await.unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Runs the drill, catching a failure so the caller can show the logs and
/// stop the validator first.
async fn drill(
    size: Size,
    localnet: &mut Localnet,
    args: &LocalnetArgs,
    logs: &Path,
) -> Result<(), Box<dyn std::any::Any + Send>> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(run(size, localnet, args, logs))
        .catch_unwind()
        .await
}

/// The two keepers, restarted under numbered log names.
struct Keepers {
    files: [String; 2],
    running: [Option<Process>; 2],
    logs: PathBuf,
}

impl Keepers {
    fn start(&mut self, i: usize) {
        let name = format!("keeper-{}", ["a", "b"][i]);
        let args: Vec<String> = [
            "--url",
            &format!("http://127.0.0.1:{PROXY_PORT}"),
            "--ws-url",
            &format!("ws://127.0.0.1:{}", PROXY_PORT + 1),
            "--keypair",
            &self.files[i],
            "--listen",
            KEEPER_APIS[i],
            "--tick",
            "500ms",
            "--takeover-grace",
            "10s",
        ]
        .map(String::from)
        .to_vec();
        self.running[i] = Some(Process::spawn(&name, "iogrid-keeper", &args, &self.logs));
    }

    async fn kill(&mut self, i: usize) {
        if let Some(mut keeper) = self.running[i].take() {
            keeper.kill().await;
        }
    }
}

/// A fault and when it ended (the keeper back, the validator healthy).
struct Fault {
    what: String,
    ended: f64,
}

async fn run(size: Size, localnet: &mut Localnet, args: &LocalnetArgs, logs: &Path) {
    let started = Instant::now();
    let rpc = Arc::new(iogrid_cli::cluster::rpc_client(
        localnet.info.rpc_url.clone(),
    ));
    let proxy = ChaosProxy::start(PROXY_PORT, RPC_PORT, Faults::default()).await;
    let worker_proxy = ChaosProxy::start(WORKER_PROXY_PORT, RPC_PORT, Faults::default()).await;
    let chaotic = Arc::new(iogrid_cli::cluster::rpc_client(format!(
        "http://127.0.0.1:{WORKER_PROXY_PORT}"
    )));
    let mut keepers = register_two_keepers(localnet, &rpc, logs).await;
    keepers.start(0);
    keepers.start(1);

    let funder = key(localnet, "supplier-1");
    let user = key(localnet, "user");
    // Listed without faults (setup, not the drill); the heartbeats go
    // through the proxy like everything the workers send.
    let (groups, mut beating) = list_everything(&rpc, &chaotic, &funder, size.listings).await;
    println!(
        "drill: {} listings by {} owners in {:.0} s",
        size.listings,
        groups.len(),
        started.elapsed().as_secs_f64()
    );
    let workers: HashMap<Address, Arc<Keypair>> = groups
        .iter()
        .flat_map(|g| g.listings.iter().map(|l| (*l, g.worker.clone())))
        .collect();
    let owners: Vec<Address> = groups.iter().map(|g| g.owner).collect();
    let books = Books::read(&rpc, &user.pubkey(), &owners, &[]).await;
    let sent_before = sends(&KEEPER_APIS).await;
    let calls_before = proxy.counts().total_calls();

    // A restart before the validator's first snapshot would start the chain
    // over from genesis (docs/scale.md): begin once it has one.
    if validator_restart_enabled() {
        localnet
            .wait_for_a_snapshot()
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    proxy.set_faults(Faults::drill());
    worker_proxy.set_faults(Faults::drill());
    let run = JobRun::start(&rpc, &user, size.jobs).await;
    let t0 = run.first_created;
    let follow = tokio::spawn({
        let rpc = rpc.clone();
        let keeper_apis = KEEPER_APIS.map(String::from).to_vec();
        async move { run.follow(&rpc, &workers, &keeper_apis, size.bound).await }
    });
    let proxies = [&proxy, &worker_proxy];
    let faults = inflict_faults(localnet, args, &mut keepers, proxies, &follow, t0).await;
    let outcome = follow.await.expect("following the jobs");
    proxy.set_faults(Faults::default());
    worker_proxy.set_faults(Faults::default());
    beating.abort_all();

    let calls = proxy.counts().total_calls() - calls_before;
    let sent = sends(&KEEPER_APIS).await - sent_before;
    report(&outcome, &faults, &proxy, calls, sent, size);
    println!(
        "drill faults on the workers' side: {}",
        worker_proxy.counts().faults_line()
    );
    let after = Books::read(&rpc, &user.pubkey(), &owners, &outcome.open_at_end).await;
    books.payments(&after, &outcome).assert_exact(&outcome);
    assert_eq!(
        audit(&rpc).await,
        Vec::<String>::new(),
        "the program's books"
    );
    assert_eq!(
        outcome.lost(),
        0,
        "every job closed: {:?}",
        outcome.open_at_end
    );
    println!("drill: {:.0} s in all", started.elapsed().as_secs_f64());
}

/// A second keeper key, registered in Config beside localnet's keeper.
async fn register_two_keepers(localnet: &Localnet, rpc: &RpcClient, logs: &Path) -> Keepers {
    let first = key(localnet, "keeper");
    let second = Keypair::new();
    let second_file = logs.join("keeper-b.json");
    write_keypair_file(&second, &second_file).unwrap();
    let authority = key(localnet, "authority");
    let fund = solana_system_interface::instruction::transfer(
        &authority.pubkey(),
        &second.pubkey(),
        10_000_000_000,
    );
    let register =
        SetKeepersAccounts::new(authority.pubkey()).instruction(&[first.pubkey(), second.pubkey()]);
    send_and_confirm(
        rpc,
        &[fund, register],
        &[&authority],
        &SendOptions::default(),
    )
    .await
    .expect("registering a second keeper");
    let first_file = localnet
        .info
        .keys
        .iter()
        .find(|(n, _)| n == "keeper")
        .unwrap()
        .1
        .clone();
    Keepers {
        files: [first_file, second_file.display().to_string()],
        running: [None, None],
        logs: logs.to_path_buf(),
    }
}

/// Until the jobs are all followed: a keeper SIGKILLed every 20–35 s (the
/// other one keeps going) and restarted 1–4 s later; once, the RPC node
/// gone for [`RPC_OUTAGE`] behind both proxies; and, when enabled, the
/// validator stopped and restarted on its ledger.
async fn inflict_faults(
    localnet: &mut Localnet,
    args: &LocalnetArgs,
    keepers: &mut Keepers,
    proxies: [&ChaosProxy; 2],
    follow: &tokio::task::JoinHandle<Outcome>,
    t0: Instant,
) -> Vec<Fault> {
    let mut faults = Vec::new();
    let mut outage = Outage::Ahead;
    let mut dice = seed();
    let mut next_kill = t0 + Duration::from_secs(8 + roll(&mut dice, 10));
    // A restarted one-node cluster keeps only its rooted slots: it forgets
    // transactions everyone saw confirmed, a rollback (docs/scale.md).
    let mut restarted = !validator_restart_enabled();
    while !follow.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match outage {
            Outage::Ahead if t0.elapsed() >= RPC_OUTAGE_AT => {
                proxies.iter().for_each(|p| p.outage(RPC_OUTAGE));
                outage = Outage::Until(Instant::now() + RPC_OUTAGE);
            }
            Outage::Until(end) if Instant::now() >= end => {
                faults.push(Fault {
                    what: format!(
                        "the RPC node gone for {} s (requests refused, websockets cut)",
                        RPC_OUTAGE.as_secs()
                    ),
                    ended: t0.elapsed().as_secs_f64(),
                });
                outage = Outage::Over;
            }
            _ => {}
        }
        if !restarted && t0.elapsed() >= VALIDATOR_RESTART_AT {
            restarted = true;
            let rpc = iogrid_cli::cluster::rpc_client(localnet.info.rpc_url.clone());
            let slot = |commitment| {
                let rpc = &rpc;
                async move { rpc.get_slot_with_commitment(commitment).await.unwrap_or(0) }
            };
            let confirmed = slot(CommitmentConfig::confirmed()).await;
            let finalized = slot(CommitmentConfig::finalized()).await;
            let gone = localnet
                .restart_validator(args, VALIDATOR_DOWN)
                .await
                .unwrap_or_else(|e| panic!("restarting the validator: {e:#}"));
            let resumed = slot(CommitmentConfig::processed()).await;
            faults.push(Fault {
                what: format!(
                    "validator stopped at confirmed slot {confirmed} (finalized {finalized}) and \
                     restarted on its ledger ({:.1} s without it), resuming at slot {resumed}",
                    gone.as_secs_f64()
                ),
                ended: t0.elapsed().as_secs_f64(),
            });
        }
        if Instant::now() >= next_kill {
            let victim = roll(&mut dice, 2) as usize;
            keepers.kill(victim).await;
            let down = Duration::from_millis(1_000 + roll(&mut dice, 3_000));
            tokio::time::sleep(down).await;
            keepers.start(victim);
            faults.push(Fault {
                what: format!(
                    "keeper {} SIGKILLed, back {:.1} s later",
                    ["a", "b"][victim],
                    down.as_secs_f64()
                ),
                ended: t0.elapsed().as_secs_f64(),
            });
            next_kill = Instant::now() + Duration::from_secs(20 + roll(&mut dice, 15));
        }
    }
    faults
}

/// The RPC outage's course through the drill.
enum Outage {
    Ahead,
    Until(Instant),
    Over,
}

fn validator_restart_enabled() -> bool {
    std::env::var("IOGRID_DRILL_VALIDATOR_RESTART").as_deref() != Ok("0")
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A number below `below` (xorshift; the drill's timing needs no more).
fn roll(state: &mut u64, below: u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state % below
}

async fn sends(apis: &[&str]) -> f64 {
    let mut total = 0.0;
    for api in apis {
        total += keeper_sends(api).await;
    }
    total
}

fn report(
    outcome: &Outcome,
    faults: &[Fault],
    proxy: &ChaosProxy,
    calls: u64,
    sent: f64,
    size: Size,
) {
    println!(
        "drill: {} jobs over {} listings; all assigned {:.1} s and all closed {:.1} s after the first creation; \
         {} proofs relayed ({} again after a loss), {} hand-ins refused (each handed in again); \
         {} rollback(s) seen: {} closed jobs back, {} erased jobs created again; jobs lost {}",
        outcome.jobs,
        size.listings,
        Outcome::last(&outcome.assigned_at),
        Outcome::last(&outcome.closing_times()),
        outcome.proofs_relayed,
        outcome.proofs_relayed_again,
        outcome.proofs_refused,
        outcome.rollbacks,
        outcome.jobs_reopened,
        outcome.jobs_recreated,
        outcome.lost()
    );
    println!(
        "drill faults on the keepers' side: {}",
        proxy.counts().faults_line()
    );
    for fault in faults {
        let resumed = outcome
            .changes_at
            .iter()
            .copied()
            .filter(|t| *t >= fault.ended)
            .fold(f64::MAX, f64::min);
        if resumed == f64::MAX {
            println!(
                "  {} at {:.1} s: no job changed after it",
                fault.what, fault.ended
            );
        } else {
            println!(
                "  {} at {:.1} s: jobs moving again {:.1} s after",
                fault.what,
                fault.ended,
                resumed - fault.ended
            );
        }
    }
    let mut changes = outcome.changes_at.clone();
    changes.sort_by(f64::total_cmp);
    let stall = changes.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    println!("drill: the longest time no job changed: {stall:.1} s");
    println!(
        "drill RPC: the keepers made {calls} JSON-RPC calls ({:.1} per job, retries through the faults included); \
         the keeper processes alive at the end sent {sent} transactions",
        calls as f64 / outcome.jobs as f64,
    );
    let mut by_method: Vec<(String, u64)> = proxy.counts().calls_by_method().into_iter().collect();
    by_method.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let top: Vec<String> = by_method
        .iter()
        .take(8)
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    println!(
        "drill: the keepers' calls by method (whole run): {}",
        top.join(", ")
    );
}
