use {
    crate::{
        errors::IogridError,
        events::{emit_event, CreditWithdrawalRequested},
        state::InferenceCredit,
    },
    anchor_lang::prelude::*,
};

/// Works while the network is paused: it is the owner's own IO.
#[derive(Accounts)]
pub struct RequestCreditWithdrawal {
    pub owner: Signer,
    #[account(
        mut,
        seeds = [crate::constants::SEED_CREDIT, credit.owner.as_ref()],
        bump = credit.bump,
        constraint = credit.owner == *owner.address() @ IogridError::NotCreditOwner
    )]
    pub credit: Account<InferenceCredit>,
}

impl RequestCreditWithdrawal {
    /// Asks for `amount` of the balance back after
    /// `CREDIT_WITHDRAWAL_DELAY_SECS`, the gateway's time to settle usage
    /// already served; replaces an earlier request and restarts the delay.
    pub fn request_credit_withdrawal(&mut self, amount: u64) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        self.credit.request_withdrawal(amount, now)?;
        self.credit.invariant()?;
        emit_event(&CreditWithdrawalRequested {
            credit: *self.credit.address(),
            amount,
            available_at: self.credit.withdrawal_available_at,
            balance: self.credit.balance,
        });
        Ok(())
    }
}
