use {
    crate::{
        errors::IogridError,
        events::{emit_event, ListingMarkedOffline},
        state::{Config, GpuListing, ListingStatus},
    },
    anchor_lang::prelude::*,
};

/// Permissionless: takes an idle listing whose worker went silent out of the
/// reward pool, so it stops diluting live suppliers. (A silent listing with
/// running jobs is handled by `report_fault`, which also slashes.)
#[derive(Accounts)]
pub struct MarkOffline {
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_LISTING, listing.owner.as_ref(), &listing.id.to_le_bytes()],
        bump = listing.bump
    )]
    pub listing: Account<GpuListing>,
}

impl MarkOffline {
    pub fn mark_offline(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let timeout = self.config.params.heartbeat_timeout_secs;
        if !self.listing.is_online() {
            return Err(IogridError::ListingOffline.into());
        }
        if !self.listing.is_stale(now, timeout) {
            return Err(IogridError::ListingNotStale.into());
        }
        if self.listing.has_running_jobs() {
            return Err(IogridError::ListingBusy.into());
        }
        let config = &mut *self.config;
        let (_, forfeited) = config.settle_listing(&mut self.listing, now)?;
        config.rewards.remove_gpus(self.listing.spec.gpu_count)?;
        self.listing.set_status(ListingStatus::Offline);
        self.listing.invariant()?;
        self.config.invariant()?;
        emit_event(&ListingMarkedOffline {
            listing: *self.listing.address(),
            last_heartbeat: self.listing.last_heartbeat,
            forfeited,
            gpus_online_after: self.config.rewards.gpus_online,
        });
        Ok(())
    }
}
