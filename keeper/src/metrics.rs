//! Prometheus metrics (`GET /metrics`, OpenMetrics text): job counts by
//! status, per-action run/outcome counters, planning and assignment latency
//! histograms, RPC errors, transaction retries, websocket reconnects and the
//! keeper wallet's balance.

use {
    prometheus_client::{
        encoding::{text::encode, EncodeLabelSet},
        metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
        registry::Registry,
    },
    std::sync::atomic::AtomicU64,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
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
    /// Time to compute one planning pass.
    pub plan_seconds: Histogram,
    /// From the keeper first seeing a job to its assignment confirmed.
    pub assign_latency_seconds: Histogram,
    pub rpc_errors: Counter,
    pub tx_retries: Counter,
    pub ws_reconnects: Counter,
    pub resyncs: Counter,
    pub proofs_received: Family<StatusLabel, Counter>,
    pub wallet_lamports: Gauge<u64, AtomicU64>,
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
            plan_seconds: Histogram::new([0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0]),
            assign_latency_seconds: Histogram::new([
                0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
            rpc_errors: Counter::default(),
            tx_retries: Counter::default(),
            ws_reconnects: Counter::default(),
            resyncs: Counter::default(),
            proofs_received: Family::default(),
            wallet_lamports: Gauge::default(),
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
            "plan_seconds",
            "Time to compute one planning pass (matching included)",
            metrics.plan_seconds.clone(),
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
