use {
    super::super::escrow::emit_status,
    crate::{
        errors::IogridError,
        state::{Assignment, Config, Job},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

#[derive(Accounts)]
pub struct ResolveDispute {
    pub arbiter: Signer,
    #[account(
        address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig,
        constraint = config.arbiter == *arbiter.address() @ IogridError::NotArbiter
    )]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_JOB, job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump
    )]
    pub job: Slab<Job, Assignment>,
}

impl ResolveDispute {
    /// The arbiter awards the suppliers `award_bps` of their proven claims;
    /// the owner is refunded the rest at settlement. Never more than claimed,
    /// so never more than the escrow.
    pub fn resolve_dispute(&mut self, award_bps: u16) -> Result<()> {
        self.job.resolve(award_bps)?;
        self.job.invariant()?;
        emit_status(&self.job)
    }
}
