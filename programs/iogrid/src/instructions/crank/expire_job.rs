use {
    super::super::escrow::{emit_status, load_listing},
    crate::{
        errors::IogridError,
        state::{Assignment, Job, JobStatus},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

/// `expire_job`: permissionless. After the job comes, writable, the listing
/// of every assignment still running, in assignment order (at most 16: one
/// account each, so any cluster fits a transaction).
#[derive(Accounts)]
pub struct ExpireJob {
    #[account(
        mut,
        seeds = [crate::constants::SEED_JOB, job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump
    )]
    pub job: Slab<Job, Assignment>,
}

impl ExpireJob {
    /// A running job past its duration plus the grace of its terms: each
    /// assignment still running is stopped at its worker's last heartbeat
    /// (never past the job's end) and its GPUs freed. An open job nobody took
    /// lapses the same time after its creation. The job becomes `Expired`,
    /// which `settle_job` pays (and refunds) at once.
    pub fn expire_job(&mut self, listings: &[AccountView]) -> Result<()> {
        if !matches!(self.job.status()?, JobStatus::Running | JobStatus::Open) {
            return Err(IogridError::WrongJobStatus.into());
        }
        let now = Clock::get()?.unix_timestamp;
        if now <= self.job.expires_at()? {
            return Err(IogridError::JobNotExpired.into());
        }
        // An open job has no assignments: the loop below stops nothing.
        let end = self.job.end_time()?;
        let mut next = listings.iter();
        for index in 0..self.job.len() {
            if !self.job[index].is_active() {
                continue;
            }
            let view = next.next().ok_or(IogridError::WrongRemainingAccounts)?;
            if *view.address() != self.job[index].listing {
                return Err(IogridError::WrongRemainingAccounts.into());
            }
            self.stop(index, view, now.min(end))?;
        }
        if next.next().is_some() {
            return Err(IogridError::WrongRemainingAccounts.into());
        }
        self.job.set_status(JobStatus::Expired);
        self.job.invariant()?;
        emit_status(&self.job)
    }

    /// Stops the assignment at `index` at its worker's last heartbeat (at
    /// most `until`) and frees its GPUs on the listing.
    fn stop(&mut self, index: usize, view: &AccountView, until: i64) -> Result<()> {
        let mut listing = load_listing(view, true)?;
        let assignment = &mut self.job[index];
        assignment.stop(listing.last_heartbeat.min(until))?;
        listing.release(assignment.gpus)?;
        listing.invariant()
    }
}
