use {
    super::super::escrow::{
        refund_and_close, CloseAccounts, EscrowOutflow, JobEscrow, OUTCOME_CANCELLED,
    },
    crate::{
        errors::IogridError,
        spl::{token, TokenAccount},
        state::{Assignment, Config, Job, JobStatus},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

#[derive(Accounts)]
pub struct CancelJob {
    /// Receives the job's and the escrow's rent.
    #[account(mut)]
    pub owner: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_JOB, job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump,
        constraint = job.owner == *owner.address() @ IogridError::NotJobOwner,
        close = owner
    )]
    pub job: Slab<Job, Assignment>,
    #[account(mut, address = job.escrow @ crate::errors::IogridError::WrongVault)]
    pub escrow: Account<TokenAccount>,
    #[account(mut, token::mint = config.io_mint, token::authority = owner)]
    pub owner_tokens: Account<TokenAccount>,
    pub token_program: Program<Token>,
}

impl CancelJob {
    /// Refunds a job nobody was assigned to, and closes it.
    pub fn cancel_job(&mut self) -> Result<()> {
        if self.job.status()? != JobStatus::Open {
            return Err(IogridError::WrongJobStatus.into());
        }
        if !self.job.is_empty() || self.job.gpus_assigned != 0 {
            return Err(IogridError::JobAlreadyAssigned.into());
        }
        let views = (
            *self.job.account(),
            *self.escrow.account(),
            *self.token_program.account(),
        );
        let escrow = JobEscrow {
            job: &views.0,
            escrow: &views.1,
            token_program: &views.2,
        };
        let close = CloseAccounts {
            owner_tokens: self.owner_tokens.account(),
            rent_to: self.owner.account(),
        };
        refund_and_close(
            &self.job,
            EscrowOutflow::new(&escrow),
            &close,
            OUTCOME_CANCELLED,
        )?;
        Ok(())
    }
}
