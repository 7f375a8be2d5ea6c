use {
    crate::{
        errors::IogridError,
        events::{emit_event, JobStatusChanged},
        state::{Assignment, Job, JobStatus},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

#[derive(Accounts)]
pub struct ApproveJob {
    pub owner: Signer,
    #[account(
        mut,
        seeds = [b"job", job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump,
        constraint = job.owner == *owner.address() @ IogridError::NotJobOwner
    )]
    pub job: Slab<Job, Assignment>,
}

impl ApproveJob {
    /// The owner accepts the proofs: settlement may run at once.
    pub fn approve_job(&mut self) -> Result<()> {
        if self.job.status()? != JobStatus::Proven {
            return Err(IogridError::WrongJobStatus.into());
        }
        self.job.set_status(JobStatus::Approved);
        self.job.invariant()?;
        emit_status(&self.job)
    }
}

/// Reports a job status change.
pub(crate) fn emit_status(job: &Slab<Job, Assignment>) -> Result<()> {
    emit_event(&JobStatusChanged {
        job: *job.address(),
        at: Clock::get()?.unix_timestamp,
        status: job.status,
        _padding: [0; 1],
        award_bps: job.award_bps,
        _padding2: [0; 4],
    });
    Ok(())
}
