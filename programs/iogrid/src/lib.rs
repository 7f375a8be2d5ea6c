//! iogrid: a decentralized GPU compute marketplace.
//!
//! This file only dispatches; each instruction lives in `instructions/`.
#![cfg_attr(not(test), no_std)]
#![deny(clippy::arithmetic_side_effects)]

extern crate alloc;

use anchor_lang::prelude::*;

pub mod constants;
pub mod errors;
pub mod events;
pub mod instructions;
pub mod math;
pub mod spl;
pub mod state;

use instructions::*;
use state::NetworkParams;

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
