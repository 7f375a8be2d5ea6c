//! The `iogrid` binary against a real local validator: bad input is refused
//! with one clear sentence and a non-zero exit, and nothing reaches the chain
//! (the signer's SOL, IO and transaction history and the program's accounts
//! are unchanged); the market-wide reads (`listings`, `jobs`) and the new
//! verbs (`listing update/delist`, `rewards show/claim`, `job status/cancel`)
//! work on what the good path created.
//!
//! Ignored by default because it needs the validator binary:
//! `scripts/install-validator`, then `scripts/e2e` (which builds `iogrid`).

use {
    iogrid_cli::commands::localnet::Localnet,
    iogrid_sdk::{
        accounts::{Config, GpuListing, Job, ProgramAccount, Proposal, StakeAccount, VoteRecord},
        constants::{format_io, IO},
        rpc::{network_state, program_accounts, NonblockingRpcClient as RpcClient},
        Address,
    },
    iogrid_tests::{
        localchain::{key, key_path, localnet_args, workspace_bin, Chain},
        repo_root,
    },
    serde_json::Value,
    solana_signer::Signer,
    std::{
        path::{Path, PathBuf},
        time::{Instant, SystemTime},
    },
};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs solana-test-validator (scripts/install-validator); run by scripts/e2e"]
async fn bad_cli_input_is_refused_before_anything_is_sent() {
    let bin = fresh_iogrid_binary();
    let started = Instant::now();
    let localnet = Localnet::start(&localnet_args(12_899, 13_900))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    println!("localnet ready in {:.1} s", started.elapsed().as_secs_f64());
    let mut chain = Chain::new(&localnet);
    let mut cli = Cli {
        bin,
        url: localnet.info.rpc_url.clone(),
        runs: 0,
    };
    // A panic drops `localnet`, which kills the validator.
    let started = Instant::now();
    let made = good_path(&localnet, &mut chain, &mut cli).await;
    println!(
        "good path: {} CLI runs in {:.1} s",
        cli.runs,
        started.elapsed().as_secs_f64()
    );
    let (runs, started) = (cli.runs, Instant::now());
    bad_input(&localnet, &chain, &mut cli, &made).await;
    println!(
        "bad input: {} refusals, each with the chain checked before and after, in {:.1} s",
        cli.runs - runs,
        started.elapsed().as_secs_f64()
    );
    let (runs, started) = (cli.runs, Instant::now());
    cleanup(&localnet, &chain, &mut cli, &made).await;
    println!(
        "cancel + delist: {} CLI runs in {:.1} s",
        cli.runs - runs,
        started.elapsed().as_secs_f64()
    );
    localnet.stop().await.unwrap();
}

/// `--fee-payer` pays the fee instead of the signer, and
/// `--with-compute-unit-price` adds exactly the priority fee it names.
async fn fee_payer_pays(localnet: &Localnet, chain: &Chain, cli: &mut Cli) {
    let user = key_path(localnet, "user");
    // The first stake creates the stake account (rent from the signer).
    cli.ok(&user, &["stake", "add", "1"]).await;
    let (signer, payer) = (
        key(localnet, "user").pubkey(),
        key(localnet, "voter").pubkey(),
    );
    let sol = |address| async move { chain.rpc.get_balance(&address).await.unwrap() };
    let (signer_before, payer_before) = (sol(signer).await, sol(payer).await);
    let voter = key_path(localnet, "voter");
    let args = [
        "stake",
        "add",
        "1",
        "--fee-payer",
        voter.as_str(),
        "--with-compute-unit-price",
        "1000",
    ];
    cli.ok(&user, &args).await;
    assert_eq!(sol(signer).await, signer_before, "the signer paid no fee");
    // Two signatures at 5,000 lamports, plus 1,000 micro-lamports for each
    // compute unit the transaction may use by default: 200,000 for the
    // program's instruction and 3,000 for the compute-budget one (a builtin).
    assert_eq!(payer_before - sol(payer).await, 2 * 5_000 + 203);
}

/// What the good path created.
struct Made {
    listing: String,
    job: String,
}

async fn good_path(localnet: &Localnet, chain: &mut Chain, cli: &mut Cli) -> Made {
    let supplier = key_path(localnet, "supplier-1");
    let user = key_path(localnet, "user");
    let worker = key(localnet, "worker-1");

    cli.ok(&supplier, &["stake", "add", "1000"]).await;
    let worker_address = worker.pubkey().to_string();
    let listing = cli
        .json(
            &supplier,
            &[
                "listing",
                "create",
                "--worker",
                &worker_address,
                "--model",
                "H100-80GB",
                "--vram-gb",
                "80",
                "--region",
                "local",
                "--price",
                "36",
            ],
        )
        .await;
    let listing = text(&listing["address"]);
    let job = cli
        .json(
            &user,
            &[
                "job",
                "create",
                "--id",
                "7",
                "--max-price",
                "36",
                "--hours",
                "0.5",
                "--uri",
                "sim:cpu:1",
            ],
        )
        .await;
    assert_eq!(job["deposit"], 18 * IO, "36 IO/GPU-h × 1 GPU × 0.5 h");
    let job = text(&job["address"]);
    fee_payer_pays(localnet, chain, cli).await;

    // listings: all, by owner, by model and availability (after a heartbeat,
    // since nothing else beats for this worker).
    let owner = key(localnet, "supplier-1").pubkey().to_string();
    chain
        .heartbeat(&worker, &listing.parse::<Address>().unwrap())
        .await;
    let all = cli.json(&user, &["listings"]).await;
    let found = the_one(&all["listings"], &listing);
    assert_eq!(found["owner"], owner.as_str());
    assert_eq!(found["price_per_gpu_hour"], 36 * IO);
    assert_eq!(found["gpus"], 1);
    assert_eq!(found["gpus_free"], 1);
    assert_eq!(found["status"], "Available");
    assert_eq!(found["stale"], false);
    let mine = cli.json(&user, &["listings", "--owner", &owner]).await;
    the_one(&mine["listings"], &listing);
    let other_owner = key(localnet, "user").pubkey().to_string();
    let none = cli
        .json(&user, &["listings", "--owner", &other_owner])
        .await;
    assert_eq!(none["listings"], Value::Array(vec![]));
    let free = cli
        .json(&user, &["listings", "--model", "h100-80gb", "--available"])
        .await;
    the_one(&free["listings"], &listing);
    let a100 = cli.json(&user, &["listings", "--model", "A100"]).await;
    assert_eq!(a100["listings"], Value::Array(vec![]));
    let table = cli.ok(&user, &["listings"]).await;
    println!("$ iogrid listings\n{table}");
    assert!(table.starts_with("LISTING"), "{table}");
    assert!(
        table.contains(&listing) && table.contains("H100-80GB") && table.contains("1/1"),
        "{table}"
    );

    // jobs: all, by status, by owner; `job status` is `job show`.
    let jobs = cli.json(&user, &["jobs"]).await;
    let found = the_one(&jobs["jobs"], &job);
    assert_eq!(found["status"], "Open");
    assert_eq!(found["gpus_assigned"], 0);
    let open = cli.json(&user, &["jobs", "--status", "open"]).await;
    the_one(&open["jobs"], &job);
    let running = cli.json(&user, &["jobs", "--status", "running"]).await;
    assert_eq!(running["jobs"], Value::Array(vec![]));
    let by_supplier = cli.json(&user, &["jobs", "--owner", &owner]).await;
    assert_eq!(by_supplier["jobs"], Value::Array(vec![]));
    let table = cli.ok(&user, &["jobs"]).await;
    println!("$ iogrid jobs\n{table}");
    assert!(table.starts_with("JOB") && table.contains(&job) && table.contains("0/1"));
    assert_eq!(
        cli.json(&user, &["job", "status", &job]).await["status"],
        "Open"
    );

    // A supplier's verbs: rewards (earned only with a live worker), a price change.
    chain
        .heartbeat(&worker, &listing.parse::<Address>().unwrap())
        .await;
    println!(
        "$ iogrid rewards show\n{}",
        cli.ok(&supplier, &["rewards", "show", &listing]).await
    );
    let rewards = cli.json(&supplier, &["rewards", "show", &listing]).await;
    assert!(rewards["claimable"].as_u64().unwrap() > 0, "{rewards}");
    let claimed = cli.json(&supplier, &["rewards", "claim", &listing]).await;
    assert!(claimed["paid"].as_u64().unwrap() > 0, "{claimed}");
    let updated = cli
        .json(&supplier, &["listing", "update", &listing, "--price", "40"])
        .await;
    assert_eq!(updated["price_per_gpu_hour"], 40 * IO);
    let offline = cli
        .json(&supplier, &["listing", "update", &listing, "--offline"])
        .await;
    assert_eq!(offline["status"], "Offline");
    let free = cli.json(&user, &["listings", "--available"]).await;
    assert_eq!(free["listings"], Value::Array(vec![]));
    let online = cli
        .json(&supplier, &["listing", "update", &listing, "--online"])
        .await;
    assert_eq!(online["status"], "Available");
    Made { listing, job }
}

async fn bad_input(localnet: &Localnet, chain: &Chain, cli: &mut Cli, made: &Made) {
    let user = Wallet::new(localnet, "user");
    let supplier = Wallet::new(localnet, "supplier-1");
    let other_supplier = Wallet::new(localnet, "supplier-2");
    let unknown = Address::new_unique().to_string();
    let (listing, job) = (made.listing.as_str(), made.job.as_str());

    // Irreversible without a terminal to ask on: --yes or nothing happens.
    let authority = Wallet::new(localnet, "authority");
    let expected = format!(
        "error: Hand the network's authority to the governance PDA {}? From then on only \
         passed proposals change parameters, and this key has no power left. This cannot be \
         undone: pass --yes to confirm",
        iogrid_sdk::pda::governance().0
    );
    refused(chain, cli, &authority, &["gov", "handover"], &expected).await;
    assert!(
        footprint(chain, &user.address).await.signatures > 0,
        "the validator records each wallet's transactions, so one sent would show"
    );

    // Malformed prices: refused while parsing, before any RPC.
    for (price, message) in [
        (
            "abc",
            "\"abc\" is not an IO amount (up to 6 decimals, e.g. 12.5)",
        ),
        (
            "1.2.3",
            "\"1.2.3\" is not an IO amount (up to 6 decimals, e.g. 12.5)",
        ),
        ("-1", "\"-1\" is negative; IO amounts are positive"),
        (
            "1.0000001",
            "\"1.0000001\" has 7 decimals; IO has 6 (the smallest amount is 0.000001)",
        ),
        ("0", "\"0\": a price must be more than 0 IO"),
    ] {
        let args = [
            "job",
            "create",
            "--id",
            "8",
            "--max-price",
            price,
            "--hours",
            "1",
            "--uri",
            "u",
        ];
        let expected = format!("error: invalid value '{price}' for '--max-price <IO>': {message}");
        refused(chain, cli, &user, &args, &expected).await;
    }

    // More IO than the wallet holds.
    let have = chain.balance(&user.address).await;
    let expected = format!(
        "error: you have {}, the escrow needs 200000.000000 IO",
        format_io(have)
    );
    let args = [
        "job",
        "create",
        "--id",
        "8",
        "--max-price",
        "100000",
        "--hours",
        "2",
        "--uri",
        "u",
    ];
    refused(chain, cli, &user, &args, &expected).await;
    let args = [
        "job",
        "create",
        "--id",
        "7",
        "--max-price",
        "1",
        "--hours",
        "1",
        "--uri",
        "u",
    ];
    let expected = format!("error: you already have job #7 at {job} (pick another --id)");
    refused(chain, cli, &user, &args, &expected).await;
    let expected = "error: you have 100000.000000 IO, the stake needs 200000.000000 IO";
    refused(
        chain,
        cli,
        &other_supplier,
        &["stake", "add", "200000"],
        expected,
    )
    .await;

    // Unknown, foreign and wrong-kind addresses.
    let no_listing =
        format!("error: no listing at {unknown} (never created, or delisted and closed)");
    for args in [
        ["listing", "show", unknown.as_str()],
        ["listing", "delist", unknown.as_str()],
        ["rewards", "show", unknown.as_str()],
        ["rewards", "claim", unknown.as_str()],
    ] {
        let stderr = refused(chain, cli, &supplier, &args, &no_listing).await;
        assert_eq!(stderr.matches("no listing at").count(), 1, "{stderr}");
    }
    let no_job =
        format!("error: no job at {unknown} (never created, or settled/cancelled and closed)");
    for verb in ["show", "status", "cancel", "approve", "dispute"] {
        let stderr = refused(chain, cli, &user, &["job", verb, &unknown], &no_job).await;
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(!stderr.contains("AccountNotFound"), "{stderr}");
    }
    let wallet = user.address.to_string();
    let expected = format!(
        "error: {wallet} is not a listing: it belongs to 11111111111111111111111111111111, \
         not to the iogrid program"
    );
    refused(chain, cli, &user, &["listing", "show", &wallet], &expected).await;
    let expected = format!("error: {job} is an iogrid account but not a listing");
    refused(chain, cli, &user, &["listing", "show", job], &expected).await;
    let not_yours = format!(
        "error: listing {listing} belongs to {}; you are {} (pass its owner's --keypair)",
        supplier.address, user.address
    );
    for args in [
        vec!["listing", "delist", listing],
        vec!["listing", "update", listing, "--offline"],
        vec!["rewards", "claim", listing],
    ] {
        refused(chain, cli, &user, &args, &not_yours).await;
    }
    let expected = format!(
        "error: job {job} belongs to {}; you are {} (pass its owner's --keypair)",
        user.address, supplier.address
    );
    refused(chain, cli, &supplier, &["job", "cancel", job], &expected).await;
    refused(
        chain,
        cli,
        &supplier,
        &["job", "scale", job, "--gpus", "2"],
        &expected,
    )
    .await;
    refused(
        chain,
        cli,
        &supplier,
        &["job", "extend", job, "--hours", "1"],
        &expected,
    )
    .await;
    let args = ["job", "scale", &unknown, "--gpus", "2"];
    refused(chain, cli, &user, &args, &no_job).await;

    // Growing a job: more GPUs than it has, a positive time, within a year.
    let expected = format!(
        "error: job {job} already has 1 GPU(s): --gpus is the total after scaling, so more than that"
    );
    refused(
        chain,
        cli,
        &user,
        &["job", "scale", job, "--gpus", "1"],
        &expected,
    )
    .await;
    let args = ["job", "extend", job, "--hours", "0"];
    refused(chain, cli, &user, &args, "error: --hours must be positive").await;
    let expected =
        format!("error: a job runs at most a year (8760 hours); job {job} already has 0.50 h");
    let args = ["job", "extend", job, "--hours", "8760"];
    refused(chain, cli, &user, &args, &expected).await;

    // What the chain's state forbids.
    for (verb, done) in [("approve", "approved"), ("dispute", "disputed")] {
        let expected = format!(
            "error: job {job} is Open: only a Proven job (every assignment's proof in) can be {done}"
        );
        refused(chain, cli, &user, &["job", verb, job], &expected).await;
    }
    let per_gpu = network_state(&chain.rpc)
        .await
        .unwrap()
        .config
        .params
        .min_stake_per_gpu;
    assert_eq!(per_gpu, 100 * IO, "migrations/localnet.toml");
    let worker = key(localnet, "worker-2").pubkey().to_string();
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
        "10",
        "--region",
        "local",
        "--price",
        "36",
    ];
    let expected = "error: listing 10 GPU(s) locks 1000.000000 IO of stake (100.000000 IO per \
                    GPU); you have 900.000000 IO unlocked (1000.000000 IO staked, 100.000000 IO \
                    locked by your listings): iogrid stake add <IO>";
    refused(chain, cli, &supplier, &args, expected).await;
}

/// Cancel the job and delist: both accounts close, and the reads say so.
async fn cleanup(localnet: &Localnet, chain: &Chain, cli: &mut Cli, made: &Made) {
    let user = key_path(localnet, "user");
    let supplier = key_path(localnet, "supplier-1");
    // Grown while open: a second GPU for its 0.5 h (18 IO more), then
    // 0.5 h more for both (36 IO more).
    let before = chain.balance(&key(localnet, "user").pubkey()).await;
    let scaled = cli
        .json(&user, &["job", "scale", &made.job, "--gpus", "2"])
        .await;
    assert_eq!(
        (scaled["gpus"].as_u64(), scaled["deposit"].as_u64()),
        (Some(2), Some(36 * IO))
    );
    let args = ["job", "extend", &made.job, "--hours", "0.5"];
    let extended = cli.json(&user, &args).await;
    assert_eq!(extended["duration_secs"], 3_600);
    assert_eq!(extended["deposit"], 72 * IO);
    assert_eq!(
        before - chain.balance(&key(localnet, "user").pubkey()).await,
        54 * IO
    );
    // Without --id, a fresh id from the clock (milliseconds), unused.
    let since_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let args = [
        "job",
        "create",
        "--max-price",
        "36",
        "--hours",
        "0.5",
        "--uri",
        "sim:cpu:1",
    ];
    let fresh = cli.json(&user, &args).await;
    assert!(fresh["id"].as_u64().unwrap() >= since_ms, "{fresh}");
    let fresh_job = text(&fresh["address"]);
    let cancelled = cli.json(&user, &["job", "cancel", &fresh_job]).await;
    assert_eq!(cancelled["refunded"], 18 * IO);
    let before = chain.balance(&key(localnet, "user").pubkey()).await;
    let cancelled = cli.json(&user, &["job", "cancel", &made.job]).await;
    assert_eq!(cancelled["refunded"], 72 * IO);
    assert_eq!(
        chain.balance(&key(localnet, "user").pubkey()).await - before,
        72 * IO
    );
    let delisted = cli
        .json(&supplier, &["listing", "delist", &made.listing, "--yes"])
        .await;
    assert_eq!(delisted["stake_unlocked"], 100 * IO);
    assert_eq!(
        cli.json(&user, &["listings"]).await["listings"],
        Value::Array(vec![])
    );
    assert_eq!(cli.ok(&user, &["jobs"]).await.trim(), "no jobs");
    let (code, stderr) = cli.fails(&user, &["job", "show", &made.job]).await;
    assert_ne!(code, 0);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: no job at {} (never created, or settled/cancelled and closed)",
            made.job
        )
    );
}

// ---------------------------------------------------------------------------

/// The `iogrid` binary pointed at the test's validator.
struct Cli {
    bin: PathBuf,
    url: String,
    runs: usize,
}

impl Cli {
    async fn run(&mut self, keypair: &str, args: &[&str]) -> std::process::Output {
        self.runs += 1;
        tokio::process::Command::new(&self.bin)
            .args(["-u", &self.url, "-k", keypair])
            .args(args)
            .env_remove("IOGRID_URL")
            .env_remove("IOGRID_KEYPAIR")
            .output()
            .await
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()))
    }

    /// Runs a command that must succeed; its stdout.
    async fn ok(&mut self, keypair: &str, args: &[&str]) -> String {
        let out = self.run(keypair, args).await;
        assert!(
            out.status.success(),
            "iogrid {}: {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must succeed with `--output json`.
    async fn json(&mut self, keypair: &str, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let stdout = self.ok(keypair, &all).await;
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    /// Runs a command that must fail: (exit code, stderr).
    async fn fails(&mut self, keypair: &str, args: &[&str]) -> (i32, String) {
        let out = self.run(keypair, args).await;
        assert!(
            !out.status.success(),
            "iogrid {} should have failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stderr).unwrap(),
        )
    }
}

/// A demo wallet: its key file and address.
struct Wallet {
    path: String,
    address: Address,
}

impl Wallet {
    fn new(localnet: &Localnet, name: &str) -> Self {
        Self {
            path: key_path(localnet, name),
            address: key(localnet, name).pubkey(),
        }
    }
}

/// Everything a sent transaction would change for `wallet`.
#[derive(Debug, PartialEq, Eq)]
struct Footprint {
    lamports: u64,
    io: u64,
    /// Transactions that ever touched the wallet (failed ones included).
    signatures: usize,
    /// Every account of the program, by type.
    program_accounts: [usize; 6],
}

async fn footprint(chain: &Chain, wallet: &Address) -> Footprint {
    let rpc: &RpcClient = &chain.rpc;
    let mut program_accounts_by_type = [0; 6];
    let discriminators = [
        Config::DISCRIMINATOR,
        StakeAccount::DISCRIMINATOR,
        GpuListing::DISCRIMINATOR,
        Job::DISCRIMINATOR,
        Proposal::DISCRIMINATOR,
        VoteRecord::DISCRIMINATOR,
    ];
    for (count, discriminator) in program_accounts_by_type.iter_mut().zip(discriminators) {
        *count = program_accounts(rpc, discriminator)
            .await
            .unwrap()
            .accounts
            .len();
    }
    Footprint {
        lamports: rpc.get_balance(wallet).await.unwrap(),
        io: chain.balance(wallet).await,
        signatures: signatures_of(&rpc.url(), wallet).await,
        program_accounts: program_accounts_by_type,
    }
}

/// Transactions recorded for `wallet` at confirmed commitment (the client's
/// `get_signatures_for_address` asks for finalized ones, which lag).
async fn signatures_of(url: &str, wallet: &Address) -> usize {
    let request = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "getSignaturesForAddress",
        "params": [wallet.to_string(), { "commitment": "confirmed" }],
    });
    let response: Value = reqwest::Client::new()
        .post(url)
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["result"]
        .as_array()
        .unwrap_or_else(|| panic!("getSignaturesForAddress: {response}"))
        .len()
}

/// Runs `args` as `wallet`: a non-zero exit, `expected` as the first line of
/// stderr, and nothing changed on chain. Returns stderr.
async fn refused(
    chain: &Chain,
    cli: &mut Cli,
    wallet: &Wallet,
    args: &[&str],
    expected: &str,
) -> String {
    let before = footprint(chain, &wallet.address).await;
    let (code, stderr) = cli.fails(&wallet.path, args).await;
    assert_ne!(code, 0);
    println!(
        "  refused: iogrid {}\n    {}",
        args.join(" "),
        stderr.lines().next().unwrap_or_default()
    );
    assert_eq!(
        stderr.lines().next().unwrap_or_default(),
        expected,
        "iogrid {}",
        args.join(" ")
    );
    assert_eq!(
        footprint(chain, &wallet.address).await,
        before,
        "iogrid {} changed the chain",
        args.join(" ")
    );
    stderr
}

/// The single element of `list` whose address is `address`.
fn the_one<'a>(list: &'a Value, address: &str) -> &'a Value {
    let matches: Vec<&Value> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .filter(|item| item["address"] == address)
        .collect();
    assert_eq!(matches.len(), 1, "{address} in {list}");
    matches[0]
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_string()
}

/// `target/debug/iogrid`, refusing to run one older than the CLI or SDK
/// sources (`cargo build -p iogrid-cli`; scripts/e2e builds it).
fn fresh_iogrid_binary() -> PathBuf {
    let bin = workspace_bin("iogrid");
    let built = modified(&bin);
    let root = repo_root();
    for dir in ["cli/src", "sdk/src"] {
        if let Some((newest, path)) = newest_file(&root.join(dir)) {
            assert!(
                built >= newest,
                "{} is older than {}: run `cargo build -p iogrid-cli`",
                bin.display(),
                path.display()
            );
        }
    }
    bin
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).and_then(|m| m.modified()).unwrap()
}

fn newest_file(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                newest_file(&path)
            } else {
                Some((modified(&path), path))
            }
        })
        .max()
}
