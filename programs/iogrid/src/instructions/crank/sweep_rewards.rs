use {
    super::super::{
        escrow::load_listing,
        rewards::{pay_rewards, EmissionAccounts},
    },
    crate::{
        errors::IogridError,
        events::{emit_event, RewardsSwept},
        spl::{Mint, TokenAccount},
        state::Config,
    },
    anchor_lang::prelude::*,
};

/// Permissionless: emission nobody can ever claim — released while no GPU
/// was online, or forfeited by silent listings — goes from the rewards vault
/// to the treasury, where governance can spend it, instead of sitting in the
/// vault for ever. Listings whose forfeits Config has not counted yet (they
/// forfeit in heartbeats, which cannot write Config) may follow, writable,
/// as remaining accounts.
#[derive(Accounts)]
pub struct SweepRewards {
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(mut, address = config.io_mint @ IogridError::NotMint)]
    pub io_mint: Account<Mint>,
    #[account(mut, address = config.rewards_vault @ IogridError::WrongVault)]
    pub rewards_vault: Account<TokenAccount>,
    #[account(mut, address = config.treasury @ IogridError::WrongVault)]
    pub treasury: Account<TokenAccount>,
    pub token_program: Program<Token>,
}

impl SweepRewards {
    pub fn sweep_rewards(&mut self, listings: &[AccountView]) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let config = &mut *self.config;
        config.rewards.update(now, config.emission_start)?;
        let mut folded = 0u64;
        for view in listings {
            let mut listing = load_listing(view, true)?;
            folded = folded
                .checked_add(config.fold_forfeits(&mut listing)?)
                .ok_or(IogridError::MathOverflow)?;
        }
        let amount = config.take_unallocated();
        if amount == 0 {
            return Err(IogridError::NothingToSweep.into());
        }
        let (config_view, mint_view, vault_view) = (
            *self.config.account(),
            *self.io_mint.account(),
            *self.rewards_vault.account(),
        );
        let accounts = EmissionAccounts {
            config: &config_view,
            io_mint: &mint_view,
            rewards_vault: &vault_view,
        };
        pay_rewards(&mut self.config, &accounts, self.treasury.account(), amount)?;
        self.config.record_treasury_income(amount)?;
        self.config.invariant()?;
        emit_event(&RewardsSwept {
            amount,
            folded_from_listings: folded,
            treasury_after: self.config.treasury_balance,
            at: now,
        });
        Ok(())
    }
}
