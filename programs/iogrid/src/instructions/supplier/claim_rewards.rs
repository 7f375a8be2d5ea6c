use {
    super::super::rewards::{pay_rewards, EmissionAccounts},
    crate::{
        errors::IogridError,
        events::{emit_event, RewardsClaimed},
        spl::{token, Mint, TokenAccount},
        state::{Config, GpuListing},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct ClaimRewards {
    pub owner: Signer,
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_LISTING, listing.owner.as_ref(), &listing.id.to_le_bytes()],
        bump = listing.bump,
        constraint = listing.owner == *owner.address() @ IogridError::NotListingOwner
    )]
    pub listing: Account<GpuListing>,
    #[account(mut, address = config.rewards_vault @ IogridError::WrongVault)]
    pub rewards_vault: Account<TokenAccount>,
    #[account(mut, address = config.io_mint @ IogridError::NotMint)]
    pub io_mint: Account<Mint>,
    /// Any IO token account the owner chooses.
    #[account(mut, token::mint = config.io_mint)]
    pub destination: Account<TokenAccount>,
    pub token_program: Program<Token>,
}

impl ClaimRewards {
    /// Pays the listing's emission rewards earned while its worker was alive.
    pub fn claim_rewards(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        self.config.settle_listing(&mut self.listing, now)?;
        let amount = self.listing.take_rewards()?;
        if amount == 0 {
            return Err(IogridError::NoRewards.into());
        }
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
            amount,
        )?;
        self.listing.invariant()?;
        self.config.invariant()?;
        emit_event(&RewardsClaimed {
            listing: *self.listing.address(),
            destination: *self.destination.address(),
            amount,
            claimed_total: self.listing.rewards_claimed,
        });
        Ok(())
    }
}
