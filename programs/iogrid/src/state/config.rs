use {
    crate::{constants::*, errors::IogridError},
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

// SAFETY: repr(C), fields ordered by alignment, 56 bytes without padding
// (asserted below), every bit pattern is a valid value.
unsafe impl bytemuck::Pod for NetworkParams {}
unsafe impl bytemuck::Zeroable for NetworkParams {}
const _: () = assert!(core::mem::size_of::<NetworkParams>() == 56);

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
    /// Unix time of the last emission crank.
    pub last_emission: i64,
    pub params: NetworkParams,
    pub keeper_count: u8,
    pub paused: u8,
    pub bump: u8,
    pub version: u8,
    pub _reserved: [u8; 252],
}

const _: () = assert!(core::mem::size_of::<Config>() == 832);

impl Config {
    /// Data length: 8-byte discriminator + the fields.
    pub const SPACE: usize = 8 + core::mem::size_of::<Config>();

    pub fn is_keeper(&self, key: &Address) -> bool {
        self.keepers[..usize::from(self.keeper_count)].contains(key)
    }

    /// Total IO that exists or ever existed through this program's mints.
    pub fn minted(&self) -> Result<u64> {
        self.genesis_supply
            .checked_add(self.emitted)
            .ok_or_else(|| IogridError::MathOverflow.into())
    }

    /// The cap and the schedule's bookkeeping hold together.
    pub fn invariant(&self) -> Result<()> {
        self.params.validate()?;
        let minted = self.minted()?;
        if self.supply_cap != SUPPLY_CAP
            || minted > self.supply_cap
            || usize::from(self.keeper_count) > MAX_KEEPERS
            || self.paused > 1
            || self.last_emission < self.emission_start
        {
            return Err(IogridError::InvariantViolated.into());
        }
        Ok(())
    }
}
