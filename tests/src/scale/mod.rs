//! The million-GPU simulation (issue 16): the network's load at a given
//! size, slot by slot in simulated time, with the real program and the real
//! keeper wherever a decision or a payment is made.
//!
//! - **Real:** the compiled program in LiteSVM runs every job from escrow to
//!   payment (`create_job`, the keeper's `assign_job` / `reassign` /
//!   `report_fault` / `settle_job` / `expire_job`, the workers' signed
//!   proofs) and the heartbeats of every listing that ever held a job; the
//!   keeper's own state and planner (`ChainState`, `plan`, the transactions
//!   `act` builds) decide every step, fed each account write one slot later
//!   as the websocket would.
//! - **Modeled:** the heartbeats of listings that never held a job. Each
//!   batch still reaches the keeper as the listing's new bytes, and is
//!   charged the compute units the program measured for a batch of that
//!   size (calibrated in LiteSVM at start), its signature and its
//!   write-locks. A listing is created on the chain, with the model's spec,
//!   the first time the keeper assigns it.
//!
//! Out of it come the chain's cost per kind of transaction (per second, CU,
//! fees, the busiest block and account against Solana's limits), the
//! keeper's CPU per slot and memory at that size, job start latency and
//! fault detection time, and the program's invariants at the end.

pub mod costs;
pub mod fleet;
mod flow;
pub mod report;

use {
    crate::fixtures::{Market, Network},
    costs::{Costs, TxCost},
    fleet::{Fleet, FleetShape},
    flow::{calibrate_heartbeats, cold_start, schedule_outages},
    iogrid_keeper::{
        act::transactions,
        decide::plan::{plan, Action},
        state::{ChainState, Snapshot},
    },
    iogrid_sdk::{
        accounts::{ascii_field, AssignmentStatus, JobAccount, JobSpec, JobStatus, NetworkParams},
        constants::{IO, MAX_CLUSTER},
        instructions::{
            CompleteJobAccounts, CreateJobAccounts, HeartbeatManyAccounts, StakeAccounts,
        },
        pda, proof, Address, PROGRAM_ID,
    },
    report::{KeeperFigures, Report},
    serde::Serialize,
    solana_instruction::Instruction,
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{
        collections::{BTreeMap, BTreeSet, HashMap, HashSet},
        time::{Duration, Instant},
    },
};

/// Seconds per slot.
pub const SLOT_SECS: f64 = 0.4;
/// A progress line every ten simulated minutes.
const PROGRESS_SLOTS: u64 = 1_500;
/// A worker whose pool is down tries its proof again this much later.
const PROOF_RETRY_SECS: i64 = 30;

/// What to simulate. `IOGRID_SIM_<FIELD>` (upper case) overrides a field.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SimParams {
    pub listings: usize,
    pub gpus_per_listing: u16,
    /// Listings one worker key heartbeats for (a rack, or a gamers' pool).
    pub pool_size: usize,
    /// Listings per `heartbeat_many`.
    pub batch: usize,
    pub heartbeat_interval_secs: u32,
    pub heartbeat_timeout_secs: u32,
    pub challenge_window_secs: u32,
    pub job_grace_secs: u32,
    pub jobs_per_day: f64,
    pub job_minutes_min: u64,
    pub job_minutes_max: u64,
    /// Simulated time with jobs arriving.
    pub simulated_secs: u64,
    /// Not counted in the chain's cost: jobs reach their steady state first.
    pub warmup_secs: u64,
    /// After arrivals stop, at most this long for every job to close.
    pub drain_secs: u64,
    /// Pool outages (every member silent at once), per pool per day.
    pub outages_per_pool_day: f64,
    pub outage_secs: u64,
    pub seed: u64,
}

impl SimParams {
    /// The size: 1,000,000 one-GPU listings in pools of 1,000,
    /// heartbeating 24 per `heartbeat_many` every 120 s; 100,000 jobs a day.
    pub fn million() -> Self {
        Self {
            listings: 1_000_000,
            gpus_per_listing: 1,
            pool_size: 1_000,
            batch: 24,
            heartbeat_interval_secs: 120,
            heartbeat_timeout_secs: 600,
            challenge_window_secs: 300,
            job_grace_secs: 600,
            jobs_per_day: 100_000.0,
            job_minutes_min: 5,
            job_minutes_max: 25,
            simulated_secs: 5_400,
            warmup_secs: 1_800,
            drain_secs: 3_600,
            outages_per_pool_day: 2.0,
            outage_secs: 900,
            seed: 16,
        }
    }

    /// A short run for CI: the same shape at 1/50 of the size.
    pub fn short() -> Self {
        Self {
            listings: 20_000,
            pool_size: 500,
            jobs_per_day: 10_000.0,
            simulated_secs: 3_000,
            warmup_secs: 1_200,
            outages_per_pool_day: 24.0,
            ..Self::million()
        }
    }

    /// `self` with every `IOGRID_SIM_<FIELD>` set in the environment applied.
    pub fn with_env(self) -> anyhow::Result<Self> {
        let mut value = serde_json::to_value(&self)?;
        let fields = value.as_object_mut().expect("a struct");
        for (name, field) in fields.iter_mut() {
            let var = format!("IOGRID_SIM_{}", name.to_uppercase());
            if let Ok(text) = std::env::var(&var) {
                *field = serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{var}={text}: not a number ({e})"))?;
            }
        }
        Ok(serde_json::from_value(value)?)
    }

    fn interval_slots(&self) -> usize {
        (f64::from(self.heartbeat_interval_secs) / SLOT_SECS).round() as usize
    }

    fn network(&self) -> NetworkParams {
        NetworkParams {
            heartbeat_interval_secs: self.heartbeat_interval_secs,
            heartbeat_timeout_secs: self.heartbeat_timeout_secs,
            challenge_window_secs: self.challenge_window_secs,
            job_grace_secs: self.job_grace_secs,
            ..NetworkParams::default()
        }
    }
}

/// A job's life as the simulation saw it.
#[derive(Clone, Debug, Default)]
struct SimJob {
    created_slot: u64,
    assigned_slot: Option<u64>,
    closed_slot: Option<u64>,
}

/// A silent stretch of one pool.
#[derive(Clone, Copy, Debug)]
struct Outage {
    start: u64,
    end: u64,
    pool: u32,
}

/// Counts of what happened.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub jobs_created: u64,
    pub jobs_assigned: u64,
    pub jobs_settled: u64,
    pub jobs_expired: u64,
    pub jobs_not_closed: u64,
    pub faults_reported: u64,
    /// Faults reported on a worker whose pool had not been down within the
    /// heartbeat timeout: must be 0.
    pub false_faults: u64,
    pub reassigns: u64,
    pub proofs: u64,
    pub listings_created_on_chain: u64,
    pub outages: u64,
    pub real_heartbeat_transactions: u64,
    pub real_heartbeat_listings: u64,
    pub real_heartbeat_cu: u64,
    /// Transactions the program refused, by action and error.
    pub refused: BTreeMap<String, u64>,
}

/// The keeper's time, as measured on this machine.
#[derive(Default)]
struct KeeperClock {
    ingest: Duration,
    plan: Duration,
    updates: u64,
    passes: u64,
    /// Microseconds of keeper work per slot (ingest + plan).
    per_slot_us: Vec<u32>,
}

pub struct Sim {
    p: SimParams,
    market: Market,
    fleet: Fleet,
    keeper: ChainState,
    /// Account writes the keeper receives at the start of the next slot.
    inbox: Vec<(Address, Vec<u8>)>,
    user: (Keypair, Address),
    next_job_id: u64,
    jobs: HashMap<Address, SimJob>,
    /// Jobs whose workers prove at the given time.
    proofs_due: BTreeSet<(i64, Address)>,
    down_until: Vec<u64>,
    /// When each pool's current outage began.
    down_since: Vec<u64>,
    outages: Vec<Outage>,
    next_outage: usize,
    /// Compute units of one `heartbeat_many` by batch size (index = size).
    heartbeat_cu: Vec<u64>,
    costs: Costs,
    clock: KeeperClock,
    counts: Counts,
    start_latency_slots: Vec<u64>,
    fault_detection_secs: Vec<f64>,
    slot: u64,
    start_time: i64,
    rng: fastrand::Rng,
    arrivals_open: bool,
}

impl Sim {
    /// Builds the network, calibrates heartbeat costs, builds the fleet and
    /// loads it into the keeper as a full read would.
    pub fn new(p: SimParams) -> (Self, report::Setup) {
        let started = Instant::now();
        let heartbeat_cu = calibrate_heartbeats(p.batch, &p.network());
        let mut market = Market::with_params(p.network());
        let user = market.net.user_with_io(50_000_000 * IO);
        let start_time = market.net.env.now();
        let fleet_started = Instant::now();
        let fleet = Fleet::build(
            &FleetShape {
                listings: p.listings,
                gpus_per_listing: p.gpus_per_listing,
                pool_size: p.pool_size,
                batch: p.batch,
                interval_slots: p.interval_slots(),
                seed: p.seed,
            },
            start_time,
            p.network().min_stake_per_gpu,
        );
        let fleet_secs = fleet_started.elapsed().as_secs_f64();
        let (keeper, cold_start) = cold_start(&market, &fleet);
        let mut rng = fastrand::Rng::with_seed(p.seed ^ 0x5eed);
        let outages = schedule_outages(&p, fleet.pools.len(), &mut rng);
        let warmup_slots = (p.warmup_secs as f64 / SLOT_SECS) as u64;
        let setup = report::Setup {
            gpus: fleet.gpus(),
            pools: fleet.pools.len(),
            batches_per_interval: fleet.schedule.iter().map(Vec::len).sum(),
            fleet_build_secs: fleet_secs,
            keeper_cold_start_secs: cold_start.0,
            keeper_state_mib: cold_start.1,
            heartbeat_cu_by_batch: heartbeat_cu.clone(),
            setup_secs: started.elapsed().as_secs_f64(),
        };
        let pools = fleet.pools.len();
        let sim = Self {
            p,
            market,
            fleet,
            keeper,
            inbox: Vec::new(),
            user,
            next_job_id: 0,
            jobs: HashMap::new(),
            proofs_due: BTreeSet::new(),
            down_until: vec![0; pools],
            down_since: vec![0; pools],
            outages,
            next_outage: 0,
            heartbeat_cu,
            costs: Costs::new(warmup_slots),
            clock: KeeperClock::default(),
            counts: Counts::default(),
            start_latency_slots: Vec::new(),
            fault_detection_secs: Vec::new(),
            slot: 0,
            start_time,
            rng,
            arrivals_open: true,
        };
        (sim, setup)
    }

    /// Runs the arrivals, then drains until every job has closed (or the
    /// drain time is up), then checks the program's invariants.
    pub fn run(mut self, setup: report::Setup) -> Report {
        let started = Instant::now();
        let arrival_slots = (self.p.simulated_secs as f64 / SLOT_SECS) as u64;
        let drain_slots = (self.p.drain_secs as f64 / SLOT_SECS) as u64;
        while self.slot < arrival_slots {
            self.step();
        }
        // The cost window ends with the arrivals: the drain is not steady.
        let measured = std::mem::replace(&mut self.costs, Costs::new(u64::MAX));
        self.arrivals_open = false;
        let drain_end = arrival_slots + drain_slots;
        while self.slot < drain_end && self.jobs.values().any(|j| j.closed_slot.is_none()) {
            self.step();
        }
        self.counts.jobs_not_closed = self
            .jobs
            .values()
            .filter(|j| j.closed_slot.is_none())
            .count() as u64;
        self.market.net.check_invariants();
        let keeper = self.keeper_figures();
        Report::new(
            self.p.clone(),
            setup,
            &measured,
            keeper,
            self.counts.clone(),
            &self.start_latency_slots,
            &self.fault_detection_secs,
            started.elapsed().as_secs_f64(),
        )
    }

    fn now(&self) -> i64 {
        self.start_time + (self.slot as f64 * SLOT_SECS) as i64
    }

    fn step(&mut self) {
        if self.slot.is_multiple_of(PROGRESS_SLOTS) && self.slot > 0 {
            eprintln!(
                "simulated {:.0} s: {} jobs created, {} settled",
                self.slot as f64 * SLOT_SECS,
                self.counts.jobs_created,
                self.counts.jobs_settled
            );
        }
        self.set_clock();
        self.outages_change();
        let ingest = self.deliver_to_keeper();
        self.heartbeats();
        if self.arrivals_open {
            self.arrivals();
        }
        let planning = self.keeper_pass();
        let work = u32::try_from((ingest + planning).as_micros()).unwrap_or(u32::MAX);
        self.clock.per_slot_us.push(work);
        self.workers_prove();
        self.costs.end_block(self.slot);
        self.slot += 1;
    }

    fn set_clock(&mut self) {
        let mut clock = self.market.net.env.clock();
        clock.unix_timestamp = self.now();
        clock.slot = clock.slot.max(self.slot + 1);
        self.market.net.env.svm.set_sysvar(&clock);
    }

    fn outages_change(&mut self) {
        while let Some(outage) = self.outages.get(self.next_outage).copied() {
            if outage.start > self.slot {
                break;
            }
            self.next_outage += 1;
            if self.down_until[outage.pool as usize] <= self.slot {
                self.down_since[outage.pool as usize] = self.slot;
                self.counts.outages += 1;
            }
            let until = &mut self.down_until[outage.pool as usize];
            *until = (*until).max(outage.end);
        }
    }

    fn timeout_slots(&self) -> u64 {
        (f64::from(self.p.heartbeat_timeout_secs) / SLOT_SECS) as u64
    }

    fn pool_down(&self, pool: u32) -> bool {
        self.down_until[pool as usize] > self.slot
    }
}
