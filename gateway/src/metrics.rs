//! Prometheus metrics (`GET /metrics`, OpenMetrics text): requests by route
//! and status, their latency to the first byte of the answer, tokens
//! counted against quotas, worker failures and the live workers.

use {
    prometheus_client::{
        encoding::{text::encode, EncodeLabelSet},
        metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
        registry::Registry,
    },
    std::time::Duration,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteLabels, Counter>,
    pub request_seconds: Family<RouteLabel, Histogram>,
    pub tokens: Counter,
    pub worker_failures: Counter,
    pub workers: Gauge,
    pub paid_tokens: Counter,
    pub receipts_settled: Counter,
    pub receipts_dropped: Counter,
    pub settled_base_units: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("iogrid_gateway");
        let metrics = Self {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            tokens: Counter::default(),
            worker_failures: Counter::default(),
            workers: Gauge::default(),
            paid_tokens: Counter::default(),
            receipts_settled: Counter::default(),
            receipts_dropped: Counter::default(),
            settled_base_units: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Requests answered, by route and status",
            metrics.requests.clone(),
        );
        registry.register(
            "request_seconds",
            "Time from a request to the start of its answer, by route",
            metrics.request_seconds.clone(),
        );
        registry.register(
            "tokens",
            "Tokens counted against wallets' quotas",
            metrics.tokens.clone(),
        );
        registry.register(
            "worker_failures",
            "Requests a worker could not serve (then tried elsewhere)",
            metrics.worker_failures.clone(),
        );
        registry.register(
            "workers",
            "Workers registered and live",
            metrics.workers.clone(),
        );
        registry.register(
            "paid_tokens",
            "Tokens charged to wallets' prepaid credits",
            metrics.paid_tokens.clone(),
        );
        registry.register(
            "receipts_settled",
            "Worker usage receipts settled on-chain",
            metrics.receipts_settled.clone(),
        );
        registry.register(
            "receipts_dropped",
            "Worker usage receipts the program refused",
            metrics.receipts_dropped.clone(),
        );
        registry.register(
            "settled_base_units",
            "IO base units settled from credits (supplier, fee and burn)",
            metrics.settled_base_units.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabel {
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

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
    fn requests_and_tokens_are_rendered() {
        let metrics = Metrics::new();
        metrics.observe("/v1/chat/completions", 200, Duration::from_millis(12));
        metrics.observe("/v1/chat/completions", 429, Duration::from_millis(1));
        metrics.tokens.inc_by(42);
        let text = metrics.render();
        assert!(text.contains(
            "iogrid_gateway_requests_total{route=\"/v1/chat/completions\",status=\"429\"} 1"
        ));
        assert!(text.contains("iogrid_gateway_tokens_total 42"));
        assert!(text.contains("iogrid_gateway_receipts_dropped_total 0"));
        assert!(
            text.contains("iogrid_gateway_request_seconds_count{route=\"/v1/chat/completions\"} 2")
        );
    }
}
