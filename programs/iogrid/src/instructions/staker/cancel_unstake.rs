use {
    crate::{
        events::{emit_event, UnstakeCancelled},
        state::{Config, StakeAccount},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct CancelUnstake {
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

impl CancelUnstake {
    pub fn cancel_unstake(&mut self) -> Result<()> {
        let amount = self.stake_account.cancel_unstake()?;
        self.config.add_stake(amount)?;
        self.stake_account.invariant()?;
        self.config.invariant()?;
        emit_event(&UnstakeCancelled {
            owner: *self.owner.address(),
            amount,
            staked_after: self.stake_account.staked,
        });
        Ok(())
    }
}
