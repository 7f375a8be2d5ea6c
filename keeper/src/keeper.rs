//! The keeper's loop: plan from the state at the chain's time, send each
//! action in its own task (one in flight per job), re-read what it touched,
//! and repeat on every account update or tick. Plus the cranks that need no
//! job: `crank_emission` and the wallet balance.

use {
    crate::{
        act::{self, Outcome},
        api,
        config::Settings,
        decide::{
            matcher::AssignKind,
            plan::{plan, Action, Plan},
        },
        share::{self, Turn},
        watch, Shared,
    },
    anyhow::{Context, Result},
    iogrid_node::{clock::ChainClock, Shutdown, Tasks},
    iogrid_sdk::{
        accounts::JobStatus,
        instructions::{CrankEmissionAccounts, SweepRewardsAccounts},
        rpc::{NonblockingRpcClient as RpcClient, RpcReadError},
        send::{send_and_confirm, SendOptions},
        Address,
    },
    solana_commitment_config::CommitmentConfig,
    solana_keypair::{read_keypair_file, Keypair},
    solana_signer::Signer,
    std::{
        collections::{HashMap, HashSet},
        sync::Arc,
        time::{Duration, Instant},
    },
    tracing::{debug, info, warn},
};

/// Everything the keeper's tasks need.
pub struct Keeper {
    pub shared: Arc<Shared>,
    pub rpc: Arc<RpcClient>,
    pub keypair: Keypair,
    pub options: SendOptions,
    pub settings: Settings,
}

/// Planning passes triggered by account updates come at most this often.
const MIN_PASS_INTERVAL: Duration = Duration::from_millis(100);
/// How often the chain's clock is read (extrapolated in between).
const CLOCK_REFRESH: Duration = Duration::from_secs(1);
/// After a failed re-read before a takeover, the next try waits this long.
const VERIFY_RETRY: Duration = Duration::from_secs(1);
/// Below this SOL balance the keeper warns that it is running dry.
const LOW_BALANCE_LAMPORTS: u64 = 50_000_000;
/// Listings whose forfeits one `sweep_rewards` counts (one account each:
/// 24 keep the transaction well under the packet limit).
const SWEEP_LISTINGS_PER_TX: usize = 24;

impl Keeper {
    pub fn new(settings: Settings) -> Result<Arc<Self>> {
        let keypair = read_keypair_file(&settings.keypair).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the keeper keypair {}: {e}",
                settings.keypair.display()
            )
        })?;
        let rpc =
            RpcClient::new_with_commitment(settings.url.clone(), CommitmentConfig::confirmed());
        let shared = Shared {
            retries: std::sync::Mutex::new(crate::retry::RetryLedger::new(settings.retry_cap)),
            ..Shared::default()
        };
        Ok(Arc::new(Self {
            shared: Arc::new(shared),
            rpc: Arc::new(rpc),
            keypair,
            options: SendOptions {
                priority_micro_lamports: settings.priority_fee,
                poll_interval: Duration::from_millis(100),
                ..SendOptions::default()
            },
            settings,
        }))
    }

    /// Runs until `shutdown` fires; returns once every task has stopped.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(self.settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.settings.listen))?;
        info!(
            keeper = %self.keypair.pubkey(),
            url = %self.settings.url,
            ws = %self.settings.ws_url,
            api = %listener.local_addr()?,
            "keeper starting"
        );
        let mut tasks = Tasks::default();
        tasks.spawn("api", api::serve(self.clone(), listener, shutdown.clone()));
        let source = Arc::new(watch::RpcSource {
            rpc: self.rpc.clone(),
            ws_url: self.settings.ws_url.clone(),
        });
        tasks.spawn(
            "resync",
            watch::run_resync(
                self.shared.clone(),
                source.clone(),
                self.settings.resync,
                shutdown.clone(),
            ),
        );
        tasks.spawn(
            "websocket",
            watch::run_subscription(self.shared.clone(), source, shutdown.clone()),
        );
        tasks.spawn("plan", self.clone().run_passes(shutdown.clone()));
        tasks.spawn("cranks", self.clone().run_cranks(shutdown.clone()));
        shutdown.wait().await;
        tasks.join().await;
        info!("keeper stopped");
        Ok(())
    }

    /// The chain's time; on a failed read, the last reading extrapolated
    /// (counted as an RPC error).
    async fn chain_now(&self, clock: &mut ChainClock) -> Option<i64> {
        clock.now(&self.rpc).await.map_or_else(
            |(err, extrapolated)| {
                self.shared.metrics.rpc_errors.inc();
                warn!(error = %err, "reading the chain's clock failed");
                extrapolated
            },
            Some,
        )
    }

    async fn run_passes(self: Arc<Self>, shutdown: Shutdown) {
        let mut clock = ChainClock::new(CLOCK_REFRESH);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.settings.tick) => {}
                _ = self.shared.wake.notified() => {}
                _ = shutdown.wait() => return,
            }
            let Some(now) = self.chain_now(&mut clock).await else {
                continue;
            };
            let plan = self.plan_pass(now);
            for action in plan.actions {
                if self.shared.claim(action.job()) {
                    tokio::spawn(self.clone().act(action));
                }
            }
            tokio::time::sleep(MIN_PASS_INTERVAL).await;
        }
    }

    /// One pass over the state; records why jobs wait and the gauges.
    fn plan_pass(self: &Arc<Self>, now: i64) -> Plan {
        let busy = self.shared.in_flight.lock().unwrap().clone();
        let started = Instant::now();
        let mut state = self.shared.state.lock().unwrap();
        let me = self.keypair.pubkey();
        let keepers: Vec<Address> = state
            .config
            .as_ref()
            .map(|c| c.value.active_keepers().to_vec())
            .unwrap_or_default();
        let registered = keepers.contains(&me);
        let mut plan = plan(&mut state, now, &busy);
        // Only registered keepers (or a job's owner) may assign; the
        // permissionless steps still go out. An action backing off after
        // failures waits for its time, and one in another keeper's share
        // waits for that keeper (share.rs).
        let mut retries = self.shared.retries.lock().unwrap();
        retries.retain_jobs(|job| state.jobs.contains_key(job));
        self.shared.metrics.backing_off(&retries.summary());
        let mut due = self.shared.due_since.lock().unwrap();
        let mut due_now = HashSet::new();
        let mut to_verify = Vec::new();
        let instant = Instant::now();
        let grace = self.settings.takeover_grace;
        let held: Vec<Action> = plan
            .actions
            .extract_if(.., |action| {
                let (job, name) = (action.job(), action.name());
                if !registered && matches!(action, Action::Assign(_)) {
                    return true;
                }
                // Still due while it backs off: a takeover that failed once
                // does not wait out the grace again.
                due_now.insert((job, name));
                if !retries.ready(&job, name, instant) {
                    due.note(job, name, instant);
                    return true;
                }
                let rank = share::rank(&job, &keepers, &me);
                match due.turn(job, name, rank, grace, instant) {
                    Turn::Send { takeover } => {
                        if takeover {
                            self.shared.metrics.takeover(name);
                            info!(%job, action = name, rank, "taking over from the keeper whose share it is");
                        }
                        false
                    }
                    Turn::Verify => {
                        to_verify.push(job);
                        true
                    }
                    Turn::Hold => true,
                }
            })
            .collect();
        due.keep_only(&due_now, &busy);
        self.shared
            .metrics
            .actions_held_for_peers
            .set(due.held() as i64);
        drop(due);
        drop(retries);
        for job in to_verify {
            if self.shared.claim(job) {
                tokio::spawn(self.clone().verify_before_takeover(job));
            }
        }
        for action in &held {
            if let Action::Assign(matched) = action {
                matched.listings.iter().for_each(|(l, _)| state.unbook(l));
            }
        }
        let metrics = &self.shared.metrics;
        metrics
            .plan_seconds
            .observe(started.elapsed().as_secs_f64());
        metrics.plan_jobs.set(plan.considered.len() as i64);
        metrics.deadlines.set(state.agenda.scheduled() as i64);
        self.update_gauges(&state);
        self.report_waiting(&plan, &state);
        drop(state);
        plan
    }

    /// How many keepers split the jobs, and how many are this one's:
    /// counted when /metrics is read, not every pass (one hash per job and
    /// keeper).
    pub fn count_share(&self) {
        let me = self.keypair.pubkey();
        let state = self.shared.state.lock().unwrap();
        let keepers: Vec<Address> = state
            .config
            .as_ref()
            .map(|c| c.value.active_keepers().to_vec())
            .unwrap_or_default();
        let owned = state
            .jobs
            .keys()
            .filter(|job| share::rank(job, &keepers, &me) == 0)
            .count();
        drop(state);
        let metrics = &self.shared.metrics;
        metrics.keepers_registered.set(keepers.len() as i64);
        metrics.jobs_owned.set(owned as i64);
    }

    fn update_gauges(&self, state: &crate::state::ChainState) {
        let mut counts: HashMap<String, i64> = HashMap::new();
        for entry in state.jobs.values() {
            *counts
                .entry(format!("{:?}", entry.account.job.status()).to_lowercase())
                .or_default() += 1;
        }
        for status in [
            "open", "running", "proven", "approved", "disputed", "resolved",
        ] {
            let count = counts.get(status).copied().unwrap_or(0);
            self.shared
                .metrics
                .jobs
                .get_or_create(&crate::metrics::StatusLabel {
                    status: status.to_string(),
                })
                .set(count);
        }
        self.shared
            .metrics
            .listings
            .set(state.listings.len() as i64);
    }

    /// Logs each job whose reason for waiting is new; counts the waiting.
    fn report_waiting(&self, plan: &Plan, state: &crate::state::ChainState) {
        for (job, reason, _) in plan.unmatched.iter().filter(|(_, _, news)| *news) {
            info!(%job, %reason, "job cannot be matched");
        }
        self.shared
            .metrics
            .jobs_unmatched
            .set(state.agenda.waiting_count() as i64);
    }

    /// Reads a job again before taking over a peer's action on it; a later
    /// pass sends it if it is still due (a closed job is forgotten).
    async fn verify_before_takeover(self: Arc<Self>, job: Address) {
        match self.refresh(&[job]).await {
            Ok(()) => self.shared.due_since.lock().unwrap().verified(&job),
            Err(err) => {
                self.shared.metrics.rpc_errors.inc();
                warn!(%job, error = %err, "re-reading before a takeover failed");
                // Held (claimed) a while before the next try: a node that
                // is down gets one read per job per interval, not one per pass.
                tokio::time::sleep(VERIFY_RETRY).await;
                self.shared.due_since.lock().unwrap().unverified(&job);
            }
        }
        self.shared.release(&job);
        self.shared.wake.notify_one();
    }

    /// Sends one action, then re-reads what it touched and frees the job.
    async fn act(self: Arc<Self>, action: Action) {
        let job = action.job();
        let name = action.name();
        let failures = self.shared.retries.lock().unwrap().failures(&job, name);
        if failures > 0 {
            self.shared.metrics.retry(name);
        }
        let outcome = act::execute(&self.rpc, &self.keypair, &self.options, &action).await;
        self.shared.metrics.action(name, outcome.label());
        self.log_outcome(&action, &outcome);
        self.record_retry(&job, name, &outcome);
        let mut touched = vec![job];
        if let Action::Assign(matched) = &action {
            touched.extend(matched.listings.iter().map(|(l, _)| *l));
        }
        if let Action::ReportFault { listing, .. } = &action {
            touched.push(*listing);
        }
        if let Action::Close { payees, .. } = &action {
            touched.extend(payees.iter().map(|(l, _)| *l));
        }
        if let Err(err) = self.refresh(&touched).await {
            // The next resync repairs the state; until then the program
            // refuses any repeat.
            warn!(%job, error = %err, "re-reading after a send failed");
            self.shared.metrics.rpc_errors.inc();
        }
        self.shared.release(&job);
        if !matches!(outcome, Outcome::NotYet(_)) {
            self.shared.wake.notify_one();
        }
    }

    /// A failure makes the action wait (doubling per failure in a row, up
    /// to the cap); a send that landed or the chain showing it done clears
    /// that. "Not yet" (a window still open) resolves by itself: no wait.
    fn record_retry(&self, job: &Address, name: &'static str, outcome: &Outcome) {
        let mut retries = self.shared.retries.lock().unwrap();
        match outcome {
            Outcome::Sent(_) | Outcome::AlreadyDone(_) => retries.succeeded(job, name),
            Outcome::Failed(err) => {
                let wait = retries.failed(*job, name, err.to_string(), Instant::now());
                let failures = retries.failures(job, name);
                warn!(%job, action = name, failures, "retrying in {:.1} s", wait.as_secs_f64());
            }
            Outcome::NotYet(_) => {}
        }
    }

    fn log_outcome(&self, action: &Action, outcome: &Outcome) {
        let job = action.job();
        let name = action.name();
        match outcome {
            Outcome::Sent(sent) => {
                let retries = u64::from(sent.attempts.saturating_sub(1));
                self.shared.metrics.tx_retries.inc_by(retries);
                if let Action::Assign(matched) = action {
                    self.observe_assign_latency(&job, matched.kind);
                    info!(
                        %job, action = name, signature = %sent.signature, slot = sent.slot,
                        listings = ?matched.listings.iter().map(|(l, g)| format!("{l}×{g}")).collect::<Vec<_>>(),
                        "sent"
                    );
                } else {
                    info!(%job, action = name, signature = %sent.signature, slot = sent.slot, "sent");
                }
            }
            Outcome::AlreadyDone(why) => info!(%job, action = name, why, "already done"),
            Outcome::NotYet(why) => debug!(%job, action = name, %why, "not yet"),
            Outcome::Failed(err) => warn!(%job, action = name, error = %err, "failed"),
        }
    }

    fn observe_assign_latency(&self, job: &Address, kind: AssignKind) {
        if kind != AssignKind::Assign {
            return;
        }
        if let Some(entry) = self.shared.state.lock().unwrap().jobs.get(job) {
            self.shared
                .metrics
                .assign_latency_seconds
                .observe(entry.seen_at.elapsed().as_secs_f64());
        }
    }

    /// Reads `addresses` again and applies them (missing → closed).
    pub async fn refresh(&self, addresses: &[Address]) -> Result<(), RpcReadError> {
        let response = self
            .rpc
            .get_multiple_accounts_with_commitment(addresses, self.rpc.commitment())
            .await
            .map_err(|e| RpcReadError::from_client(&self.rpc, e))?;
        let slot = response.context.slot;
        let mut state = self.shared.state.lock().unwrap();
        for (address, account) in addresses.iter().zip(response.value) {
            match account {
                Some(account) if account.owner == iogrid_sdk::PROGRAM_ID => {
                    state.apply(*address, &account.data, slot);
                }
                _ => {
                    state.remove(*address, slot);
                }
            }
        }
        Ok(())
    }

    /// `crank_emission` and `sweep_rewards` every `emission_interval`, and
    /// the wallet balance. With several keepers the cranks are a share like
    /// any job's (keyed by Config's address): the owner cranks once the last
    /// mint is `emission_interval` old on-chain, the n-th in line once it is
    /// n takeover graces older still.
    async fn run_cranks(self: Arc<Self>, shutdown: Shutdown) {
        let interval = self.settings.emission_interval;
        let mut clock = ChainClock::new(CLOCK_REFRESH);
        let mut last_attempt: Option<Instant> = None;
        loop {
            self.check_balance().await;
            let tried_recently = last_attempt.is_some_and(|at| at.elapsed() < interval);
            if !interval.is_zero() && !tried_recently && self.crank_due(&mut clock).await {
                last_attempt = Some(Instant::now());
                self.crank_emission().await;
                self.sweep_rewards().await;
            }
            let wait = if interval.is_zero() {
                Duration::from_secs(30)
            } else {
                interval.min(Duration::from_secs(30))
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// Whether the last mint is old enough for this keeper's place in line.
    async fn crank_due(&self, clock: &mut ChainClock) -> bool {
        let Some(now) = self.chain_now(clock).await else {
            return false;
        };
        let (last_emission, keepers) = {
            let state = self.shared.state.lock().unwrap();
            let Some(config) = state.config.as_ref() else {
                return false;
            };
            (
                config.value.last_emission,
                config.value.active_keepers().to_vec(),
            )
        };
        let rank = share::rank(
            &iogrid_sdk::pda::config().0,
            &keepers,
            &self.keypair.pubkey(),
        );
        let wait = self
            .settings
            .emission_interval
            .saturating_add(self.settings.takeover_grace.saturating_mul(rank as u32));
        now.saturating_sub(last_emission) >= i64::try_from(wait.as_secs()).unwrap_or(i64::MAX)
    }

    async fn crank_emission(&self) {
        let ix = CrankEmissionAccounts::new().instruction();
        let outcome = act::classify(
            send_and_confirm(&self.rpc, &[ix], &[&self.keypair], &self.options).await,
        );
        self.shared
            .metrics
            .action("crank_emission", outcome.label());
        match outcome {
            Outcome::Sent(sent) => info!(signature = %sent.signature, "crank_emission sent"),
            other => warn!(outcome = ?other, "crank_emission"),
        }
    }

    /// `sweep_rewards` when emission nobody can claim waits in the rewards
    /// vault: unallocated in Config, or forfeited by listings Config has not
    /// counted yet (up to [`SWEEP_LISTINGS_PER_TX`] of them per sweep).
    async fn sweep_rewards(&self) {
        let listings = {
            let state = self.shared.state.lock().unwrap();
            let unallocated = state
                .config
                .as_ref()
                .is_some_and(|c| c.value.rewards.unallocated > 0);
            let forfeiting: Vec<Address> = state
                .listings
                .iter()
                .filter(|(_, l)| l.value.unfolded_forfeits() > 0)
                .map(|(address, _)| *address)
                .take(SWEEP_LISTINGS_PER_TX)
                .collect();
            if !unallocated && forfeiting.is_empty() {
                return;
            }
            forfeiting
        };
        let ix = SweepRewardsAccounts::new().instruction(&listings);
        let outcome = act::classify(
            send_and_confirm(&self.rpc, &[ix], &[&self.keypair], &self.options).await,
        );
        self.shared.metrics.action("sweep_rewards", outcome.label());
        match outcome {
            Outcome::Sent(sent) => info!(signature = %sent.signature, "sweep_rewards sent"),
            other => warn!(outcome = ?other, "sweep_rewards"),
        }
    }

    async fn check_balance(&self) {
        match self.rpc.get_balance(&self.keypair.pubkey()).await {
            Ok(lamports) => {
                self.shared.metrics.wallet_lamports.set(lamports);
                if lamports < LOW_BALANCE_LAMPORTS {
                    warn!(lamports, "the keeper wallet is low on SOL");
                }
            }
            Err(err) => {
                self.shared.metrics.rpc_errors.inc();
                debug!(error = %err, "balance read failed");
            }
        }
    }

    /// The job's state and, if waiting, why (for GET /v1/jobs/<job>).
    pub fn job_view(&self, job: &Address) -> Option<api::JobView> {
        let state = self.shared.state.lock().unwrap();
        let entry = state.jobs.get(job)?;
        let waiting = state.agenda.waiting_for(job).cloned();
        let status: JobStatus = entry.account.job.status();
        Some(api::JobView {
            job: job.to_string(),
            status: format!("{status:?}"),
            gpus: entry.account.job.gpus,
            gpus_assigned: entry.account.job.gpus_assigned,
            in_flight: self.shared.in_flight.lock().unwrap().contains(job),
            waiting_reason: waiting.as_ref().map(|w| w.reason.to_string()),
            waiting_secs: waiting.map(|w| w.since.elapsed().as_secs()),
            retries: self
                .shared
                .retries
                .lock()
                .unwrap()
                .of_job(job, Instant::now()),
        })
    }
}
