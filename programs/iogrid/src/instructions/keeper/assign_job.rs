use {
    super::super::escrow::load_listing,
    crate::{
        constants::MAX_CLUSTER,
        errors::IogridError,
        events::{emit_event, JobAssigned},
        state::{Assignment, AssignmentStatus, Config, GpuListing, Job, JobStatus},
    },
    anchor_lang::{accounts::Slab, prelude::*},
    iogrid_rules::assign::{self, AssignParams, Refusal},
};

/// What `assign_job` / `reassign` ask for.
#[derive(Clone, Copy)]
pub struct AssignRequest<'a> {
    /// The listings, as writable remaining accounts.
    pub listings: &'a [AccountView],
    /// GPUs taken from each listing, in order; zero past the last listing.
    pub gpus: &'a [u16; MAX_CLUSTER],
    /// `reassign`: only a running job's freed or added GPUs.
    pub refill_only: bool,
}

/// `assign_job` and `reassign`: the listings come as writable remaining
/// accounts, `gpus[i]` GPUs from the i-th; together they must supply exactly
/// the GPUs the job is missing.
#[derive(Accounts)]
pub struct AssignJob {
    /// A registered keeper, or the job's owner choosing listings directly.
    pub assigner: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_JOB, job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump
    )]
    pub job: Slab<Job, Assignment>,
}

impl AssignJob {
    pub fn validate(&self) -> Result<()> {
        let assigner = self.assigner.address();
        if *assigner != self.job.owner && !self.config.is_keeper(assigner) {
            return Err(IogridError::NotKeeper.into());
        }
        Ok(())
    }

    /// Fills the job's missing GPUs from `listings`. A job that is already
    /// whole rejects it, so a keeper retrying a landed assignment gets
    /// `JobFullyAssigned` and knows it is done.
    pub fn assign(&mut self, request: &AssignRequest) -> Result<()> {
        let AssignRequest {
            listings,
            gpus,
            refill_only,
        } = *request;
        let status = self.job.status()?;
        match (status, refill_only) {
            (JobStatus::Open, false) | (JobStatus::Running, _) => {}
            _ => return Err(IogridError::WrongJobStatus.into()),
        }
        if status == JobStatus::Open {
            // A pause stops new work; refilling a running job keeps its owner whole.
            self.config.require_not_paused()?;
        }
        let missing = self.job.missing_gpus();
        if missing == 0 {
            return Err(IogridError::JobFullyAssigned.into());
        }
        let now = Clock::get()?.unix_timestamp;
        if status == JobStatus::Running && now >= self.job.end_time()? {
            return Err(IogridError::JobEnded.into());
        }
        check_gpu_total(listings.len(), gpus, missing)?;
        for (view, want) in listings.iter().zip(gpus.iter()) {
            self.assign_one(view, *want, now)?;
        }
        let job = &mut *self.job;
        job.gpus_assigned = job.gpus;
        if status == JobStatus::Open {
            job.started_at = now;
            job.set_status(JobStatus::Running);
        }
        self.job.invariant()?;
        emit_event(&JobAssigned {
            job: *self.job.address(),
            assigner: *self.assigner.address(),
            started_at: self.job.started_at,
            gpus_assigned_after: self.job.gpus_assigned,
            listings: listings.len() as u16,
            _padding: [0; 4],
        });
        Ok(())
    }

    /// Checks one listing against the job and books `gpus` of it.
    fn assign_one(&mut self, view: &AccountView, gpus: u16, now: i64) -> Result<()> {
        if self
            .job
            .iter()
            .any(|a| a.listing == *view.address() && a.is_active())
        {
            return Err(IogridError::ListingAlreadyInJob.into());
        }
        let mut listing = load_listing(view, true)?;
        check_listing(&listing, &self.job, &self.config, now, gpus)?;
        let nonce = listing.reserve(gpus)?;
        listing.invariant()?;
        let assignment = Assignment {
            listing: *view.address(),
            supplier: listing.owner,
            price_per_gpu_hour: listing.spec.price_per_gpu_hour,
            started_at: now,
            gpu_seconds: 0,
            nonce,
            result_hash: [0; 32],
            gpus,
            status: AssignmentStatus::Active as u8,
            _padding: [0; 5],
        };
        self.place(assignment)
    }

    /// Reuses a faulted assignment's slot, else appends.
    fn place(&mut self, assignment: Assignment) -> Result<()> {
        let faulted = AssignmentStatus::Faulted as u8;
        if let Some(slot) = self.job.iter_mut().find(|a| a.status == faulted) {
            *slot = assignment;
            return Ok(());
        }
        self.job
            .try_push(assignment)
            .map_err(|_| IogridError::ClusterFull.into())
    }
}

fn check_gpu_total(listings: usize, gpus: &[u16; MAX_CLUSTER], missing: u16) -> Result<()> {
    if listings == 0 || listings > MAX_CLUSTER || gpus[listings..].iter().any(|g| *g != 0) {
        return Err(IogridError::AssignmentMismatch.into());
    }
    let mut total = 0u16;
    for g in &gpus[..listings] {
        if *g == 0 {
            return Err(IogridError::AssignmentMismatch.into());
        }
        total = total
            .checked_add(*g)
            .ok_or(IogridError::AssignmentMismatch)?;
    }
    if total != missing {
        return Err(IogridError::AssignmentMismatch.into());
    }
    Ok(())
}

/// Every requirement a listing must meet to run `gpus` GPUs of `job`: the
/// rule in `iogrid_rules::assign`, which the keeper's matcher shares.
fn check_listing(
    listing: &GpuListing,
    job: &Job,
    config: &Config,
    now: i64,
    gpus: u16,
) -> Result<()> {
    let params = AssignParams {
        heartbeat_timeout_secs: config.params.heartbeat_timeout_secs,
        min_stake_per_gpu: config.params.min_stake_per_gpu,
    };
    assign::check_listing(&listing.offer(), &job.needs(), &params, now, gpus).map_err(|refusal| {
        match refusal {
            Refusal::Offline => IogridError::ListingOffline,
            Refusal::Stale => IogridError::ListingStale,
            Refusal::TooExpensive => IogridError::ListingTooExpensive,
            Refusal::Mismatch => IogridError::ListingMismatch,
            Refusal::UnderStaked => IogridError::ListingUnderStaked,
            Refusal::NotEnoughFreeGpus => IogridError::NotEnoughFreeGpus,
            Refusal::Overflow => IogridError::MathOverflow,
        }
        .into()
    })
}
