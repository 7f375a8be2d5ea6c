//! Program account layouts, decoded from raw account data. Each mirrors a
//! `#[account]` struct in `programs/iogrid/src/state/` byte for byte.

use {
    crate::{constants::MAX_KEEPERS, Address},
    borsh::{BorshDeserialize, BorshSerialize},
    bytemuck::{Pod, Zeroable},
    serde::Serialize,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("account data is {actual} bytes, {name} needs at least {expected}")]
    TooShort {
        name: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("account is not a {name} (discriminator mismatch)")]
    WrongDiscriminator { name: &'static str },
}

/// A program account: an 8-byte discriminator, then the Pod fields.
pub trait ProgramAccount: Pod {
    const NAME: &'static str;
    /// `sha256("account:<Name>")[..8]`.
    const DISCRIMINATOR: [u8; 8];
    /// Data length of a freshly created account.
    const SPACE: usize = 8 + core::mem::size_of::<Self>();

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if data.len() < Self::SPACE {
            return Err(DecodeError::TooShort {
                name: Self::NAME,
                expected: Self::SPACE,
                actual: data.len(),
            });
        }
        if data[..8] != Self::DISCRIMINATOR {
            return Err(DecodeError::WrongDiscriminator { name: Self::NAME });
        }
        Ok(bytemuck::pod_read_unaligned(&data[8..Self::SPACE]))
    }
}

/// Every governable network parameter (`state::NetworkParams`). Also the
/// borsh-encoded argument of `initialize`: no padding, so both encodings agree.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable, BorshSerialize, BorshDeserialize, Serialize,
)]
pub struct NetworkParams {
    pub min_stake_per_gpu: u64,
    pub proposal_min_stake: u64,
    pub unbonding_secs: u32,
    pub heartbeat_interval_secs: u32,
    pub heartbeat_timeout_secs: u32,
    pub challenge_window_secs: u32,
    pub job_grace_secs: u32,
    pub voting_secs: u32,
    pub timelock_secs: u32,
    pub fee_bps: u16,
    pub burn_bps: u16,
    pub slash_bps: u16,
    pub slash_cap_bps: u16,
    pub quorum_bps: u16,
    pub threshold_bps: u16,
}

impl Default for NetworkParams {
    /// Launch parameters: 100 IO stake per GPU, 1-minute heartbeats, a one-day
    /// challenge window, 2.5% fee, 0.5% burn, 10% slash capped at 50%.
    fn default() -> Self {
        use crate::constants::IO;
        Self {
            min_stake_per_gpu: 100 * IO,
            proposal_min_stake: 10_000 * IO,
            unbonding_secs: 7 * 86_400,
            heartbeat_interval_secs: 60,
            heartbeat_timeout_secs: 300,
            challenge_window_secs: 86_400,
            job_grace_secs: 3_600,
            voting_secs: 3 * 86_400,
            timelock_secs: 86_400,
            fee_bps: 250,
            burn_bps: 50,
            slash_bps: 1_000,
            slash_cap_bps: 5_000,
            quorum_bps: 1_000,
            threshold_bps: 6_000,
        }
    }
}

/// The network (`state::Config`), PDA `["config"]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Config {
    pub authority: Address,
    pub io_mint: Address,
    pub distribution: Address,
    pub treasury: Address,
    pub rewards_vault: Address,
    pub stake_vault: Address,
    pub arbiter: Address,
    pub keepers: [Address; MAX_KEEPERS],
    pub supply_cap: u64,
    pub genesis_supply: u64,
    pub emitted: u64,
    pub emission_start: i64,
    pub last_emission: i64,
    pub params: NetworkParams,
    pub keeper_count: u8,
    pub paused: u8,
    pub bump: u8,
    pub version: u8,
    pub reserved: [u8; 252],
}

impl ProgramAccount for Config {
    const NAME: &'static str = "Config";
    const DISCRIMINATOR: [u8; 8] = [155, 12, 170, 224, 30, 250, 204, 130];
}

impl Config {
    /// The registered keepers.
    pub fn active_keepers(&self) -> &[Address] {
        &self.keepers[..usize::from(self.keeper_count).min(MAX_KEEPERS)]
    }

    pub fn is_paused(&self) -> bool {
        self.paused != 0
    }
}
