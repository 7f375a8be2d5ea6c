//! Money movement shared by the job instructions: the job PDA's signature
//! over its escrow, payee checks, the fee/burn split and closing a job out.

use {
    crate::{
        constants::{BPS_DENOMINATOR, SEED_JOB},
        errors::IogridError,
        events::{emit_event, JobClosed, JobPayment, JobStatusChanged},
        math,
        spl::{self, cpi},
        state::{Assignment, Config, GpuListing, Job, JobTerms},
    },
    anchor_lang::{accounts::Slab, prelude::*},
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

/// A payment split three ways: the supplier's net, the treasury's fee and
/// the burn. `net + fee + burn == gross` exactly; rounding favours the
/// supplier by at most a base unit per share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Split {
    pub net: u64,
    pub fee: u64,
    pub burn: u64,
}

pub(crate) fn split_payment(gross: u64, terms: &JobTerms) -> Result<Split> {
    let fee = math::bps_share(gross, terms.fee_bps)?;
    let burn = math::bps_share(gross, terms.burn_bps)?;
    let net = gross
        .checked_sub(fee)
        .and_then(|rest| rest.checked_sub(burn))
        .ok_or(IogridError::MathOverflow)?;
    Ok(Split { net, fee, burn })
}

/// Scales a proven claim by the arbiter's award.
pub(crate) fn awarded(gross: u64, award_bps: u16) -> Result<u64> {
    if u64::from(award_bps) == BPS_DENOMINATOR {
        return Ok(gross);
    }
    Ok(math::bps_share(gross, award_bps)?)
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

/// A job and its escrow (whose authority is the job PDA).
pub(crate) struct JobEscrow<'a> {
    pub job: &'a AccountView,
    pub escrow: &'a AccountView,
}

/// The accounts money leaves the escrow through.
pub(crate) struct EscrowAccounts<'a> {
    pub job: &'a AccountView,
    pub escrow: &'a AccountView,
    pub treasury: &'a AccountView,
    pub io_mint: &'a AccountView,
}

impl<'a> EscrowAccounts<'a> {
    pub fn job_escrow(&self) -> JobEscrow<'a> {
        JobEscrow {
            job: self.job,
            escrow: self.escrow,
        }
    }
}

/// One payment to a supplier for one assignment.
pub(crate) struct Payment<'a> {
    pub listing: &'a Address,
    pub payee: &'a AccountView,
    pub split: Split,
}

impl Split {
    pub fn gross(&self) -> Result<u64> {
        self.net
            .checked_add(self.fee)
            .and_then(|v| v.checked_add(self.burn))
            .ok_or_else(|| IogridError::MathOverflow.into())
    }

    pub fn add(&mut self, other: &Split) -> Result<()> {
        self.net = self
            .net
            .checked_add(other.net)
            .ok_or(IogridError::MathOverflow)?;
        self.fee = self
            .fee
            .checked_add(other.fee)
            .ok_or(IogridError::MathOverflow)?;
        self.burn = self
            .burn
            .checked_add(other.burn)
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }
}

/// Pays the supplier's net share now; the caller collects fee and burn
/// across payments for [`pay_fee_and_burn`].
pub(crate) fn pay_supplier(job: &Job, accounts: &EscrowAccounts, payment: &Payment) -> Result<()> {
    let split = &payment.split;
    if split.net > 0 {
        with_job_signer(job, |signer| {
            cpi::transfer(
                accounts.escrow,
                payment.payee,
                accounts.job,
                split.net,
                signer,
            )
        })?;
    }
    emit_event(&JobPayment {
        job: *accounts.job.address(),
        listing: *payment.listing,
        payee: *payment.payee.address(),
        gross: split.gross()?,
        net: split.net,
        fee: split.fee,
        burned: split.burn,
    });
    Ok(())
}

/// Moves the collected fee to the treasury and burns the collected burn.
pub(crate) fn pay_fee_and_burn(
    job: &Job,
    accounts: &EscrowAccounts,
    config: &mut Config,
    total: &Split,
) -> Result<()> {
    if total.fee > 0 {
        with_job_signer(job, |signer| {
            cpi::transfer(
                accounts.escrow,
                accounts.treasury,
                accounts.job,
                total.fee,
                signer,
            )
        })?;
        config.record_treasury_income(total.fee)?;
    }
    if total.burn > 0 {
        with_job_signer(job, |signer| {
            cpi::burn(
                accounts.escrow,
                accounts.io_mint,
                accounts.job,
                total.burn,
                signer,
            )
        })?;
        config.record_burn(total.burn)?;
    }
    Ok(())
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

/// Refunds what is left in the escrow to the owner, closes the escrow and
/// reports the job's final accounts. The job account itself closes by its
/// `close = owner` constraint.
pub(crate) fn refund_and_close(
    job: &Job,
    accounts: &JobEscrow,
    close: &CloseAccounts,
    outcome: u8,
) -> Result<u64> {
    let refund = spl::token_amount(accounts.escrow)?;
    if refund > 0 {
        with_job_signer(job, |signer| {
            cpi::transfer(
                accounts.escrow,
                close.owner_tokens,
                accounts.job,
                refund,
                signer,
            )
        })?;
    }
    with_job_signer(job, |signer| {
        cpi::close_account(accounts.escrow, close.rent_to, accounts.job, signer)
    })?;
    emit_event(&JobClosed {
        job: *accounts.job.address(),
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
