//! Prometheus metrics (`GET /metrics`, OpenMetrics text): job counts by
//! status, per-action run/outcome counters, planning and assignment latency
//! histograms, RPC errors, transaction retries, websocket reconnects and the
//! keeper wallet's balance.

use {
    crate::retry::BackingOff,
    prometheus_client::{
        encoding::{text::encode, EncodeLabelSet},
        metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
        registry::Registry,
    },
    std::{collections::BTreeMap, sync::atomic::AtomicU64},
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub action: String,
    /// sent, already_done, not_yet, failed
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    pub jobs: Family<StatusLabel, Gauge>,
    pub jobs_unmatched: Gauge,
    pub listings: Gauge,
    pub actions: Family<ActionLabels, Counter>,
    /// Sends of an action that had failed before (the retry ledger's).
    pub action_retries: Family<ActionLabel, Counter>,
    /// (job, action) pairs waiting out a backoff, per action.
    pub actions_backing_off: Family<ActionLabel, Gauge>,
    /// The longest current backoff per action, in seconds.
    pub action_backoff_seconds: Family<ActionLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Time to compute one planning pass.
    pub plan_seconds: Histogram,
    /// Jobs the last pass looked at (its agenda), and jobs with a deadline filed.
    pub plan_jobs: Gauge,
    pub deadlines: Gauge,
    /// From the keeper first seeing a job to its assignment confirmed.
    pub assign_latency_seconds: Histogram,
    pub rpc_errors: Counter,
    pub tx_retries: Counter,
    pub ws_reconnects: Counter,
    pub resyncs: Counter,
    pub proofs_received: Family<StatusLabel, Counter>,
    pub wallet_lamports: Gauge<u64, AtomicU64>,
    /// Actions of another keeper's share this one sent after the grace.
    pub takeovers: Family<ActionLabel, Counter>,
    /// Actions due in another keeper's share, held while it has time.
    pub actions_held_for_peers: Gauge,
    /// Registered keepers splitting the jobs, and this one's share of them.
    pub keepers_registered: Gauge,
    pub jobs_owned: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("iogrid_keeper");
        let metrics = Self {
            jobs: Family::default(),
            jobs_unmatched: Gauge::default(),
            listings: Gauge::default(),
            actions: Family::default(),
            action_retries: Family::default(),
            actions_backing_off: Family::default(),
            action_backoff_seconds: Family::default(),
            plan_seconds: Histogram::new([0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0]),
            plan_jobs: Gauge::default(),
            deadlines: Gauge::default(),
            assign_latency_seconds: Histogram::new([
                0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
            rpc_errors: Counter::default(),
            tx_retries: Counter::default(),
            ws_reconnects: Counter::default(),
            resyncs: Counter::default(),
            proofs_received: Family::default(),
            wallet_lamports: Gauge::default(),
            takeovers: Family::default(),
            actions_held_for_peers: Gauge::default(),
            keepers_registered: Gauge::default(),
            jobs_owned: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "jobs",
            "Jobs the keeper follows, by status",
            metrics.jobs.clone(),
        );
        registry.register(
            "jobs_unmatched",
            "Jobs waiting for listings that cannot be matched now",
            metrics.jobs_unmatched.clone(),
        );
        registry.register(
            "listings",
            "Listings the keeper follows",
            metrics.listings.clone(),
        );
        registry.register(
            "actions",
            "Transactions planned, by action and outcome",
            metrics.actions.clone(),
        );
        registry.register(
            "action_retries",
            "Sends of an action that failed before, by action",
            metrics.action_retries.clone(),
        );
        registry.register(
            "actions_backing_off",
            "Actions (per job) waiting before their next try after failures, by action",
            metrics.actions_backing_off.clone(),
        );
        registry.register(
            "action_backoff_seconds",
            "The longest wait before a failed action's next try, by action",
            metrics.action_backoff_seconds.clone(),
        );
        registry.register(
            "plan_seconds",
            "Time to compute one planning pass (matching included)",
            metrics.plan_seconds.clone(),
        );
        registry.register(
            "plan_jobs",
            "Jobs the last planning pass looked at: changed, come due, pending or newly matchable",
            metrics.plan_jobs.clone(),
        );
        registry.register(
            "deadlines",
            "Jobs with a time-based next step filed in the deadline queue",
            metrics.deadlines.clone(),
        );
        registry.register(
            "assign_latency_seconds",
            "From first seeing a job to its assignment confirmed",
            metrics.assign_latency_seconds.clone(),
        );
        registry.register(
            "rpc_errors",
            "Failed RPC requests",
            metrics.rpc_errors.clone(),
        );
        registry.register(
            "tx_retries",
            "Transactions re-signed with a fresh blockhash",
            metrics.tx_retries.clone(),
        );
        registry.register(
            "ws_reconnects",
            "Websocket subscriptions re-established",
            metrics.ws_reconnects.clone(),
        );
        registry.register(
            "resyncs",
            "Full getProgramAccounts reads",
            metrics.resyncs.clone(),
        );
        registry.register(
            "proofs_received",
            "Worker proofs handed in over HTTP, by result",
            metrics.proofs_received.clone(),
        );
        registry.register(
            "wallet_lamports",
            "The keeper wallet's SOL balance in lamports",
            metrics.wallet_lamports.clone(),
        );
        registry.register(
            "takeovers",
            "Actions of another keeper's share sent after it left them undone, by action",
            metrics.takeovers.clone(),
        );
        registry.register(
            "actions_held_for_peers",
            "Actions due in another keeper's share, held while it has time",
            metrics.actions_held_for_peers.clone(),
        );
        registry.register(
            "keepers_registered",
            "Registered keepers splitting the jobs (Config's list)",
            metrics.keepers_registered.clone(),
        );
        registry.register(
            "jobs_owned",
            "Jobs in this keeper's share",
            metrics.jobs_owned.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts one action's outcome.
    pub fn action(&self, action: &str, outcome: &str) {
        self.actions
            .get_or_create(&ActionLabels {
                action: action.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts an action taken over from the keeper whose share it was.
    pub fn takeover(&self, action: &str) {
        self.takeovers
            .get_or_create(&ActionLabel {
                action: action.to_string(),
            })
            .inc();
    }

    /// Counts a send of an action that had failed before.
    pub fn retry(&self, action: &str) {
        self.action_retries
            .get_or_create(&ActionLabel {
                action: action.to_string(),
            })
            .inc();
    }

    /// The retry ledger's state now: a series per action that has pairs
    /// backing off (none when nothing does).
    pub fn backing_off(&self, summary: &BTreeMap<&'static str, BackingOff>) {
        self.actions_backing_off.clear();
        self.action_backoff_seconds.clear();
        for (action, state) in summary {
            let label = ActionLabel {
                action: action.to_string(),
            };
            self.actions_backing_off
                .get_or_create(&label)
                .set(state.count as i64);
            self.action_backoff_seconds
                .get_or_create(&label)
                .set(state.longest_wait.as_secs_f64());
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let metrics = Metrics::new();
        metrics.action("assign_job", "sent");
        metrics.rpc_errors.inc();
        metrics.assign_latency_seconds.observe(0.7);
        let text = metrics.render();
        assert!(
            text.contains("iogrid_keeper_actions_total{action=\"assign_job\",outcome=\"sent\"} 1"),
            "{text}"
        );
        assert!(text.contains("iogrid_keeper_rpc_errors_total 1"), "{text}");
        assert!(
            text.contains("iogrid_keeper_assign_latency_seconds_count 1"),
            "{text}"
        );
    }
}
