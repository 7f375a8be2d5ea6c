use {
    super::super::{
        escrow::{
            active_assignment, split_payment, validate_payee, EscrowOutflow, FeeAccounts,
            JobEscrow, Payment,
        },
        with_config_signer,
    },
    crate::{
        constants::SLASH_OWNER_SHARE_BPS,
        errors::IogridError,
        events::{emit_event, FaultReported},
        math,
        spl::{cpi::Payouts, Mint, TokenAccount},
        state::{Assignment, Config, GpuListing, Job, ListingStatus, StakeAccount},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

/// Permissionless, and provable from chain state alone: the listing's worker
/// stopped heartbeating while it ran part of the job.
#[derive(Accounts)]
pub struct ReportFault {
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_JOB, job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump
    )]
    pub job: Slab<Job, Assignment>,
    #[account(mut, address = job.escrow @ crate::errors::IogridError::WrongVault)]
    pub escrow: Account<TokenAccount>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_LISTING, listing.owner.as_ref(), &listing.id.to_le_bytes()],
        bump = listing.bump
    )]
    pub listing: Account<GpuListing>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_STAKE, listing.owner.as_ref()],
        bump = supplier_stake.bump
    )]
    pub supplier_stake: Account<StakeAccount>,
    #[account(mut, address = config.stake_vault @ IogridError::WrongVault)]
    pub stake_vault: Account<TokenAccount>,
    #[account(mut, address = config.treasury @ IogridError::WrongVault)]
    pub treasury: Account<TokenAccount>,
    #[account(mut, address = config.io_mint @ IogridError::NotMint)]
    pub io_mint: Account<Mint>,
    /// CHECK: checked by `validate_payee`: an IO account of the listing's owner.
    #[account(mut)]
    pub payee: UncheckedAccount,
    pub token_program: Program<Token>,
}

impl ReportFault {
    pub fn report_fault(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let timeout = self.config.params.heartbeat_timeout_secs;
        let listing_key = *self.listing.address();
        let index = active_assignment(&self.job, &listing_key)?;
        if !self.job[index].is_silent(self.listing.last_heartbeat, now, timeout) {
            return Err(IogridError::ListingNotStale.into());
        }
        validate_payee(
            self.payee.account(),
            &self.config.io_mint,
            &self.listing.owner,
        )?;

        let gpu_seconds = self.pay_until_last_heartbeat(index)?;
        let gpus = self.job[index].gpus;
        self.job.gpus_assigned = self
            .job
            .gpus_assigned
            .checked_sub(gpus)
            .ok_or(IogridError::InvariantViolated)?;
        self.take_listing_offline(gpus, now)?;
        let (slashed, compensation) = self.slash()?;

        self.job.invariant()?;
        self.listing.invariant()?;
        self.supplier_stake.invariant()?;
        self.config.invariant()?;
        emit_event(&FaultReported {
            job: *self.job.address(),
            listing: listing_key,
            last_heartbeat: self.listing.last_heartbeat,
            gpu_seconds_paid: gpu_seconds,
            slashed,
            compensation,
        });
        Ok(())
    }

    /// Pays the faulted assignment for its heartbeat-verified time now and
    /// marks its slot reusable. Returns the GPU-seconds paid.
    fn pay_until_last_heartbeat(&mut self, index: usize) -> Result<u64> {
        let until = self.listing.last_heartbeat.min(self.job.end_time()?);
        let assignment = &mut self.job[index];
        assignment.fault(until)?;
        let gross = assignment.payment()?;
        let gpu_seconds = assignment.gpu_seconds;
        let split = split_payment(gross, &self.job.terms)?;
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
        outflow.pay_supplier(&Payment {
            listing: self.listing.address(),
            payee: self.payee.account(),
            split,
        })?;
        outflow.pay_fee_and_burn(&fee_accounts, &mut self.config, &split)?;
        outflow.execute(&self.job)?;
        self.job.paid_out = self
            .job
            .paid_out
            .checked_add(gross)
            .ok_or(IogridError::MathOverflow)?;
        Ok(gpu_seconds)
    }

    /// Frees the GPUs, forfeits the silent time's rewards, leaves the pool.
    fn take_listing_offline(&mut self, gpus: u16, now: i64) -> Result<()> {
        let config = &mut *self.config;
        let listing = &mut *self.listing;
        listing.release(gpus)?;
        listing.jobs_faulted = listing.jobs_faulted.saturating_add(1);
        if listing.is_online() {
            config.settle_listing(listing, now)?;
            config.rewards.remove_gpus(listing.spec.gpu_count)?;
        }
        listing.set_status(ListingStatus::Offline);
        Ok(())
    }

    /// Slashes the job's `slash_bps` (capped when the job was created) of the
    /// stake locked for the listing, once per outage: further faults of the
    /// same silence on other jobs slash nothing. Half compensates the job
    /// owner through the escrow, the rest goes to the treasury. Returns
    /// `(slashed, compensation)`.
    fn slash(&mut self) -> Result<(u64, u64)> {
        if !self.listing.take_outage_slash() {
            return Ok((0, 0));
        }
        let slashed = math::bps_share(self.listing.stake_locked, self.job.terms.slash_bps)?;
        if slashed == 0 {
            return Ok((0, 0));
        }
        let compensation = math::bps_share(slashed, SLASH_OWNER_SHARE_BPS)?;
        let to_treasury = slashed
            .checked_sub(compensation)
            .ok_or(IogridError::MathOverflow)?;

        self.supplier_stake.slash_listing_lock(slashed)?;
        self.listing.stake_locked = self
            .listing
            .stake_locked
            .checked_sub(slashed)
            .ok_or(IogridError::InvariantViolated)?;
        self.config.remove_stake(slashed)?;
        self.config.record_treasury_income(to_treasury)?;
        self.job.compensation = self
            .job
            .compensation
            .checked_add(compensation)
            .ok_or(IogridError::MathOverflow)?;

        let (vault, escrow, treasury, config, token_program) = (
            *self.stake_vault.account(),
            *self.escrow.account(),
            *self.treasury.account(),
            *self.config.account(),
            *self.token_program.account(),
        );
        let mut payouts = Payouts::new(&vault, &config);
        payouts.transfer(&escrow, compensation)?;
        payouts.transfer(&treasury, to_treasury)?;
        with_config_signer(self.config.bump, |signer| {
            payouts.execute(&token_program, signer)
        })?;
        Ok((slashed, compensation))
    }
}
