use {
    super::heartbeat_many::beat,
    crate::state::{Config, GpuListing},
    anchor_lang::prelude::*,
};

/// Sent by every online worker every `heartbeat_interval_secs`, so it is
/// kept cheap: Config is read-only (no write lock shared by all workers), and
/// the listing needs no PDA derivation — it is program-owned, and the
/// signature of its stored worker key is the authorization.
#[derive(Accounts)]
pub struct Heartbeat {
    pub worker: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    /// Its stored worker key must be the signer (checked in `beat`, which
    /// `heartbeat_many` shares).
    #[account(mut)]
    pub listing: Account<GpuListing>,
}

impl Heartbeat {
    /// Records that the worker is alive and settles its rewards: credited
    /// if the previous beat was within the timeout, forfeited if not.
    pub fn heartbeat(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let config = &*self.config;
        let acc = config.rewards.accumulator_at(now, config.emission_start)?;
        let timeout = config.params.heartbeat_timeout_secs;
        let worker = *self.worker.address();
        beat(&mut self.listing, &worker, acc, now, timeout)
    }
}
