//! Load on a real local validator: many listings heartbeating in batches
//! (`heartbeat_many`), many jobs created at once, the keeper matching them,
//! proofs handed to the keeper's relay, settlement after the challenge
//! window. Counted at the end: jobs lost (not closed), proofs refused, the
//! keeper's CPU and memory, the transactions it sent per job. Bounded in
//! count and time.
//!
//! `scripts/load` runs it at 10,000 listings and 1,000 jobs
//! (`IOGRID_LOAD_LISTINGS`, `IOGRID_LOAD_JOBS`, `IOGRID_LOAD_SECS`); CI runs
//! a short version through `scripts/e2e`.

use {
    iogrid_cli::commands::localnet::Localnet,
    iogrid_sdk::Address,
    iogrid_tests::{
        chaos::{ChaosProxy, Faults},
        load::{
            audit, cpu_seconds, keeper_sends, list_everything, memory_mib, setting, Books, JobRun,
            KeeperCost, Size, BEAT_BATCH, BEAT_EVERY,
        },
        localchain::{key, key_path, localnet_args, print_log_tails, Process},
    },
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{collections::HashMap, path::Path, path::PathBuf, sync::Arc, time::Instant},
};

const RPC_PORT: u16 = 28_899;
const FAUCET_PORT: u16 = 29_900;
const KEEPER_API: &str = "127.0.0.1:28780";
/// A proxy without faults in front of the validator, counting the keeper's
/// JSON-RPC calls (websocket on the next port).
const COUNTING_PROXY_PORT: u16 = 28_950;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs solana-test-validator (scripts/install-validator); run by scripts/load and scripts/e2e"]
async fn load_on_a_local_validator() {
    let size = Size {
        listings: setting("IOGRID_LOAD_LISTINGS", 10_000) as usize,
        jobs: setting("IOGRID_LOAD_JOBS", 1_000) as usize,
        bound: std::time::Duration::from_secs(setting("IOGRID_LOAD_SECS", 1_200)),
    };
    let mut args = localnet_args(RPC_PORT, FAUCET_PORT);
    size.fund_the_funder(&mut args);
    let localnet = Localnet::start(&args)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let logs = PathBuf::from(&localnet.info.ledger).join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let keys = Keys {
        keeper: key_path(&localnet, "keeper"),
        funder: key(&localnet, "supplier-1"),
        user: key(&localnet, "user"),
    };
    let rpc_url = localnet.info.rpc_url.clone();
    let result = tokio::spawn({
        let logs = logs.clone();
        async move { run(size, rpc_url, keys, &logs).await }
    })
    .await;
    if result.is_err() {
        print_log_tails(&logs, &["keeper"]);
    }
    localnet.stop().await.unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
}

struct Keys {
    keeper: String,
    funder: Keypair,
    user: Keypair,
}

async fn run(size: Size, rpc_url: String, keys: Keys, logs: &Path) {
    let started = Instant::now();
    let rpc = Arc::new(iogrid_cli::cluster::rpc_client(rpc_url.clone()));
    let counter = ChaosProxy::start(COUNTING_PROXY_PORT, RPC_PORT, Faults::default()).await;
    let keeper = Process::spawn(
        "keeper",
        "iogrid-keeper",
        &[
            "--url",
            &format!("http://127.0.0.1:{COUNTING_PROXY_PORT}"),
            "--ws-url",
            &format!("ws://127.0.0.1:{}", COUNTING_PROXY_PORT + 1),
            "--keypair",
            &keys.keeper,
            "--listen",
            KEEPER_API,
            "--tick",
            "500ms",
        ]
        .map(String::from),
        logs,
    );
    let keeper_pid = keeper.child.id().expect("the keeper runs");

    let listed = Instant::now();
    let (groups, mut beating) = list_everything(&rpc, &rpc, &keys.funder, size.listings).await;
    let listing_secs = listed.elapsed().as_secs_f64();
    println!(
        "{} listings by {} owners in {listing_secs:.1} s ({:.0} listings/s), heartbeating {BEAT_BATCH} per transaction every {} s",
        size.listings,
        groups.len(),
        size.listings as f64 / listing_secs,
        BEAT_EVERY.as_secs()
    );
    let workers: HashMap<Address, Arc<Keypair>> = groups
        .iter()
        .flat_map(|g| g.listings.iter().map(|l| (*l, g.worker.clone())))
        .collect();
    let owners: Vec<Address> = groups.iter().map(|g| g.owner).collect();
    let user = keys.user.pubkey();

    let books = Books::read(&rpc, &user, &owners, &[]).await;
    let cpu_before = cpu_seconds(keeper_pid);
    let sent_before = keeper_sends(KEEPER_API).await;
    let calls_before = counter.counts().total_calls();
    let run = JobRun::start(&rpc, &keys.user, size.jobs).await;
    let outcome = run
        .follow(&rpc, &workers, &[KEEPER_API.to_string()], size.bound)
        .await;
    let (rss_mib, peak_mib) = memory_mib(keeper_pid);
    let cost = KeeperCost {
        cpu_secs: cpu_seconds(keeper_pid) - cpu_before,
        sent: keeper_sends(KEEPER_API).await - sent_before,
        rss_mib,
        peak_mib,
    };
    beating.abort_all();
    outcome.report(size, &cost, started.elapsed());
    let calls = counter.counts().total_calls() - calls_before;
    println!(
        "load: the keeper made {calls} JSON-RPC calls while the jobs ran ({:.1} per job); by method: {:?}",
        calls as f64 / size.jobs as f64,
        counter.counts().calls_by_method()
    );
    let after = Books::read(&rpc, &user, &owners, &outcome.open_at_end).await;
    books.payments(&after, &outcome).assert_exact(&outcome);
    assert_eq!(
        audit(&rpc).await,
        Vec::<String>::new(),
        "the program's books"
    );
    assert_eq!(outcome.lost(), 0, "every job closed: {outcome:?}");
    assert_eq!(outcome.proofs_refused, 0, "{outcome:?}");
}
