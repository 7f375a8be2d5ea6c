use {crate::errors::IogridError, anchor_lang::prelude::*};

/// A staker: `["stake", owner]`. Its IO sits in the shared stake vault.
#[account]
pub struct StakeAccount {
    pub owner: Address,
    /// Active stake, locked or not; excludes what is unbonding.
    pub staked: u64,
    /// Part of `staked` backing listings (`min_stake_per_gpu × gpus`).
    pub locked_for_listings: u64,
    /// Leaving the network; withdrawable from `unbonding_available_at`.
    pub unbonding: u64,
    pub unbonding_available_at: i64,
    /// Part of `staked` that voted and may not leave before `vote_lock_until`.
    pub vote_locked: u64,
    pub vote_lock_until: i64,
    /// Id of the next listing this staker creates (listing PDAs use it).
    pub next_listing_id: u64,
    pub listings: u32,
    pub bump: u8,
    pub version: u8,
    pub _padding: [u8; 2],
    pub _reserved: [u8; 64],
}

impl StakeAccount {
    /// Stake that is not backing a listing: free to back a new one.
    pub fn unlocked(&self) -> u64 {
        self.staked.saturating_sub(self.locked_for_listings)
    }

    /// Stake that may start unbonding now: neither backing listings nor
    /// vote-locked (the two locks overlap: the larger one binds).
    pub fn unstakeable(&self, now: i64) -> u64 {
        let vote_locked = if now < self.vote_lock_until {
            self.vote_locked
        } else {
            0
        };
        self.staked
            .saturating_sub(self.locked_for_listings.max(vote_locked))
    }

    pub fn deposit(&mut self, amount: u64) -> Result<()> {
        if amount == 0 {
            return Err(IogridError::ZeroAmount.into());
        }
        self.staked = self
            .staked
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    /// Moves `amount` of active stake into unbonding; the cooldown restarts.
    pub fn request_unstake(&mut self, amount: u64, now: i64, unbonding_secs: u32) -> Result<()> {
        if amount == 0 {
            return Err(IogridError::ZeroAmount.into());
        }
        if amount > self.unstakeable(now) {
            return Err(IogridError::StakeLocked.into());
        }
        if now >= self.vote_lock_until {
            // The vote is over: clear its lock so it cannot outgrow the stake.
            self.vote_locked = 0;
            self.vote_lock_until = 0;
        }
        self.staked = self
            .staked
            .checked_sub(amount)
            .ok_or(IogridError::MathOverflow)?;
        self.unbonding = self
            .unbonding
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        self.unbonding_available_at = now
            .checked_add(i64::from(unbonding_secs))
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    /// Returns the unbonded amount once the cooldown has passed.
    pub fn withdraw(&mut self, now: i64) -> Result<u64> {
        if self.unbonding == 0 {
            return Err(IogridError::NothingUnbonding.into());
        }
        if now < self.unbonding_available_at {
            return Err(IogridError::CooldownNotOver.into());
        }
        let amount = self.unbonding;
        self.unbonding = 0;
        self.unbonding_available_at = 0;
        Ok(amount)
    }

    /// Returns unbonding stake to active stake.
    pub fn cancel_unstake(&mut self) -> Result<u64> {
        if self.unbonding == 0 {
            return Err(IogridError::NothingUnbonding.into());
        }
        let amount = self.unbonding;
        self.staked = self
            .staked
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        self.unbonding = 0;
        self.unbonding_available_at = 0;
        Ok(amount)
    }

    /// Locks the stake that voted until the vote ends, so it cannot leave
    /// and vote again from another wallet.
    pub fn lock_for_vote(&mut self, weight: u64, until: i64) {
        self.vote_locked = self.vote_locked.max(weight);
        self.vote_lock_until = self.vote_lock_until.max(until);
    }

    /// Locks `amount` to back a new listing and hands out its id.
    /// Locks `amount` for listing `id`, which must not be below any id this
    /// staker used before.
    pub fn lock_for_listing(&mut self, amount: u64, id: u64) -> Result<()> {
        if id < self.next_listing_id {
            return Err(IogridError::ListingIdReused.into());
        }
        if amount > self.unlocked() {
            return Err(IogridError::InsufficientStake.into());
        }
        self.locked_for_listings = self
            .locked_for_listings
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        self.next_listing_id = id.checked_add(1).ok_or(IogridError::MathOverflow)?;
        self.listings = self
            .listings
            .checked_add(1)
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    pub fn unlock_for_listing(&mut self, amount: u64) -> Result<()> {
        self.locked_for_listings = self
            .locked_for_listings
            .checked_sub(amount)
            .ok_or(IogridError::InvariantViolated)?;
        self.listings = self
            .listings
            .checked_sub(1)
            .ok_or(IogridError::InvariantViolated)?;
        Ok(())
    }

    /// Takes `amount` out of the stake locked for listings. A vote this
    /// stake cast keeps its weight (stake at vote time), but the vote lock
    /// cannot exceed what is left.
    pub fn slash_listing_lock(&mut self, amount: u64) -> Result<()> {
        self.staked = self
            .staked
            .checked_sub(amount)
            .ok_or(IogridError::InvariantViolated)?;
        self.locked_for_listings = self
            .locked_for_listings
            .checked_sub(amount)
            .ok_or(IogridError::InvariantViolated)?;
        self.vote_locked = self.vote_locked.min(self.staked);
        Ok(())
    }

    pub fn invariant(&self) -> Result<()> {
        if self.locked_for_listings > self.staked
            || self.vote_locked > self.staked
            || (self.unbonding == 0) != (self.unbonding_available_at == 0)
            || (self.listings == 0 && self.locked_for_listings != 0)
            || u64::from(self.listings) > self.next_listing_id
        {
            return Err(IogridError::InvariantViolated.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytemuck::Zeroable;

    fn staker(staked: u64) -> StakeAccount {
        let mut s = StakeAccount::zeroed();
        s.staked = staked;
        s
    }

    #[test]
    fn unstake_leaves_listing_and_vote_locks_in_place() {
        let mut s = staker(1_000);
        s.lock_for_listing(600, 0).unwrap();
        s.vote_locked = 700;
        s.vote_lock_until = 100;
        assert_eq!(s.unstakeable(50), 300);
        assert_eq!(
            s.request_unstake(301, 50, 10),
            Err(IogridError::StakeLocked.into())
        );
        // After the vote ends only the listing lock binds.
        assert_eq!(s.unstakeable(100), 400);
        s.request_unstake(400, 100, 10).unwrap();
        assert_eq!(
            (s.staked, s.unbonding, s.unbonding_available_at),
            (600, 400, 110)
        );
        s.invariant().unwrap();
    }

    #[test]
    fn withdraw_waits_for_the_cooldown() {
        let mut s = staker(500);
        s.request_unstake(200, 1_000, 60).unwrap();
        assert_eq!(s.withdraw(1_059), Err(IogridError::CooldownNotOver.into()));
        assert_eq!(s.withdraw(1_060), Ok(200));
        assert_eq!(s.withdraw(1_060), Err(IogridError::NothingUnbonding.into()));
        s.invariant().unwrap();
    }

    #[test]
    fn cancel_returns_unbonding_to_active_stake() {
        let mut s = staker(500);
        s.request_unstake(200, 0, 60).unwrap();
        assert_eq!(s.cancel_unstake(), Ok(200));
        assert_eq!((s.staked, s.unbonding), (500, 0));
        assert_eq!(
            s.cancel_unstake(),
            Err(IogridError::NothingUnbonding.into())
        );
    }

    #[test]
    fn listing_locks_need_unlocked_stake() {
        let mut s = staker(1_000);
        assert_eq!(s.lock_for_listing(800, 0), Ok(()));
        assert_eq!(
            s.lock_for_listing(201, 1),
            Err(IogridError::InsufficientStake.into())
        );
        // Ids may skip ahead (to one with a fast PDA) but never go back.
        assert_eq!(s.lock_for_listing(200, 5), Ok(()));
        assert_eq!(
            s.lock_for_listing(0, 5),
            Err(IogridError::ListingIdReused.into())
        );
        s.unlock_for_listing(800).unwrap();
        assert_eq!(
            (s.locked_for_listings, s.listings, s.next_listing_id),
            (200, 1, 6)
        );
        s.invariant().unwrap();
    }

    #[test]
    fn slash_keeps_the_vote_lock_within_the_stake() {
        let mut s = staker(1_000);
        s.lock_for_listing(1_000, 0).unwrap();
        s.lock_for_vote(1_000, 100);
        s.slash_listing_lock(100).unwrap();
        assert_eq!(
            (s.staked, s.locked_for_listings, s.vote_locked),
            (900, 900, 900)
        );
        s.invariant().unwrap();
        assert_eq!(
            s.slash_listing_lock(901),
            Err(IogridError::InvariantViolated.into())
        );
    }
}
