//! The iogrid keeper (`iogrid-keeper` binary), as a library so tests can run
//! it in-process against a local validator.
//!
//! - [`config`]: settings from file, environment and flags.
//! - [`state`]: the chain's accounts as last read, with the matcher's book.
//! - [`watch`]: getProgramAccounts snapshots and the programSubscribe websocket.
//! - [`decide`]: pure planning — [`matcher`] (which listings for which job)
//!   and [`decide::plan`] (faults, expiry, settlement, assignment).
//! - [`act`]: building, sending and classifying transactions.
//! - [`api`]: HTTP — proofs from workers, job explanations, /metrics, /healthz.
//! - [`workloads`]: the spec store and the jobs' announced Ray cluster heads.
//! - [`retry`]: the retry ledger — failed actions back off, per job and action.
//! - [`keeper`]: the loop that ties them together.

pub mod act;
pub mod api;
pub mod config;
pub mod decide;
pub mod keeper;
pub mod metrics;
pub mod retry;
pub mod share;
pub mod state;
pub mod watch;
pub mod workloads;

pub use decide::matcher;

use {
    iogrid_sdk::Address,
    state::ChainState,
    std::{
        collections::{HashMap, HashSet},
        sync::Mutex,
        time::Instant,
    },
    tokio::sync::Notify,
};

/// Liveness of the watch paths, for /healthz.
#[derive(Clone, Debug, Default)]
pub struct Health {
    pub last_sync: Option<Instant>,
    pub last_sync_slot: u64,
    pub ws_connected: bool,
}

/// What the keeper's tasks share. Locks are never held across an `.await`.
#[derive(Default)]
pub struct Shared {
    pub state: Mutex<ChainState>,
    /// Jobs with a transaction in flight: never two at once for one job.
    pub in_flight: Mutex<HashSet<Address>>,
    pub health: Mutex<Health>,
    pub metrics: metrics::Metrics,
    /// Something changed: plan now rather than at the next tick.
    pub wake: Notify,
    /// The websocket came back: read everything again.
    pub resync: Notify,
    /// Workload specs by hash (`spec:` URIs).
    pub specs: Mutex<workloads::SpecStore>,
    /// Each job's announced Ray cluster head.
    pub clusters: Mutex<HashMap<Address, iogrid_sdk::workload::ClusterAnnouncement>>,
    /// Actions that failed, and when each may go out again.
    pub retries: Mutex<retry::RetryLedger>,
    /// Actions due in other keepers' shares, and since when.
    pub due_since: Mutex<share::DueSince>,
}

impl Shared {
    pub fn synced(&self, slot: u64) {
        let mut health = self.health.lock().unwrap();
        health.last_sync = Some(Instant::now());
        health.last_sync_slot = slot;
    }

    pub fn set_ws_connected(&self, connected: bool) {
        self.health.lock().unwrap().ws_connected = connected;
    }

    /// Marks `job` busy; false if it already was.
    pub fn claim(&self, job: Address) -> bool {
        self.in_flight.lock().unwrap().insert(job)
    }

    pub fn release(&self, job: &Address) {
        self.in_flight.lock().unwrap().remove(job);
    }
}
