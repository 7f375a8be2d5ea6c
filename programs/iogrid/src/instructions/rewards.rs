//! Emission: minting what the schedule released into the rewards vault and
//! paying rewards out of it (to listings' owners, or unclaimable emission to
//! the treasury).

use {
    super::with_config_signer,
    crate::{
        errors::IogridError,
        events::{emit_event, EmissionMinted},
        spl::{self, cpi},
        state::Config,
    },
    anchor_lang::prelude::*,
};

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
