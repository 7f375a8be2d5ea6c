//! Forwarding OpenAI requests to a worker's model server: the quota checked
//! before, the tokens counted after (from the worker's `usage`), another
//! worker tried when one fails before answering. Streams pass through event
//! by event; the usage chunk the gateway asks for is removed again when the
//! client did not ask for it.

use {
    crate::{credits::PaidPlan, error::ApiError, unix_now, workers::Lease, Gateway},
    axum::{
        body::Body,
        http::{header, HeaderValue, StatusCode},
        response::Response,
    },
    bytes::Bytes,
    futures_util::{Stream, StreamExt},
    iogrid_sdk::{
        gateway::{Allowance, CREDIT_HEADER},
        Address,
    },
    serde_json::{Map, Value},
    std::sync::Arc,
    tracing::warn,
};

/// Most completion tokens one request may ask for through the gateway; the
/// model server caps it further.
pub const MAX_COMPLETION_TOKENS: u64 = 16_384;
/// Workers tried for one request before giving up.
const MAX_ATTEMPTS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Embeddings => "/v1/embeddings",
        }
    }
}

/// Who is asking: the wallet the API key belongs to.
#[derive(Clone, Debug)]
pub struct Caller {
    pub wallet: Address,
    pub key_id: String,
}

/// What the gateway decided about a request before sending it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub stream: bool,
    /// The client asked for the final usage chunk of a stream.
    pub client_wants_usage: bool,
    /// Completion tokens the worker may bill at most (0 for embeddings).
    pub max_completion: u64,
}

pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        )),
        Err(err) => Err(ApiError::bad_request(format!(
            "We could not parse the JSON body of your request: {err}"
        ))),
    }
}

fn positive_integer(
    request: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<u64>, ApiError> {
    match request.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("`{field}` must be a positive integer")).param(field)
        }),
    }
}

/// Checks a chat request and rewrites what the gateway controls: the token
/// cap (see also [`cap_completion`]) and, for streams, a usage chunk at the
/// end so the tokens can be counted.
pub fn prepare_chat(request: &mut Map<String, Value>) -> Result<Plan, ApiError> {
    match request.get("messages") {
        Some(Value::Array(messages)) if !messages.is_empty() => {}
        _ => {
            return Err(
                ApiError::bad_request("`messages` must be a non-empty array").param("messages"),
            )
        }
    }
    let stream = match request.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(_) => return Err(ApiError::bad_request("`stream` must be a boolean").param("stream")),
    };
    let asked = match positive_integer(request, "max_completion_tokens")? {
        Some(n) => Some(n),
        None => positive_integer(request, "max_tokens")?,
    };
    let max_completion = asked
        .unwrap_or(MAX_COMPLETION_TOKENS)
        .min(MAX_COMPLETION_TOKENS);
    request.remove("max_completion_tokens");
    request.insert("max_tokens".into(), max_completion.into());
    let client_wants_usage = request
        .get("stream_options")
        .and_then(|options| options.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if stream {
        request.insert(
            "stream_options".into(),
            serde_json::json!({ "include_usage": true }),
        );
    }
    Ok(Plan {
        stream,
        client_wants_usage,
        max_completion,
    })
}

/// Lowers the completion cap to the wallet's remaining tokens.
pub fn cap_completion(request: &mut Map<String, Value>, plan: &mut Plan, remaining: u64) {
    plan.max_completion = plan.max_completion.min(remaining);
    request.insert("max_tokens".into(), plan.max_completion.into());
}

pub fn prepare_embeddings(request: &Map<String, Value>) -> Result<Plan, ApiError> {
    match request.get("input") {
        Some(Value::String(text)) if !text.is_empty() => {}
        Some(Value::Array(items)) if !items.is_empty() => {}
        _ => {
            return Err(
                ApiError::bad_request("`input` must be a non-empty string or array").param("input"),
            )
        }
    }
    Ok(Plan {
        stream: false,
        client_wants_usage: true,
        max_completion: 0,
    })
}

/// Tokens a worker's `usage` bills, completion tokens capped by the plan.
pub fn billed_tokens(usage: &Value, plan: &Plan) -> u64 {
    let field = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    let completion = field("completion_tokens").min(plan.max_completion);
    field("prompt_tokens").saturating_add(completion)
}

/// Sends the request to the least-loaded worker of `model`, then the next
/// if it cannot answer.
pub async fn forward(
    gateway: Arc<Gateway>,
    caller: Caller,
    endpoint: Endpoint,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut request = parse_object(&body)?;
    let model = match request.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => return Err(ApiError::bad_request("`model` is required").param("model")),
    };
    if !gateway.workers.is_known(&model) {
        return Err(ApiError::model_not_found(&model));
    }
    // Malformed requests are refused before the quota is looked at.
    let mut plan = match endpoint {
        Endpoint::ChatCompletions => prepare_chat(&mut request)?,
        Endpoint::Embeddings => prepare_embeddings(&request)?,
    };
    let now = unix_now();
    let allowance = gateway.allowance(&caller.wallet, now).await?;
    let paid = if allowance.remaining == 0 {
        Some(paid_plan(&gateway, &caller, &allowance, now).await?)
    } else {
        if endpoint == Endpoint::ChatCompletions {
            cap_completion(&mut request, &mut plan, allowance.remaining);
        }
        None
    };
    let mut tried = Vec::new();
    while tried.len() < MAX_ATTEMPTS {
        let max_price = paid.map(|paid| paid.max_price_per_mtok);
        let Some(lease) = gateway.workers.lease(&model, &tried, max_price) else {
            break;
        };
        tried.push(lease.listing);
        let billing = match paid {
            None => Billing::Free,
            Some(paid) => {
                // What the credit can still buy at this worker's price.
                let affordable = iogrid_sdk::rules::usage::usage_tokens_for(
                    paid.spendable,
                    lease.price_per_mtok,
                );
                if affordable == 0 {
                    continue;
                }
                if endpoint == Endpoint::ChatCompletions {
                    cap_completion(&mut request, &mut plan, affordable);
                }
                Billing::Paid {
                    credit: paid.credit,
                    listing: lease.listing,
                    price_per_mtok: lease.price_per_mtok,
                }
            }
        };
        let body = Bytes::from(serde_json::to_vec(&request).expect("JSON values serialize"));
        let mut upstream = gateway
            .http
            .post(format!("{}{}", lease.url, endpoint.path()))
            .header(header::CONTENT_TYPE, "application/json")
            .bearer_auth(&lease.token)
            .body(body);
        if let Billing::Paid { credit, .. } = billing {
            upstream = upstream.header(CREDIT_HEADER, credit.to_string());
        }
        match upstream.send().await {
            Err(err) => {
                warn!("worker {} did not answer: {err}", lease.listing);
                gateway.worker_failed(&lease.listing);
            }
            // Busy: no fault of the worker's, but another may have room.
            Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {}
            Ok(response) if response.status().is_server_error() => {
                warn!("worker {} answered {}", lease.listing, response.status());
                gateway.worker_failed(&lease.listing);
            }
            Ok(response) => {
                gateway.workers.succeeded(&lease.listing);
                let answer = Answer {
                    gateway: gateway.clone(),
                    caller,
                    allowance,
                    plan,
                    billing,
                };
                return answer.relay(response, lease).await;
            }
        }
    }
    if paid.is_some() {
        return Err(ApiError::credit_exhausted(
            "no worker of this model serves within your credit's price ceiling and balance",
        ));
    }
    Err(ApiError::no_worker(&model))
}

/// Who pays for a request's tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billing {
    /// The wallet's free daily quota.
    Free,
    /// The wallet's prepaid credit, at the serving worker's price.
    Paid {
        credit: Address,
        listing: Address,
        price_per_mtok: u64,
    },
}

/// The free quota is used up: the wallet's credit pays, if it names this
/// gateway and has something left.
async fn paid_plan(
    gateway: &Gateway,
    caller: &Caller,
    allowance: &Allowance,
    now: i64,
) -> Result<PaidPlan, ApiError> {
    let Some(credits) = &gateway.credits else {
        return Err(ApiError::quota_exceeded(
            allowance.limit,
            allowance.resets_at,
            now,
        ));
    };
    let plan = credits
        .plan(&gateway.rpc, &caller.wallet)
        .await
        .map_err(|err| ApiError::internal(format!("cannot read the wallet's credit: {err}")))?;
    match plan {
        None => Err(ApiError::quota_exceeded(allowance.limit, allowance.resets_at, now)),
        Some(plan) if plan.spendable == 0 => Err(ApiError::credit_exhausted(
            "your prepaid credit is spent (or all of it is asked to be withdrawn); deposit more with `iogrid credit deposit`",
        )),
        Some(plan) => Ok(plan),
    }
}

/// What is needed to pass a worker's answer back and count its tokens.
struct Answer {
    gateway: Arc<Gateway>,
    caller: Caller,
    allowance: Allowance,
    plan: Plan,
    billing: Billing,
}

impl Answer {
    async fn relay(self, response: reqwest::Response, lease: Lease) -> Result<Response, ApiError> {
        let status = response.status();
        let is_stream = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if status.is_success() && is_stream {
            return Ok(self.relay_stream(response, lease));
        }
        let bytes = response.bytes().await.map_err(|err| {
            self.gateway.worker_failed(&lease.listing);
            ApiError::upstream(format!("the worker stopped answering: {err}"))
        })?;
        let mut billed = 0;
        if status.is_success() {
            let usage = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|answer| answer.get("usage").cloned())
                .unwrap_or(Value::Null);
            billed = billed_tokens(&usage, &self.plan);
            self.gateway
                .record_usage(&self.caller, self.billing, billed);
        }
        let mut reply = Response::builder()
            .status(status.as_u16())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(bytes))
            .expect("a valid response");
        self.rate_headers(&mut reply, billed);
        Ok(reply)
    }

    fn rate_headers(&self, reply: &mut Response, billed: u64) {
        let remaining = self.allowance.remaining.saturating_sub(billed);
        let headers = reply.headers_mut();
        headers.insert("x-ratelimit-limit-tokens", self.allowance.limit.into());
        headers.insert("x-ratelimit-remaining-tokens", remaining.into());
        let reset = self.allowance.resets_at.saturating_sub(unix_now()).max(0);
        if let Ok(value) = HeaderValue::from_str(&format!("{reset}s")) {
            headers.insert("x-ratelimit-reset-tokens", value);
        }
    }

    fn relay_stream(self, response: reqwest::Response, lease: Lease) -> Response {
        let mut reply = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::empty())
            .expect("a valid response");
        // Billed as the stream ends; the headers show the quota before it.
        self.rate_headers(&mut reply, 0);
        let tap = Tap {
            billing: self.billing,
            keep_usage_chunk: self.plan.client_wants_usage,
            plan: self.plan,
            gateway: self.gateway,
            caller: self.caller,
            buffer: Vec::new(),
            usage: None,
            content_chunks: 0,
            billed: false,
            lease,
        };
        *reply.body_mut() = Body::from_stream(tap_stream(response.bytes_stream(), tap));
        reply
    }
}

/// Watches a stream's events as they pass: finds the usage chunk, drops it
/// when the client did not ask for it, and bills the tokens once — at the
/// end, or when the client goes away (then by the content chunks seen).
struct Tap {
    gateway: Arc<Gateway>,
    caller: Caller,
    billing: Billing,
    plan: Plan,
    keep_usage_chunk: bool,
    buffer: Vec<u8>,
    usage: Option<Value>,
    content_chunks: u64,
    billed: bool,
    lease: Lease,
}

impl Tap {
    /// Appends `chunk` and returns the complete events to pass on.
    fn take_events(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.buffer.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = find_event_end(&self.buffer) {
            let event: Vec<u8> = self.buffer.drain(..end).collect();
            if self.inspect(&event) {
                out.extend_from_slice(&event);
            }
        }
        out
    }

    /// Reads one event; false when it is the usage chunk the client did not ask for.
    fn inspect(&mut self, event: &[u8]) -> bool {
        let text = String::from_utf8_lossy(event);
        let Some(data) = text.lines().find_map(|line| line.strip_prefix("data:")) else {
            return true;
        };
        let Ok(chunk) = serde_json::from_str::<Value>(data.trim()) else {
            return true;
        };
        let has_content = chunk
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
            .is_some_and(|content| !content.is_empty());
        if has_content {
            self.content_chunks += 1;
        }
        match chunk.get("usage") {
            Some(usage) if usage.is_object() => {
                self.usage = Some(usage.clone());
                let usage_only = chunk
                    .get("choices")
                    .and_then(Value::as_array)
                    .is_none_or(|choices| choices.is_empty());
                self.keep_usage_chunk || !usage_only
            }
            _ => true,
        }
    }

    fn bill(&mut self) {
        if self.billed {
            return;
        }
        self.billed = true;
        let usage = self
            .usage
            .clone()
            .unwrap_or_else(|| serde_json::json!({ "completion_tokens": self.content_chunks }));
        self.gateway.record_usage(
            &self.caller,
            self.billing,
            billed_tokens(&usage, &self.plan),
        );
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.bill();
    }
}

/// Where the first complete server-sent event in `buffer` ends (after its
/// blank line), if one is complete.
fn find_event_end(buffer: &[u8]) -> Option<usize> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn tap_stream(
    upstream: impl Stream<Item = reqwest::Result<Bytes>> + Send + Unpin + 'static,
    tap: Tap,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold(Some((upstream, tap)), |state| async move {
        let (mut upstream, mut tap) = state?;
        loop {
            match upstream.next().await {
                Some(Ok(chunk)) => {
                    let out = tap.take_events(&chunk);
                    if !out.is_empty() {
                        return Some((Ok(Bytes::from(out)), Some((upstream, tap))));
                    }
                }
                Some(Err(err)) => {
                    tap.gateway.worker_failed(&tap.lease.listing);
                    tap.bill();
                    return Some((Err(std::io::Error::other(err)), None));
                }
                None => {
                    let rest = std::mem::take(&mut tap.buffer);
                    tap.bill();
                    return (!rest.is_empty()).then(|| (Ok(Bytes::from(rest)), None));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use {super::*, serde_json::json};

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn chat_requests_are_capped_by_the_remaining_quota() {
        let mut request = object(json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}],
            "max_completion_tokens": 500
        }));
        let mut plan = prepare_chat(&mut request).unwrap();
        assert_eq!(plan.max_completion, 500);
        cap_completion(&mut request, &mut plan, 120);
        assert_eq!(plan.max_completion, 120);
        assert_eq!(request["max_tokens"], 120);
        assert!(!request.contains_key("max_completion_tokens"));
        assert!(!plan.stream);

        let mut request = object(json!({"model": "m", "messages": [{}], "stream": true}));
        let plan = prepare_chat(&mut request).unwrap();
        assert_eq!(plan.max_completion, MAX_COMPLETION_TOKENS);
        assert!(plan.stream && !plan.client_wants_usage);
        assert_eq!(request["stream_options"]["include_usage"], true);
    }

    #[test]
    fn malformed_chat_requests_name_the_field() {
        for (request, param) in [
            (json!({"model": "m"}), "messages"),
            (json!({"model": "m", "messages": []}), "messages"),
            (
                json!({"model": "m", "messages": [{}], "stream": "yes"}),
                "stream",
            ),
            (
                json!({"model": "m", "messages": [{}], "max_tokens": 0}),
                "max_tokens",
            ),
            (
                json!({"model": "m", "messages": [{}], "max_tokens": -3}),
                "max_tokens",
            ),
        ] {
            let err = prepare_chat(&mut object(request)).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
            assert_eq!(err.param, Some(param));
        }
        assert_eq!(
            prepare_embeddings(&object(json!({"input": ""})))
                .unwrap_err()
                .param,
            Some("input")
        );
        assert!(parse_object(b"[1]").is_err() && parse_object(b"{").is_err());
    }

    #[test]
    fn billing_caps_completion_tokens_at_what_was_allowed() {
        let plan = Plan {
            stream: false,
            client_wants_usage: false,
            max_completion: 10,
        };
        let usage = json!({"prompt_tokens": 7, "completion_tokens": 500, "total_tokens": 507});
        assert_eq!(billed_tokens(&usage, &plan), 17);
        assert_eq!(billed_tokens(&Value::Null, &plan), 0);
    }

    #[test]
    fn events_are_split_on_blank_lines() {
        assert_eq!(find_event_end(b"data: 1\n\ndata: 2"), Some(9));
        assert_eq!(find_event_end(b"data: 1\r\n\r\n"), Some(11));
        assert_eq!(find_event_end(b"data: 1\n"), None);
    }
}
