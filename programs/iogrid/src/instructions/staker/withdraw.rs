use {
    super::super::with_config_signer,
    crate::{
        errors::IogridError,
        events::{emit_event, Withdrawn},
        spl::{cpi, token, TokenAccount},
        state::{Config, StakeAccount},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct Withdraw {
    pub owner: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_STAKE, owner.address().as_ref()],
        bump = stake_account.bump
    )]
    pub stake_account: Account<StakeAccount>,
    #[account(mut, address = config.stake_vault @ IogridError::WrongVault)]
    pub stake_vault: Account<TokenAccount>,
    /// Any IO token account the owner chooses.
    #[account(mut, token::mint = config.io_mint)]
    pub destination: Account<TokenAccount>,
    pub token_program: Program<Token>,
}

impl Withdraw {
    /// Pays out unbonded stake once its cooldown is over.
    pub fn withdraw(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let amount = self.stake_account.withdraw(now)?;
        let config = self.config.account();
        with_config_signer(self.config.bump, |signer| {
            cpi::transfer(
                self.stake_vault.account(),
                self.destination.account(),
                config,
                amount,
                signer,
            )
        })?;
        self.stake_account.invariant()?;
        emit_event(&Withdrawn {
            owner: *self.owner.address(),
            destination: *self.destination.address(),
            amount,
        });
        Ok(())
    }
}
