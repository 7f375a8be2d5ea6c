//! One file per instruction, grouped by who calls it.

pub mod admin;
pub mod arbiter;
pub mod bench;
pub mod crank;
pub(crate) mod escrow;
pub mod gateway;
pub mod governance;
pub mod keeper;
pub(crate) mod rewards;
pub mod staker;
pub mod supplier;
pub mod user;
pub mod worker;

pub use {
    admin::*, arbiter::*, bench::*, crank::*, gateway::*, governance::*, keeper::*, staker::*,
    supplier::*, user::*, worker::*,
};

use {
    crate::constants::SEED_CONFIG,
    pinocchio::cpi::{Seed, Signer as PdaSigner},
};

/// Runs `f` with Config's PDA signature: Config is the authority of the IO
/// mint and of the stake, rewards and treasury vaults.
pub(crate) fn with_config_signer<R>(bump: u8, f: impl FnOnce(&[PdaSigner]) -> R) -> R {
    let bump = [bump];
    let seeds = [Seed::from(SEED_CONFIG), Seed::from(&bump)];
    f(&[PdaSigner::from(&seeds)])
}
