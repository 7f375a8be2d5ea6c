use {
    crate::{constants::*, errors::IogridError, math},
    anchor_lang::prelude::*,
    iogrid_rules::assign,
};

/// Where a listing stands. Stored as a `u8` in [`GpuListing::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ListingStatus {
    /// Online, every GPU free.
    Available = 0,
    /// Online, some GPUs assigned to jobs.
    Busy = 1,
    /// Not taking jobs and not earning emission.
    Offline = 2,
}

impl ListingStatus {
    pub fn from_u8(value: u8) -> Result<Self> {
        match value {
            0 => Ok(Self::Available),
            1 => Ok(Self::Busy),
            2 => Ok(Self::Offline),
            _ => Err(IogridError::InvariantViolated.into()),
        }
    }
}

/// What `list_gpu` creates; also its instruction argument.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct GpuSpec {
    /// Ed25519 key of the worker node: it signs heartbeats and proofs.
    pub worker: Address,
    /// GPU model, ASCII, zero-padded (e.g. `H100-80GB`).
    pub gpu_model: [u8; 16],
    /// Price per GPU-hour in IO base units.
    pub price_per_gpu_hour: u64,
    /// Region code, ASCII, zero-padded (e.g. `eu-west`).
    pub region: [u8; 8],
    pub vram_gb: u16,
    pub gpu_count: u16,
    pub _padding: [u8; 4],
}

// SAFETY: repr(C), 72 bytes without padding (asserted); any bit pattern valid.
unsafe impl bytemuck::Pod for GpuSpec {}
unsafe impl bytemuck::Zeroable for GpuSpec {}
const _: () = assert!(core::mem::size_of::<GpuSpec>() == 72);

impl GpuSpec {
    pub fn validate(&self) -> Result<()> {
        if self.gpu_count == 0 || self.gpu_count > MAX_GPUS_PER_LISTING {
            return Err(IogridError::InvalidGpuCount.into());
        }
        if self.vram_gb == 0 || self.gpu_model[0] == 0 || self.price_per_gpu_hour == 0 {
            return Err(IogridError::InvalidListing.into());
        }
        if self.worker == Address::default() {
            return Err(IogridError::InvalidListing.into());
        }
        // A year of every GPU at this price must be payable in u64, so no job
        // on this listing can overflow its escrow or payout math.
        math::checked_mul3(
            self.price_per_gpu_hour,
            u64::from(self.gpu_count),
            PRICE_HORIZON_HOURS,
        )?;
        Ok(())
    }
}

/// A supplier's GPUs: `["listing", owner, id]`.
#[account]
pub struct GpuListing {
    pub owner: Address,
    pub spec: GpuSpec,
    pub id: u64,
    /// Stake locked in the owner's StakeAccount while this listing exists.
    pub stake_locked: u64,
    pub listed_at: i64,
    /// Unix time of the worker's last heartbeat (or of coming online).
    pub last_heartbeat: i64,
    /// Reward accumulator at the last settlement.
    pub reward_debt: u64,
    /// Rewards settled and not yet claimed.
    pub rewards_accrued: u64,
    /// Rewards lost to silences longer than the heartbeat timeout.
    pub rewards_forfeited: u64,
    pub rewards_claimed: u64,
    pub jobs_completed: u32,
    pub jobs_faulted: u32,
    /// GPUs not assigned to a job.
    pub gpus_free: u16,
    pub status: u8,
    pub bump: u8,
    pub version: u8,
    pub _padding: [u8; 3],
    /// Assignments ever made to this listing; the next one's proof nonce.
    pub assignments_made: u64,
    /// `last_heartbeat` when the listing was last slashed: one outage (no
    /// heartbeat since) slashes at most once, however many jobs it hit.
    pub slashed_at_heartbeat: i64,
    /// Part of `rewards_forfeited` already counted in Config's unallocated
    /// emission (swept to the treasury, never stranded in the vault).
    pub forfeits_folded: u64,
    pub _reserved: [u8; 40],
}

impl GpuListing {
    pub fn status(&self) -> Result<ListingStatus> {
        ListingStatus::from_u8(self.status)
    }

    pub fn is_online(&self) -> bool {
        matches!(
            self.status(),
            Ok(ListingStatus::Available | ListingStatus::Busy)
        )
    }

    /// GPUs counted in the reward pool's weight.
    pub fn online_gpus(&self) -> u16 {
        if self.is_online() {
            self.spec.gpu_count
        } else {
            0
        }
    }

    pub fn has_running_jobs(&self) -> bool {
        self.gpus_free < self.spec.gpu_count
    }

    /// Silent for longer than the timeout: provably not alive.
    pub fn is_stale(&self, now: i64, timeout_secs: u32) -> bool {
        assign::is_stale(self.last_heartbeat, now, timeout_secs)
    }

    /// The listing's offer and state, for `iogrid_rules::assign`.
    pub fn offer(&self) -> assign::ListingOffer<'_> {
        assign::ListingOffer {
            gpu_model: &self.spec.gpu_model,
            region: &self.spec.region,
            vram_gb: self.spec.vram_gb,
            gpu_count: self.spec.gpu_count,
            price_per_gpu_hour: self.spec.price_per_gpu_hour,
            online: self.is_online(),
            last_heartbeat: self.last_heartbeat,
            stake_locked: self.stake_locked,
            gpus_free: self.gpus_free,
        }
    }

    /// Rewards earned since the last settlement at accumulator `acc`.
    pub fn pending_rewards(&self, acc: u64) -> Result<u64> {
        let delta = acc
            .checked_sub(self.reward_debt)
            .ok_or(IogridError::InvariantViolated)?;
        Ok(math::mul_div_floor(
            u64::from(self.online_gpus()),
            delta,
            REWARD_PRECISION,
        )?)
    }

    /// Settles rewards up to `acc`: credited if the worker kept heartbeating,
    /// forfeited if it went silent past the timeout (it cannot prove it was
    /// alive for that time). Returns `(credited, forfeited)`.
    pub fn settle(&mut self, acc: u64, now: i64, timeout_secs: u32) -> Result<(u64, u64)> {
        let pending = self.pending_rewards(acc)?;
        self.reward_debt = acc;
        if pending == 0 {
            return Ok((0, 0));
        }
        if self.is_stale(now, timeout_secs) {
            self.rewards_forfeited = self
                .rewards_forfeited
                .checked_add(pending)
                .ok_or(IogridError::MathOverflow)?;
            return Ok((0, pending));
        }
        self.rewards_accrued = self
            .rewards_accrued
            .checked_add(pending)
            .ok_or(IogridError::MathOverflow)?;
        Ok((pending, 0))
    }

    /// Forfeits not yet counted by Config; marks them counted.
    pub fn take_unfolded_forfeits(&mut self) -> Result<u64> {
        let amount = self
            .rewards_forfeited
            .checked_sub(self.forfeits_folded)
            .ok_or(IogridError::InvariantViolated)?;
        self.forfeits_folded = self.rewards_forfeited;
        Ok(amount)
    }

    /// Hands out the accrued rewards for payment.
    pub fn take_rewards(&mut self) -> Result<u64> {
        let amount = self.rewards_accrued;
        self.rewards_accrued = 0;
        self.rewards_claimed = self
            .rewards_claimed
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        Ok(amount)
    }

    pub fn set_status(&mut self, status: ListingStatus) {
        self.status = status as u8;
    }

    /// Books `gpus` GPUs for a job and returns the assignment's nonce.
    pub fn reserve(&mut self, gpus: u16) -> Result<u64> {
        self.gpus_free = self
            .gpus_free
            .checked_sub(gpus)
            .ok_or(IogridError::NotEnoughFreeGpus)?;
        self.set_status(ListingStatus::Busy);
        let nonce = self.assignments_made;
        self.assignments_made = nonce.checked_add(1).ok_or(IogridError::MathOverflow)?;
        Ok(nonce)
    }

    /// Frees `gpus` GPUs a job held; an online listing with nothing left
    /// running is available again (an offline one stays offline).
    pub fn release(&mut self, gpus: u16) -> Result<()> {
        self.gpus_free = self
            .gpus_free
            .checked_add(gpus)
            .filter(|free| *free <= self.spec.gpu_count)
            .ok_or(IogridError::InvariantViolated)?;
        if !self.has_running_jobs() && self.status()? == ListingStatus::Busy {
            self.set_status(ListingStatus::Available);
        }
        Ok(())
    }

    /// Whether the current outage (silence since `last_heartbeat`) has not
    /// been slashed yet; marks it slashed. A listing serving many jobs loses
    /// at most one capped slash per outage.
    pub fn take_outage_slash(&mut self) -> bool {
        if self.slashed_at_heartbeat == self.last_heartbeat {
            return false;
        }
        self.slashed_at_heartbeat = self.last_heartbeat;
        true
    }

    pub fn invariant(&self) -> Result<()> {
        let status = self.status()?;
        let busy = self.has_running_jobs();
        // Offline listings may still hold jobs until their faults are reported.
        let status_matches = match status {
            ListingStatus::Available => !busy,
            ListingStatus::Busy => busy,
            ListingStatus::Offline => true,
        };
        if self.gpus_free > self.spec.gpu_count || !status_matches || self.spec.gpu_count == 0 {
            return Err(IogridError::InvariantViolated.into());
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use {super::*, bytemuck::Zeroable};

    fn listing(gpus: u16) -> GpuListing {
        let mut l = GpuListing::zeroed();
        l.spec.gpu_count = gpus;
        l.gpus_free = gpus;
        l.last_heartbeat = 1_000;
        l
    }

    #[test]
    fn settlement_credits_a_live_worker() {
        let mut l = listing(4);
        // 2.5 base units per GPU accumulated → 10 for four GPUs.
        assert_eq!(l.settle(25_000, 1_100, 300), Ok((10, 0)));
        assert_eq!((l.rewards_accrued, l.reward_debt), (10, 25_000));
        assert_eq!(l.take_rewards(), Ok(10));
        assert_eq!((l.rewards_accrued, l.rewards_claimed), (0, 10));
    }

    #[test]
    fn settlement_forfeits_after_a_silence() {
        let mut l = listing(2);
        assert_eq!(l.settle(50_000, 1_301, 300), Ok((0, 10)));
        assert_eq!((l.rewards_accrued, l.rewards_forfeited), (0, 10));
    }

    #[test]
    fn offline_listings_earn_nothing() {
        let mut l = listing(8);
        l.set_status(ListingStatus::Offline);
        assert_eq!(l.online_gpus(), 0);
        assert_eq!(l.settle(1_000_000, 1_001, 300), Ok((0, 0)));
    }

    #[test]
    fn reserve_and_release_track_gpus_status_and_nonces() {
        let mut l = listing(4);
        assert_eq!(l.reserve(3), Ok(0));
        assert_eq!((l.gpus_free, l.status()), (1, Ok(ListingStatus::Busy)));
        assert_eq!(l.reserve(2), Err(IogridError::NotEnoughFreeGpus.into()));
        assert_eq!(l.reserve(1), Ok(1));
        l.release(3).unwrap();
        assert_eq!(l.status(), Ok(ListingStatus::Busy));
        l.release(1).unwrap();
        assert_eq!((l.gpus_free, l.status()), (4, Ok(ListingStatus::Available)));
        assert_eq!(l.release(1), Err(IogridError::InvariantViolated.into()));
        assert_eq!(l.assignments_made, 2);
    }

    #[test]
    fn release_keeps_an_offline_listing_offline() {
        let mut l = listing(2);
        l.reserve(2).unwrap();
        l.set_status(ListingStatus::Offline);
        l.release(2).unwrap();
        assert_eq!(l.status(), Ok(ListingStatus::Offline));
    }

    #[test]
    fn forfeits_are_counted_once() {
        let mut l = listing(2);
        l.settle(50_000, 1_301, 300).unwrap();
        assert_eq!(l.take_unfolded_forfeits(), Ok(10));
        assert_eq!(l.take_unfolded_forfeits(), Ok(0));
        l.settle(100_000, 1_302, 300).unwrap();
        assert_eq!(l.take_unfolded_forfeits(), Ok(10));
    }

    #[test]
    fn one_outage_is_slashed_once() {
        let mut l = listing(2);
        assert!(l.take_outage_slash());
        assert!(!l.take_outage_slash());
        l.last_heartbeat += 30;
        assert!(l.take_outage_slash());
    }

    #[test]
    fn invariant_ties_busy_to_assigned_gpus() {
        let mut l = listing(4);
        l.invariant().unwrap();
        l.gpus_free = 3;
        assert!(l.invariant().is_err());
        l.set_status(ListingStatus::Busy);
        l.invariant().unwrap();
        l.gpus_free = 5;
        assert!(l.invariant().is_err());
    }
}
