use {
    crate::{
        errors::IogridError,
        events::{emit_event, CreditDeposited},
        spl::{cpi, token, TokenAccount},
        state::{Config, InferenceCredit},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct DepositCredit {
    pub owner: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_CREDIT, credit.owner.as_ref()],
        bump = credit.bump,
        constraint = credit.owner == *owner.address() @ IogridError::NotCreditOwner
    )]
    pub credit: Account<InferenceCredit>,
    #[account(mut, address = credit.escrow @ IogridError::WrongVault)]
    pub escrow: Account<TokenAccount>,
    #[account(mut, token::mint = config.io_mint, token::authority = owner)]
    pub owner_tokens: Account<TokenAccount>,
    pub token_program: Program<Token>,
}

impl DepositCredit {
    /// Moves `amount` of the owner's IO into the credit's escrow.
    pub fn deposit_credit(&mut self, amount: u64) -> Result<()> {
        self.config.require_not_paused()?;
        self.credit.deposit(amount)?;
        cpi::transfer(
            self.owner_tokens.account(),
            self.escrow.account(),
            self.owner.account(),
            amount,
            &[],
        )?;
        self.credit.invariant()?;
        emit_event(&CreditDeposited {
            credit: *self.credit.address(),
            amount,
            balance_after: self.credit.balance,
        });
        Ok(())
    }
}
