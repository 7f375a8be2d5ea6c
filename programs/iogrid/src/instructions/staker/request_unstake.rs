use {
    crate::{
        events::{emit_event, UnstakeRequested},
        state::{Config, StakeAccount},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct RequestUnstake {
    pub owner: Signer,
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_STAKE, owner.address().as_ref()],
        bump = stake_account.bump
    )]
    pub stake_account: Account<StakeAccount>,
}

impl RequestUnstake {
    /// Starts the cooldown for `amount` of stake that is neither backing a
    /// listing nor vote-locked.
    pub fn request_unstake(&mut self, amount: u64) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let unbonding_secs = self.config.params.unbonding_secs;
        self.stake_account
            .request_unstake(amount, now, unbonding_secs)?;
        self.config.remove_stake(amount)?;
        self.stake_account.invariant()?;
        self.config.invariant()?;
        emit_event(&UnstakeRequested {
            owner: *self.owner.address(),
            amount,
            unbonding_after: self.stake_account.unbonding,
            available_at: self.stake_account.unbonding_available_at,
            staked_after: self.stake_account.staked,
        });
        Ok(())
    }
}
