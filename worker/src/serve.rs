//! Serving a model for the inference gateway: the worker runs the model
//! server (`worker/model-server`, llama.cpp through node-llama-cpp, on the
//! CPU or CUDA) and registers it with the gateway, signed by the listing's
//! worker key, every [`REGISTER_EVERY`]. A model server that exits is
//! started again after a growing pause; the gateway stops routing to a
//! worker that stops registering.

use {
    anyhow::{anyhow, bail, Context, Result},
    clap::Args,
    iogrid_node::backoff::backoff,
    iogrid_sdk::{
        gateway::{new_secret, ReceiptBatch, ReceiptSubmission, RegisterWorker, Signed},
        proof::SignedUsageReceipt,
        Address,
    },
    solana_keypair::Keypair,
    std::{
        collections::BTreeMap,
        path::{Path, PathBuf},
        process::Stdio,
        sync::Arc,
        time::Duration,
    },
    tokio::{
        io::{AsyncBufReadExt, BufReader},
        process::{Child, Command},
    },
    tracing::{info, warn},
};

/// How often a serving worker renews its registration (the gateway drops
/// it after 30 s without one, by default).
pub const REGISTER_EVERY: Duration = Duration::from_secs(10);
/// Longest wait for the model server to load the model and listen.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Serve this GGUF model for inference (`scripts/install-model` fetches
    /// SmolLM2-135M), through the gateway at --gateway-url.
    #[arg(long, value_name = "GGUF", requires = "gateway_url")]
    pub serve_model: Option<PathBuf>,
    /// The model's id on the gateway (default: the file's name, lowercase,
    /// without `.gguf`).
    #[arg(long)]
    pub model_name: Option<String>,
    /// The inference gateway the model is offered on.
    #[arg(long, env = "IOGRID_GATEWAY_URL")]
    pub gateway_url: Option<String>,
    /// The model server's script (default: worker/model-server/server.mjs of
    /// this checkout).
    #[arg(long, env = "IOGRID_MODEL_SERVER")]
    pub model_server: Option<PathBuf>,
    /// CPU threads per request.
    #[arg(long, default_value_t = 1)]
    pub model_threads: u32,
    /// Requests served at once.
    #[arg(long, default_value_t = 2)]
    pub model_parallel: u32,
    /// The price of paid usage beyond wallets' free quotas, IO per million
    /// tokens (e.g. 0.1): what this worker's receipts charge.
    #[arg(long, default_value = "0.1")]
    pub model_price: String,
}

/// What the serving task needs.
pub struct Serving {
    pub model: PathBuf,
    pub name: String,
    pub gateway_url: String,
    pub script: PathBuf,
    pub threads: u32,
    pub parallel: u32,
    /// The address the gateway reaches this machine at.
    pub host: String,
    pub listing: Address,
    /// IO base units per million tokens.
    pub price_per_mtok: u64,
}

impl ServeArgs {
    /// The serving plan, or `None` when no model is to be served.
    pub fn plan(&self, listing: Address, host: &str) -> Result<Option<Serving>> {
        let Some(model) = &self.serve_model else {
            return Ok(None);
        };
        if !model.is_file() {
            bail!(
                "--serve-model {}: no such file (scripts/install-model fetches one)",
                model.display()
            );
        }
        let name = match &self.model_name {
            Some(name) => name.clone(),
            None => default_model_name(model)?,
        };
        let script = match &self.model_server {
            Some(script) => script.clone(),
            None => default_script()?,
        };
        if !script.is_file() {
            bail!("the model server {} does not exist", script.display());
        }
        Ok(Some(Serving {
            model: model.clone(),
            name,
            gateway_url: self
                .gateway_url
                .clone()
                .ok_or_else(|| anyhow!("--serve-model needs --gateway-url"))?
                .trim_end_matches('/')
                .to_string(),
            script,
            threads: self.model_threads.max(1),
            parallel: self.model_parallel.max(1),
            host: host.to_string(),
            listing,
            price_per_mtok: iogrid_sdk::constants::parse_io(&self.model_price)
                .map_err(|e| anyhow!("--model-price: {e}"))?,
        }))
    }
}

fn default_model_name(model: &Path) -> Result<String> {
    model
        .file_stem()
        .and_then(|stem| stem.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| anyhow!("name the model with --model-name"))
}

/// `worker/model-server/server.mjs` beside this executable's checkout
/// (`target/<profile>/iogrid-worker`), else under the working directory.
fn default_script() -> Result<PathBuf> {
    let relative = Path::new("worker/model-server/server.mjs");
    let exe = std::env::current_exe().context("locating iogrid-worker")?;
    let from_checkout = exe
        .ancestors()
        .nth(3)
        .map(|root| root.join(relative))
        .filter(|path| path.is_file());
    Ok(from_checkout.unwrap_or_else(|| relative.to_path_buf()))
}

impl Serving {
    fn start(&self, token: &str) -> Result<Child> {
        let mut command = Command::new("node");
        command
            .env("IOGRID_MODEL_SERVER_TOKEN", token)
            .arg(&self.script)
            .arg("--model")
            .arg(&self.model)
            .args(["--name", &self.name, "--host", &self.host, "--port", "0"])
            .args(["--threads", &self.threads.to_string()])
            .args(["--parallel", &self.parallel.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        // SAFETY: prctl in the child before exec, async-signal-safe. The
        // model server dies with the worker even when the worker is
        // SIGKILLed (kill_on_drop needs the worker to run its drops).
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command
            .spawn()
            .context("starting the model server (is node installed?)")
    }

    /// Starts the model server and waits for its `listening <url>` line.
    async fn launch(&self, token: &str) -> Result<(Child, String)> {
        let mut child = self.start(token)?;
        let stdout = child.stdout.take().context("the model server's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(STARTUP_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.trim().strip_prefix("listening ") {
                    return Ok(url.trim_end_matches('/').to_string());
                }
            }
            bail!("the model server exited before listening")
        })
        .await
        .map_err(|_| anyhow!("the model server did not listen within {STARTUP_TIMEOUT:?}"))??;
        // Keep reading its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((child, url))
    }

    async fn register(
        &self,
        http: &reqwest::Client,
        worker: &Keypair,
        server: &Server,
    ) -> Result<()> {
        let body = RegisterWorker {
            listing: self.listing.to_string(),
            url: server.url.clone(),
            models: vec![self.name.clone()],
            parallel: self.parallel,
            token: server.token.clone(),
            price_per_mtok: self.price_per_mtok,
        };
        let request = Signed::sign(body, worker, &self.gateway_url, unix_now());
        self.post(http, "/v1/workers", &request, "registration")
            .await
    }

    /// POSTs `body` to the gateway; a refusal comes back with its reason.
    async fn post(
        &self,
        http: &reqwest::Client,
        path: &str,
        body: &impl serde::Serialize,
        what: &str,
    ) -> Result<()> {
        let response = http
            .post(format!("{}{path}", self.gateway_url))
            .json(body)
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.gateway_url))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            bail!("the gateway refused the {what} ({status}): {body}");
        }
        Ok(())
    }
}

/// A running model server: where it answers and the token it requires.
struct Server {
    url: String,
    token: String,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// Serves until aborted: the model server runs and stays registered; when
/// it exits it is started again (after 1 s, 2 s, … up to a minute).
pub async fn serve(serving: Serving, worker: Arc<Keypair>, http: reqwest::Client) {
    let mut crashes = 0u32;
    loop {
        // A fresh token per start: a replaced server's old token is dead.
        let token = new_secret();
        match serving.launch(&token).await {
            Ok((mut child, url)) => {
                info!(
                    "serving {} at {url} for the gateway {}",
                    serving.name, serving.gateway_url
                );
                let server = Server { url, token };
                let exit = tokio::select! {
                    status = child.wait() => status,
                    _ = keep_registered(&serving, &worker, &http, &server) => unreachable!("registration never ends"),
                };
                crashes = crashes.saturating_add(1);
                warn!("the model server exited ({exit:?}); starting it again");
            }
            Err(err) => {
                crashes = crashes.saturating_add(1);
                warn!("cannot serve {}: {err:#}", serving.name);
            }
        }
        tokio::time::sleep(backoff(
            Duration::from_secs(1),
            crashes,
            Duration::from_secs(60),
        ))
        .await;
    }
}

/// Registers every [`REGISTER_EVERY`], and each time turns what paid
/// requests used since into signed receipts for the gateway.
async fn keep_registered(
    serving: &Serving,
    worker: &Keypair,
    http: &reqwest::Client,
    server: &Server,
) {
    let mut registered = false;
    let mut unsent: Vec<SignedUsageReceipt> = Vec::new();
    loop {
        match serving.register(http, worker, server).await {
            Ok(()) if !registered => {
                info!("registered {} with the gateway", serving.name);
                registered = true;
            }
            Ok(()) => {}
            Err(err) => {
                warn!("{err:#}");
                registered = false;
            }
        }
        match serving.drain_ledger(http, server).await {
            Ok(served) => unsent.extend(serving.sign_receipts(worker, &served)),
            Err(err) => warn!("cannot read the model server's paid usage: {err:#}"),
        }
        if !unsent.is_empty() {
            match serving.hand_in(http, &unsent).await {
                Ok(()) => {
                    info!("handed {} usage receipt(s) to the gateway", unsent.len());
                    unsent.clear();
                }
                // Kept for the next round; the oldest go first if it grows.
                Err(err) => {
                    warn!("receipts not handed in ({} kept): {err:#}", unsent.len());
                    let excess = unsent.len().saturating_sub(MAX_UNSENT_RECEIPTS);
                    unsent.drain(..excess);
                }
            }
        }
        tokio::time::sleep(REGISTER_EVERY).await;
    }
}

/// Receipts a worker keeps while the gateway is unreachable.
const MAX_UNSENT_RECEIPTS: usize = 10_000;

impl Serving {
    /// Tokens paid requests used per credit since the last call (the model
    /// server forgets them as it answers).
    async fn drain_ledger(
        &self,
        http: &reqwest::Client,
        server: &Server,
    ) -> Result<BTreeMap<String, u64>> {
        #[derive(serde::Deserialize)]
        struct Drained {
            credits: BTreeMap<String, u64>,
        }
        let drained: Drained = http
            .post(format!("{}/v1/ledger/drain", server.url))
            .bearer_auth(&server.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(drained.credits)
    }

    /// One receipt per credit for the tokens served, numbered by the time
    /// in microseconds (the order `settle_usage` needs).
    fn sign_receipts(
        &self,
        worker: &Keypair,
        served: &BTreeMap<String, u64>,
    ) -> Vec<SignedUsageReceipt> {
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_micros() as u64);
        served
            .iter()
            .filter(|(_, tokens)| **tokens > 0)
            .filter_map(|(credit, tokens)| Some((credit.parse::<Address>().ok()?, *tokens)))
            .enumerate()
            .map(|(i, (credit, tokens))| {
                SignedUsageReceipt::sign(
                    worker,
                    credit,
                    self.listing,
                    now_us + i as u64,
                    tokens,
                    self.price_per_mtok,
                )
            })
            .collect()
    }

    async fn hand_in(&self, http: &reqwest::Client, receipts: &[SignedUsageReceipt]) -> Result<()> {
        let batch = ReceiptBatch {
            receipts: receipts.iter().map(ReceiptSubmission::from).collect(),
        };
        self.post(http, "/v1/receipts", &batch, "receipts").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_named_after_its_file() {
        assert_eq!(
            default_model_name(Path::new("/m/SmolLM2-135M-Instruct.gguf")).unwrap(),
            "smollm2-135m-instruct"
        );
    }

    #[test]
    fn serving_needs_a_model_file_and_a_gateway() {
        let args = ServeArgs {
            serve_model: Some("/no/such/model.gguf".into()),
            model_name: None,
            gateway_url: Some("http://127.0.0.1:8790".into()),
            model_server: None,
            model_threads: 1,
            model_parallel: 2,
            model_price: "0.1".into(),
        };
        let err = args.plan(Address::new_unique(), "127.0.0.1").err().unwrap();
        assert!(err.to_string().contains("no such file"), "{err}");
        let none = ServeArgs {
            serve_model: None,
            ..args
        };
        assert!(none
            .plan(Address::new_unique(), "127.0.0.1")
            .unwrap()
            .is_none());
    }
}
