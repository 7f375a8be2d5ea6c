//! The simulation's figures: JSON for tools, a Markdown summary for people.

use {
    super::{
        costs::{
            Costs, KindTotals, ACCOUNT_CU_LIMIT_PER_BLOCK, BLOCK_CU_LIMIT, LAMPORTS_PER_SIGNATURE,
        },
        Counts, SimParams, SLOT_SECS,
    },
    serde::Serialize,
    std::{collections::BTreeMap, fmt::Write},
};

/// The chain's compute units per second (48 M per 400 ms block).
const CHAIN_CU_PER_SEC: f64 = BLOCK_CU_LIMIT as f64 / SLOT_SECS;
const LAMPORTS_PER_SOL: f64 = 1e9;

#[derive(Clone, Debug, Serialize)]
pub struct Setup {
    pub gpus: u64,
    pub pools: usize,
    pub batches_per_interval: usize,
    pub fleet_build_secs: f64,
    pub keeper_cold_start_secs: f64,
    pub keeper_state_mib: f64,
    pub heartbeat_cu_by_batch: Vec<u64>,
    pub setup_secs: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct KeeperFigures {
    pub account_updates: u64,
    pub updates_per_sec: f64,
    pub ingest_us_per_update: f64,
    pub passes: u64,
    pub plan_ms_per_pass: f64,
    pub slot_work_ms_p50: f64,
    pub slot_work_ms_p99: f64,
    pub slot_work_ms_max: f64,
    pub cpu_share_of_one_core: f64,
    pub listings_held: usize,
    pub jobs_held_at_end: usize,
}

/// One kind of transaction over the measured window.
#[derive(Clone, Debug, Serialize)]
pub struct KindRate {
    pub transactions: u64,
    pub per_sec: f64,
    pub cu_per_tx: f64,
    pub cu_per_sec: f64,
    pub chain_cu_share: f64,
    pub sol_per_day: f64,
}

impl KindRate {
    fn new(totals: &KindTotals, secs: f64) -> Self {
        Self {
            transactions: totals.transactions,
            per_sec: totals.transactions as f64 / secs,
            cu_per_tx: totals.cu as f64 / totals.transactions.max(1) as f64,
            cu_per_sec: totals.cu as f64 / secs,
            chain_cu_share: totals.cu as f64 / secs / CHAIN_CU_PER_SEC,
            sol_per_day: totals.signatures as f64 * LAMPORTS_PER_SIGNATURE as f64 / secs * 86_400.0
                / LAMPORTS_PER_SOL,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Blocks {
    pub measured: u64,
    pub max_cu: u64,
    pub max_cu_share_of_block: f64,
    pub max_transactions: u64,
    pub hottest_account: super::costs::HotAccount,
    pub hottest_share_of_account_limit: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Jobs {
    pub start_latency_secs_p50: f64,
    pub start_latency_secs_p99: f64,
    pub start_latency_secs_max: f64,
    pub fault_detection_secs_p50: f64,
    pub fault_detection_secs_max: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub params: SimParams,
    pub setup: Setup,
    pub measured_secs: f64,
    pub by_kind: BTreeMap<String, KindRate>,
    pub total: KindRate,
    pub heartbeat_cu_per_gpu_hour: f64,
    pub blocks: Blocks,
    pub keeper: KeeperFigures,
    pub counts: Counts,
    pub jobs: Jobs,
    pub invariants_hold: bool,
    pub run_secs: f64,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        params: SimParams,
        setup: Setup,
        costs: &Costs,
        keeper: KeeperFigures,
        counts: Counts,
        start_latency_slots: &[u64],
        fault_detection_secs: &[f64],
        run_secs: f64,
    ) -> Self {
        let secs = costs.seconds().max(SLOT_SECS);
        let by_kind: BTreeMap<String, KindRate> = costs
            .by_kind
            .iter()
            .map(|(kind, totals)| (kind.to_string(), KindRate::new(totals, secs)))
            .collect();
        let heartbeat_cu_per_sec = by_kind.get("heartbeat_many").map_or(0.0, |k| k.cu_per_sec);
        let mut latency: Vec<u64> = start_latency_slots.to_vec();
        latency.sort_unstable();
        let mut detection: Vec<f64> = fault_detection_secs.to_vec();
        detection.sort_unstable_by(f64::total_cmp);
        let slots = |s: u64| s as f64 * SLOT_SECS;
        Self {
            blocks: Blocks {
                measured: costs.blocks,
                max_cu: costs.max_block_cu,
                max_cu_share_of_block: costs.max_block_cu as f64 / BLOCK_CU_LIMIT as f64,
                max_transactions: costs.max_block_transactions,
                hottest_account: costs.hottest.clone(),
                hottest_share_of_account_limit: costs.hottest.cu_in_one_block as f64
                    / ACCOUNT_CU_LIMIT_PER_BLOCK as f64,
            },
            heartbeat_cu_per_gpu_hour: heartbeat_cu_per_sec * 3_600.0 / setup.gpus.max(1) as f64,
            total: KindRate::new(&costs.total(), secs),
            by_kind,
            measured_secs: secs,
            jobs: Jobs {
                start_latency_secs_p50: slots(percentile(&latency, 50.0)),
                start_latency_secs_p99: slots(percentile(&latency, 99.0)),
                start_latency_secs_max: slots(latency.last().copied().unwrap_or(0)),
                fault_detection_secs_p50: percentile(&detection, 50.0),
                fault_detection_secs_max: detection.last().copied().unwrap_or(0.0),
            },
            params,
            setup,
            keeper,
            counts,
            invariants_hold: true,
            run_secs,
        }
    }

    /// The summary docs/scale.md quotes.
    pub fn markdown(&self) -> String {
        let p = &self.params;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} listings ({} GPUs) in {} pools, `heartbeat_many` of {} every {} s \
             (timeout {} s); {} jobs a day of {}–{} min; {} s measured after a {} s warm-up\n",
            p.listings,
            self.setup.gpus,
            self.setup.pools,
            p.batch,
            p.heartbeat_interval_secs,
            p.heartbeat_timeout_secs,
            p.jobs_per_day,
            p.job_minutes_min,
            p.job_minutes_max,
            self.measured_secs,
            p.warmup_secs,
        );
        let _ = writeln!(
            out,
            "| transaction | count | per second | CU each | CU/s | share of the chain's CU | fees a day (SOL) |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        let rows = self
            .by_kind
            .iter()
            .map(|(k, r)| (k.as_str(), r))
            .chain([("**all**", &self.total)]);
        for (kind, r) in rows {
            let _ = writeln!(
                out,
                "| {kind} | {} | {:.2} | {:.0} | {:.0} | {:.3} % | {:.1} |",
                r.transactions,
                r.per_sec,
                r.cu_per_tx,
                r.cu_per_sec,
                r.chain_cu_share * 100.0,
                r.sol_per_day
            );
        }
        let b = &self.blocks;
        let k = &self.keeper;
        let j = &self.jobs;
        let c = &self.counts;
        let _ = writeln!(
            out,
            "\n- heartbeats: {:.0} CU per GPU-hour\n\
             - busiest block: {} CU ({:.2} % of 48 M), {} transactions; busiest account: {} CU in one block \
             ({:.3} % of 12 M), written by {}\n\
             - keeper: {} listings held, cold start (full read applied) {:.1} s and {:.0} MiB; \
             {:.0} account updates/s at {:.2} µs each; a pass {:.3} ms; work per 400 ms slot \
             p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; {:.1} % of one core\n\
             - jobs: {} created, {} assigned, {} settled, {} expired, {} not closed; start latency \
             p50 {:.1} s, p99 {:.1} s, max {:.1} s\n\
             - faults: {} pool outages, {} reported ({} on live workers), {} reassigned; detection p50 {:.0} s, max {:.0} s\n\
             - on the chain for real: {} listings, {} proofs, {} heartbeat transactions \
             ({} listings, {:.0} CU each on average); refused: {:?}\n\
             - the program's invariants hold at the end; run {:.0} s here (setup {:.0} s)",
            self.heartbeat_cu_per_gpu_hour,
            b.max_cu,
            b.max_cu_share_of_block * 100.0,
            b.max_transactions,
            b.hottest_account.cu_in_one_block,
            b.hottest_share_of_account_limit * 100.0,
            b.hottest_account.kind,
            k.listings_held,
            self.setup.keeper_cold_start_secs,
            self.setup.keeper_state_mib,
            k.updates_per_sec,
            k.ingest_us_per_update,
            k.plan_ms_per_pass,
            k.slot_work_ms_p50,
            k.slot_work_ms_p99,
            k.slot_work_ms_max,
            k.cpu_share_of_one_core * 100.0,
            c.jobs_created,
            c.jobs_assigned,
            c.jobs_settled,
            c.jobs_expired,
            c.jobs_not_closed,
            j.start_latency_secs_p50,
            j.start_latency_secs_p99,
            j.start_latency_secs_max,
            c.outages,
            c.faults_reported,
            c.false_faults,
            c.reassigns,
            j.fault_detection_secs_p50,
            j.fault_detection_secs_max,
            c.listings_created_on_chain,
            c.proofs,
            c.real_heartbeat_transactions,
            c.real_heartbeat_listings,
            c.real_heartbeat_cu as f64 / c.real_heartbeat_transactions.max(1) as f64,
            c.refused,
            self.run_secs,
            self.setup.setup_secs,
        );
        out
    }
}

/// The `pct`-th percentile of sorted values (nearest rank).
pub fn percentile<T: Copy + Default>(sorted: &[T], pct: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
