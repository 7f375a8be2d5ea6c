//! Shared machinery of the property tests: a fixed-seed runner and the
//! check that a run is not vacuous.

use {
    proptest::{
        collection,
        strategy::Strategy,
        test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner},
    },
    std::sync::Mutex,
};

/// Runs `cases` random sequences of `ops_per_case` operations drawn from
/// `op`. The seed is fixed: a run is reproducible, and [`Successes`] checks
/// cannot flake. Panics with proptest's minimal failing sequence.
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
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    if let Err(e) = runner.run(&collection::vec(op, ops_per_case), run_case) {
        panic!("{e}");
    }
}

/// Successful operations by kind, across every case of a run.
pub struct Successes(Mutex<Vec<&'static str>>);

impl Successes {
    pub const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    pub fn record(&self, kind: &'static str) {
        self.0.lock().unwrap().push(kind);
    }

    /// Prints how often each kind succeeded and panics if one never did: a
    /// property that never exercises an operation proves nothing about it.
    pub fn assert_each_succeeded(&self, kinds: &[&str]) {
        let successes = self.0.lock().unwrap();
        for kind in kinds {
            let count = successes.iter().filter(|k| *k == kind).count();
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
