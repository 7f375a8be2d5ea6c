use {
    crate::{constants::*, emission, errors::IogridError, math, state::GpuListing},
    anchor_lang::prelude::*,
};

/// Every governable network parameter. Stored in [`Config`], passed whole to
/// `initialize` and (later) to parameter-change proposals, and always checked
/// against the hard bounds in `constants.rs` before it is stored.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct NetworkParams {
    /// IO base units of stake locked per listed GPU.
    pub min_stake_per_gpu: u64,
    /// Active stake needed to create a proposal.
    pub proposal_min_stake: u64,
    /// Free inference tokens per day per whole IO (10^6 base units) of a
    /// wallet's active stake: the gateway's daily quota rate.
    pub free_tokens_per_io_day: u64,
    /// Cooldown between `request_unstake` and `withdraw`.
    pub unbonding_secs: u32,
    /// How often a worker must heartbeat.
    pub heartbeat_interval_secs: u32,
    /// Silence after which a worker is provably faulty.
    pub heartbeat_timeout_secs: u32,
    /// Time the job owner has to dispute after the last proof.
    pub challenge_window_secs: u32,
    /// Time past a job's duration before anyone may expire it.
    pub job_grace_secs: u32,
    pub voting_secs: u32,
    pub timelock_secs: u32,
    /// Share of each job payout paid to the treasury.
    pub fee_bps: u16,
    /// Share of each job payout burned.
    pub burn_bps: u16,
    /// Share of a faulty listing's locked stake slashed.
    pub slash_bps: u16,
    /// Ceiling on any single slash, as a share of the locked stake.
    pub slash_cap_bps: u16,
    /// Turnout, as a share of total active stake, for a proposal to count.
    pub quorum_bps: u16,
    /// Yes votes, as a share of yes + no, for a proposal to pass.
    pub threshold_bps: u16,
}

// SAFETY: repr(C), fields ordered by alignment, 64 bytes without padding
// (asserted below), every bit pattern is a valid value.
unsafe impl bytemuck::Pod for NetworkParams {}
unsafe impl bytemuck::Zeroable for NetworkParams {}
const _: () = assert!(core::mem::size_of::<NetworkParams>() == 64);

fn bounded<T: PartialOrd>(value: T, min: T, max: T) -> Result<()> {
    if value < min || value > max {
        return Err(IogridError::ParamOutOfBounds.into());
    }
    Ok(())
}

impl NetworkParams {
    /// Checks every parameter against the hard bounds compiled into the
    /// program; no proposal or bootstrap call can store values outside them.
    pub fn validate(&self) -> Result<()> {
        bounded(self.min_stake_per_gpu, 1, SUPPLY_CAP)?;
        bounded(self.proposal_min_stake, 1, SUPPLY_CAP)?;
        bounded(self.free_tokens_per_io_day, 0, MAX_FREE_TOKENS_PER_IO_DAY)?;
        bounded(self.unbonding_secs, 0, MAX_UNBONDING_SECS)?;
        bounded(
            self.heartbeat_interval_secs,
            MIN_HEARTBEAT_INTERVAL_SECS,
            MAX_HEARTBEAT_INTERVAL_SECS,
        )?;
        // A worker must be allowed to miss at least one beat before it faults.
        let min_timeout = self
            .heartbeat_interval_secs
            .checked_add(1)
            .ok_or(IogridError::MathOverflow)?;
        bounded(
            self.heartbeat_timeout_secs,
            min_timeout,
            MAX_HEARTBEAT_INTERVAL_SECS.saturating_mul(10),
        )?;
        bounded(self.challenge_window_secs, 0, MAX_CHALLENGE_WINDOW_SECS)?;
        bounded(self.job_grace_secs, 0, MAX_JOB_GRACE_SECS)?;
        bounded(self.voting_secs, MIN_VOTING_SECS, MAX_VOTING_SECS)?;
        bounded(self.timelock_secs, 0, MAX_TIMELOCK_SECS)?;
        bounded(self.fee_bps, 0, MAX_FEE_BPS)?;
        bounded(self.burn_bps, 0, MAX_BURN_BPS)?;
        bounded(self.slash_bps, 0, MAX_SLASH_BPS)?;
        bounded(self.slash_cap_bps, 0, MAX_SLASH_CAP_BPS)?;
        bounded(self.quorum_bps, MIN_QUORUM_BPS, 10_000)?;
        bounded(self.threshold_bps, MIN_THRESHOLD_BPS, 10_000)?;
        Ok(())
    }
}

/// Emission rewards owed to suppliers, as a reward-per-GPU accumulator: each
/// online GPU earns `acc_reward_per_gpu / REWARD_PRECISION` base units per
/// unit of accumulator, so every update is O(1) whatever the number of
/// listings. Emission is accounted by time (`emission::emitted_by`), minted
/// lazily by `crank_emission` (or by a claim that finds the vault short).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct RewardPool {
    /// Σ rewards per online GPU, scaled by `REWARD_PRECISION`.
    pub acc_reward_per_gpu: u64,
    /// GPUs of listings that are online (Available or Busy).
    pub gpus_online: u64,
    /// Emission already folded into the accumulator (or set aside).
    pub accounted: u64,
    /// Emission nobody can claim, not yet swept to the treasury: released
    /// while no GPU was online, or forfeited by silent listings.
    pub unallocated: u64,
    /// Rewards paid out of the rewards vault: claimed by listings, or
    /// unallocated emission swept to the treasury.
    pub claimed: u64,
    /// Unix time of the last accumulator update.
    pub last_update: i64,
}

// SAFETY: repr(C), six 8-byte fields, no padding; any bit pattern is valid.
unsafe impl bytemuck::Pod for RewardPool {}
unsafe impl bytemuck::Zeroable for RewardPool {}

impl RewardPool {
    /// Emission the schedule has released by `now` (never less than what is
    /// already accounted) and the part of it not yet in the accumulator.
    fn fresh_emission(&self, now: i64, emission_start: i64) -> Result<(u64, u64)> {
        let elapsed = now
            .checked_sub(emission_start)
            .ok_or(IogridError::MathOverflow)?;
        let accounted = emission::emitted_by(elapsed)?.max(self.accounted);
        let fresh = accounted
            .checked_sub(self.accounted)
            .ok_or(IogridError::MathOverflow)?;
        Ok((accounted, fresh))
    }

    fn increment_for(&self, fresh: u64) -> Result<u64> {
        if fresh == 0 || self.gpus_online == 0 {
            return Ok(0);
        }
        Ok(math::mul_div_floor(
            fresh,
            REWARD_PRECISION,
            self.gpus_online,
        )?)
    }

    /// The accumulator as it stands at `now`, without writing: what
    /// `update(now)` would store. The heartbeat settles against it so Config
    /// stays read-only there.
    pub fn accumulator_at(&self, now: i64, emission_start: i64) -> Result<u64> {
        let (_, fresh) = self.fresh_emission(now, emission_start)?;
        let increment = self.increment_for(fresh)?;
        Ok(self
            .acc_reward_per_gpu
            .checked_add(increment)
            .ok_or(IogridError::MathOverflow)?)
    }

    /// Folds emission up to `now` into the accumulator. Must run before any
    /// change to `gpus_online` so past emission is split by past weight.
    /// Emission released while no GPU is online is set aside as unallocated.
    /// (Each update rounds the per-GPU increment down; listings settle with
    /// their own rounding, so the sub-unit dust is not tracked per update.)
    pub fn update(&mut self, now: i64, emission_start: i64) -> Result<()> {
        if now <= self.last_update {
            return Ok(());
        }
        let (accounted, fresh) = self.fresh_emission(now, emission_start)?;
        if self.gpus_online == 0 {
            self.unallocated = self
                .unallocated
                .checked_add(fresh)
                .ok_or(IogridError::MathOverflow)?;
        }
        let increment = self.increment_for(fresh)?;
        self.acc_reward_per_gpu = self
            .acc_reward_per_gpu
            .checked_add(increment)
            .ok_or(IogridError::MathOverflow)?;
        self.accounted = accounted;
        self.last_update = now;
        Ok(())
    }

    pub fn add_gpus(&mut self, gpus: u16) -> Result<()> {
        self.gpus_online = self
            .gpus_online
            .checked_add(u64::from(gpus))
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    pub fn remove_gpus(&mut self, gpus: u16) -> Result<()> {
        self.gpus_online = self
            .gpus_online
            .checked_sub(u64::from(gpus))
            .ok_or(IogridError::InvariantViolated)?;
        Ok(())
    }
}

/// The network: `["config"]`. Authority of the IO mint and pooled vaults.
#[account]
pub struct Config {
    /// Who may change parameters: the bootstrap authority until it hands over
    /// to governance, then the governance PDA forever.
    pub authority: Address,
    pub io_mint: Address,
    /// Holds the 500,000,000 IO genesis allocation.
    pub distribution: Address,
    pub treasury: Address,
    pub rewards_vault: Address,
    pub stake_vault: Address,
    /// Resolves job disputes.
    pub arbiter: Address,
    /// Keepers allowed to assign jobs; the first `keeper_count` are live.
    pub keepers: [Address; MAX_KEEPERS],
    /// Never more IO than this exists (800,000,000 IO).
    pub supply_cap: u64,
    /// IO minted by `initialize`.
    pub genesis_supply: u64,
    /// IO minted by emission so far; `genesis_supply + emitted ≤ supply_cap`.
    pub emitted: u64,
    /// Unix time emission month 0 starts.
    pub emission_start: i64,
    /// Unix time of the last emission mint.
    pub last_emission: i64,
    /// Active stake of every staker (not unbonding): governance's turnout base.
    pub total_staked: u64,
    /// IO burned from job payments (supply = genesis + emitted − burned).
    pub burned: u64,
    /// IO the treasury vault must hold: fees and slash shares in, spends out.
    pub treasury_balance: u64,
    /// Proposals created so far; the next proposal's id.
    pub proposal_count: u64,
    pub rewards: RewardPool,
    pub params: NetworkParams,
    pub keeper_count: u8,
    pub paused: u8,
    pub bump: u8,
    pub version: u8,
    pub _reserved: [u8; 164],
}

const _: () = assert!(core::mem::size_of::<Config>() == 832);

impl Config {
    /// Settles `listing`'s rewards up to `now` (credited if its worker kept
    /// heartbeating, forfeited if not) and folds everything it has forfeited
    /// so far, here or in heartbeats (which cannot write Config), into the
    /// unallocated emission `sweep_rewards` sends to the treasury. Returns
    /// this settlement's `(credited, forfeited)`.
    pub fn settle_listing(&mut self, listing: &mut GpuListing, now: i64) -> Result<(u64, u64)> {
        self.rewards.update(now, self.emission_start)?;
        let settled = listing.settle(
            self.rewards.acc_reward_per_gpu,
            now,
            self.params.heartbeat_timeout_secs,
        )?;
        self.fold_forfeits(listing)?;
        Ok(settled)
    }

    /// Moves what `listing` forfeited and Config has not counted yet into
    /// the unallocated emission. Returns the amount.
    pub fn fold_forfeits(&mut self, listing: &mut GpuListing) -> Result<u64> {
        let amount = listing.take_unfolded_forfeits()?;
        self.rewards.unallocated = self
            .rewards
            .unallocated
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        Ok(amount)
    }

    /// Hands out the unallocated emission for the treasury.
    pub fn take_unallocated(&mut self) -> u64 {
        core::mem::take(&mut self.rewards.unallocated)
    }

    pub fn is_keeper(&self, key: &Address) -> bool {
        self.keepers[..usize::from(self.keeper_count)].contains(key)
    }

    /// Total IO that exists or ever existed through this program's mints.
    pub fn minted(&self) -> Result<u64> {
        self.genesis_supply
            .checked_add(self.emitted)
            .ok_or_else(|| IogridError::MathOverflow.into())
    }

    /// Emission released by the schedule at `now` and not yet minted.
    pub fn mintable_emission(&self, now: i64) -> Result<u64> {
        let elapsed = now
            .checked_sub(self.emission_start)
            .ok_or(IogridError::MathOverflow)?;
        let due = emission::emitted_by(elapsed)?;
        Ok(due.saturating_sub(self.emitted))
    }

    /// Records `amount` of new emission, refusing anything past the cap.
    pub fn record_emission(&mut self, amount: u64, now: i64) -> Result<()> {
        let emitted = self
            .emitted
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        let minted = self
            .genesis_supply
            .checked_add(emitted)
            .ok_or(IogridError::MathOverflow)?;
        if minted > self.supply_cap || emitted > EMISSION_SUPPLY {
            return Err(IogridError::SupplyCapExceeded.into());
        }
        self.emitted = emitted;
        self.last_emission = now;
        Ok(())
    }

    pub fn record_burn(&mut self, amount: u64) -> Result<()> {
        self.burned = self
            .burned
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    pub fn record_treasury_income(&mut self, amount: u64) -> Result<()> {
        self.treasury_balance = self
            .treasury_balance
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    pub fn require_not_paused(&self) -> Result<()> {
        if self.paused != 0 {
            return Err(IogridError::Paused.into());
        }
        Ok(())
    }

    pub fn add_stake(&mut self, amount: u64) -> Result<()> {
        self.total_staked = self
            .total_staked
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    pub fn remove_stake(&mut self, amount: u64) -> Result<()> {
        self.total_staked = self
            .total_staked
            .checked_sub(amount)
            .ok_or(IogridError::InvariantViolated)?;
        Ok(())
    }

    /// The cap and the schedule's bookkeeping hold together.
    pub fn invariant(&self) -> Result<()> {
        self.params.validate()?;
        let minted = self.minted()?;
        let rewards = &self.rewards;
        let paid_or_set_aside = rewards
            .claimed
            .checked_add(rewards.unallocated)
            .ok_or(IogridError::MathOverflow)?;
        if self.supply_cap != SUPPLY_CAP
            || minted > self.supply_cap
            || self.emitted > EMISSION_SUPPLY
            || rewards.accounted > EMISSION_SUPPLY
            || paid_or_set_aside > rewards.accounted.max(self.emitted)
            || rewards.claimed > self.emitted
            || self.burned > minted
            || usize::from(self.keeper_count) > MAX_KEEPERS
            || self.paused > 1
            || self.last_emission < self.emission_start
        {
            return Err(IogridError::InvariantViolated.into());
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use {super::*, bytemuck::Zeroable};

    #[test]
    fn emission_with_nobody_online_is_set_aside() {
        let mut pool = RewardPool::zeroed();
        pool.update(3_600, 0).unwrap();
        let released = emission::emitted_by(3_600).unwrap();
        assert_eq!(
            (pool.accounted, pool.unallocated, pool.acc_reward_per_gpu),
            (released, released, 0)
        );
    }

    #[test]
    fn emission_is_spread_per_gpu_online() {
        let mut pool = RewardPool::zeroed();
        pool.add_gpus(4).unwrap();
        pool.update(60, 0).unwrap();
        let released = emission::emitted_by(60).unwrap();
        assert_eq!(pool.acc_reward_per_gpu, released * REWARD_PRECISION / 4);
        assert_eq!(pool.unallocated, 0);
        // The read-only view agrees with what an update stores.
        let ahead = pool.accumulator_at(120, 0).unwrap();
        pool.update(120, 0).unwrap();
        assert_eq!(ahead, pool.acc_reward_per_gpu);
    }

    #[test]
    fn updates_in_the_same_second_change_nothing() {
        let mut pool = RewardPool::zeroed();
        pool.add_gpus(1).unwrap();
        pool.update(500, 0).unwrap();
        let before = pool;
        pool.update(500, 0).unwrap();
        assert_eq!(pool, before);
        assert_eq!(
            pool.accumulator_at(500, 0).unwrap(),
            before.acc_reward_per_gpu
        );
    }

    #[test]
    fn removing_more_gpus_than_online_is_an_invariant_error() {
        let mut pool = RewardPool::zeroed();
        pool.add_gpus(2).unwrap();
        assert_eq!(
            pool.remove_gpus(3),
            Err(IogridError::InvariantViolated.into())
        );
    }
}
