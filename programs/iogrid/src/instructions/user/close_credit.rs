use {
    super::super::escrow::with_credit_signer,
    crate::{
        errors::IogridError,
        events::{emit_event, CreditClosed},
        spl::{self, cpi::Payouts, token, TokenAccount},
        state::{Config, InferenceCredit},
    },
    anchor_lang::prelude::*,
};

/// Works while the network is paused: it only returns the owner's rent.
#[derive(Accounts)]
pub struct CloseCredit {
    /// Receives the credit's and the escrow's rent.
    #[account(mut)]
    pub owner: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_CREDIT, credit.owner.as_ref()],
        bump = credit.bump,
        constraint = credit.owner == *owner.address() @ IogridError::NotCreditOwner,
        close = owner
    )]
    pub credit: Account<InferenceCredit>,
    #[account(mut, address = credit.escrow @ IogridError::WrongVault)]
    pub escrow: Account<TokenAccount>,
    /// Receives IO someone else sent to the escrow (the balance is zero), so
    /// such a gift cannot keep the escrow from closing.
    #[account(mut, token::mint = config.io_mint, token::authority = owner)]
    pub owner_tokens: Account<TokenAccount>,
    pub token_program: Program<Token>,
}

impl CloseCredit {
    /// Closes an empty credit (no balance, no withdrawal pending) and its
    /// escrow. A user changes gateway or price ceiling by closing and
    /// opening again.
    pub fn close_credit(&mut self) -> Result<()> {
        self.credit.require_empty()?;
        let swept = spl::token_amount(self.escrow.account())?;
        let views = (*self.escrow.account(), *self.credit.account());
        let mut payouts = Payouts::new(&views.0, &views.1);
        payouts.transfer(self.owner_tokens.account(), swept)?;
        payouts.close(self.owner.account())?;
        with_credit_signer(&self.credit, |signer| {
            payouts.execute(self.token_program.account(), signer)
        })?;
        emit_event(&CreditClosed {
            credit: *self.credit.address(),
            owner: *self.owner.address(),
            spent: self.credit.spent,
            swept,
        });
        Ok(())
    }
}
