//! One event per state-changing instruction, emitted once at its end, carrying
//! enough (key accounts, before/after amounts) for an indexer to rebuild state
//! from events alone.
//!
//! Events are fixed-size (`#[event(bytemuck)]`) and logged with
//! [`emit_event`], which assembles them on the stack instead of in a `Vec`
//! (Vec growth cannot link on this target). The log line is the same single
//! `Program data: base64(discriminator ‖ bytes)` entry Anchor's `emit!`
//! writes, so standard Anchor event parsers read it.

use anchor_lang::{prelude::*, Discriminator};

/// Largest event body; checked per event type at compile time.
const MAX_EVENT_BODY: usize = 248;

/// Logs `event` as `Program data: base64(discriminator ‖ bytes)`.
#[inline(always)]
pub fn emit_event<E: Discriminator + bytemuck::Pod>(event: &E) {
    const { assert!(core::mem::size_of::<E>() <= MAX_EVENT_BODY) };
    let body = bytemuck::bytes_of(event);
    let mut buffer = [0u8; 8 + MAX_EVENT_BODY];
    buffer[..8].copy_from_slice(E::DISCRIMINATOR);
    let end = 8usize.saturating_add(body.len());
    buffer[8..end].copy_from_slice(body);
    anchor_lang::sol_log_data(&[&buffer[..end]]);
}

#[event(bytemuck)]
pub struct NetworkInitialized {
    pub authority: Address,
    pub io_mint: Address,
    pub distribution: Address,
    pub genesis_supply: u64,
    pub supply_cap: u64,
    pub emission_start: i64,
}

#[event(bytemuck)]
pub struct Staked {
    pub owner: Address,
    pub amount: u64,
    pub staked_after: u64,
    pub total_staked_after: u64,
}

#[event(bytemuck)]
pub struct UnstakeRequested {
    pub owner: Address,
    pub amount: u64,
    pub unbonding_after: u64,
    pub available_at: i64,
    pub staked_after: u64,
}

#[event(bytemuck)]
pub struct UnstakeCancelled {
    pub owner: Address,
    pub amount: u64,
    pub staked_after: u64,
}

#[event(bytemuck)]
pub struct Withdrawn {
    pub owner: Address,
    pub destination: Address,
    pub amount: u64,
}

#[event(bytemuck)]
pub struct GpuListed {
    pub owner: Address,
    pub listing: Address,
    pub worker: Address,
    pub id: u64,
    pub price_per_gpu_hour: u64,
    pub stake_locked: u64,
    pub gpus_online_after: u64,
    pub gpu_count: u16,
    pub vram_gb: u16,
    pub _padding: [u8; 4],
}

#[event(bytemuck)]
pub struct ListingUpdated {
    pub listing: Address,
    pub worker: Address,
    pub price_per_gpu_hour: u64,
    pub gpus_online_after: u64,
    pub status: u8,
    pub _padding: [u8; 7],
}

#[event(bytemuck)]
pub struct GpuDelisted {
    pub owner: Address,
    pub listing: Address,
    pub stake_unlocked: u64,
    pub rewards_paid: u64,
    pub rewards_forfeited: u64,
    pub gpus_online_after: u64,
}

#[event(bytemuck)]
pub struct RewardsClaimed {
    pub listing: Address,
    pub destination: Address,
    pub amount: u64,
    pub claimed_total: u64,
}

#[event(bytemuck)]
pub struct HeartbeatRecorded {
    pub listing: Address,
    pub at: i64,
    pub credited: u64,
    pub forfeited: u64,
}

#[event(bytemuck)]
pub struct EmissionMinted {
    pub amount: u64,
    pub emitted_after: u64,
    pub at: i64,
}

/// Unclaimable emission moved from the rewards vault to the treasury.
#[event(bytemuck)]
pub struct RewardsSwept {
    pub amount: u64,
    /// Part of `amount` counted from the listings passed in this sweep.
    pub folded_from_listings: u64,
    pub treasury_after: u64,
    pub at: i64,
}

#[event(bytemuck)]
pub struct ListingMarkedOffline {
    pub listing: Address,
    pub last_heartbeat: i64,
    pub forfeited: u64,
    pub gpus_online_after: u64,
}

#[event(bytemuck)]
pub struct JobCreated {
    pub job: Address,
    pub owner: Address,
    pub id: u64,
    pub deposit: u64,
    pub max_price_per_gpu_hour: u64,
    pub duration_secs: u64,
    pub gpus: u16,
    pub min_vram_gb: u16,
    pub _padding: [u8; 4],
}

#[event(bytemuck)]
pub struct JobAssigned {
    pub job: Address,
    pub assigner: Address,
    pub started_at: i64,
    pub gpus_assigned_after: u16,
    pub listings: u16,
    pub _padding: [u8; 4],
}

/// Carries the proven assignment whole (which also puts the job account's
/// `Assignment` tail layout into the IDL).
#[event(bytemuck)]
pub struct ProofAccepted {
    pub job: Address,
    pub assignment: crate::state::Assignment,
    pub fully_proven: u8,
    pub _padding: [u8; 7],
}

#[event(bytemuck)]
pub struct JobStatusChanged {
    pub job: Address,
    pub at: i64,
    pub status: u8,
    pub _padding: [u8; 1],
    pub award_bps: u16,
    pub _padding2: [u8; 4],
}

#[event(bytemuck)]
pub struct JobToppedUp {
    pub job: Address,
    pub amount: u64,
    pub deposit_after: u64,
    pub duration_secs_after: u64,
    pub gpus_after: u16,
    pub _padding: [u8; 6],
}

#[event(bytemuck)]
pub struct FaultReported {
    pub job: Address,
    pub listing: Address,
    pub last_heartbeat: i64,
    pub gpu_seconds_paid: u64,
    pub slashed: u64,
    pub compensation: u64,
}

#[event(bytemuck)]
pub struct JobPayment {
    pub job: Address,
    pub listing: Address,
    pub payee: Address,
    pub gross: u64,
    pub net: u64,
    pub fee: u64,
    pub burned: u64,
}

#[event(bytemuck)]
pub struct JobClosed {
    pub job: Address,
    pub deposit: u64,
    pub compensation: u64,
    pub paid_out: u64,
    pub refund: u64,
    /// 0 settled, 1 expired, 2 cancelled.
    pub outcome: u8,
    pub _padding: [u8; 7],
}

#[event(bytemuck)]
pub struct KeepersSet {
    pub authority: Address,
    pub count: u8,
    pub _padding: [u8; 7],
}

#[event(bytemuck)]
pub struct ProposalCreated {
    pub proposal: Address,
    pub proposer: Address,
    pub id: u64,
    pub voting_ends_at: i64,
    pub turnout_base: u64,
    pub kind: u8,
    pub _padding: [u8; 7],
}

#[event(bytemuck)]
pub struct VoteChanged {
    pub proposal: Address,
    pub voter: Address,
    /// Positive when cast, negative when withdrawn.
    pub weight_change: i64,
    pub yes: u64,
    pub no: u64,
    pub abstain: u64,
    pub choice: u8,
    pub _padding: [u8; 7],
}

#[event(bytemuck)]
pub struct ProposalStatusChanged {
    pub proposal: Address,
    pub at: i64,
    pub executable_at: i64,
    pub status: u8,
    pub _padding: [u8; 7],
}

#[event(bytemuck)]
pub struct AuthorityTransferred {
    pub previous: Address,
    pub governance: Address,
}

#[event(bytemuck)]
pub struct CreditOpened {
    pub credit: Address,
    pub owner: Address,
    pub gateway: Address,
    pub escrow: Address,
    pub max_price_per_mtok: u64,
}

#[event(bytemuck)]
pub struct CreditDeposited {
    pub credit: Address,
    pub amount: u64,
    pub balance_after: u64,
}

#[event(bytemuck)]
pub struct CreditWithdrawalRequested {
    pub credit: Address,
    pub amount: u64,
    pub available_at: i64,
    pub balance: u64,
}

#[event(bytemuck)]
pub struct CreditWithdrawn {
    pub credit: Address,
    pub destination: Address,
    /// What was paid: the request, or the balance left if less.
    pub amount: u64,
    pub requested: u64,
    pub balance_after: u64,
}

/// One settled usage receipt: `charge == net + fee + burned`, out of the
/// credit's balance.
#[event(bytemuck)]
pub struct UsageSettled {
    pub credit: Address,
    pub listing: Address,
    pub payee: Address,
    pub seq: u64,
    pub tokens: u64,
    pub price_per_mtok: u64,
    pub charge: u64,
    pub net: u64,
    pub fee: u64,
    pub burned: u64,
    pub balance_after: u64,
    pub spent_after: u64,
}

#[event(bytemuck)]
pub struct CreditClosed {
    pub credit: Address,
    pub owner: Address,
    pub spent: u64,
    /// IO found in the escrow beyond the balance (sent to it by someone
    /// else), returned to the owner before the escrow closed.
    pub swept: u64,
}
