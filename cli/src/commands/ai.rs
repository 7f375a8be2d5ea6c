//! `iogrid ai`: the inference gateway from the command line — API keys bound
//! to the wallet (`key create | list | revoke`, signed by the wallet), the
//! served models, a chat (streamed), and today's quota.

use {
    crate::{
        commands::{balance::ensure_io, credit},
        keys::load_keypair,
        output::{print, OutputFormat},
    },
    anyhow::{anyhow, bail, ensure, Context, Result},
    clap::{Args, Subcommand},
    futures_util::StreamExt,
    iogrid_sdk::{
        constants::parse_io,
        gateway::{Action, Allowance, CreateKey, KeyRecord, ListKeys, RevokeKey, Signed},
        instructions::{
            DepositCreditAccounts, OpenCreditAccounts, RequestCreditWithdrawalAccounts,
            WithdrawCreditAccounts,
        },
        rpc::NonblockingRpcClient as RpcClient,
        token, Address,
    },
    serde::{de::DeserializeOwned, Deserialize, Serialize},
    serde_json::{json, Value},
    solana_signer::Signer,
    std::{fmt, io::Write, path::Path, time::Duration},
};

#[derive(Debug, Args)]
pub struct AiArgs {
    /// The gateway's URL.
    #[arg(
        long,
        global = true,
        env = "IOGRID_GATEWAY_URL",
        default_value = "http://127.0.0.1:8790"
    )]
    pub gateway: String,
    /// The API key for `models`, `chat` and `usage` (from `ai key create`).
    #[arg(long, global = true, env = "IOGRID_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    #[command(subcommand)]
    pub command: AiCommand,
}

#[derive(Debug, Subcommand)]
pub enum AiCommand {
    /// API keys bound to your wallet (the wallet signs each request).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Models the gateway's workers serve now.
    Models,
    /// Ask a model; the answer streams as it is generated.
    Chat {
        /// What to ask.
        #[arg(required = true)]
        prompt: Vec<String>,
        /// The model (default: the first served one).
        #[arg(long)]
        model: Option<String>,
        /// Most tokens in the answer.
        #[arg(long, default_value_t = 256)]
        max_tokens: u32,
        /// A system message before the prompt.
        #[arg(long)]
        system: Option<String>,
    },
    /// Today's free quota: from your stake, what is used, when it resets.
    Usage,
    /// Prepay IO for usage beyond the free quota on this gateway. The first
    /// deposit opens your credit naming the gateway's settlement key.
    Deposit {
        /// IO to add, e.g. 5.
        amount: String,
        /// The highest price you accept, IO per million tokens (first
        /// deposit only; default: the highest the gateway's workers ask).
        #[arg(long)]
        max_price: Option<String>,
    },
    /// Take unspent prepaid IO back: with an amount, ask (it is payable an
    /// hour later, the gateway's time to settle what was served); without,
    /// receive what was asked for once the hour is over.
    Withdraw {
        /// IO to withdraw (default: all of it).
        amount: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key; it is shown once.
    Create {
        /// A name to tell your keys apart.
        #[arg(long)]
        name: String,
        /// How long it is valid, e.g. `30d`, `12h` (at most 366 days).
        #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
        expires: Duration,
    },
    /// Your keys (ids and names, never the keys).
    List,
    /// Revoke a key by its id (`key_…`).
    Revoke {
        /// The key's id, as `ai key list` shows it.
        id: String,
    },
}

pub async fn execute(
    args: &AiArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    let gateway = Gateway::new(&args.gateway, args.api_key.clone())?;
    match &args.command {
        AiCommand::Deposit { amount, max_price } => {
            deposit(&gateway, rpc, amount, max_price.as_deref(), output, keypair).await
        }
        AiCommand::Withdraw { amount } => {
            let signer = load_keypair(keypair)?;
            let owner = signer.pubkey();
            let ix = match amount {
                Some(amount) => RequestCreditWithdrawalAccounts::new(owner)
                    .instruction(parse_io(amount).map_err(anyhow::Error::msg)?),
                None => {
                    WithdrawCreditAccounts::new(owner, token::io_account_of(&owner)).instruction()
                }
            };
            credit::send_and_show(rpc, &signer, &[ix], output).await
        }
        AiCommand::Key(KeyCommand::Create { name, expires }) => {
            let expires_at = unix_now() + i64::try_from(expires.as_secs()).unwrap_or(i64::MAX / 2);
            let body = CreateKey {
                name: name.clone(),
                expires_at,
            };
            let key: KeyView = gateway.signed("/v1/keys", body, keypair).await?;
            print(output, &key)
        }
        AiCommand::Key(KeyCommand::List) => {
            let keys: KeyList = gateway
                .signed("/v1/keys/list", ListKeys {}, keypair)
                .await?;
            print(output, &keys)
        }
        AiCommand::Key(KeyCommand::Revoke { id }) => {
            let body = RevokeKey { id: id.clone() };
            let key: KeyView = gateway.signed("/v1/keys/revoke", body, keypair).await?;
            print(output, &key)
        }
        AiCommand::Models => {
            let models: ModelList = gateway.get("/v1/models").await?;
            print(output, &models)
        }
        AiCommand::Usage => {
            let usage: UsageView = gateway.get("/v1/usage").await?;
            print(output, &usage)
        }
        AiCommand::Chat {
            prompt,
            model,
            max_tokens,
            system,
        } => {
            let model = match model {
                Some(model) => model.clone(),
                None => gateway.first_model().await?,
            };
            let mut messages = Vec::new();
            if let Some(system) = system {
                messages.push(json!({ "role": "system", "content": system }));
            }
            messages.push(json!({ "role": "user", "content": prompt.join(" ") }));
            let request = json!({
                "model": model,
                "messages": messages,
                "max_tokens": max_tokens,
                "stream": output == OutputFormat::Display,
                "stream_options": { "include_usage": true },
            });
            if output == OutputFormat::Display {
                gateway.chat_streamed(&request).await
            } else {
                let answer: Value = gateway.post("/v1/chat/completions", &request).await?;
                print(output, &Json(answer))
            }
        }
    }
}

/// `ai deposit`: opens the credit for this gateway on the first deposit.
async fn deposit(
    gateway: &Gateway,
    rpc: &RpcClient,
    amount: &str,
    max_price: Option<&str>,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    let signer = load_keypair(keypair)?;
    let owner = signer.pubkey();
    let amount = parse_io(amount).map_err(anyhow::Error::msg)?;
    ensure!(amount > 0, "the amount must be more than 0 IO");
    let about: About = gateway.about().await?;
    let key: Address = about
        .settlement_key
        .as_deref()
        .ok_or_else(|| {
            anyhow!(
                "the gateway at {} takes no paid usage (it has no settlement key)",
                gateway.url
            )
        })?
        .parse()
        .map_err(|_| anyhow!("the gateway's settlement key is not an address"))?;
    let mut ixs = Vec::new();
    match credit::credit_of(rpc, &owner).await? {
        Some(existing) => ensure!(
            existing.gateway == key,
            "your credit names the gateway key {}, not this gateway's {key}: `iogrid credit close` it once empty, then deposit again",
            existing.gateway
        ),
        None => {
            let max_price = match max_price {
                Some(price) => parse_io(price).map_err(anyhow::Error::msg)?,
                None => about.highest_price().ok_or_else(|| {
                    anyhow!("no worker serves on {} now: pass --max-price", gateway.url)
                })?,
            };
            ixs.push(OpenCreditAccounts::new(owner).instruction(&key, max_price));
        }
    }
    ensure_io(rpc, &owner, amount, "the deposit").await?;
    ixs.push(DepositCreditAccounts::new(owner, token::io_account_of(&owner)).instruction(amount));
    credit::send_and_show(rpc, &signer, &ixs, output).await
}

/// `GET /v1/gateway`.
#[derive(Debug, Deserialize)]
struct About {
    settlement_key: Option<String>,
    models: Vec<ModelPrices>,
}

#[derive(Debug, Deserialize)]
struct ModelPrices {
    prices_per_mtok: Vec<u64>,
}

impl About {
    fn highest_price(&self) -> Option<u64> {
        self.models
            .iter()
            .flat_map(|model| model.prices_per_mtok.iter().copied())
            .max()
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

struct Gateway {
    url: String,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl Gateway {
    fn new(url: &str, api_key: Option<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(120))
            .build()?;
        Ok(Self {
            url: url.trim_end_matches('/').to_string(),
            api_key,
            http,
        })
    }

    fn key(&self) -> Result<&str> {
        self.api_key.as_deref().ok_or_else(|| {
            anyhow!("no API key: pass --api-key or set IOGRID_API_KEY (create one with `iogrid ai key create --name …`)")
        })
    }

    async fn signed<T: Action, R: DeserializeOwned>(
        &self,
        path: &str,
        body: T,
        keypair: Option<&Path>,
    ) -> Result<R> {
        let wallet = load_keypair(keypair)?;
        let request = Signed::sign(body, &wallet, &self.url, unix_now());
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&request)
            .send()
            .await;
        self.answer(response).await
    }

    async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R> {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(self.key()?)
            .send()
            .await;
        self.answer(response).await
    }

    async fn post<R: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<R> {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(self.key()?)
            .json(body)
            .send()
            .await;
        self.answer(response).await
    }

    /// The body of a successful answer; the gateway's own message otherwise.
    async fn answer<R: DeserializeOwned>(
        &self,
        response: reqwest::Result<reqwest::Response>,
    ) -> Result<R> {
        let response = self.checked(response).await?;
        response
            .json()
            .await
            .with_context(|| format!("the gateway at {} sent an unreadable answer", self.url))
    }

    async fn checked(
        &self,
        response: reqwest::Result<reqwest::Response>,
    ) -> Result<reqwest::Response> {
        let response = response.map_err(|err| {
            anyhow!(
                "cannot reach the gateway at {} ({err}); is iogrid-gateway running there?",
                self.url
            )
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        bail!("the gateway refused ({status}): {message}")
    }

    async fn about(&self) -> Result<About> {
        let response = self
            .http
            .get(format!("{}/v1/gateway", self.url))
            .send()
            .await;
        self.answer(response).await
    }

    async fn first_model(&self) -> Result<String> {
        let models: ModelList = self.get("/v1/models").await?;
        models
            .data
            .first()
            .map(|model| model.id.clone())
            .ok_or_else(|| anyhow!("no worker serves a model on {} now", self.url))
    }

    /// Prints the answer as it streams, then the tokens used.
    async fn chat_streamed(&self, request: &Value) -> Result<()> {
        let response = self
            .http
            .post(format!("{}/v1/chat/completions", self.url))
            .bearer_auth(self.key()?)
            .json(request)
            .send()
            .await;
        let response = self.checked(response).await?;
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        let mut usage = None;
        let mut stdout = std::io::stdout();
        while let Some(chunk) = stream.next().await {
            buffer.push_str(&String::from_utf8_lossy(
                &chunk.context("the stream broke")?,
            ));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let Some(data) = event.trim().strip_prefix("data:").map(str::trim) else {
                    continue;
                };
                let Ok(chunk) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                if let Some(text) = chunk
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                {
                    write!(stdout, "{text}")?;
                    stdout.flush()?;
                }
                if chunk.get("usage").is_some_and(Value::is_object) {
                    usage = chunk.get("usage").cloned();
                }
            }
        }
        writeln!(stdout)?;
        if let Some(usage) = usage {
            eprintln!(
                "({} prompt + {} completion tokens)",
                usage["prompt_tokens"], usage["completion_tokens"]
            );
        }
        Ok(())
    }
}

/// A key as the gateway returns it; `key` only when just created.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyView {
    #[serde(flatten)]
    pub record: KeyRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl fmt::Display for KeyView {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let key = &self.record;
        let state = match key.revoked_at {
            Some(at) => format!("revoked at {at}"),
            None if !key.is_live(unix_now()) => "expired".to_string(),
            None => format!("expires at {}", key.expires_at),
        };
        write!(f, "{}  {:<24} {state}", key.id, key.name)?;
        if let Some(key) = &self.key {
            write!(
                f,
                "\nkey: {key}\n(shown once: keep it, e.g. export IOGRID_API_KEY={key})"
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

impl fmt::Display for KeyList {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.keys.is_empty() {
            return write!(
                f,
                "no keys (create one with `iogrid ai key create --name …`)"
            );
        }
        let lines: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ModelView {
    pub id: String,
    #[serde(default)]
    pub workers: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ModelList {
    pub data: Vec<ModelView>,
}

impl fmt::Display for ModelList {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.data.is_empty() {
            return write!(f, "no worker serves a model now");
        }
        let lines: Vec<String> = self
            .data
            .iter()
            .map(|model| format!("{:<32} {} worker(s)", model.id, model.workers))
            .collect();
        write!(f, "{}", lines.join("\n"))
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UsageView(pub Allowance);

impl fmt::Display for UsageView {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let usage = &self.0;
        writeln!(f, "wallet     {}", usage.wallet)?;
        writeln!(
            f,
            "stake      {} ({} free tokens per IO per day)",
            iogrid_sdk::constants::format_io(usage.stake),
            usage.free_tokens_per_io_day
        )?;
        writeln!(f, "quota      {} tokens today", usage.limit)?;
        writeln!(f, "used       {}", usage.used)?;
        writeln!(f, "remaining  {}", usage.remaining)?;
        write!(f, "resets in  {} s", (usage.resets_at - unix_now()).max(0))
    }
}

/// A raw JSON answer (`ai chat --output json`).
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Json(Value);

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
