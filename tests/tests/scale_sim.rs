//! The million-GPU simulation at CI size (`tests/src/scale`; the full size
//! is `scripts/simulate-scale`): 20,000 one-GPU listings in 40 pools
//! beating through `heartbeat_many`, pool outages, jobs from escrow to
//! payment on the compiled program, planned by the keeper's own code.

use iogrid_tests::scale::{Sim, SimParams};

#[test]
fn the_network_at_scale_keeps_every_promise_and_its_heartbeat_budget() {
    let params = SimParams::short();
    let (sim, setup) = Sim::new(params.clone());
    let batches = setup.batches_per_interval as f64;
    let report = sim.run(setup);
    println!("{}", report.markdown());
    let counts = &report.counts;

    // Every job reached a terminal state and the program's books balance
    // (checked inside `run`); nothing the keeper or a worker sent was
    // refused, and no live worker was faulted.
    assert!(counts.jobs_created > 100, "{counts:?}");
    assert_eq!(counts.jobs_assigned, counts.jobs_created);
    assert_eq!(counts.jobs_not_closed, 0);
    assert_eq!(counts.jobs_settled, counts.jobs_created);
    assert!(counts.refused.is_empty(), "{:?}", counts.refused);
    assert_eq!(counts.false_faults, 0);

    // Outages were noticed: after the timeout, never before it could be.
    assert!(
        counts.outages > 0 && counts.faults_reported > 0,
        "{counts:?}"
    );
    let timeout = f64::from(params.heartbeat_timeout_secs);
    let interval = f64::from(params.heartbeat_interval_secs);
    let jobs = &report.jobs;
    assert!(
        jobs.fault_detection_secs_p50 >= timeout - interval
            && jobs.fault_detection_secs_p50 <= timeout + interval + 1.0,
        "{jobs:?}"
    );

    // The heartbeat design's rate: one transaction per batch per interval,
    // fewer while pools are down (this run takes each pool down about a
    // fifth of the time), at the measured cost per listing.
    let beats = &report.by_kind["heartbeat_many"];
    let planned = batches / interval;
    assert!(
        beats.per_sec <= planned && beats.per_sec > 0.6 * planned,
        "{} heartbeat transactions/s, {planned} planned",
        beats.per_sec
    );
    let per_listing = beats.cu_per_tx / params.batch as f64;
    assert!(
        (400.0..700.0).contains(&per_listing),
        "{per_listing} CU per listing"
    );

    // Every block and every write-locked account far inside its limit.
    assert!(
        report.blocks.max_cu_share_of_block < 0.05,
        "{:?}",
        report.blocks
    );
    assert!(
        report.blocks.hottest_share_of_account_limit < 0.05,
        "{:?}",
        report.blocks
    );
    // A job is assigned in the slot after it lands.
    assert!(jobs.start_latency_secs_p99 <= 0.8, "{jobs:?}");
}
