use {
    super::super::escrow::emit_status,
    crate::{
        errors::IogridError,
        state::{Assignment, Config, Job},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

#[derive(Accounts)]
pub struct DisputeJob {
    pub owner: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_JOB, job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump,
        constraint = job.owner == *owner.address() @ IogridError::NotJobOwner
    )]
    pub job: Slab<Job, Assignment>,
}

impl DisputeJob {
    /// Within the challenge window the owner freezes the escrow for the arbiter.
    pub fn dispute_job(&mut self) -> Result<()> {
        self.job.dispute(Clock::get()?.unix_timestamp)?;
        self.job.invariant()?;
        emit_status(&self.job)
    }
}
