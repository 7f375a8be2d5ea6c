//! Shared machinery of the property tests: a fixed-seed runner and the
//! check that a run is not vacuous.

use {
    proptest::{
        collection,
        strategy::Strategy,
        test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner},
    },
    std::{collections::HashMap, sync::Mutex},
};

/// Runs `cases` random sequences of `ops_per_case` operations drawn from
/// `op`. The seed is fixed (or `IOGRID_PROP_SEED`): a run is reproducible,
/// and [`Successes`] checks cannot flake. Panics with proptest's minimal failing sequence.
pub fn run_sequences<S: Strategy>(
    op: S,
    cases: u32,
    ops_per_case: usize,
    run_case: impl Fn(Vec<S::Value>) -> Result<(), TestCaseError>,
) {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = match std::env::var("IOGRID_PROP_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        // Shards of a long run: each seed draws its own sequences.
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
        }
        None => TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    };
    let mut runner = TestRunner::new_with_rng(config, rng);
    if let Err(e) = runner.run(&collection::vec(op, ops_per_case), run_case) {
        panic!("{e}");
    }
}

/// Cases to run: `default`, or `IOGRID_PROP_CASES` when set (the long runs
/// of `scripts/soak-properties`).
pub fn cases_from_env(default: u32) -> u32 {
    std::env::var("IOGRID_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Successful operations by kind, across every case of a run.
pub struct Successes(Mutex<Option<HashMap<&'static str, u64>>>);

impl Successes {
    pub const fn new() -> Self {
        Self(Mutex::new(None))
    }

    pub fn record(&self, kind: &'static str) {
        *self
            .0
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .entry(kind)
            .or_default() += 1;
    }

    /// Successes of `kind` so far.
    pub fn count(&self, kind: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|counts| counts.get(kind).copied())
            .unwrap_or(0)
    }

    /// Prints how often each kind succeeded and panics if one never did: a
    /// property that never exercises an operation proves nothing about it.
    pub fn assert_each_succeeded(&self, kinds: &[&str]) {
        for kind in kinds {
            let count = self.count(kind);
            println!("{kind}: {count} successful");
            assert!(
                count > 0,
                "no `{kind}` ever succeeded: the property test would be vacuous"
            );
        }
    }
}

impl Default for Successes {
    fn default() -> Self {
        Self::new()
    }
}
