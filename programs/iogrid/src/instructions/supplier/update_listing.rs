use {
    crate::{
        errors::IogridError,
        events::{emit_event, ListingUpdated},
        math,
        state::{Config, GpuListing, GpuSpec, ListingStatus},
    },
    anchor_lang::prelude::*,
};

/// Changes to a listing; `None` keeps the current value.
#[derive(Clone, Copy, Debug, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct ListingUpdate {
    /// New price per GPU-hour. Running jobs keep the price they were assigned at.
    pub price_per_gpu_hour: Option<u64>,
    /// New worker key; only while no GPU runs a job (it signs their proofs).
    pub worker: Option<Address>,
    /// Take the listing online or offline; offline only while no GPU is busy.
    pub online: Option<bool>,
}

#[derive(Accounts)]
pub struct UpdateListing {
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
}

impl UpdateListing {
    pub fn update_listing(&mut self, update: &ListingUpdate) -> Result<()> {
        if let Some(price) = update.price_per_gpu_hour {
            // The same rules as list_gpu: non-zero, and a year of every GPU
            // at this price payable in u64.
            let spec = GpuSpec {
                price_per_gpu_hour: price,
                ..self.listing.spec
            };
            spec.validate()?;
            self.listing.spec = spec;
        }
        if let Some(worker) = update.worker {
            if self.listing.has_running_jobs() {
                return Err(IogridError::ListingBusy.into());
            }
            if worker == Address::default() {
                return Err(IogridError::InvalidListing.into());
            }
            self.listing.spec.worker = worker;
        }
        match update.online {
            Some(true) => self.go_online()?,
            Some(false) => self.go_offline()?,
            None => {}
        }
        self.listing.invariant()?;
        self.config.invariant()?;
        emit_event(&ListingUpdated {
            listing: *self.listing.address(),
            worker: self.listing.spec.worker,
            price_per_gpu_hour: self.listing.spec.price_per_gpu_hour,
            gpus_online_after: self.config.rewards.gpus_online,
            status: self.listing.status,
            _padding: [0; 7],
        });
        Ok(())
    }

    /// Back online: earns from now on, nothing for the time it was offline.
    /// A slashed listing must first be backed by the full stake again
    /// (delist and list anew with enough stake).
    fn go_online(&mut self) -> Result<()> {
        if self.listing.is_online() {
            return Err(IogridError::ListingAlreadyOnline.into());
        }
        let required = math::checked_mul(
            self.config.params.min_stake_per_gpu,
            u64::from(self.listing.spec.gpu_count),
        )?;
        if self.listing.stake_locked < required {
            return Err(IogridError::ListingUnderStaked.into());
        }
        let now = Clock::get()?.unix_timestamp;
        let config = &mut *self.config;
        config.rewards.update(now, config.emission_start)?;
        config.rewards.add_gpus(self.listing.spec.gpu_count)?;
        let listing = &mut *self.listing;
        listing.reward_debt = config.rewards.acc_reward_per_gpu;
        listing.last_heartbeat = now;
        listing.set_status(ListingStatus::Available);
        Ok(())
    }

    /// Offline: settles what it earned while alive and leaves the pool.
    fn go_offline(&mut self) -> Result<()> {
        if !self.listing.is_online() {
            return Err(IogridError::ListingOffline.into());
        }
        if self.listing.has_running_jobs() {
            return Err(IogridError::ListingBusy.into());
        }
        let now = Clock::get()?.unix_timestamp;
        let config = &mut *self.config;
        config.settle_listing(&mut self.listing, now)?;
        config.rewards.remove_gpus(self.listing.spec.gpu_count)?;
        self.listing.set_status(ListingStatus::Offline);
        Ok(())
    }
}
