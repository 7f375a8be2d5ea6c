//! iogrid: a decentralized GPU compute marketplace.
//!
//! This file only dispatches; each instruction lives in `instructions/`.
#![cfg_attr(not(test), no_std)]
#![deny(clippy::arithmetic_side_effects)]

extern crate alloc;

use anchor_lang::prelude::*;

pub mod constants;
pub mod emission;
pub mod errors;
pub mod events;
pub mod instructions;
pub mod math;
pub mod spl;
pub mod state;

use instructions::*;
use state::{GpuSpec, NetworkParams};

declare_id!("56uC97afJv9SQFUK7jkUFVDJjSEnY6mQbo2VE7tF3yvi");

#[cfg(all(target_os = "solana", not(feature = "no-entrypoint")))]
pinocchio::nostd_panic_handler!();

#[program]
pub mod iogrid {
    use super::*;

    /// Bootstraps the network: Config, the IO mint, the vaults and the
    /// 500,000,000 IO genesis. Only the program's upgrade authority may call it.
    #[access_control(ctx.accounts.validate())]
    pub fn initialize(
        ctx: &mut Context<Initialize>,
        params: NetworkParams,
        arbiter: Address,
    ) -> Result<()> {
        let bump = ctx.bumps.config;
        ctx.accounts.initialize(&params, &arbiter, bump)
    }

    /// Stakes IO into the shared stake vault (creates the StakeAccount).
    pub fn stake(ctx: &mut Context<Stake>, amount: u64) -> Result<()> {
        let bump = ctx.bumps.stake_account;
        ctx.accounts.stake(amount, bump)
    }

    /// Starts unbonding stake that no listing or vote locks.
    pub fn request_unstake(ctx: &mut Context<RequestUnstake>, amount: u64) -> Result<()> {
        ctx.accounts.request_unstake(amount)
    }

    /// Pays out unbonded stake after the cooldown.
    pub fn withdraw(ctx: &mut Context<Withdraw>) -> Result<()> {
        ctx.accounts.withdraw()
    }

    /// Returns unbonding stake to active stake.
    pub fn cancel_unstake(ctx: &mut Context<CancelUnstake>) -> Result<()> {
        ctx.accounts.cancel_unstake()
    }

    /// Lists GPUs, locking `min_stake_per_gpu` per GPU of the owner's stake.
    pub fn list_gpu(ctx: &mut Context<ListGpu>, spec: GpuSpec) -> Result<()> {
        let bump = ctx.bumps.listing;
        ctx.accounts.list_gpu(&spec, bump)
    }

    /// Changes price, worker key or online state, never harming a running job.
    pub fn update_listing(ctx: &mut Context<UpdateListing>, update: ListingUpdate) -> Result<()> {
        ctx.accounts.update_listing(&update)
    }

    /// Removes an idle listing: pays its rewards, unlocks its stake, closes it.
    pub fn delist(ctx: &mut Context<Delist>) -> Result<()> {
        ctx.accounts.delist()
    }

    /// Pays a listing's emission rewards to its owner.
    pub fn claim_rewards(ctx: &mut Context<ClaimRewards>) -> Result<()> {
        ctx.accounts.claim_rewards()
    }

    /// Worker liveness, signed by the listing's worker key.
    pub fn heartbeat(ctx: &mut Context<Heartbeat>) -> Result<()> {
        ctx.accounts.heartbeat()
    }

    /// Permissionless: mints released emission into the rewards vault.
    pub fn crank_emission(ctx: &mut Context<CrankEmission>) -> Result<()> {
        ctx.accounts.crank_emission()
    }

    /// Permissionless: takes a silent idle listing out of the reward pool.
    pub fn mark_offline(ctx: &mut Context<MarkOffline>) -> Result<()> {
        ctx.accounts.mark_offline()
    }

    /// Measurement only (`cu-bench` builds): runs a `math.rs` helper in a loop.
    #[cfg(feature = "cu-bench")]
    pub fn bench_math(
        _ctx: &mut Context<BenchMath>,
        op: u8,
        operands: [u64; 3],
        iterations: u16,
    ) -> Result<()> {
        instructions::bench::run(op, operands, iterations)
    }
}
