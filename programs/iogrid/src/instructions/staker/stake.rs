use {
    crate::{
        constants::ACCOUNT_VERSION,
        errors::IogridError,
        events::{emit_event, Staked},
        spl::{cpi, token, TokenAccount},
        state::{Config, StakeAccount},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct Stake {
    #[account(mut)]
    pub owner: Signer,
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        init_if_needed,
        payer = owner,
        seeds = [crate::constants::SEED_STAKE, owner.address().as_ref()],
        bump
    )]
    pub stake_account: Account<StakeAccount>,
    #[account(mut, token::mint = config.io_mint, token::authority = owner)]
    pub owner_tokens: Account<TokenAccount>,
    #[account(mut, address = config.stake_vault @ IogridError::WrongVault)]
    pub stake_vault: Account<TokenAccount>,
    pub token_program: Program<Token>,
    pub system_program: Program<System>,
}

impl Stake {
    pub fn stake(&mut self, amount: u64, bump: u8) -> Result<()> {
        self.config.require_not_paused()?;
        let stake = &mut *self.stake_account;
        if stake.version == 0 {
            // First stake: the account was created by this instruction.
            stake.owner = *self.owner.address();
            stake.bump = bump;
            stake.version = ACCOUNT_VERSION;
        }
        stake.deposit(amount)?;
        self.config.add_stake(amount)?;
        cpi::transfer(
            self.owner_tokens.account(),
            self.stake_vault.account(),
            self.owner.account(),
            amount,
            &[],
        )?;
        self.stake_account.invariant()?;
        self.config.invariant()?;
        emit_event(&Staked {
            owner: *self.owner.address(),
            amount,
            staked_after: self.stake_account.staked,
            total_staked_after: self.config.total_staked,
        });
        Ok(())
    }
}
