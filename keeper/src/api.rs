//! The keeper's HTTP API:
//! - `POST /v1/proofs`: a worker hands in its signed proof
//!   ([`iogrid_sdk::proof::ProofSubmission`]); the keeper checks it against
//!   the chain and relays `complete_job` with the Ed25519 instruction.
//!   200 relayed, 400 malformed or badly signed, 404 unknown job, 409 already
//!   proven or not this worker's assignment, 422 refused by the program,
//!   502 the cluster did not answer.
//! - `GET /v1/jobs/<job>`: the job as the keeper sees it, and why it waits.
//! - `GET /v1/unmatched`: every waiting job with its reason.
//! - `PUT /v1/specs` (body: the spec's bytes) → its SHA-256;
//!   `GET /v1/specs/<sha256 hex>`: the content-addressed spec store.
//! - `POST /v1/jobs/<job>/cluster`: the head worker announces the job's Ray
//!   cluster (signed); `GET` publishes it, with the cluster's nodes, to the
//!   other workers and to `iogrid job logs`.
//! - `GET /metrics` (Prometheus), `GET /healthz`.

use {
    crate::{act::Outcome, keeper::Keeper},
    axum::{
        body::Bytes,
        extract::{Path, State},
        http::StatusCode,
        response::{IntoResponse, Response},
        routing::{get, post},
        Json, Router,
    },
    iogrid_node::Shutdown,
    iogrid_sdk::{
        accounts::AssignmentStatus,
        proof::{Proof, ProofSubmission},
        workload::{ClusterAnnouncement, MAX_SPEC_BYTES},
        Address,
    },
    serde::Serialize,
    serde_json::json,
    std::sync::Arc,
    tracing::{debug, info, warn},
};

/// `GET /v1/jobs/<job>`.
#[derive(Clone, Debug, Serialize)]
pub struct JobView {
    pub job: String,
    pub status: String,
    pub gpus: u16,
    pub gpus_assigned: u16,
    pub in_flight: bool,
    /// Why no listings can be assigned now, when the job waits for some.
    pub waiting_reason: Option<String>,
    pub waiting_secs: Option<u64>,
    /// Its actions that failed and wait before their next try.
    pub retries: Vec<crate::retry::RetryView>,
}

pub fn router(keeper: Arc<Keeper>) -> Router {
    Router::new()
        .route("/v1/proofs", post(submit_proof))
        .route("/v1/jobs/{job}", get(job))
        .route(
            "/v1/jobs/{job}/cluster",
            get(cluster).post(announce_cluster),
        )
        .route("/v1/specs", axum::routing::put(put_spec))
        .route("/v1/specs/{hash}", get(get_spec))
        // A spec may be 64 KiB; axum's default body limit is 2 MiB.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_SPEC_BYTES + 1024))
        .route("/v1/unmatched", get(unmatched))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(keeper)
        // The web console (another origin) reads jobs and uploads specs.
        // Nothing here is authenticated by cookies, and a spec is stored
        // under its own hash, so any origin may call it.
        .layer(tower_http::cors::CorsLayer::permissive())
}

/// Serves until shutdown, then finishes requests in progress.
pub async fn serve(keeper: Arc<Keeper>, listener: tokio::net::TcpListener, shutdown: Shutdown) {
    let app = router(keeper);
    let stop = async move { shutdown.wait().await };
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        warn!(error = %err, "the HTTP API stopped");
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn submit_proof(
    State(keeper): State<Arc<Keeper>>,
    Json(submission): Json<ProofSubmission>,
) -> Response {
    let response = relay(&keeper, &submission).await;
    let label = response.status().as_u16().to_string();
    keeper
        .shared
        .metrics
        .proofs_received
        .get_or_create(&crate::metrics::StatusLabel { status: label })
        .inc();
    response
}

async fn relay(keeper: &Keeper, submission: &ProofSubmission) -> Response {
    let proof = match Proof::try_from(submission) {
        Ok(proof) => proof,
        Err(err) => return error(StatusCode::BAD_REQUEST, err.to_string()),
    };
    if !proof.verify() {
        return error(
            StatusCode::BAD_REQUEST,
            "the signature is not the worker's over this proof",
        );
    }
    // The state may trail the chain by a notification: read the job first.
    if let Err(err) = keeper.refresh(&[proof.job, proof.listing]).await {
        return error(StatusCode::BAD_GATEWAY, err.to_string());
    }
    if let Err((status, message)) = check_against_state(keeper, &proof) {
        return error(status, message);
    }
    let outcome =
        crate::act::relay_proof(&keeper.rpc, &keeper.keypair, &keeper.options, &proof).await;
    keeper
        .shared
        .metrics
        .action("complete_job", outcome.label());
    let _ = keeper.refresh(&[proof.job, proof.listing]).await;
    keeper.shared.wake.notify_one();
    match outcome {
        Outcome::Sent(sent) => {
            info!(job = %proof.job, listing = %proof.listing, signature = %sent.signature, "proof relayed");
            (
                StatusCode::OK,
                Json(json!({ "signature": sent.signature.to_string(), "slot": sent.slot })),
            )
                .into_response()
        }
        Outcome::AlreadyDone(why) => error(StatusCode::CONFLICT, why),
        Outcome::NotYet(why) => error(StatusCode::UNPROCESSABLE_ENTITY, why.to_string()),
        Outcome::Failed(err) => {
            warn!(job = %proof.job, error = %err, "proof refused");
            error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string())
        }
    }
}

/// Refuses, before paying for a transaction, what the program would refuse.
fn check_against_state(keeper: &Keeper, proof: &Proof) -> Result<(), (StatusCode, String)> {
    let state = keeper.shared.state.lock().unwrap();
    let entry = state
        .jobs
        .get(&proof.job)
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no job at {}", proof.job)))?;
    let listing = state.listings.get(&proof.listing).ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            format!("no listing at {}", proof.listing),
        )
    })?;
    if listing.value.spec.worker != proof.worker {
        return Err((
            StatusCode::CONFLICT,
            format!(
                "{} is not the worker of listing {}",
                proof.worker, proof.listing
            ),
        ));
    }
    let assignment = entry
        .account
        .assignments
        .iter()
        .rev()
        .find(|a| a.listing == proof.listing && a.nonce == proof.nonce)
        .ok_or_else(|| {
            (
                StatusCode::CONFLICT,
                "the listing has no assignment in this job with this nonce".to_string(),
            )
        })?;
    match assignment.status() {
        AssignmentStatus::Active => Ok(()),
        AssignmentStatus::Proven => Err((StatusCode::CONFLICT, "already proven".to_string())),
        other => Err((StatusCode::CONFLICT, format!("the assignment is {other:?}"))),
    }
}

async fn job(State(keeper): State<Arc<Keeper>>, Path(job): Path<String>) -> Response {
    let Ok(address) = job.parse::<Address>() else {
        return error(StatusCode::BAD_REQUEST, format!("{job} is not an address"));
    };
    match keeper.job_view(&address) {
        Some(view) => Json(view).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("the keeper follows no job at {job} (never created, or closed)"),
        ),
    }
}

async fn put_spec(State(keeper): State<Arc<Keeper>>, body: Bytes) -> Response {
    let stored = keeper.shared.specs.lock().unwrap().put(body.to_vec());
    match stored {
        Ok(hash) => Json(json!({ "sha256": hex::encode(hash) })).into_response(),
        Err(err @ crate::workloads::StoreError::TooLarge(_)) => {
            error(StatusCode::PAYLOAD_TOO_LARGE, err.to_string())
        }
        Err(err) => error(StatusCode::INSUFFICIENT_STORAGE, err.to_string()),
    }
}

async fn get_spec(State(keeper): State<Arc<Keeper>>, Path(hash): Path<String>) -> Response {
    let Some(hash) = hex::decode(&hash)
        .ok()
        .and_then(|h| <[u8; 32]>::try_from(h).ok())
    else {
        return error(StatusCode::BAD_REQUEST, "the hash is 64 hex characters");
    };
    match keeper.shared.specs.lock().unwrap().get(&hash) {
        Some(bytes) => bytes.to_vec().into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "no spec with this hash here (upload it with PUT /v1/specs)",
        ),
    }
}

fn job_address(job: &str) -> Result<Address, Box<Response>> {
    job.parse::<Address>().map_err(|_| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("{job} is not an address"),
        ))
    })
}

async fn announce_cluster(
    State(keeper): State<Arc<Keeper>>,
    Path(job): Path<String>,
    Json(announcement): Json<ClusterAnnouncement>,
) -> Response {
    let address = match job_address(&job) {
        Ok(address) => address,
        Err(response) => return *response,
    };
    // A head repeats its announcement every 10 s; only a new one costs RPC
    // reads. A head announces right after its assignment, before the
    // websocket may have brought it: read the job and listing first.
    let repeated = keeper
        .shared
        .clusters
        .lock()
        .unwrap()
        .get(&address)
        .is_some_and(|known| known.signature == announcement.signature);
    if !repeated {
        if let Ok(listing) = announcement.listing.parse::<Address>() {
            let _ = keeper.refresh(&[address, listing]).await;
        }
    }
    let checked = {
        let state = keeper.shared.state.lock().unwrap();
        crate::workloads::check_announcement(&state, &address, &announcement)
    };
    if let Err((status, message)) = checked {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        return error(status, message);
    }
    if repeated {
        debug!(job = %address, "cluster head announced again");
    } else {
        info!(job = %address, head = %announcement.gcs_address, "cluster head announced");
    }
    keeper
        .shared
        .clusters
        .lock()
        .unwrap()
        .insert(address, announcement.clone());
    Json(announcement).into_response()
}

/// The announced head, if it is still the job's head, and every node.
async fn cluster(State(keeper): State<Arc<Keeper>>, Path(job): Path<String>) -> Response {
    let address = match job_address(&job) {
        Ok(address) => address,
        Err(response) => return *response,
    };
    let state = keeper.shared.state.lock().unwrap();
    let Some(entry) = state.jobs.get(&address) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("the keeper follows no job at {job}"),
        );
    };
    let nodes: Vec<_> = entry
        .account
        .cluster_nodes()
        .map(|a| {
            json!({
                "listing": a.listing.to_string(),
                "nonce": a.nonce,
                "gpus": a.gpus,
                "status": format!("{:?}", a.status()),
            })
        })
        .collect();
    let head = entry.account.cluster_nodes().next().copied();
    let announced = keeper
        .shared
        .clusters
        .lock()
        .unwrap()
        .get(&address)
        .cloned();
    // An announcement from a head that has since been replaced is stale.
    let current = announced
        .filter(|a| head.is_some_and(|h| a.listing == h.listing.to_string() && a.nonce == h.nonce));
    Json(json!({ "job": job, "head": current, "nodes": nodes })).into_response()
}

async fn unmatched(State(keeper): State<Arc<Keeper>>) -> Response {
    let state = keeper.shared.state.lock().unwrap();
    let list: Vec<_> = state
        .agenda
        .waiting()
        .map(|(job, w)| {
            json!({
                "job": job.to_string(),
                "reason": w.reason.to_string(),
                "waiting_secs": w.since.elapsed().as_secs(),
            })
        })
        .collect();
    Json(list).into_response()
}

async fn metrics(State(keeper): State<Arc<Keeper>>) -> Response {
    keeper.count_share();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        keeper.shared.metrics.render(),
    )
        .into_response()
}

/// Healthy while a snapshot succeeded within three resync intervals.
async fn healthz(State(keeper): State<Arc<Keeper>>) -> Response {
    let health = keeper.shared.health.lock().unwrap().clone();
    let age = health.last_sync.map(|t| t.elapsed());
    let fresh = age.is_some_and(|age| age <= keeper.settings.resync * 3);
    let body = json!({
        "synced": fresh,
        "last_sync_secs_ago": age.map(|a| a.as_secs()),
        "last_sync_slot": health.last_sync_slot,
        "websocket": health.ws_connected,
    });
    let status = if fresh {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
