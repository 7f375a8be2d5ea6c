use {
    super::super::rewards::{pay_rewards, EmissionAccounts},
    crate::{
        errors::IogridError,
        events::{emit_event, GpuDelisted},
        spl::{token, Mint, TokenAccount},
        state::{Config, GpuListing, StakeAccount},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct Delist {
    /// Receives the listing's rent.
    #[account(mut)]
    pub owner: Signer,
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_STAKE, owner.address().as_ref()],
        bump = stake_account.bump
    )]
    pub stake_account: Account<StakeAccount>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_LISTING, listing.owner.as_ref(), &listing.id.to_le_bytes()],
        bump = listing.bump,
        constraint = listing.owner == *owner.address() @ IogridError::NotListingOwner,
        close = owner
    )]
    pub listing: Account<GpuListing>,
    #[account(mut, address = config.rewards_vault @ IogridError::WrongVault)]
    pub rewards_vault: Account<TokenAccount>,
    #[account(mut, address = config.io_mint @ IogridError::NotMint)]
    pub io_mint: Account<Mint>,
    /// Receives any unclaimed rewards: any IO token account the owner chooses.
    #[account(mut, token::mint = config.io_mint)]
    pub destination: Account<TokenAccount>,
    pub token_program: Program<Token>,
}

impl Delist {
    /// Removes a listing with nothing running: pays its earned rewards,
    /// unlocks its stake and closes the account.
    pub fn delist(&mut self) -> Result<()> {
        if self.listing.has_running_jobs() {
            return Err(IogridError::ListingBusy.into());
        }
        let now = Clock::get()?.unix_timestamp;
        let config = &mut *self.config;
        let (_, forfeited) = config.settle_listing(&mut self.listing, now)?;
        config.rewards.remove_gpus(self.listing.online_gpus())?;
        let rewards = self.listing.take_rewards()?;
        if rewards > 0 {
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
            pay_rewards(
                &mut self.config,
                &accounts,
                self.destination.account(),
                rewards,
            )?;
        }
        let unlocked = self.listing.stake_locked;
        self.stake_account.unlock_for_listing(unlocked)?;
        self.stake_account.invariant()?;
        self.config.invariant()?;
        emit_event(&GpuDelisted {
            owner: *self.owner.address(),
            listing: *self.listing.address(),
            stake_unlocked: unlocked,
            rewards_paid: rewards,
            rewards_forfeited: forfeited,
            gpus_online_after: self.config.rewards.gpus_online,
        });
        Ok(())
    }
}
