// Anchor v2's derive re-reads `#[instruction(...)]` arguments in
// `exit_accounts`, where nothing uses them; scoped to this module only.
#![allow(unused_variables)]

use {
    crate::{
        constants::ACCOUNT_VERSION,
        events::{emit_event, GpuListed},
        math,
        state::{Config, GpuListing, GpuSpec, ListingStatus, StakeAccount},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
#[instruction(spec: GpuSpec, id: u64)]
pub struct ListGpu {
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
        init,
        payer = owner,
        seeds = [crate::constants::SEED_LISTING, owner.address().as_ref(), &id.to_le_bytes()],
        bump
    )]
    pub listing: Account<GpuListing>,
    pub system_program: Program<System>,
}

impl ListGpu {
    /// Lists GPUs under listing `id`, locking `min_stake_per_gpu × gpu_count`
    /// of the owner's stake; the GPUs start earning emission at once. Ids
    /// only grow (a listing address is never reused, so proof nonces stay
    /// unique); the client picks one whose canonical bump is 255, which makes
    /// the PDA check one hash instead of a search.
    pub fn list_gpu(&mut self, spec: &GpuSpec, id: u64, bump: u8) -> Result<()> {
        self.config.require_not_paused()?;
        spec.validate()?;
        let now = Clock::get()?.unix_timestamp;
        let required = math::checked_mul(
            self.config.params.min_stake_per_gpu,
            u64::from(spec.gpu_count),
        )?;
        self.stake_account.lock_for_listing(required, id)?;

        let config = &mut *self.config;
        config.rewards.update(now, config.emission_start)?;
        config.rewards.add_gpus(spec.gpu_count)?;

        let listing = &mut *self.listing;
        listing.owner = *self.owner.address();
        listing.spec = *spec;
        listing.id = id;
        listing.stake_locked = required;
        listing.listed_at = now;
        listing.last_heartbeat = now;
        listing.reward_debt = config.rewards.acc_reward_per_gpu;
        listing.gpus_free = spec.gpu_count;
        listing.set_status(ListingStatus::Available);
        listing.bump = bump;
        listing.version = ACCOUNT_VERSION;

        self.listing.invariant()?;
        self.stake_account.invariant()?;
        self.config.invariant()?;
        emit_event(&GpuListed {
            owner: *self.owner.address(),
            listing: *self.listing.address(),
            worker: spec.worker,
            id,
            price_per_gpu_hour: spec.price_per_gpu_hour,
            stake_locked: required,
            gpus_online_after: self.config.rewards.gpus_online,
            gpu_count: spec.gpu_count,
            vram_gb: spec.vram_gb,
            _padding: [0; 4],
        });
        Ok(())
    }
}
