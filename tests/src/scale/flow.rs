//! One slot of the simulation: what the keeper receives, the heartbeats,
//! the users' new jobs, the keeper's pass and what it sends, the workers'
//! proofs; and the transactions all of it sends to the program.

use super::*;

impl Sim {
    /// Hands the keeper the writes of the previous slot; returns the time
    /// its state took to take them.
    pub(super) fn deliver_to_keeper(&mut self) -> Duration {
        let writes = std::mem::take(&mut self.inbox);
        let started = Instant::now();
        for (address, data) in &writes {
            self.keeper.apply(*address, data, self.slot);
        }
        let took = started.elapsed();
        self.clock.ingest += took;
        self.clock.updates += writes.len() as u64;
        took
    }

    /// The batches due this slot. A down pool sends nothing; an offline
    /// listing (faulted) is left out of its batch, as the batcher does.
    pub(super) fn heartbeats(&mut self) {
        let offset = self.slot as usize % self.fleet.schedule.len();
        let due = std::mem::take(&mut self.fleet.schedule[offset]);
        let now = self.now();
        for batch in &due {
            if self.pool_down(batch.pool) {
                continue;
            }
            let pool = &self.fleet.pools[batch.pool as usize];
            let members = &pool.members[batch.start as usize..(batch.start + batch.len) as usize];
            let mut writable = Vec::with_capacity(members.len() + 1);
            writable.push(pool.key.pubkey());
            let mut real = Vec::new();
            for member in members {
                let listing = &mut self.fleet.listings[*member as usize];
                if !listing.value.is_online() {
                    continue;
                }
                writable.push(listing.address);
                if listing.on_chain {
                    real.push(listing.address);
                } else {
                    listing.value.last_heartbeat = now;
                    self.inbox.push((
                        listing.address,
                        iogrid_keeper::state::encode::listing(&listing.value),
                    ));
                }
            }
            let beating = writable.len() - 1;
            if beating == 0 {
                continue;
            }
            let cu = self.heartbeat_cu[beating.min(self.heartbeat_cu.len() - 1)];
            self.costs.charge(
                self.slot,
                TxCost {
                    kind: "heartbeat_many",
                    cu,
                    signatures: 1,
                    writable: &writable,
                },
            );
            if !real.is_empty() {
                self.real_heartbeat(batch.pool, &real);
            }
        }
        self.fleet.schedule[offset] = due;
    }

    /// The listings of `pool` that live on the chain beat for real.
    fn real_heartbeat(&mut self, pool: u32, listings: &[Address]) {
        let key = self.fleet.pools[pool as usize].key.insecure_clone();
        let ix = HeartbeatManyAccounts::new(key.pubkey()).instruction(listings);
        match self.market.net.env.send(&[ix], &[&key]) {
            Ok(meta) => {
                self.counts.real_heartbeat_transactions += 1;
                self.counts.real_heartbeat_listings += listings.len() as u64;
                self.counts.real_heartbeat_cu += meta.compute_units_consumed;
                for listing in listings {
                    self.observe(listing);
                }
            }
            Err(failure) => self.refused("heartbeat_many", &failure.to_string()),
        }
    }

    /// New jobs this slot: Poisson arrivals at the daily rate.
    pub(super) fn arrivals(&mut self) {
        let mean = self.p.jobs_per_day / 86_400.0 * SLOT_SECS;
        for _ in 0..poisson(&mut self.rng, mean) {
            self.create_job();
        }
    }

    fn create_job(&mut self) {
        let spec = self.job_spec();
        let owner = self.user.0.insecure_clone();
        let id = pda::fast_job_id(&owner.pubkey(), self.next_job_id);
        self.next_job_id = id + 1;
        let accounts = CreateJobAccounts::new(owner.pubkey(), id, self.user.1);
        if self
            .send("create_job", &[accounts.instruction(id, &spec)], &owner, 1)
            .is_ok()
        {
            self.counts.jobs_created += 1;
            self.jobs.insert(
                accounts.job,
                SimJob {
                    created_slot: self.slot,
                    ..SimJob::default()
                },
            );
        }
    }

    /// A job as users ask for them: a GPU kind by the fleet's mix, 1–8 GPUs,
    /// a price cap a quarter over the kind's top price, any region mostly.
    fn job_spec(&mut self) -> JobSpec {
        let rng = &mut self.rng;
        let (model, vram, _, (_, high)) = fleet::pick_kind(rng);
        let gpus: u16 = match rng.u32(..100) {
            0..=49 => 1,
            50..=74 => 2,
            75..=89 => 4,
            _ => 8,
        };
        // All zeros: any region.
        let region = if rng.u32(..10) < 7 {
            [0; 8]
        } else {
            ascii_field(fleet::REGIONS[rng.usize(..fleet::REGIONS.len())]).expect("region")
        };
        let minutes = rng.u64(self.p.job_minutes_min..=self.p.job_minutes_max);
        let mut uri = [0u8; 64];
        uri[..27].copy_from_slice(b"https://w.example/sim.json\0");
        JobSpec {
            workload_hash: [0x51; 32],
            workload_uri: uri,
            gpu_model: ascii_field(model).expect("model"),
            region,
            max_price_per_gpu_hour: high * IO * 5 / 400,
            duration_secs: minutes * 60,
            min_vram_gb: vram,
            gpus,
            max_listings: gpus.min(MAX_CLUSTER as u16) as u8,
            padding: [0; 3],
        }
    }

    /// One keeper pass, timed; then its actions go out.
    pub(super) fn keeper_pass(&mut self) -> Duration {
        let now = self.now();
        let started = Instant::now();
        let plan = plan(&mut self.keeper, now, &HashSet::new());
        let took = started.elapsed();
        self.clock.plan += took;
        self.clock.passes += 1;
        for action in plan.actions {
            self.act(action);
        }
        took
    }

    fn act(&mut self, action: Action) {
        let name = action.name();
        match &action {
            Action::Assign(matched) => {
                for (listing, _) in &matched.listings {
                    self.create_listing_on_chain(listing);
                }
            }
            Action::ReportFault { listing, .. } => self.fault_detected(listing),
            Action::Close { .. } => {}
        }
        let keeper = self.market.keeper.insecure_clone();
        for instructions in transactions(&action, &keeper.pubkey()) {
            if self.send(name, &instructions, &keeper, 1).is_err() {
                if let Action::Assign(matched) = &action {
                    matched
                        .listings
                        .iter()
                        .for_each(|(l, _)| self.keeper.unbook(l));
                }
                return;
            }
        }
        match name {
            "report_fault" => self.counts.faults_reported += 1,
            "reassign" => self.counts.reassigns += 1,
            "settle_job" => self.counts.jobs_settled += 1,
            "expire_job" => self.counts.jobs_expired += 1,
            _ => {}
        }
    }

    /// From the pool's going silent to the keeper's report.
    fn fault_detected(&mut self, listing: &Address) {
        if let Some(index) = self.fleet.by_address.get(listing) {
            let pool = self.fleet.listings[*index as usize].pool as usize;
            let since = self.down_since[pool];
            // A worker faulted though its pool was up for the whole
            // timeout before: the keeper would be slashing a live node.
            let quiet_since = self.down_until[pool].max(1) + self.timeout_slots();
            if self.down_until[pool] == 0 || quiet_since < self.slot {
                self.counts.false_faults += 1;
            }
            self.fault_detection_secs
                .push((self.slot.saturating_sub(since)) as f64 * SLOT_SECS);
        }
    }

    /// Creates a model listing on the chain (its owner stakes and lists it
    /// with the model's spec) the first time the keeper assigns it. Setup,
    /// not load: these transactions are not charged.
    fn create_listing_on_chain(&mut self, listing: &Address) {
        let Some(&index) = self.fleet.by_address.get(listing) else {
            return;
        };
        if self.fleet.listings[index as usize].on_chain {
            return;
        }
        let (owner, list) = self.fleet.list_instruction(index);
        let stake = self.fleet.listings[index as usize].value.stake_locked;
        let pool_key = self.fleet.pools[self.fleet.listings[index as usize].pool as usize]
            .key
            .pubkey();
        let net = &mut self.market.net;
        // The pool's key pays its heartbeats from its first listing on.
        if net.env.account(&pool_key).is_none() {
            net.env.airdrop(&pool_key, crate::DEFAULT_LAMPORTS);
        }
        net.env.airdrop(&owner.pubkey(), 1_000_000_000);
        let tokens = net.io_account(&owner.pubkey());
        net.pay_from_distribution(&tokens, stake);
        let stake_ix = StakeAccounts::new(owner.pubkey(), tokens).instruction(stake);
        net.env
            .send(&[stake_ix, list], &[&owner])
            .unwrap_or_else(|e| panic!("listing {listing} on the chain: {e}"));
        let model = &mut self.fleet.listings[index as usize];
        model.on_chain = true;
        self.counts.listings_created_on_chain += 1;
    }

    /// Workers whose job has reached its end sign their proofs; the keeper
    /// relays them.
    pub(super) fn workers_prove(&mut self) {
        let now = self.now();
        while let Some(&(at, job)) = self.proofs_due.first() {
            if at > now {
                break;
            }
            self.proofs_due.pop_first();
            self.prove(job, now);
        }
    }

    fn prove(&mut self, job: Address, now: i64) {
        let Some(account) = self.job_account(&job) else {
            return;
        };
        let end = account.job.end_time();
        let active: Vec<_> = account.active().copied().collect();
        for assignment in active {
            let index = self.fleet.by_address[&assignment.listing];
            let pool = self.fleet.listings[index as usize].pool;
            if self.pool_down(pool) {
                self.proofs_due.insert((now + PROOF_RETRY_SECS, job));
                continue;
            }
            let key = self.fleet.pools[pool as usize].key.insecure_clone();
            let gpu_seconds =
                u64::from(assignment.gpus) * end.saturating_sub(assignment.started_at) as u64;
            let result_hash = [0x5E; 32];
            let message = proof::proof_message(
                &job,
                &assignment.listing,
                assignment.nonce,
                &result_hash,
                gpu_seconds,
            );
            let signature: [u8; 64] = key.sign_message(&message).into();
            let ixs = CompleteJobAccounts::new(job, assignment.listing).with_proof(
                &key.pubkey(),
                &signature,
                assignment.nonce,
                &result_hash,
                gpu_seconds,
            );
            let keeper = self.market.keeper.insecure_clone();
            // The Ed25519 precompile's signature is charged like one.
            if self.send("complete_job", &ixs, &keeper, 2).is_ok() {
                self.counts.proofs += 1;
            }
        }
    }

    fn job_account(&self, job: &Address) -> Option<JobAccount> {
        let account = self.market.net.env.account(job)?;
        JobAccount::decode(&account.data).ok()
    }

    /// Sends one transaction paid by `payer`; charges it to the block and
    /// passes every program account it wrote to the keeper.
    fn send(
        &mut self,
        kind: &'static str,
        instructions: &[Instruction],
        payer: &Keypair,
        signatures: u64,
    ) -> Result<(), ()> {
        match self.market.net.env.send(instructions, &[payer]) {
            Ok(meta) => {
                let mut writable: Vec<Address> = instructions
                    .iter()
                    .flat_map(|ix| ix.accounts.iter())
                    .filter(|m| m.is_writable)
                    .map(|m| m.pubkey)
                    .collect();
                writable.push(payer.pubkey());
                writable.sort_unstable();
                writable.dedup();
                self.costs.charge(
                    self.slot,
                    TxCost {
                        kind,
                        cu: meta.compute_units_consumed,
                        signatures,
                        writable: &writable,
                    },
                );
                for address in &writable {
                    self.observe(address);
                }
                Ok(())
            }
            Err(failure) => {
                self.refused(kind, &failure.to_string());
                Err(())
            }
        }
    }

    fn refused(&mut self, kind: &str, why: &str) {
        let reason = why.lines().next().unwrap_or(why);
        *self
            .counts
            .refused
            .entry(format!("{kind}: {reason}"))
            .or_default() += 1;
    }

    /// Reads `address` back after a write: program accounts go to the
    /// keeper; jobs and listings also update the simulation's own records.
    fn observe(&mut self, address: &Address) {
        let account = self.market.net.env.account(address);
        let data = match account {
            Some(a) if a.lamports > 0 && a.owner == PROGRAM_ID => a.data,
            Some(a) if a.lamports > 0 => return,
            _ => Vec::new(),
        };
        if let Some(&index) = self.fleet.by_address.get(address) {
            if let Ok(listing) =
                <iogrid_sdk::accounts::GpuListing as iogrid_sdk::accounts::ProgramAccount>::decode(
                    &data,
                )
            {
                self.fleet.listings[index as usize].value = listing;
            }
        } else if self.jobs.contains_key(address) {
            self.job_written(address, &data);
        }
        self.inbox.push((*address, data));
    }

    /// Follows a job's progress: its start, its end (when the workers
    /// prove), its closing.
    fn job_written(&mut self, address: &Address, data: &[u8]) {
        let slot = self.slot;
        let record = self.jobs.get_mut(address).expect("a known job");
        let Ok(account) = JobAccount::decode(data) else {
            if record.closed_slot.is_none() {
                record.closed_slot = Some(slot);
            }
            return;
        };
        let job = &account.job;
        if record.assigned_slot.is_none() && job.started_at > 0 {
            record.assigned_slot = Some(slot);
            self.start_latency_slots
                .push(slot.saturating_sub(record.created_slot));
            self.counts.jobs_assigned += 1;
        }
        let running = job.status() == JobStatus::Running
            && account
                .assignments
                .iter()
                .any(|a| a.status() == AssignmentStatus::Active);
        if running && job.end_time() > 0 {
            self.proofs_due.insert((job.end_time(), *address));
        }
    }

    pub(super) fn keeper_figures(&self) -> KeeperFigures {
        let mut per_slot = self.clock.per_slot_us.clone();
        per_slot.sort_unstable();
        let simulated = self.slot as f64 * SLOT_SECS;
        let busy = (self.clock.ingest + self.clock.plan).as_secs_f64();
        KeeperFigures {
            account_updates: self.clock.updates,
            updates_per_sec: self.clock.updates as f64 / simulated,
            ingest_us_per_update: self.clock.ingest.as_secs_f64() * 1e6
                / self.clock.updates.max(1) as f64,
            passes: self.clock.passes,
            plan_ms_per_pass: self.clock.plan.as_secs_f64() * 1e3 / self.clock.passes.max(1) as f64,
            slot_work_ms_p50: report::percentile(&per_slot, 50.0) as f64 / 1e3,
            slot_work_ms_p99: report::percentile(&per_slot, 99.0) as f64 / 1e3,
            slot_work_ms_max: per_slot.last().copied().unwrap_or(0) as f64 / 1e3,
            cpu_share_of_one_core: busy / simulated,
            listings_held: self.keeper.listings.len(),
            jobs_held_at_end: self.keeper.jobs.len(),
        }
    }
}

/// Compute units of `heartbeat_many` for every batch size up to `batch`,
/// measured on the compiled program (index = batch size; 0 unused).
pub(super) fn calibrate_heartbeats(batch: usize, params: &NetworkParams) -> Vec<u64> {
    let mut net = Network::with_params(*params);
    let supplier = net.supplier(batch as u64 * params.min_stake_per_gpu);
    let mut listings: Vec<Address> = (0..batch)
        .map(|_| net.list(&supplier, 1, IO).expect("listing"))
        .collect();
    listings.sort_unstable();
    let mut cu = vec![0; batch + 1];
    for size in 1..=batch {
        net.env
            .advance_clock(i64::from(params.heartbeat_interval_secs));
        let ix =
            HeartbeatManyAccounts::new(supplier.worker.pubkey()).instruction(&listings[..size]);
        let meta = net
            .env
            .send(&[ix], &[&supplier.worker])
            .unwrap_or_else(|e| panic!("heartbeat_many of {size}: {e}"));
        cu[size] = meta.compute_units_consumed;
    }
    cu
}

/// The keeper's first full read at this size: every listing and Config
/// applied as `getProgramAccounts` would deliver them. Returns the state,
/// the seconds it took and the memory it holds (MiB, resident).
pub(super) fn cold_start(market: &Market, fleet: &Fleet) -> (ChainState, (f64, f64)) {
    let config = market
        .net
        .env
        .account(&pda::config().0)
        .expect("Config")
        .data;
    let snapshot = Snapshot {
        slot: 0,
        config: Some(config),
        accounts: (0..fleet.listings.len() as u32)
            .map(|i| (fleet.listings[i as usize].address, fleet.encoded(i)))
            .collect(),
    };
    let before = resident_mib();
    let started = Instant::now();
    let mut state = ChainState::default();
    state.resync(&snapshot);
    let secs = started.elapsed().as_secs_f64();
    let held = resident_mib() - before;
    (state, (secs, held))
}

/// This process's resident memory, MiB (Linux).
fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Outages over the arrival period: per pool, Poisson at the daily rate.
pub(super) fn schedule_outages(
    p: &SimParams,
    pools: usize,
    rng: &mut fastrand::Rng,
) -> Vec<Outage> {
    let slots = (p.simulated_secs as f64 / SLOT_SECS) as u64;
    let length = (p.outage_secs as f64 / SLOT_SECS) as u64;
    let mean = p.outages_per_pool_day * p.simulated_secs as f64 / 86_400.0;
    let mut outages = Vec::new();
    for pool in 0..pools as u32 {
        for _ in 0..poisson(rng, mean) {
            let start = rng.u64(..slots.max(1));
            outages.push(Outage {
                start,
                end: start + length,
                pool,
            });
        }
    }
    outages.sort_unstable_by_key(|o| o.start);
    outages
}

/// A Poisson draw (Knuth's method: fine for the small means used here).
fn poisson(rng: &mut fastrand::Rng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut product = rng.f64();
    let mut count = 0;
    while product > limit {
        count += 1;
        product *= rng.f64();
    }
    count
}
