use {
    super::super::escrow::with_credit_signer,
    crate::{
        errors::IogridError,
        events::{emit_event, CreditWithdrawn},
        spl::{cpi, token, TokenAccount},
        state::{Config, InferenceCredit},
    },
    anchor_lang::prelude::*,
};

/// Works while the network is paused, like `withdraw` of stake: it is the
/// owner's own IO.
#[derive(Accounts)]
pub struct WithdrawCredit {
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
    /// Any IO token account the owner chooses.
    #[account(mut, token::mint = config.io_mint)]
    pub destination: Account<TokenAccount>,
    pub token_program: Program<Token>,
}

impl WithdrawCredit {
    /// Pays the pending withdrawal once its delay has passed: the amount
    /// requested, or what settlements left of the balance if less.
    pub fn withdraw_credit(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let requested = self.credit.withdrawal_pending;
        let amount = self.credit.withdraw(now)?;
        if amount > 0 {
            let credit = self.credit.account();
            with_credit_signer(&self.credit, |signer| {
                cpi::transfer(
                    self.escrow.account(),
                    self.destination.account(),
                    credit,
                    amount,
                    signer,
                )
            })?;
        }
        self.credit.invariant()?;
        emit_event(&CreditWithdrawn {
            credit: *self.credit.address(),
            destination: *self.destination.address(),
            amount,
            requested,
            balance_after: self.credit.balance,
        });
        Ok(())
    }
}
