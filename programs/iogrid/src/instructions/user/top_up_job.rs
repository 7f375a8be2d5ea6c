use {
    crate::{
        constants::MAX_JOB_DURATION_SECS,
        errors::IogridError,
        events::{emit_event, JobToppedUp},
        spl::{cpi, token, TokenAccount},
        state::{escrow_for, Assignment, Config, Job, JobStatus},
    },
    anchor_lang::{accounts::Slab, prelude::*, AccountRealloc},
};

/// `extend_job` and `scale_job`: the owner adds time or GPUs and escrows for them.
#[derive(Accounts)]
pub struct TopUpJob {
    #[account(mut)]
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
    #[account(mut, address = job.escrow @ crate::errors::IogridError::WrongVault)]
    pub escrow: Account<TokenAccount>,
    #[account(mut, token::mint = config.io_mint, token::authority = owner)]
    pub owner_tokens: Account<TokenAccount>,
    pub token_program: Program<Token>,
    pub system_program: Program<System>,
}

impl TopUpJob {
    fn require_growable(&self) -> Result<()> {
        match self.job.status()? {
            JobStatus::Open | JobStatus::Running => Ok(()),
            _ => Err(IogridError::WrongJobStatus.into()),
        }
    }

    /// Adds `extra_secs` to the job for every GPU.
    pub fn extend_job(&mut self, extra_secs: u64) -> Result<()> {
        self.require_growable()?;
        let duration = self
            .job
            .duration_secs
            .checked_add(extra_secs)
            .ok_or(IogridError::MathOverflow)?;
        if extra_secs == 0 || duration > MAX_JOB_DURATION_SECS {
            return Err(IogridError::InvalidJob.into());
        }
        let now = Clock::get()?.unix_timestamp;
        if self.job.status()? != JobStatus::Open && now >= self.job.end_time()? {
            return Err(IogridError::JobEnded.into());
        }
        let amount = escrow_for(self.job.max_price_per_gpu_hour, self.job.gpus, extra_secs)?;
        self.job.duration_secs = duration;
        self.deposit(amount)
    }

    /// Adds `extra_gpus` for the rest of the job; the keeper assigns them.
    /// `capacity` is the job account's new number of listing slots.
    pub fn scale_job(&mut self, extra_gpus: u16, capacity: u8) -> Result<()> {
        self.require_growable()?;
        let gpus = self
            .job
            .gpus
            .checked_add(extra_gpus)
            .ok_or(IogridError::MathOverflow)?;
        if extra_gpus == 0 || usize::from(capacity) > crate::constants::MAX_CLUSTER {
            return Err(IogridError::InvalidJob.into());
        }
        let now = Clock::get()?.unix_timestamp;
        let remaining_secs = if self.job.status()? == JobStatus::Open {
            self.job.duration_secs
        } else {
            let left = self.job.end_time()?.saturating_sub(now);
            u64::try_from(left)
                .ok()
                .filter(|s| *s > 0)
                .ok_or(IogridError::JobEnded)?
        };
        let amount = escrow_for(self.job.max_price_per_gpu_hour, extra_gpus, remaining_secs)?;
        self.job.gpus = gpus;
        if usize::from(capacity) > self.job.capacity() {
            let space = Slab::<Job, Assignment>::try_space_for(u32::from(capacity))?;
            let payer = *self.owner.account();
            self.job.realloc_account(space, payer, true)?;
        }
        if self.job.status()? == JobStatus::Running && self.job.missing_gpus() == 0 {
            return Err(IogridError::InvariantViolated.into());
        }
        self.deposit(amount)
    }

    fn deposit(&mut self, amount: u64) -> Result<()> {
        cpi::transfer(
            self.owner_tokens.account(),
            self.escrow.account(),
            self.owner.account(),
            amount,
            &[],
        )?;
        self.job.deposit = self
            .job
            .deposit
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        self.job.invariant()?;
        emit_event(&JobToppedUp {
            job: *self.job.address(),
            amount,
            deposit_after: self.job.deposit,
            duration_secs_after: self.job.duration_secs,
            gpus_after: self.job.gpus,
            _padding: [0; 6],
        });
        Ok(())
    }
}
