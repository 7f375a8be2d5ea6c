//! A faulty network between the keeper or workers and the validator, for
//! the fault drills. The JSON-RPC side refuses requests, loses responses
//! after the validator acted on them (the sender cannot tell whether its
//! transaction landed), sends requests twice, and holds responses back so
//! that later ones overtake them. The websocket side drops, duplicates,
//! delays and reorders notifications and cuts connections. Both count what
//! they did, and the JSON-RPC side counts every call by method: the RPC
//! calls per job in the load figures.

use {
    axum::{
        body::Bytes,
        extract::State,
        http::{header, StatusCode},
        response::{IntoResponse, Response},
        Router,
    },
    futures_util::{SinkExt, StreamExt},
    std::{
        collections::BTreeMap,
        sync::{
            atomic::{AtomicU64, Ordering},
            Arc, Mutex,
        },
        time::Duration,
    },
    tokio::{net::TcpListener, task::JoinHandle},
    tokio_tungstenite::tungstenite::Message,
};

/// How often each fault strikes, in events per thousand.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Requests refused before they reach the validator (HTTP 503).
    pub refuse_request: u32,
    /// Responses lost after the validator handled the request (HTTP 502).
    pub lose_response: u32,
    /// Requests the validator receives twice (the second answer is dropped).
    pub duplicate_request: u32,
    /// Responses held back for up to `max_delay`, so later ones overtake them.
    pub delay_response: u32,
    pub max_delay: Duration,
    /// Websocket notifications dropped.
    pub drop_notification: u32,
    /// Websocket notifications delivered twice.
    pub duplicate_notification: u32,
    /// Websocket notifications delivered after the one that follows them.
    pub reorder_notification: u32,
    /// Websocket notifications delivered late (up to `max_delay`); the
    /// stream behind them waits.
    pub delay_notification: u32,
    /// Websocket connections cut at a notification (both ends closed).
    pub cut_connection: u32,
}

impl Faults {
    /// The drills' network: every fault, often enough to hit every path
    /// many times over a thousand jobs.
    pub fn drill() -> Self {
        Self {
            refuse_request: 30,
            lose_response: 30,
            duplicate_request: 50,
            delay_response: 100,
            max_delay: Duration::from_millis(1_500),
            drop_notification: 50,
            duplicate_notification: 50,
            reorder_notification: 50,
            delay_notification: 20,
            cut_connection: 2,
        }
    }
}

/// What the proxy did, and the JSON-RPC calls it carried by method.
#[derive(Default)]
pub struct Counts {
    pub calls: Mutex<BTreeMap<String, u64>>,
    pub refused: AtomicU64,
    pub lost: AtomicU64,
    pub duplicated: AtomicU64,
    pub delayed: AtomicU64,
    /// Requests the validator could not take (down, restarting).
    pub upstream_down: AtomicU64,
    pub notifications: AtomicU64,
    pub notifications_dropped: AtomicU64,
    pub notifications_duplicated: AtomicU64,
    pub notifications_reordered: AtomicU64,
    pub notifications_delayed: AtomicU64,
    pub connections: AtomicU64,
    pub connections_cut: AtomicU64,
}

impl Counts {
    pub fn total_calls(&self) -> u64 {
        self.calls.lock().unwrap().values().sum()
    }

    pub fn calls_by_method(&self) -> BTreeMap<String, u64> {
        self.calls.lock().unwrap().clone()
    }

    /// One line: every fault injected so far.
    pub fn faults_line(&self) -> String {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "JSON-RPC: {} calls, {} refused, {} responses lost, {} sent twice, {} delayed, {} while the node was away; \
             websocket: {} connections, {} notifications, {} dropped, {} duplicated, {} reordered, {} delayed, {} connections cut",
            self.total_calls(),
            n(&self.refused),
            n(&self.lost),
            n(&self.duplicated),
            n(&self.delayed),
            n(&self.upstream_down),
            n(&self.connections),
            n(&self.notifications),
            n(&self.notifications_dropped),
            n(&self.notifications_duplicated),
            n(&self.notifications_reordered),
            n(&self.notifications_delayed),
            n(&self.connections_cut),
        )
    }
}

struct Shared {
    faults: Mutex<Faults>,
    /// Until then every request is refused and every connection cut: the
    /// node is down (see [`ChaosProxy::outage`]).
    outage_until: Mutex<Option<std::time::Instant>>,
    connections: Mutex<Vec<JoinHandle<()>>>,
    counts: Counts,
    dice: Dice,
    upstream_http: String,
    upstream_ws: String,
    http: reqwest::Client,
}

/// JSON-RPC on `port`, websocket on `port + 1`, in front of a validator
/// whose JSON-RPC is `upstream_port` (websocket `upstream_port + 1`), all on
/// 127.0.0.1. Keeps listening while the validator restarts.
pub struct ChaosProxy {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl ChaosProxy {
    pub async fn start(port: u16, upstream_port: u16, faults: Faults) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        println!("chaos proxy on {port}/{}: seed {seed}", port + 1);
        let shared = Arc::new(Shared {
            faults: Mutex::new(faults),
            outage_until: Mutex::new(None),
            connections: Mutex::new(Vec::new()),
            counts: Counts::default(),
            dice: Dice(Mutex::new(seed | 1)),
            upstream_http: format!("http://127.0.0.1:{upstream_port}"),
            upstream_ws: format!("ws://127.0.0.1:{}", upstream_port + 1),
            http: reqwest::Client::new(),
        });
        let http = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the proxy's JSON-RPC port");
        let ws = TcpListener::bind(("127.0.0.1", port + 1))
            .await
            .expect("the proxy's websocket port");
        let app = Router::new().fallback(relay).with_state(shared.clone());
        let tasks = vec![
            tokio::spawn(async move {
                axum::serve(http, app).await.expect("the JSON-RPC proxy");
            }),
            tokio::spawn(accept_websockets(ws, shared.clone())),
        ];
        Self { shared, tasks }
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    pub fn counts(&self) -> &Counts {
        &self.shared.counts
    }

    /// The node behind the proxy goes away for `down`, as when a keeper's
    /// RPC provider restarts while the cluster goes on: every websocket is
    /// cut now, and every request and connection is refused until then.
    pub fn outage(&self, down: Duration) {
        *self.shared.outage_until.lock().unwrap() = Some(std::time::Instant::now() + down);
        for connection in self.shared.connections.lock().unwrap().drain(..) {
            connection.abort();
            self.shared
                .counts
                .connections_cut
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Shared {
    fn down(&self) -> bool {
        self.outage_until
            .lock()
            .unwrap()
            .is_some_and(|until| std::time::Instant::now() < until)
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A small deterministic generator (splitmix64), seeded once per proxy.
struct Dice(Mutex<u64>);

impl Dice {
    fn next(&self) -> u64 {
        let mut state = self.0.lock().unwrap();
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True `per_mille` times in a thousand.
    fn strikes(&self, per_mille: u32) -> bool {
        per_mille > 0 && self.next() % 1000 < u64::from(per_mille)
    }

    fn delay(&self, max: Duration) -> Duration {
        Duration::from_millis(self.next() % (max.as_millis() as u64).max(1))
    }
}

fn count_methods(counts: &Counts, body: &[u8]) {
    let methods: Vec<String> = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(batch)) => batch
            .iter()
            .filter_map(|r| r["method"].as_str().map(String::from))
            .collect(),
        Ok(request) => request["method"]
            .as_str()
            .map(String::from)
            .into_iter()
            .collect(),
        Err(_) => vec!["(not JSON)".into()],
    };
    let mut calls = counts.calls.lock().unwrap();
    for method in methods {
        *calls.entry(method).or_default() += 1;
    }
}

async fn relay(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let faults = *shared.faults.lock().unwrap();
    let (counts, dice) = (&shared.counts, &shared.dice);
    count_methods(counts, &body);
    if shared.down() {
        return upstream_down(counts);
    }
    if dice.strikes(faults.refuse_request) {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::SERVICE_UNAVAILABLE, "chaos: refused").into_response();
    }
    let forward = || {
        shared
            .http
            .post(&shared.upstream_http)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
    };
    if dice.strikes(faults.duplicate_request) {
        counts.duplicated.fetch_add(1, Ordering::Relaxed);
        let twice = forward();
        tokio::spawn(async move {
            let _ = twice.await;
        });
    }
    let answer = match forward().await {
        Ok(response) => {
            let status = response.status();
            match response.bytes().await {
                Ok(bytes) => (status, bytes),
                Err(_) => return upstream_down(counts),
            }
        }
        Err(_) => return upstream_down(counts),
    };
    if dice.strikes(faults.lose_response) {
        counts.lost.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::BAD_GATEWAY, "chaos: response lost").into_response();
    }
    if dice.strikes(faults.delay_response) {
        counts.delayed.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(dice.delay(faults.max_delay)).await;
    }
    let (status, bytes) = answer;
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn upstream_down(counts: &Counts) -> Response {
    counts.upstream_down.fetch_add(1, Ordering::Relaxed);
    (StatusCode::BAD_GATEWAY, "chaos: the validator is down").into_response()
}

async fn accept_websockets(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if shared.down() {
            continue; // dropping the stream refuses it
        }
        let task = tokio::spawn({
            let shared = shared.clone();
            async move { serve_websocket(stream, &shared).await }
        });
        let mut connections = shared.connections.lock().unwrap();
        connections.retain(|c| !c.is_finished());
        connections.push(task);
    }
}

async fn serve_websocket(stream: tokio::net::TcpStream, shared: &Shared) {
    let Ok(client) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let Ok((upstream, _)) = tokio_tungstenite::connect_async(&shared.upstream_ws).await else {
        return; // dropping `client` closes it: the validator is down
    };
    shared.counts.connections.fetch_add(1, Ordering::Relaxed);
    pump(client, upstream, shared).await;
}

type Socket<S> = tokio_tungstenite::WebSocketStream<S>;

/// Client requests go up as they are; what comes down meets the faults.
/// Returns when either side closes or a cut strikes; both ends then drop.
async fn pump<C, U>(client: Socket<C>, upstream: Socket<U>, shared: &Shared)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    U: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut to_client, mut from_client) = client.split();
    let (mut to_upstream, mut from_upstream) = upstream.split();
    let up = async {
        while let Some(Ok(message)) = from_client.next().await {
            if forwardable(&message) && to_upstream.send(message).await.is_err() {
                break;
            }
        }
    };
    let down = async {
        let counts = &shared.counts;
        let mut held: Option<Message> = None;
        while let Some(Ok(message)) = from_upstream.next().await {
            if !forwardable(&message) {
                continue;
            }
            let faults = *shared.faults.lock().unwrap();
            let dice = &shared.dice;
            let notification = matches!(&message, Message::Text(t) if t.contains("\"method\""));
            let mut out = vec![message];
            if notification {
                counts.notifications.fetch_add(1, Ordering::Relaxed);
                if dice.strikes(faults.cut_connection) {
                    counts.connections_cut.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                if dice.strikes(faults.drop_notification) {
                    counts.notifications_dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if held.is_none() && dice.strikes(faults.reorder_notification) {
                    counts
                        .notifications_reordered
                        .fetch_add(1, Ordering::Relaxed);
                    held = out.pop();
                    continue;
                }
                if dice.strikes(faults.duplicate_notification) {
                    counts
                        .notifications_duplicated
                        .fetch_add(1, Ordering::Relaxed);
                    out.push(out[0].clone());
                }
                if dice.strikes(faults.delay_notification) {
                    counts.notifications_delayed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(dice.delay(faults.max_delay)).await;
                }
            }
            out.extend(held.take());
            for message in out {
                if to_client.send(message).await.is_err() {
                    return;
                }
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// Data and close frames; the libraries answer pings themselves.
fn forwardable(message: &Message) -> bool {
    matches!(
        message,
        Message::Text(_) | Message::Binary(_) | Message::Close(_)
    )
}
