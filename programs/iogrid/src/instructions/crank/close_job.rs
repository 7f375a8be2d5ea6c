use {
    super::super::escrow::{
        awarded, refund_and_close, split_payment, validate_payee, CloseAccounts, EscrowOutflow,
        FeeAccounts, JobEscrow, Payment, Split, OUTCOME_EXPIRED, OUTCOME_SETTLED,
    },
    crate::{
        constants::MAX_DISPUTE_SECS,
        errors::IogridError,
        spl::{token, Mint, TokenAccount},
        state::{Assignment, Config, Job, JobStatus},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

/// `settle_job`: permissionless. After the fixed accounts comes, for every
/// payable assignment (proven, or stopped at expiry) in assignment order, one
/// IO token account of that assignment's supplier. Listings are not needed,
/// so a supplier that delists after proving cannot hold the escrow, and a
/// 16-supplier cluster settles in one transaction.
#[derive(Accounts)]
pub struct CloseJob {
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_JOB, job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump,
        close = owner
    )]
    pub job: Slab<Job, Assignment>,
    #[account(mut, address = job.escrow @ crate::errors::IogridError::WrongVault)]
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
    /// Pays proven (and expiry-stopped) work once the challenge window has
    /// passed, the owner approved, the arbiter resolved, a dispute lapsed or
    /// the job expired; refunds the rest and closes the job.
    pub fn settle_job(&mut self, payees: &[AccountView]) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        self.require_settleable(now)?;
        let outcome = if self.job.status()? == JobStatus::Expired {
            OUTCOME_EXPIRED
        } else {
            OUTCOME_SETTLED
        };
        self.pay_and_close(payees, outcome)
    }

    fn require_settleable(&self, now: i64) -> Result<()> {
        let after =
            |start: i64, secs: i64| start.checked_add(secs).ok_or(IogridError::MathOverflow);
        match self.job.status()? {
            JobStatus::Approved | JobStatus::Resolved | JobStatus::Expired => Ok(()),
            JobStatus::Proven => {
                let window = i64::from(self.job.terms.challenge_window_secs);
                if now < after(self.job.proven_at, window)? {
                    return Err(IogridError::ChallengeWindowOpen.into());
                }
                Ok(())
            }
            JobStatus::Disputed if now >= after(self.job.disputed_at, MAX_DISPUTE_SECS)? => Ok(()),
            _ => Err(IogridError::WrongJobStatus.into()),
        }
    }

    fn pay_and_close(&mut self, payees: &[AccountView], outcome: u8) -> Result<()> {
        let views = (
            *self.job.account(),
            *self.escrow.account(),
            *self.token_program.account(),
            *self.treasury.account(),
            *self.io_mint.account(),
        );
        let escrow = JobEscrow {
            job: &views.0,
            escrow: &views.1,
            token_program: &views.2,
        };
        let fee_accounts = FeeAccounts {
            treasury: &views.3,
            io_mint: &views.4,
        };
        let mut outflow = EscrowOutflow::new(&escrow);
        let mut fees = Split::default();
        let mut paid = 0usize;
        for index in 0..self.job.len() {
            let assignment = self.job[index];
            if !assignment.is_payable() {
                continue; // faulted: paid when the fault was reported
            }
            let payee = payees
                .get(paid)
                .ok_or(IogridError::WrongRemainingAccounts)?;
            paid = paid.saturating_add(1);
            validate_payee(payee, &self.config.io_mint, &assignment.supplier)?;
            let gross = awarded(assignment.payment()?, self.job.award_bps)?;
            let split = split_payment(gross, &self.job.terms)?;
            outflow.pay_supplier(&Payment {
                listing: &assignment.listing,
                payee,
                split,
            })?;
            fees.add(&Split { net: 0, ..split })
                .map_err(IogridError::from)?;
            self.job.paid_out = self
                .job
                .paid_out
                .checked_add(gross)
                .ok_or(IogridError::MathOverflow)?;
        }
        if payees.len() != paid {
            return Err(IogridError::WrongRemainingAccounts.into());
        }
        outflow.pay_fee_and_burn(&fee_accounts, &mut self.config, &fees)?;
        let close = CloseAccounts {
            owner_tokens: self.owner_tokens.account(),
            rent_to: self.owner.account(),
        };
        refund_and_close(&self.job, outflow, &close, outcome)?;
        self.config.invariant()
    }
}
