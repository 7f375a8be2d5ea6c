//! Money movement shared by the job and credit instructions: the job's and
//! the credit's PDA signatures over their escrows, payee checks, the
//! fee/burn split and closing a job out.

use {
    crate::{
        constants::{SEED_CREDIT, SEED_JOB},
        errors::IogridError,
        events::{emit_event, JobClosed, JobPayment, JobStatusChanged},
        spl::{self, cpi::Payouts},
        state::{Assignment, Config, GpuListing, InferenceCredit, Job, JobTerms},
    },
    anchor_lang::{accounts::Slab, prelude::*},
    iogrid_rules::pay,
    pinocchio::cpi::{Seed, Signer as PdaSigner},
};

/// Runs `f` with the job PDA's signature: the job owns its escrow.
pub(crate) fn with_job_signer<R>(job: &Job, f: impl FnOnce(&[PdaSigner]) -> R) -> R {
    let id = job.id.to_le_bytes();
    let bump = [job.bump];
    let seeds = [
        Seed::from(SEED_JOB),
        Seed::from(job.owner.as_ref()),
        Seed::from(&id),
        Seed::from(&bump),
    ];
    f(&[PdaSigner::from(&seeds)])
}

/// Runs `f` with the credit PDA's signature: the credit owns its escrow.
pub(crate) fn with_credit_signer<R>(
    credit: &InferenceCredit,
    f: impl FnOnce(&[PdaSigner]) -> R,
) -> R {
    let bump = [credit.bump];
    let seeds = [
        Seed::from(SEED_CREDIT),
        Seed::from(credit.owner.as_ref()),
        Seed::from(&bump),
    ];
    f(&[PdaSigner::from(&seeds)])
}

/// The fee / burn split of `iogrid_rules::pay`, by a job's terms.
pub(crate) use iogrid_rules::pay::Split;

pub(crate) fn split_payment(gross: u64, terms: &JobTerms) -> Result<Split> {
    Ok(pay::split(gross, terms.fee_bps, terms.burn_bps).map_err(IogridError::from)?)
}

/// Scales a proven claim by the arbiter's award.
pub(crate) fn awarded(gross: u64, award_bps: u16) -> Result<u64> {
    Ok(pay::awarded(gross, award_bps).map_err(IogridError::from)?)
}

/// The payee must be an IO token account whose authority is the listing's owner.
pub(crate) fn validate_payee(
    payee: &AccountView,
    io_mint: &Address,
    owner: &Address,
) -> Result<()> {
    if !payee.owned_by(&Token::id()) || payee.data_len() != spl::TokenAccount::LEN {
        return Err(IogridError::WrongPayee.into());
    }
    // SAFETY: nothing in this instruction holds a reference into the payee.
    let data = unsafe { payee.borrow_unchecked() };
    if data[..32] != *io_mint.as_ref() || data[32..64] != *owner.as_ref() {
        return Err(IogridError::WrongPayee.into());
    }
    Ok(())
}

/// A job, its escrow (whose authority is the job PDA) and the Token program
/// money leaves the escrow through.
pub(crate) struct JobEscrow<'a> {
    pub job: &'a AccountView,
    pub escrow: &'a AccountView,
    pub token_program: &'a AccountView,
}

/// Where the fee and the burn go: the treasury vault and the IO mint.
pub(crate) struct FeeAccounts<'a> {
    pub treasury: &'a AccountView,
    pub io_mint: &'a AccountView,
}

/// One payment to a supplier for one assignment.
pub(crate) struct Payment<'l, 'a> {
    pub listing: &'l Address,
    pub payee: &'a AccountView,
    pub split: Split,
}

/// What leaves a job's escrow in one instruction: the movements, made
/// together by [`EscrowOutflow::execute`] under the job's signature, and
/// their total, which the refund must leave out.
pub(crate) struct EscrowOutflow<'a> {
    accounts: &'a JobEscrow<'a>,
    payouts: Payouts<'a>,
    queued: u64,
}

impl<'a> EscrowOutflow<'a> {
    pub fn new(accounts: &'a JobEscrow<'a>) -> Self {
        Self {
            accounts,
            payouts: Payouts::new(accounts.escrow, accounts.job),
            queued: 0,
        }
    }

    fn queue(&mut self, amount: u64) -> Result<()> {
        self.queued = self
            .queued
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    /// Pays the supplier's net share; the caller collects fee and burn
    /// across payments for [`Self::pay_fee_and_burn`].
    pub fn pay_supplier(&mut self, payment: &Payment<'_, 'a>) -> Result<()> {
        let split = &payment.split;
        self.payouts.transfer(payment.payee, split.net)?;
        self.queue(split.net)?;
        emit_event(&JobPayment {
            job: *self.accounts.job.address(),
            listing: *payment.listing,
            payee: *payment.payee.address(),
            gross: split.gross().map_err(IogridError::from)?,
            net: split.net,
            fee: split.fee,
            burned: split.burn,
        });
        Ok(())
    }

    /// Sends the collected fee to the treasury and burns the collected burn.
    pub fn pay_fee_and_burn(
        &mut self,
        to: &FeeAccounts<'a>,
        config: &mut Config,
        total: &Split,
    ) -> Result<()> {
        self.payouts.transfer(to.treasury, total.fee)?;
        self.queue(total.fee)?;
        config.record_treasury_income(total.fee)?;
        self.payouts.burn(to.io_mint, total.burn)?;
        self.queue(total.burn)?;
        config.record_burn(total.burn)?;
        Ok(())
    }

    /// Refunds what the escrow holds beyond the queued movements to the
    /// owner and closes the escrow; returns the refund.
    pub fn refund_and_close(&mut self, close: &CloseAccounts<'a>) -> Result<u64> {
        let refund = spl::token_amount(self.accounts.escrow)?
            .checked_sub(self.queued)
            .ok_or(IogridError::InvariantViolated)?;
        self.payouts.transfer(close.owner_tokens, refund)?;
        self.queue(refund)?;
        self.payouts.close(close.rent_to)?;
        Ok(refund)
    }

    /// Makes every queued movement, signed by the job.
    pub fn execute(self, job: &Job) -> Result<()> {
        with_job_signer(job, |signer| {
            self.payouts.execute(self.accounts.token_program, signer)
        })?;
        Ok(())
    }
}

/// Where a closing job's leftovers go.
pub(crate) struct CloseAccounts<'a> {
    /// Receives the refund: the owner's IO account.
    pub owner_tokens: &'a AccountView,
    /// Receives the escrow's rent: the owner's wallet.
    pub rent_to: &'a AccountView,
}

/// How a job ended, in [`JobClosed::outcome`].
pub(crate) const OUTCOME_SETTLED: u8 = 0;
pub(crate) const OUTCOME_EXPIRED: u8 = 1;
pub(crate) const OUTCOME_CANCELLED: u8 = 2;

/// Refunds the owner, closes the escrow (after the movements already in
/// `outflow`) and reports the job's final accounts. The job account itself
/// closes by its `close = owner` constraint.
pub(crate) fn refund_and_close<'a>(
    job: &Job,
    mut outflow: EscrowOutflow<'a>,
    close: &CloseAccounts<'a>,
    outcome: u8,
) -> Result<u64> {
    let refund = outflow.refund_and_close(close)?;
    let job_address = *outflow.accounts.job.address();
    outflow.execute(job)?;
    emit_event(&JobClosed {
        job: job_address,
        deposit: job.deposit,
        compensation: job.compensation,
        paid_out: job.paid_out,
        refund,
        outcome,
        _padding: [0; 7],
    });
    Ok(refund)
}

/// Loads a listing account (program-owned, right discriminator).
pub(crate) fn load_listing(view: &AccountView, writable: bool) -> Result<Account<GpuListing>> {
    if writable {
        // SAFETY: listings are loaded one at a time and dropped before the
        // next, so no two live mutable wrappers alias; the instruction holds
        // no other wrapper over a listing.
        unsafe { Account::<GpuListing>::load_mut(*view) }
    } else {
        Account::<GpuListing>::load(*view)
    }
}

/// The index of `listing`'s running assignment in `job`.
pub(crate) fn active_assignment(job: &Slab<Job, Assignment>, listing: &Address) -> Result<usize> {
    job.iter()
        .position(|a| a.listing == *listing && a.is_active())
        .ok_or_else(|| IogridError::NoActiveAssignment.into())
}

/// Reports a job status change.
pub(crate) fn emit_status(job: &Slab<Job, Assignment>) -> Result<()> {
    emit_event(&JobStatusChanged {
        job: *job.address(),
        at: Clock::get()?.unix_timestamp,
        status: job.status,
        _padding: [0; 1],
        award_bps: job.award_bps,
        _padding2: [0; 4],
    });
    Ok(())
}
