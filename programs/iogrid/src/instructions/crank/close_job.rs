use {
    super::super::jobs::{
        awarded, listing_and_payee, load_listing, pay_fee_and_burn, pay_supplier, refund_and_close,
        split_payment, validate_payee, CloseAccounts, EscrowAccounts, Payment, Split,
        OUTCOME_EXPIRED, OUTCOME_SETTLED,
    },
    crate::{
        constants::MAX_DISPUTE_SECS,
        errors::IogridError,
        spl::{token, Mint, TokenAccount},
        state::{Assignment, AssignmentStatus, Config, Job, JobStatus, ListingStatus},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

/// `settle_job` and `expire_job`: permissionless. After the fixed accounts
/// come, for every assignment still to be paid (in assignment order), its
/// listing and an IO token account of the listing's owner to pay.
#[derive(Accounts)]
pub struct CloseJob {
    #[account(mut, seeds = [b"config"], bump)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [b"job", job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump,
        close = owner
    )]
    pub job: Slab<Job, Assignment>,
    #[account(mut, seeds = [b"escrow", job.address().as_ref()], bump = job.escrow_bump)]
    pub escrow: Account<TokenAccount>,
    /// CHECK: the job owner's wallet, which gets the job's and escrow's rent.
    #[account(mut, address = job.owner @ IogridError::NotJobOwner)]
    pub owner: UncheckedAccount,
    #[account(mut, token::mint = config.io_mint, token::authority = job.owner)]
    pub owner_tokens: Account<TokenAccount>,
    #[account(mut, address = config.treasury @ IogridError::WrongVault)]
    pub treasury: Account<TokenAccount>,
    #[account(mut, address = config.io_mint @ IogridError::NotMint)]
    pub io_mint: Account<Mint>,
    pub token_program: Program<Token>,
}

impl CloseJob {
    /// Pays proven work once the challenge window has passed, the owner
    /// approved, the arbiter resolved, or a dispute lapsed; refunds the rest.
    pub fn settle_job(&mut self, remaining: &[AccountView]) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        self.require_settleable(now)?;
        self.pay_and_close(remaining, OUTCOME_SETTLED)
    }

    /// A job past its duration plus grace without full proof: pays proven
    /// work and heartbeat-verified time of what still runs, refunds the rest.
    pub fn expire_job(&mut self, remaining: &[AccountView]) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        if self.job.status()? != JobStatus::Running {
            return Err(IogridError::WrongJobStatus.into());
        }
        let grace = i64::from(self.config.params.job_grace_secs);
        let expires = self
            .job
            .end_time()?
            .checked_add(grace)
            .ok_or(IogridError::MathOverflow)?;
        if now <= expires {
            return Err(IogridError::JobNotExpired.into());
        }
        self.pay_and_close(remaining, OUTCOME_EXPIRED)
    }

    fn require_settleable(&self, now: i64) -> Result<()> {
        let after =
            |start: i64, secs: i64| start.checked_add(secs).ok_or(IogridError::MathOverflow);
        match self.job.status()? {
            JobStatus::Approved | JobStatus::Resolved => Ok(()),
            JobStatus::Proven => {
                let window = i64::from(self.config.params.challenge_window_secs);
                if now < after(self.job.proven_at, window)? {
                    return Err(IogridError::ChallengeWindowOpen.into());
                }
                Ok(())
            }
            JobStatus::Disputed if now >= after(self.job.disputed_at, MAX_DISPUTE_SECS)? => Ok(()),
            _ => Err(IogridError::WrongJobStatus.into()),
        }
    }

    fn pay_and_close(&mut self, remaining: &[AccountView], outcome: u8) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let views = (
            *self.job.account(),
            *self.escrow.account(),
            *self.treasury.account(),
            *self.io_mint.account(),
        );
        let accounts = EscrowAccounts {
            job: &views.0,
            escrow: &views.1,
            treasury: &views.2,
            io_mint: &views.3,
        };
        let mut fees = Split::default();
        let mut paid = 0usize;
        for index in 0..self.job.len() {
            let assignment = self.job[index];
            if assignment.status()? == AssignmentStatus::Faulted {
                continue; // paid when the fault was reported
            }
            let (listing_view, payee) = listing_and_payee(remaining, paid, &assignment.listing)?;
            paid = paid.saturating_add(1);
            let gross = self.final_payment(index, listing_view, now)?;
            let split = split_payment(gross, &self.config.params)?;
            let owner = load_listing(listing_view, false)?.owner;
            validate_payee(payee, &self.config.io_mint, &owner)?;
            pay_supplier(
                &self.job,
                &accounts,
                &Payment {
                    listing: &assignment.listing,
                    payee,
                    split,
                },
            )?;
            fees.add(&Split { net: 0, ..split })?;
            self.job.paid_out = self
                .job
                .paid_out
                .checked_add(gross)
                .ok_or(IogridError::MathOverflow)?;
        }
        if remaining.len() != paid.saturating_mul(2) {
            return Err(IogridError::WrongRemainingAccounts.into());
        }
        pay_fee_and_burn(&self.job, &accounts, &mut self.config, &fees)?;
        let close = CloseAccounts {
            owner_tokens: self.owner_tokens.account(),
            rent_to: self.owner.account(),
        };
        refund_and_close(&self.job, &accounts.job_escrow(), &close, outcome)?;
        self.config.invariant()
    }

    /// What the assignment at `index` is finally paid. Proven work is paid
    /// its claim (scaled by the arbiter's award); work still running at
    /// expiry is paid up to its worker's last heartbeat, and its GPUs freed.
    fn final_payment(&mut self, index: usize, listing_view: &AccountView, now: i64) -> Result<u64> {
        if self.job[index].status()? == AssignmentStatus::Proven {
            return awarded(self.job[index].payment()?, self.job.award_bps);
        }
        let mut listing = load_listing(listing_view, true)?;
        let until = listing.last_heartbeat.min(now);
        let end = self.job.end_time()?;
        let assignment = &mut self.job[index];
        assignment.gpu_seconds = assignment.max_gpu_seconds(until.min(end))?;
        assignment.status = AssignmentStatus::Proven as u8;
        listing.gpus_free = listing
            .gpus_free
            .checked_add(assignment.gpus)
            .ok_or(IogridError::InvariantViolated)?;
        if !listing.has_running_jobs() && listing.status()? == ListingStatus::Busy {
            listing.set_status(ListingStatus::Available);
        }
        listing.invariant()?;
        self.job[index].payment()
    }
}
