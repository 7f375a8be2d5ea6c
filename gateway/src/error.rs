//! Errors in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`)
//! and status codes, so OpenAI's clients raise the exception users expect.

use {
    axum::{
        http::{HeaderName, HeaderValue, StatusCode},
        response::{IntoResponse, Response},
        Json,
    },
    serde_json::json,
};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<&'static str>,
    pub headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            code: None,
            param: None,
            headers: Vec::new(),
        }
    }

    fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub fn header(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers
            .push((HeaderName::from_static(name), value.to_string()));
        self
    }

    /// 400: the request cannot be served as written.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 401: no key, or a key that is unknown, revoked or expired.
    pub fn invalid_key(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
            .code("invalid_api_key")
    }

    /// 401 for a signed wallet or worker request that does not verify.
    pub fn bad_signature(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
            .code("invalid_signature")
    }

    /// 403: authenticated, but not allowed (someone else's key, an offline listing).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_error", message)
    }

    /// 404 for a model no worker has offered.
    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model `{model}` does not exist or is not served by this gateway (GET /v1/models lists the served ones)"),
        )
        .code("model_not_found")
        .param("model")
    }

    /// 404 for anything else that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
    }

    /// 429: the wallet's free tokens for today are used; says when they come back.
    pub fn quota_exceeded(limit: u64, resets_at: i64, now: i64) -> Self {
        let wait = resets_at.saturating_sub(now).max(1);
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "insufficient_quota",
            format!(
                "You have used today's free quota of {limit} tokens; it resets at {resets_at} (unix seconds, in {wait} s). Stake more IO for a larger quota, or pay beyond it from a prepaid credit naming this gateway (GET /v1/gateway, `iogrid credit open`)."
            ),
        )
        .code("daily_quota_exceeded")
        .header("retry-after", wait)
        .header("x-ratelimit-limit-tokens", limit)
        .header("x-ratelimit-remaining-tokens", 0)
        .header("x-ratelimit-reset-tokens", format!("{wait}s"))
    }

    /// 429 for paid usage the wallet's credit cannot pay.
    pub fn credit_exhausted(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "insufficient_quota", message)
            .code("insufficient_credit")
    }

    /// 503: the model is known but no healthy worker serves it now.
    pub fn no_worker(model: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            format!("No worker is serving `{model}` right now; try again shortly"),
        )
        .code("no_worker_available")
    }

    /// 502: the worker failed in a way retrying elsewhere could not hide.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "server_error", message).code("upstream_error")
    }

    /// 500/502 for the gateway's own failures (the chain unreachable).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "server_error", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}
