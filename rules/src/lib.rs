//! The rules of the iogrid marketplace that more than one party evaluates:
//! the program enforces them, the sdk and the keeper predict them. Each
//! exists here once, so an off-chain matcher or a worker can never drift
//! from what the program accepts.
//!
//! - [`math`]: checked 64-bit money math with exact 128-bit intermediates,
//!   built for the BPF target (no `u128` division there).
//! - [`pay`]: escrow and payment amounts, and the fee / burn split.
//! - [`assign`]: which listing may serve (part of) a job, and when a
//!   listing or an assignment counts as silent.
//! - [`proof`]: the statement a worker signs to prove its assignment.
//! - [`usage`]: the receipt a worker signs for paid inference it served,
//!   and its charge.
//!
//! `no_std` and without dependencies: addresses are `[u8; 32]`, errors are
//! this crate's, and each user maps them to its own.

#![no_std]
#![deny(clippy::arithmetic_side_effects)]

pub mod assign;
pub mod math;
pub mod pay;
pub mod proof;
pub mod usage;

/// Basis points in a whole.
pub const BPS_DENOMINATOR: u64 = 10_000;
/// Prices are per GPU-hour; time is counted in seconds.
pub const SECS_PER_HOUR: u64 = 3_600;
