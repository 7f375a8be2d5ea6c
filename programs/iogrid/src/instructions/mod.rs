//! One file per instruction, grouped by who calls it.

pub mod admin;
pub mod arbiter;
pub mod bench;
pub mod crank;
pub mod governance;
pub(crate) mod jobs;
pub mod keeper;
pub mod staker;
pub mod supplier;
pub mod user;
pub mod worker;

pub use {
    admin::*, arbiter::*, bench::*, crank::*, governance::*, keeper::*, staker::*, supplier::*,
    user::*, worker::*,
};

use {
    crate::{
        constants::SEED_CONFIG,
        errors::IogridError,
        events::{emit_event, EmissionMinted},
        spl::{self, cpi},
        state::Config,
    },
    anchor_lang::prelude::*,
    pinocchio::cpi::{Seed, Signer as PdaSigner},
};

/// Runs `f` with Config's PDA signature: Config is the authority of the IO
/// mint and of the stake, rewards and treasury vaults.
pub(crate) fn with_config_signer<R>(bump: u8, f: impl FnOnce(&[PdaSigner]) -> R) -> R {
    let bump = [bump];
    let seeds = [Seed::from(SEED_CONFIG), Seed::from(&bump)];
    f(&[PdaSigner::from(&seeds)])
}

/// The accounts an emission mint touches.
pub(crate) struct EmissionAccounts<'a> {
    pub config: &'a AccountView,
    pub io_mint: &'a AccountView,
    pub rewards_vault: &'a AccountView,
}

/// Mints the emission the schedule has released since the last mint into the
/// rewards vault. Minting nothing is not an error: a second crank in the same
/// second is a no-op.
pub(crate) fn mint_due_emission(
    config: &mut Config,
    accounts: &EmissionAccounts,
    now: i64,
) -> Result<u64> {
    let amount = config.mintable_emission(now)?;
    if amount == 0 {
        return Ok(0);
    }
    config.record_emission(amount, now)?;
    with_config_signer(config.bump, |signer| {
        cpi::mint_to(
            accounts.io_mint,
            accounts.rewards_vault,
            accounts.config,
            amount,
            signer,
        )
    })?;
    emit_event(&EmissionMinted {
        amount,
        emitted_after: config.emitted,
        at: now,
    });
    Ok(amount)
}

/// Pays `amount` of rewards from the rewards vault, minting due emission
/// first if the vault holds less (accounting runs ahead of minting).
/// Four arguments: with the hidden return pointer, upstream BPF's limit of five.
pub(crate) fn pay_rewards(
    config: &mut Config,
    accounts: &EmissionAccounts,
    destination: &AccountView,
    amount: u64,
) -> Result<()> {
    let vault_balance = spl::token_amount(accounts.rewards_vault)?;
    if vault_balance < amount {
        let now = Clock::get()?.unix_timestamp;
        let minted = mint_due_emission(config, accounts, now)?;
        let funded = vault_balance
            .checked_add(minted)
            .ok_or(IogridError::MathOverflow)?;
        if funded < amount {
            return Err(IogridError::InvariantViolated.into());
        }
    }
    with_config_signer(config.bump, |signer| {
        cpi::transfer(
            accounts.rewards_vault,
            destination,
            accounts.config,
            amount,
            signer,
        )
    })?;
    config.rewards.claimed = config
        .rewards
        .claimed
        .checked_add(amount)
        .ok_or(IogridError::MathOverflow)?;
    Ok(())
}
