//! The gateway's HTTP API.
//!
//! With an API key (`Authorization: Bearer iog-…`), in OpenAI's shapes:
//! - `GET /v1/models`, `POST /v1/chat/completions` (`stream: true` → SSE),
//!   `POST /v1/embeddings`;
//! - `GET /v1/usage`: the key's wallet's quota today.
//!
//! Signed by a wallet (`iogrid_sdk::gateway::Signed`):
//! - `POST /v1/keys` create a key (shown once), `POST /v1/keys/list`,
//!   `POST /v1/keys/revoke`.
//!
//! Signed by a listing's worker key: `POST /v1/workers` registers (and
//! renews) the models it serves. `GET /v1/workers` lists live workers;
//! `GET /metrics` (Prometheus), `GET /healthz`.

use {
    crate::{
        error::ApiError,
        proxy::{forward, Caller, Endpoint},
        store::KeyRefused,
        unix_now, Gateway,
    },
    axum::{
        body::Bytes,
        extract::{DefaultBodyLimit, Request, State},
        http::{header, HeaderMap},
        middleware::{self, Next},
        response::{IntoResponse, Response},
        routing::{get, post},
        Json, Router,
    },
    iogrid_sdk::{
        accounts::GpuListing,
        gateway::{
            api_key_hash, api_key_id, new_api_key, Action, CreateKey, KeyRecord, ListKeys,
            ReceiptBatch, RegisterWorker, RevokeKey, Signed, API_KEY_PREFIX, MAX_KEY_NAME_CHARS,
            MAX_REQUEST_AGE_SECS,
        },
        rpc::{program_account, RpcReadError},
        Address,
    },
    serde::de::DeserializeOwned,
    serde_json::{json, Value},
    std::sync::Arc,
    tracing::info,
};

/// Largest request body: prompts, not files.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest life of a key.
const MAX_KEY_LIFETIME_SECS: i64 = 366 * 86_400;
/// Live keys one wallet may hold.
const MAX_LIVE_KEYS: usize = 32;
/// Models one worker may offer, and the longest model id.
const MAX_WORKER_MODELS: usize = 16;
const MAX_MODEL_ID_CHARS: usize = 64;
const MAX_WORKER_URL_CHARS: usize = 256;
/// A worker's price ceiling: what a credit may accept at most (the program's
/// `MAX_CREDIT_PRICE_PER_MTOK`).
const MAX_PRICE_PER_MTOK: u64 = iogrid_sdk::constants::MAX_CREDIT_PRICE_PER_MTOK;
/// Receipts one request may hand in.
const MAX_RECEIPTS_PER_REQUEST: usize = 1_000;

type Shared = State<Arc<Gateway>>;

/// The routes metrics are labelled with; anything else is `other`.
const ROUTES: [&str; 13] = [
    "/healthz",
    "/metrics",
    "/v1/models",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/usage",
    "/v1/keys",
    "/v1/keys/list",
    "/v1/keys/revoke",
    "/v1/workers",
    "/v1/gateway",
    "/v1/receipts",
    "other",
];

/// Counts each request by route and status, with its time to the answer's
/// first byte (a stream's full length is not the gateway's latency).
async fn observe(State(gateway): Shared, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let route = ROUTES
        .iter()
        .find(|route| **route == path)
        .copied()
        .unwrap_or("other");
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    gateway
        .metrics
        .observe(route, response.status().as_u16(), started.elapsed());
    response
}

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/usage", get(usage))
        .route("/v1/keys", post(create_key))
        .route("/v1/keys/list", post(list_keys))
        .route("/v1/keys/revoke", post(revoke_key))
        .route("/v1/workers", post(register_worker).get(workers))
        .route("/v1/gateway", get(about))
        .route("/v1/receipts", post(receipts))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("Unknown route; see https://platform.openai.com/docs/api-reference for the ones served") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(gateway.clone(), observe))
        .with_state(gateway)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("malformed request: {err}")))
}

/// The caller of an API-key request.
fn caller(gateway: &Gateway, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::invalid_key(
                "You didn't provide an API key. Send it as `Authorization: Bearer iog-…` (create one with `iogrid ai key create`).",
            )
        })?;
    if !key.starts_with(API_KEY_PREFIX) {
        return Err(ApiError::invalid_key(KeyRefused::Unknown.to_string()));
    }
    let record = gateway
        .store
        .authenticate(&api_key_hash(key), unix_now())
        .map_err(|refused| ApiError::invalid_key(refused.to_string()))?;
    let wallet = record
        .wallet
        .parse()
        .map_err(|_| ApiError::internal("a stored key names no wallet"))?;
    Ok(Caller {
        wallet,
        key_id: record.id,
    })
}

/// Verifies a wallet-signed request and spends its nonce; returns the wallet.
fn signed_by_wallet<T: Action>(
    gateway: &Gateway,
    request: &Signed<T>,
) -> Result<Address, ApiError> {
    let now = unix_now();
    let wallet = request
        .verify(&gateway.audience, now)
        .map_err(|err| ApiError::bad_signature(err.to_string()))?;
    let forget_at = request.issued_at.saturating_add(2 * MAX_REQUEST_AGE_SECS);
    let fresh = gateway
        .store
        .use_nonce(&request.signer, &request.nonce, now, forget_at)
        .map_err(|err| ApiError::internal(format!("cannot record the request: {err:#}")))?;
    if !fresh {
        return Err(ApiError::bad_signature(
            "this signed request was already used; sign a new one",
        ));
    }
    Ok(wallet)
}

async fn models(State(gateway): Shared, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    caller(&gateway, &headers)?;
    let data: Vec<Value> = gateway
        .workers
        .live_models()
        .into_iter()
        .map(|(id, workers)| {
            json!({ "id": id, "object": "model", "created": 0, "owned_by": "iogrid", "workers": workers })
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

async fn chat_completions(
    State(gateway): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = caller(&gateway, &headers)?;
    forward(gateway, caller, Endpoint::ChatCompletions, body).await
}

async fn embeddings(
    State(gateway): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = caller(&gateway, &headers)?;
    forward(gateway, caller, Endpoint::Embeddings, body).await
}

async fn usage(State(gateway): Shared, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let caller = caller(&gateway, &headers)?;
    let allowance = gateway.allowance(&caller.wallet, unix_now()).await?;
    let mut view = serde_json::to_value(allowance).expect("allowances serialize");
    view["key_id"] = caller.key_id.into();
    Ok(Json(view))
}

fn check_key_request(body: &CreateKey, now: i64) -> Result<(), ApiError> {
    let name = body.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_KEY_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!(
            "a key's name is 1 to {MAX_KEY_NAME_CHARS} printable characters"
        ))
        .param("name"));
    }
    if body.expires_at <= now || body.expires_at > now + MAX_KEY_LIFETIME_SECS {
        return Err(
            ApiError::bad_request("a key expires after it is created and within 366 days")
                .param("expires_at"),
        );
    }
    Ok(())
}

async fn create_key(State(gateway): Shared, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: Signed<CreateKey> = parse(&body)?;
    let now = unix_now();
    check_key_request(&request.body, now)?;
    let wallet = signed_by_wallet(&gateway, &request)?.to_string();
    if gateway.store.live_keys_of(&wallet, now) >= MAX_LIVE_KEYS {
        return Err(ApiError::forbidden(format!(
            "this wallet already has {MAX_LIVE_KEYS} live keys; revoke one first"
        )));
    }
    let key = new_api_key();
    let hash = api_key_hash(&key);
    let record = KeyRecord {
        id: api_key_id(&hash),
        wallet,
        name: request.body.name.trim().to_string(),
        created_at: now,
        expires_at: request.body.expires_at,
        revoked_at: None,
    };
    gateway
        .store
        .add_key(hash, record.clone())
        .map_err(|err| ApiError::internal(format!("cannot store the key: {err:#}")))?;
    info!("key {} created for {}", record.id, record.wallet);
    let mut view = serde_json::to_value(&record).expect("records serialize");
    view["key"] = key.into();
    Ok(Json(view))
}

async fn list_keys(State(gateway): Shared, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: Signed<ListKeys> = parse(&body)?;
    let wallet = signed_by_wallet(&gateway, &request)?;
    Ok(Json(
        json!({ "keys": gateway.store.keys_of(&wallet.to_string()) }),
    ))
}

async fn revoke_key(State(gateway): Shared, body: Bytes) -> Result<Json<KeyRecord>, ApiError> {
    let request: Signed<RevokeKey> = parse(&body)?;
    let wallet = signed_by_wallet(&gateway, &request)?;
    let revoked = gateway
        .store
        .revoke(&wallet.to_string(), &request.body.id, unix_now())
        .map_err(|err| ApiError::internal(format!("cannot revoke: {err:#}")))?;
    revoked
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("this wallet has no key {}", request.body.id)))
}

fn check_registration(body: &RegisterWorker) -> Result<Address, ApiError> {
    let listing = body
        .listing
        .parse()
        .map_err(|_| ApiError::bad_request("`listing` is not an address").param("listing"))?;
    let url_ok = (body.url.starts_with("http://") || body.url.starts_with("https://"))
        && body.url.len() <= MAX_WORKER_URL_CHARS
        && !body.url.ends_with('/');
    if !url_ok {
        return Err(ApiError::bad_request(format!(
            "`url` is the model server's http(s) origin without a trailing slash, at most {MAX_WORKER_URL_CHARS} characters"
        ))
        .param("url"));
    }
    let model_ok = |model: &String| {
        !model.is_empty()
            && model.len() <= MAX_MODEL_ID_CHARS
            && model.bytes().all(|b| b.is_ascii_graphic())
    };
    if body.models.is_empty()
        || body.models.len() > MAX_WORKER_MODELS
        || !body.models.iter().all(model_ok)
    {
        return Err(ApiError::bad_request(format!(
            "`models`: 1 to {MAX_WORKER_MODELS} model ids of 1 to {MAX_MODEL_ID_CHARS} printable ASCII characters"
        ))
        .param("models"));
    }
    if !(1..=1_024).contains(&body.parallel) {
        return Err(ApiError::bad_request("`parallel` is 1 to 1024").param("parallel"));
    }
    if body.price_per_mtok > MAX_PRICE_PER_MTOK {
        return Err(ApiError::bad_request(
            "`price_per_mtok` is at most 1,000 IO (10^9 base units) per million tokens",
        )
        .param("price_per_mtok"));
    }
    if !(16..=128).contains(&body.token.len())
        || !body.token.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(
            ApiError::bad_request("`token` is 16 to 128 letters and digits").param("token"),
        );
    }
    Ok(listing)
}

/// A worker offers models. Only a listing's own worker key may, and only
/// while the listing is online: serving is gated by staked, heartbeating
/// GPUs like jobs are. A replay within the age window re-registers the same
/// offer, so worker nonces are not remembered.
async fn register_worker(State(gateway): Shared, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: Signed<RegisterWorker> = parse(&body)?;
    let listing = check_registration(&request.body)?;
    let worker = request
        .verify(&gateway.audience, unix_now())
        .map_err(|err| ApiError::bad_signature(err.to_string()))?;
    let state: GpuListing = program_account(&gateway.rpc, &listing, "")
        .await
        .map_err(|err| match err {
            RpcReadError::Missing { .. } | RpcReadError::WrongOwner { .. } => {
                ApiError::forbidden(format!("{listing} is not an iogrid listing"))
            }
            other => ApiError::internal(format!("cannot read the listing: {other}")),
        })?;
    if state.spec.worker != worker {
        return Err(ApiError::forbidden(format!(
            "{worker} is not the worker key of listing {listing}"
        )));
    }
    if !state.is_online() {
        return Err(ApiError::forbidden(format!(
            "listing {listing} is {:?}; only online listings serve",
            state.status()
        )));
    }
    let models = request.body.models.clone();
    gateway.workers.register(listing, worker, request.body);
    Ok(Json(json!({
        "listing": listing.to_string(),
        "models": models,
        "ttl_secs": gateway.workers.ttl().as_secs(),
    })))
}

async fn metrics(State(gateway): Shared) -> impl IntoResponse {
    gateway
        .metrics
        .workers
        .set(gateway.workers.view().len() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        gateway.metrics.render(),
    )
}

async fn workers(State(gateway): Shared) -> impl IntoResponse {
    Json(json!({ "workers": gateway.workers.view() }))
}

/// What clients need to pay beyond the free quota: the key their credit
/// must name, and what the live workers ask per model.
async fn about(State(gateway): Shared) -> Json<Value> {
    let mut prices: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for worker in gateway.workers.view() {
        for model in worker.models {
            prices.entry(model).or_default().push(worker.price_per_mtok);
        }
    }
    let models: Vec<Value> = prices
        .into_iter()
        .map(|(id, mut prices)| {
            prices.sort_unstable();
            json!({ "id": id, "prices_per_mtok": prices })
        })
        .collect();
    Json(json!({
        "audience": gateway.audience,
        "settlement_key": gateway.credits.as_ref().map(|credits| credits.key().to_string()),
        "models": models,
    }))
}

/// Workers hand in usage receipts they signed. A request with a receipt
/// that does not parse or verify, or that is not from the listing's
/// registered worker at no more than its registered price, is refused whole.
/// Then each receipt is accepted only for tokens this gateway served through
/// that listing for that credit; the others are listed with the reason.
async fn receipts(State(gateway): Shared, body: Bytes) -> Result<Json<Value>, ApiError> {
    let Some(credits) = &gateway.credits else {
        return Err(ApiError::not_found("this gateway settles no paid usage"));
    };
    let batch: ReceiptBatch = parse(&body)?;
    if batch.receipts.len() > MAX_RECEIPTS_PER_REQUEST {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_RECEIPTS_PER_REQUEST} receipts per request"
        )));
    }
    let workers = gateway.workers.view();
    let mut accepted = Vec::with_capacity(batch.receipts.len());
    for (index, submitted) in batch.receipts.iter().enumerate() {
        let receipt = submitted
            .parse()
            .map_err(|err| ApiError::bad_request(format!("receipt {index}: {err}")))?;
        if !receipt.verify() {
            return Err(ApiError::bad_signature(format!(
                "receipt {index} is not signed by {}",
                receipt.worker
            )));
        }
        let registered = workers.iter().find(|w| {
            w.listing == receipt.listing.to_string() && w.worker == receipt.worker.to_string()
        });
        match registered {
            None => {
                return Err(ApiError::forbidden(format!(
                    "receipt {index}: {} is not a registered worker of listing {}",
                    receipt.worker, receipt.listing
                )))
            }
            Some(w) if receipt.price_per_mtok > w.price_per_mtok => {
                return Err(ApiError::forbidden(format!(
                    "receipt {index}: price {} is above the worker's registered {}",
                    receipt.price_per_mtok, w.price_per_mtok
                )))
            }
            Some(_) => {}
        }
        accepted.push(receipt);
    }
    // Each receipt stands alone from here: one refused (for more than this
    // gateway counted) does not hold back the others.
    let mut count = 0;
    let mut refused = Vec::new();
    for (index, receipt) in accepted.into_iter().enumerate() {
        match credits.accept(receipt) {
            Ok(()) => count += 1,
            Err(reason) => refused.push(json!({ "index": index, "reason": reason })),
        }
    }
    Ok(Json(json!({
        "accepted": count,
        "refused": refused,
        "queued": credits.queued(),
    })))
}
