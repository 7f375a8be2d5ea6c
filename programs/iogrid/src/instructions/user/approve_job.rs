use {
    super::super::escrow::emit_status,
    crate::{
        errors::IogridError,
        state::{Assignment, Job, JobStatus},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

#[derive(Accounts)]
pub struct ApproveJob {
    pub owner: Signer,
    #[account(
        mut,
        seeds = [crate::constants::SEED_JOB, job.owner.as_ref(), &job.id.to_le_bytes()],
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
