use {
    super::super::escrow::emit_status,
    crate::{
        errors::IogridError,
        state::{Assignment, Job},
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
        self.job.approve()?;
        self.job.invariant()?;
        emit_status(&self.job)
    }
}
