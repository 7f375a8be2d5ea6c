use {
    super::super::escrow::emit_status,
    crate::{
        errors::IogridError,
        state::{Assignment, Config, Job, JobStatus},
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
        if self.job.status()? != JobStatus::Proven {
            return Err(IogridError::WrongJobStatus.into());
        }
        let now = Clock::get()?.unix_timestamp;
        let window = i64::from(self.job.terms.challenge_window_secs);
        let closes = self
            .job
            .proven_at
            .checked_add(window)
            .ok_or(IogridError::MathOverflow)?;
        if now >= closes {
            return Err(IogridError::ChallengeWindowClosed.into());
        }
        self.job.disputed_at = now;
        self.job.set_status(JobStatus::Disputed);
        self.job.invariant()?;
        emit_status(&self.job)
    }
}
