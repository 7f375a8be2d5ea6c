//! Inference through the gateway on a real local validator: two suppliers'
//! `iogrid-worker`s serve SmolLM2-135M (llama.cpp on the CPU) and register
//! with `iogrid-gateway`; a user creates an API key with `iogrid ai key
//! create` (signed by the wallet) and calls the gateway with the official
//! OpenAI Python client:
//!
//! 1. no stake, no free tokens: 429;
//! 2. stake 0.5 IO: the quota is stake × the governed rate, exactly;
//!    models, a chat completion, a streamed one (with and without the usage
//!    chunk), embeddings, and every token the client saw is what the
//!    gateway counted;
//! 3. wrong or foreign key → 401, unknown model → 404, bad request → 400;
//! 4. the quota runs out → 429 with its reset time; staking more raises it
//!    at once;
//! 5. forged, foreign and replayed signed requests are refused (a worker key
//!    that is not the listing's, a create-key replay, another gateway's);
//! 6. the prepaid credit with `iogrid credit`: opened for a gateway key,
//!    funded, a withdrawal asked for (paid only after the hour), refusals in
//!    the program's words;
//! 7. paid usage: a wallet without stake pays from its credit; the
//!    workers sign receipts for what they served, the gateway settles them,
//!    and the credit, both suppliers, the treasury and the burned supply move
//!    by exactly the tokens served at the workers' price;
//! 8. the gateway's overhead (benchmark, printed): the same model server
//!    called directly and through the gateway, one request at a time (p50 /
//!    p99 latency) and four at a time (throughput);
//! 9. a worker SIGKILLed: requests move to the other, the dead one is
//!    dropped;
//! 10. a revoked key → 401; the gateway restarted: keys and usage kept,
//!     workers back within their registration interval.
//!
//! Ignored by default (it needs the validator, node and the model):
//! `scripts/e2e-gateway`.

use {
    iogrid_cli::commands::localnet::Localnet,
    iogrid_sdk::{
        constants::IO,
        gateway::{CreateKey, RegisterWorker, Signed},
        inference::daily_free_tokens,
        rpc::network_state,
        Address,
    },
    iogrid_tests::{
        localchain::{
            key, key_path, localnet_args, print_log_tails, workspace_bin, Chain, Process,
        },
        repo_root,
    },
    serde_json::{json, Value},
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{
        path::PathBuf,
        process::Command,
        time::{Duration, Instant},
    },
};

const RPC_PORT: u16 = 20_899;
const FAUCET_PORT: u16 = 21_900;
const GATEWAY: &str = "http://127.0.0.1:20790";
const MODEL: &str = "smollm2-135m";

/// The first line a script prints on stdout (its result), or a panic with its stderr.
fn script_output(script: &str) -> String {
    let output = Command::new(repo_root().join("scripts").join(script))
        .output()
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    assert!(
        output.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Net {
    rpc_url: String,
    logs: PathBuf,
    user: Keypair,
    user_key_file: String,
    /// Supplier 1, who lists the benchmark's model server.
    supplier: Keypair,
    chain: Chain,
    /// Each supplier's listing, its worker key file and its running worker.
    workers: Vec<(Address, String, Option<Process>)>,
    /// The user's API key, once created.
    api_key: String,
    gateway: Option<Process>,
    python: String,
    model_file: String,
    http: reqwest::Client,
    rate: u64,
    /// The gateway's settlement key (credits name it) and its file.
    settler: Keypair,
    settler_file: PathBuf,
    /// A wallet without stake, which pays from a prepaid credit.
    payer_key_file: String,
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs solana-test-validator, node and the model; run by scripts/e2e-gateway"]
async fn inference_through_the_gateway() {
    let model_file = script_output("install-model");
    let python = script_output("openai-env");
    let localnet = Localnet::start(&localnet_args(RPC_PORT, FAUCET_PORT))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let logs = PathBuf::from(&localnet.info.ledger).join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut net = Net::new(&localnet, logs.clone(), python, model_file).await;
    let result = tokio::spawn(async move {
        net.quota_comes_from_stake().await;
        net.refusals().await;
        net.signed_requests_cannot_be_forged_or_replayed().await;
        net.quota_runs_out_and_grows_with_stake().await;
        net.gateway_overhead().await;
        net.prepaid_credit_on_chain();
        net.paid_usage_settles_on_chain().await;
        net.a_dead_worker_is_routed_around().await;
        net.revoked_keys_and_restart().await;
        net
    })
    .await;
    match result {
        Ok(mut net) => {
            net.stop().await;
            localnet.stop().await.unwrap();
        }
        Err(panic) => {
            print_log_tails(&logs, &["gateway", "worker-1", "worker-2"]);
            localnet.stop().await.unwrap();
            std::panic::resume_unwind(panic.into_panic());
        }
    }
}

impl Net {
    async fn new(localnet: &Localnet, logs: PathBuf, python: String, model_file: String) -> Self {
        let mut chain = Chain::new(localnet);
        let rate = network_state(&chain.rpc)
            .await
            .unwrap()
            .config
            .params
            .free_tokens_per_io_day;
        assert!(rate > 0, "the localnet migration sets a free-token rate");
        let mut workers = Vec::new();
        for i in 1..=2 {
            let supplier = key(localnet, &format!("supplier-{i}"));
            let worker = key(localnet, &format!("worker-{i}"));
            chain.stake(&supplier, 2_000 * IO).await;
            let listing = chain
                .list_gpus(&supplier, 0, worker.pubkey(), ("H100-80GB", 1), 36 * IO)
                .await;
            workers.push((listing, key_path(localnet, &format!("worker-{i}")), None));
        }
        let settler = Keypair::new();
        let settler_file = logs.join("gateway-settler.json");
        solana_keypair::write_keypair_file(&settler, &settler_file).unwrap();
        iogrid_sdk::send::airdrop(
            &chain.rpc,
            &settler.pubkey(),
            10_000_000_000,
            &Default::default(),
        )
        .await
        .unwrap();
        let mut net = Self {
            settler,
            settler_file,
            payer_key_file: key_path(localnet, "voter"),
            rpc_url: localnet.info.rpc_url.clone(),
            logs,
            user: key(localnet, "user"),
            user_key_file: key_path(localnet, "user"),
            supplier: key(localnet, "supplier-1"),
            chain,
            workers,
            api_key: String::new(),
            gateway: None,
            python,
            model_file,
            http: reqwest::Client::new(),
            rate,
        };
        net.start_gateway();
        for i in 0..2 {
            net.start_worker(i);
        }
        let started = Instant::now();
        net.wait_for_workers(2).await;
        eprintln!(
            "both workers serving {MODEL} through the gateway {:.1} s after they started",
            started.elapsed().as_secs_f64()
        );
        net
    }

    fn start_gateway(&mut self) {
        let state = self.logs.join("gateway-state");
        let args: Vec<String> = [
            "--url",
            &self.rpc_url,
            "--listen",
            GATEWAY.trim_start_matches("http://"),
            "--state-dir",
            state.to_str().unwrap(),
            "--stake-refresh",
            "1s",
            "--worker-ttl",
            "15s",
            "--keypair",
            self.settler_file.to_str().unwrap(),
            "--settle-every",
            "1s",
        ]
        .map(String::from)
        .to_vec();
        self.gateway = Some(Process::spawn(
            "gateway",
            "iogrid-gateway",
            &args,
            &self.logs,
        ));
    }

    fn start_worker(&mut self, i: usize) {
        let (listing, key_file, _) = &self.workers[i];
        let args: Vec<String> = [
            "-u",
            &self.rpc_url,
            "run",
            "--listing",
            &listing.to_string(),
            "--worker-keypair",
            key_file,
            "--simulate",
            "1xH100-80GB",
            // No keeper: these workers only serve inference.
            "--keeper-url",
            "http://127.0.0.1:9",
            "--serve-model",
            &self.model_file,
            "--model-name",
            MODEL,
            "--gateway-url",
            GATEWAY,
            "--model-parallel",
            "1",
            // 100 IO per million tokens: a receipt charges 100 base units a
            // token, exactly.
            "--model-price",
            "100",
        ]
        .map(String::from)
        .to_vec();
        let process = Process::spawn(
            &format!("worker-{}", i + 1),
            "iogrid-worker",
            &args,
            &self.logs,
        );
        self.workers[i].2 = Some(process);
    }

    async fn stop(&mut self) {
        for (_, _, worker) in &mut self.workers {
            if let Some(worker) = worker {
                worker.terminate().await;
            }
        }
        if let Some(gateway) = &mut self.gateway {
            let status = gateway.terminate().await;
            assert!(
                status.success(),
                "the gateway exits cleanly on SIGTERM: {status}"
            );
        }
    }

    async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(format!("{GATEWAY}{path}"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        match request.send().await {
            Ok(response) => (
                response.status().as_u16(),
                response.json().await.unwrap_or(Value::Null),
            ),
            Err(_) => (0, Value::Null),
        }
    }

    async fn post(&self, path: &str, body: &impl serde::Serialize) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{GATEWAY}{path}"))
            .json(body)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn live_workers(&self) -> Vec<Value> {
        let (_, body) = self.get("/v1/workers", None).await;
        body["workers"].as_array().cloned().unwrap_or_default()
    }

    async fn wait_for_workers(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let live = self.live_workers().await;
            if live.len() == count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{count} workers never registered (live: {live:?})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `iogrid <args>` as the user; its JSON output.
    fn cli(&self, args: &[&str]) -> Value {
        self.cli_as(&self.user_key_file, args)
    }

    /// `iogrid <args>` signed by `key_file`; its JSON output.
    fn cli_as(&self, key_file: &str, args: &[&str]) -> Value {
        let output = Command::new(workspace_bin("iogrid"))
            .args(["-u", &self.rpc_url, "-k", key_file, "--output", "json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "iogrid {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
    }

    /// `iogrid <args>` as the user, expected to fail; its error message.
    fn cli_error(&self, args: &[&str]) -> String {
        let output = Command::new(workspace_bin("iogrid"))
            .args(["-u", &self.rpc_url, "-k", &self.user_key_file])
            .args(args)
            .env_remove("IOGRID_API_KEY")
            .output()
            .unwrap();
        assert!(!output.status.success(), "iogrid {args:?} succeeded");
        String::from_utf8_lossy(&output.stderr).trim().to_string()
    }

    fn create_key(&self, name: &str) -> String {
        self.create_key_as(&self.user_key_file, name)
    }

    /// A day-long API key of the wallet in `key_file`.
    fn create_key_as(&self, key_file: &str, name: &str) -> String {
        let args = [
            "ai",
            "--gateway",
            GATEWAY,
            "key",
            "create",
            "--name",
            name,
            "--expires",
            "1d",
        ];
        self.cli_as(key_file, &args)["key"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// One step of tests/python/openai_gateway.py; its JSON line.
    fn python(&self, step: &str, key: &str) -> Value {
        let started = Instant::now();
        let output = Command::new(&self.python)
            .arg(repo_root().join("tests/python/openai_gateway.py"))
            .args([step, "--base-url", GATEWAY, "--key", key, "--model", MODEL])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "python step {step} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8_lossy(&output.stdout);
        let result: Value = serde_json::from_str(line.trim().lines().last().unwrap()).unwrap();
        eprintln!(
            "python {step}: {result} ({:.2} s)",
            started.elapsed().as_secs_f64()
        );
        result
    }

    async fn usage(&self, key: &str) -> Value {
        let (status, usage) = self.get("/v1/usage", Some(key)).await;
        assert_eq!(status, 200, "{usage}");
        usage
    }

    /// Waits until the gateway sees `stake` (its cache refreshes each second).
    async fn wait_for_stake(&self, key: &str, stake: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let usage = self.usage(key).await;
            if usage["stake"] == stake {
                return usage;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway never saw stake {stake}: {usage}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn quota_comes_from_stake(&mut self) {
        let key = self.create_key("e2e");
        let usage = self.usage(&key).await;
        assert_eq!(
            (usage["stake"].as_u64(), usage["limit"].as_u64()),
            (Some(0), Some(0))
        );
        let exhausted = self.python("exhaust", &key);
        assert_eq!(exhausted["served"], 0, "no stake, no free tokens");

        self.cli(&["stake", "add", "0.5"]);
        let usage = self.wait_for_stake(&key, IO / 2).await;
        let limit = daily_free_tokens(IO / 2, self.rate);
        assert_eq!(usage["limit"], limit);
        assert_eq!(usage["free_tokens_per_io_day"], self.rate);
        assert_eq!(usage["used"], 0);

        let basics = self.python("basics", &key);
        let usage = self.usage(&key).await;
        assert_eq!(
            usage["used"], basics["billed"],
            "the gateway counts exactly the tokens the client was told"
        );
        self.python("stream-without-usage", &key);
        let used_before = self.usage(&key).await["used"].as_u64().unwrap();
        let embedded = self.python("embeddings", &key);
        let used_after = self.usage(&key).await["used"].as_u64().unwrap();
        assert_eq!(
            used_after - used_before,
            embedded["billed"].as_u64().unwrap()
        );
        self.api_key = key;
    }

    fn key(&self) -> String {
        self.api_key.clone()
    }

    async fn refusals(&mut self) {
        self.python("bad-key", &self.key());
        let (status, body) = self.get("/v1/models", None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("invalid_api_key"))
        );
        // A worker's model server answers the gateway only (it holds the token).
        let url = self.live_workers().await[0]["url"]
            .as_str()
            .unwrap()
            .to_string();
        let direct = self
            .http
            .post(format!("{url}/v1/chat/completions"))
            .json(&json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            direct.status().as_u16(),
            401,
            "a model server served around the gateway"
        );

        // The CLI says what is wrong in one sentence.
        let ai = ["ai", "--gateway", GATEWAY];
        for (args, expected) in [
            (vec!["models"], "no API key"),
            (vec!["usage", "--api-key", "iog-wrong"], "Incorrect API key"),
            (
                vec!["key", "create", "--name", "x", "--expires", "400d"],
                "within 366 days",
            ),
            (
                vec!["key", "create", "--name", "x", "--expires", "soon"],
                "invalid value",
            ),
            (
                vec!["key", "revoke", "key_000000000000"],
                "has no key key_000000000000",
            ),
        ] {
            let error = self.cli_error(&[&ai[..], &args[..]].concat());
            assert!(error.contains(expected), "{args:?}: {error}");
        }
        let error = self.cli_error(&[
            "ai",
            "--gateway",
            "http://127.0.0.1:9",
            "models",
            "--api-key",
            "iog-x",
        ]);
        assert!(error.contains("cannot reach the gateway"), "{error}");
    }

    async fn signed_requests_cannot_be_forged_or_replayed(&mut self) {
        // A key the listing does not name cannot offer models for it.
        let (listing, _, _) = &self.workers[0];
        let stranger = Keypair::new();
        let register = RegisterWorker {
            listing: listing.to_string(),
            url: "http://127.0.0.1:9".into(),
            models: vec![MODEL.into()],
            parallel: 1,
            token: "0123456789abcdef".into(),
            price_per_mtok: 0,
        };
        let forged = Signed::sign(register.clone(), &stranger, GATEWAY, unix_now());
        let (status, body) = self.post("/v1/workers", &forged).await;
        assert_eq!(status, 403, "{body}");
        // Nor for an address that is no listing.
        let fake = RegisterWorker {
            listing: Address::new_unique().to_string(),
            ..register
        };
        let (status, _) = self
            .post(
                "/v1/workers",
                &Signed::sign(fake, &stranger, GATEWAY, unix_now()),
            )
            .await;
        assert_eq!(status, 403);

        let create = CreateKey {
            name: "replayed".into(),
            expires_at: unix_now() + 3_600,
        };
        let signed = Signed::sign(create.clone(), &self.user, GATEWAY, unix_now());
        let (status, _) = self.post("/v1/keys", &signed).await;
        assert_eq!(status, 200);
        let (status, body) = self.post("/v1/keys", &signed).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("invalid_signature"))
        );
        // Signed for another gateway, or long ago.
        let elsewhere = Signed::sign(
            create.clone(),
            &self.user,
            "http://evil.example",
            unix_now(),
        );
        assert_eq!(self.post("/v1/keys", &elsewhere).await.0, 401);
        let stale = Signed::sign(create, &self.user, GATEWAY, unix_now() - 3_600);
        assert_eq!(self.post("/v1/keys", &stale).await.0, 401);
        let keys = self.cli(&["ai", "--gateway", GATEWAY, "key", "list"]);
        assert_eq!(keys["keys"].as_array().unwrap().len(), 2, "{keys}");
    }

    async fn quota_runs_out_and_grows_with_stake(&mut self) {
        let key = self.key();
        let exhausted = self.python("exhaust", &key);
        assert!(exhausted["served"].as_u64().unwrap() > 0, "{exhausted}");
        let usage = self.usage(&key).await;
        assert_eq!(usage["remaining"], 0, "{usage}");
        let limit = usage["limit"].as_u64().unwrap();
        // The last request may be cut short by the cap, never past it by
        // more than one prompt.
        assert!(usage["used"].as_u64().unwrap() >= limit, "{usage}");

        self.cli(&["stake", "add", "10"]);
        let usage = self.wait_for_stake(&key, IO / 2 + 10 * IO).await;
        assert_eq!(
            usage["limit"],
            daily_free_tokens(IO / 2 + 10 * IO, self.rate)
        );
        assert!(usage["remaining"].as_u64().unwrap() > 0);
        self.python("chat", &key);
    }

    /// `iogrid credit`: the on-chain prepaid balance paid usage will draw on.
    fn prepaid_credit_on_chain(&mut self) {
        let gateway_key = Keypair::new().pubkey().to_string();
        let error = self.cli_error(&["credit", "show"]);
        assert!(error.contains("no inference credit"), "{error}");
        let opened = self.cli(&[
            "credit",
            "open",
            "--gateway",
            &gateway_key,
            "--max-price",
            "0.5",
        ]);
        assert_eq!(
            (
                opened["gateway"].as_str(),
                opened["max_price_per_mtok"].as_u64(),
                opened["balance"].as_u64()
            ),
            (Some(gateway_key.as_str()), Some(IO / 2), Some(0))
        );
        let funded = self.cli(&["credit", "deposit", "5"]);
        assert_eq!(funded["balance"], 5 * IO);
        let asked = self.cli(&["credit", "request-withdrawal", "2"]);
        assert_eq!(asked["withdrawal_pending"], 2 * IO);
        assert!(asked["withdrawal_available_at"].as_i64() > Some(unix_now() + 3_000));
        for (args, expected) in [
            (vec!["credit", "withdraw"], "delay has not passed"),
            (vec!["credit", "close"], "still holds a balance"),
            (vec!["credit", "deposit", "0"], "more than 0 IO"),
            (
                vec!["credit", "request-withdrawal", "6"],
                "credit balance is below",
            ),
        ] {
            let error = self.cli_error(&args);
            assert!(error.contains(expected), "{args:?}: {error}");
        }
        let unchanged = self.cli(&["credit", "show"]);
        assert_eq!(
            (
                unchanged["balance"].as_u64(),
                unchanged["withdrawal_pending"].as_u64()
            ),
            (Some(5 * IO), Some(2 * IO))
        );
    }

    /// The IO that paid usage moves: both suppliers', the treasury's, the
    /// supply, and the payer's credit (balance, spent).
    async fn paid_balances(&self) -> [u64; 6] {
        let rpc = &self.chain.rpc;
        let owner = |i: usize| listing_owner(&self.workers[i].0, rpc);
        let (s1, s2) = (owner(0).await, owner(1).await);
        let treasury = token_balance(rpc, &iogrid_sdk::pda::treasury().0).await;
        let supply = rpc
            .get_token_supply(&iogrid_sdk::pda::io_mint().0)
            .await
            .unwrap()
            .amount
            .parse()
            .unwrap();
        let credit = self.cli_as(&self.payer_key_file, &["credit", "show"]);
        [
            self.chain.balance(&s1).await,
            self.chain.balance(&s2).await,
            treasury,
            supply,
            credit["balance"].as_u64().unwrap(),
            credit["spent"].as_u64().unwrap(),
        ]
    }

    async fn paid_usage_settles_on_chain(&mut self) {
        let (_, about) = self.get("/v1/gateway", None).await;
        let settlement_key = self.settler.pubkey().to_string();
        assert_eq!(about["settlement_key"], settlement_key, "{about}");
        let payer = &self.payer_key_file.clone();
        // The first deposit opens the credit for this gateway's key.
        let opened = self.cli_as(
            payer,
            &[
                "ai",
                "--gateway",
                GATEWAY,
                "deposit",
                "3",
                "--max-price",
                "100",
            ],
        );
        assert_eq!(
            (opened["gateway"].as_str(), opened["balance"].as_u64()),
            (Some(settlement_key.as_str()), Some(3 * IO))
        );
        // A withdrawal asked for is no longer spendable.
        let asked = self.cli_as(payer, &["ai", "--gateway", GATEWAY, "withdraw", "1"]);
        assert_eq!(asked["withdrawal_pending"], IO);
        let key = self.create_key_as(payer, "paid");
        assert_eq!(self.usage(&key).await["limit"], 0, "the payer has no stake");

        let before = self.paid_balances().await;
        let mut served = 0;
        for _ in 0..3 {
            served += self.python("chat", &key)["billed"].as_u64().unwrap();
        }
        let charge = served * 100;
        let started = Instant::now();
        let after = loop {
            let now = self.paid_balances().await;
            if now[5] - before[5] >= charge {
                break now;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the receipts for {served} tokens ({charge} base units) were not settled: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        eprintln!(
            "paid usage: {served} tokens charged {charge} base units, settled on-chain {:.1} s after the last answer",
            started.elapsed().as_secs_f64()
        );
        let [s1, s2, treasury, supply, balance, spent] =
            std::array::from_fn(|i| after[i].abs_diff(before[i]));
        assert_eq!(
            spent, charge,
            "the credit paid exactly the tokens served at the price"
        );
        assert_eq!(balance, charge);
        assert_eq!(after[4], 3 * IO - charge);
        assert!(after[3] <= before[3], "the burn only lowers the supply");
        assert_eq!(
            s1 + s2 + treasury + supply,
            charge,
            "suppliers + fee + burn == what the credit paid"
        );
        assert!(
            s1 + s2 > 0 && treasury > 0 && supply > 0,
            "{after:?} vs {before:?}"
        );
        // The settlement pass counts what it settled once it ends.
        let counted = [
            format!("iogrid_gateway_paid_tokens_total {served}"),
            format!("iogrid_gateway_settled_base_units_total {charge}"),
        ];
        let started = Instant::now();
        loop {
            let metrics = self.metrics().await;
            if counted.iter().all(|line| metrics.contains(line)) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{counted:?} in:\n{metrics}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.receipts_cannot_be_forged_or_replayed(&after).await;
    }

    /// Receipts a worker did not sign are refused at the door; receipts it
    /// signed that the program refuses (a replay, one over the balance) are
    /// dropped at settlement and move no IO.
    async fn receipts_cannot_be_forged_or_replayed(&mut self, balances: &[u64; 6]) {
        use iogrid_sdk::{
            gateway::{ReceiptBatch, ReceiptSubmission},
            proof::SignedUsageReceipt,
        };
        let payer = solana_keypair::read_keypair_file(&self.payer_key_file).unwrap();
        let credit = iogrid_sdk::pda::credit(&payer.pubkey()).0;
        let listing = self.workers[0].0;
        let worker = solana_keypair::read_keypair_file(&self.workers[0].1).unwrap();
        let batch = |receipt: &SignedUsageReceipt| ReceiptBatch {
            receipts: vec![ReceiptSubmission::from(receipt)],
        };
        // The workers' price: 100 IO per million tokens.
        const PRICE: u64 = 100 * IO;
        let now_us = unix_now() as u64 * 1_000_000;
        let forged = SignedUsageReceipt::sign(&Keypair::new(), credit, listing, now_us, 10, PRICE);
        let (status, body) = self.post("/v1/receipts", &batch(&forged)).await;
        assert_eq!(status, 403, "{body}");
        let mut tampered = ReceiptSubmission::from(&SignedUsageReceipt::sign(
            &worker, credit, listing, now_us, 10, PRICE,
        ));
        tampered.tokens = 1_000_000;
        let (status, body) = self
            .post(
                "/v1/receipts",
                &ReceiptBatch {
                    receipts: vec![tampered],
                },
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("invalid_signature"))
        );
        let dear = SignedUsageReceipt::sign(&worker, credit, listing, now_us, 10, PRICE + 1);
        let (status, body) = self.post("/v1/receipts", &batch(&dear)).await;
        assert_eq!(status, 403, "above the registered price: {body}");

        // Signed by the worker, but for more than this gateway served
        // through it for that credit (everything served is settled by now):
        // a replayed receipt, and one over the balance.
        let replayed = SignedUsageReceipt::sign(&worker, credit, listing, now_us + 5, 10, PRICE);
        let over =
            SignedUsageReceipt::sign(&worker, credit, listing, now_us + 7, 1_000_000_000, PRICE);
        let (status, body) = self
            .post(
                "/v1/receipts",
                &ReceiptBatch {
                    receipts: vec![(&replayed).into(), (&over).into()],
                },
            )
            .await;
        assert_eq!(
            (status, body["accepted"].as_u64()),
            (200, Some(0)),
            "{body}"
        );
        let reasons = body["refused"].to_string();
        assert!(reasons.contains("served nothing"), "{reasons}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            &self.paid_balances().await,
            balances,
            "refused receipts moved no IO"
        );
    }

    async fn metrics(&self) -> String {
        self.http
            .get(format!("{GATEWAY}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Gateway overhead: a model server of its own (a model id no other
    /// worker serves), registered for a third listing, called directly and
    /// through the gateway with the same one-token request.
    async fn gateway_overhead(&mut self) {
        const BENCH_MODEL: &str = "smollm2-135m-bench";
        let requests: usize = std::env::var("IOGRID_GATEWAY_BENCH_REQUESTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(40);
        // Enough quota for the run (each request ≈ 25 tokens).
        self.cli(&["stake", "add", "100"]);
        let server = BenchServer::start(&self.model_file, BENCH_MODEL).await;
        let worker = Keypair::new();
        let listing = self
            .chain
            .list_gpus(
                &self.supplier,
                1,
                worker.pubkey(),
                ("H100-80GB", 1),
                36 * IO,
            )
            .await;
        let offer = RegisterWorker {
            listing: listing.to_string(),
            url: server.url.clone(),
            models: vec![BENCH_MODEL.into()],
            parallel: 2,
            token: server.token.clone(),
            price_per_mtok: 0,
        };
        let (status, body) = self
            .post(
                "/v1/workers",
                &Signed::sign(offer, &worker, GATEWAY, unix_now()),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let request = json!({
            "model": BENCH_MODEL,
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 1,
            "temperature": 0,
        });
        let direct = Endpoint::new(&self.http, &server.url, &server.token, &request);
        let gateway = Endpoint::new(&self.http, GATEWAY, &self.api_key, &request);
        // Warm both paths (connections, the prompt cache).
        for _ in 0..3 {
            direct.call().await;
            gateway.call().await;
        }
        // Interleaved, so drift in the machine's load hits both alike.
        let (mut through, mut around) = (Vec::new(), Vec::new());
        for _ in 0..requests {
            around.push(direct.call().await);
            through.push(gateway.call().await);
        }
        let (direct_rps, gateway_rps) = (
            direct.throughput(4, requests).await,
            gateway.throughput(4, requests).await,
        );
        let (p50_d, p99_d) = percentiles(&mut around);
        let (p50_g, p99_g) = percentiles(&mut through);
        eprintln!(
            "gateway overhead over {requests} one-token requests: direct p50 {p50_d:.1} ms p99 {p99_d:.1} ms; \
             through the gateway p50 {p50_g:.1} ms p99 {p99_g:.1} ms; added p50 {:.1} ms p99 {:.1} ms; \
             throughput 4 at a time: direct {direct_rps:.1} req/s, gateway {gateway_rps:.1} req/s ({:.0} %)",
            p50_g - p50_d,
            p99_g - p99_d,
            100.0 * gateway_rps / direct_rps
        );
    }

    async fn a_dead_worker_is_routed_around(&mut self) {
        let key = self.key();
        let dead = self.workers[0].0.to_string();
        self.workers[0].2.as_mut().unwrap().kill().await;
        let killed = Instant::now();
        for _ in 0..4 {
            self.python("chat", &key);
        }
        let live = self.live_workers().await;
        let dead_entry = live.iter().find(|w| w["listing"] == dead);
        assert!(
            dead_entry.is_none_or(|w| w["benched"] == true || w["failures"].as_u64() > Some(0)),
            "the dead worker still looks healthy: {live:?}"
        );
        self.wait_for_workers(1).await;
        eprintln!(
            "dead worker dropped {:.1} s after SIGKILL; every request served by the other",
            killed.elapsed().as_secs_f64()
        );
        self.start_worker(0);
        self.wait_for_workers(2).await;
    }

    async fn revoked_keys_and_restart(&mut self) {
        let key = self.key();
        let spare = self.create_key("spare");
        let listed = self.cli(&["ai", "--gateway", GATEWAY, "key", "list"]);
        let spare_id = listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == "spare")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let revoked = self.cli(&["ai", "--gateway", GATEWAY, "key", "revoke", &spare_id]);
        assert!(revoked["revoked_at"].is_i64(), "{revoked}");
        let (status, body) = self.get("/v1/usage", Some(&spare)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("invalid_api_key"))
        );

        let used = self.usage(&key).await["used"].clone();
        // One wallet used the gateway: its metrics count exactly its tokens.
        let metrics = self.metrics().await;
        assert!(
            metrics.contains(&format!("iogrid_gateway_tokens_total {used}")),
            "{metrics}"
        );
        for counted in [
            "iogrid_gateway_requests_total{route=\"/v1/chat/completions\",status=\"200\"}",
            "iogrid_gateway_requests_total{route=\"/v1/chat/completions\",status=\"429\"}",
            "iogrid_gateway_workers 2",
        ] {
            assert!(metrics.contains(counted), "{counted} missing:\n{metrics}");
        }
        let status = self.gateway.as_mut().unwrap().terminate().await;
        assert!(
            status.success(),
            "the gateway exits cleanly on SIGTERM: {status}"
        );
        let restarted = Instant::now();
        self.start_gateway();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.get("/healthz", None).await.0 != 200 {
            assert!(Instant::now() < deadline, "the gateway did not come back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            self.usage(&key).await["used"],
            used,
            "usage survives a restart"
        );
        assert_eq!(self.get("/v1/usage", Some(&spare)).await.0, 401);
        self.wait_for_workers(2).await;
        eprintln!(
            "gateway restarted: both workers registered again {:.1} s later",
            restarted.elapsed().as_secs_f64()
        );
        self.python("chat", &key);
    }
}

/// A model server started by the test, with a token it knows.
struct BenchServer {
    url: String,
    token: String,
    _child: tokio::process::Child,
}

impl BenchServer {
    async fn start(model_file: &str, name: &str) -> Self {
        use tokio::io::AsyncBufReadExt;
        let token = iogrid_sdk::gateway::new_secret();
        let mut child = tokio::process::Command::new("node")
            .arg(repo_root().join("worker/model-server/server.mjs"))
            .args([
                "--model",
                model_file,
                "--name",
                name,
                "--port",
                "0",
                "--parallel",
                "2",
            ])
            .env("IOGRID_MODEL_SERVER_TOKEN", &token)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("listening ") {
                    return url.to_string();
                }
            }
            panic!("the model server exited")
        })
        .await
        .expect("the model server listens");
        Self {
            url,
            token,
            _child: child,
        }
    }
}

/// One way to reach the model: its URL and the bearer token it takes.
#[derive(Clone)]
struct Endpoint {
    http: reqwest::Client,
    url: String,
    token: String,
    request: Value,
}

impl Endpoint {
    fn new(http: &reqwest::Client, base: &str, token: &str, request: &Value) -> Self {
        Self {
            http: http.clone(),
            url: format!("{base}/v1/chat/completions"),
            token: token.to_string(),
            request: request.clone(),
        }
    }

    /// One request's latency in milliseconds.
    async fn call(&self) -> f64 {
        let started = Instant::now();
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&self.request)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let answer: Value = response.json().await.unwrap();
        assert!(answer["usage"]["total_tokens"].as_u64() > Some(0));
        started.elapsed().as_secs_f64() * 1_000.0
    }

    /// Requests per second with `clients` calling `each` times at once.
    async fn throughput(&self, clients: usize, each: usize) -> f64 {
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let endpoint = self.clone();
                tokio::spawn(async move {
                    for _ in 0..each {
                        endpoint.call().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        (clients * each) as f64 / started.elapsed().as_secs_f64()
    }
}

/// p50 and p99 of `samples` (sorted in place).
fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.99))
}

/// The owner of `listing`.
async fn listing_owner(listing: &Address, rpc: &iogrid_sdk::rpc::NonblockingRpcClient) -> Address {
    iogrid_sdk::rpc::program_account::<iogrid_sdk::accounts::GpuListing>(rpc, listing, "listing")
        .await
        .unwrap()
        .owner
}

/// The IO held by the token account `address`.
async fn token_balance(rpc: &iogrid_sdk::rpc::NonblockingRpcClient, address: &Address) -> u64 {
    let data = rpc.get_account_data(address).await.unwrap();
    iogrid_sdk::token::balance(&data).unwrap()
}
