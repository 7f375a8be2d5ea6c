use {
    super::super::rewards::{mint_due_emission, EmissionAccounts},
    crate::{
        errors::IogridError,
        spl::{Mint, TokenAccount},
        state::Config,
    },
    anchor_lang::prelude::*,
};

/// Permissionless: anyone (the keeper, usually) mints the emission released
/// since the last mint into the rewards vault.
#[derive(Accounts)]
pub struct CrankEmission {
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(mut, address = config.io_mint @ IogridError::NotMint)]
    pub io_mint: Account<Mint>,
    #[account(mut, address = config.rewards_vault @ IogridError::WrongVault)]
    pub rewards_vault: Account<TokenAccount>,
    pub token_program: Program<Token>,
}

impl CrankEmission {
    pub fn crank_emission(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let config = &mut *self.config;
        config.rewards.update(now, config.emission_start)?;
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
        mint_due_emission(&mut self.config, &accounts, now)?;
        self.config.invariant()
    }
}
