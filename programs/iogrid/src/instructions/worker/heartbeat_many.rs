use {
    super::super::escrow::load_listing,
    crate::{
        constants::MAX_HEARTBEAT_BATCH,
        errors::IogridError,
        events::{emit_event, HeartbeatRecorded},
        state::{Config, GpuListing},
    },
    anchor_lang::prelude::*,
};

/// One transaction, signed once, carries the liveness of many listings that
/// share a worker key (a rack's reporter, or a pool's): at a million listed
/// GPUs one heartbeat per listing would be thousands of transactions a
/// second (docs/scale.md). The listings follow as writable remaining
/// accounts, in strictly ascending address order so a listing cannot be
/// counted twice; each is checked exactly as `heartbeat` checks its one.
#[derive(Accounts)]
pub struct HeartbeatMany {
    pub worker: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
}

impl HeartbeatMany {
    /// Records every listing as alive, or none: one listing of another key,
    /// offline, read-only, repeated or out of order refuses the batch whole.
    pub fn heartbeat_many(&mut self, listings: &[AccountView]) -> Result<()> {
        if listings.is_empty() || listings.len() > MAX_HEARTBEAT_BATCH {
            return Err(IogridError::HeartbeatBatchSize.into());
        }
        let now = Clock::get()?.unix_timestamp;
        let config = &*self.config;
        let acc = config.rewards.accumulator_at(now, config.emission_start)?;
        let timeout = config.params.heartbeat_timeout_secs;
        let worker = *self.worker.address();
        let mut previous: Option<&Address> = None;
        for view in listings {
            if previous.is_some_and(|p| p >= view.address()) {
                return Err(IogridError::HeartbeatBatchInvalid.into());
            }
            previous = Some(view.address());
            if !view.is_writable() {
                return Err(IogridError::HeartbeatBatchInvalid.into());
            }
            let mut listing = load_listing(view, true)?;
            beat(&mut listing, &worker, acc, now, timeout)?;
        }
        Ok(())
    }
}

/// The per-listing part shared with `heartbeat`: the key must be the
/// listing's worker and the listing online; rewards since the last beat are
/// credited if it was within the timeout, forfeited if not.
#[inline(always)]
pub(crate) fn beat(
    listing: &mut Account<GpuListing>,
    worker: &Address,
    acc: u64,
    now: i64,
    timeout: u32,
) -> Result<()> {
    if listing.spec.worker != *worker {
        return Err(IogridError::NotListingWorker.into());
    }
    if !listing.is_online() {
        return Err(IogridError::ListingOffline.into());
    }
    let (credited, forfeited) = listing.settle(acc, now, timeout)?;
    listing.last_heartbeat = now;
    emit_event(&HeartbeatRecorded {
        listing: *listing.address(),
        at: now,
        credited,
        forfeited,
    });
    Ok(())
}
