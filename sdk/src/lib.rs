//! The one Rust client of the iogrid program, shared by the keeper, the CLI,
//! the worker and the tests: program id, PDA derivation, instruction
//! builders, account / event decoding and program-error decoding. It is the
//! only place off-chain that knows seeds and byte layouts; `tests/idl.rs`
//! checks every layout and discriminator here against the program's IDL.

pub mod accounts;
pub mod constants;
pub mod emission;
pub mod errors;
pub mod events;
pub mod gateway;
pub mod inference;
pub mod instructions;
pub mod loader;
pub mod pda;
pub mod proof;
#[cfg(feature = "rpc")]
pub mod rpc;
#[cfg(feature = "rpc")]
pub mod send;
pub mod token;
pub mod workload;

/// The rules the program enforces (assignment, payment, proof statement).
pub use iogrid_rules as rules;
pub use solana_address::Address;

/// The iogrid program id (`declare_id!` in `programs/iogrid/src/lib.rs`).
pub const PROGRAM_ID: Address =
    Address::from_str_const("56uC97afJv9SQFUK7jkUFVDJjSEnY6mQbo2VE7tF3yvi");

/// The SPL Token program, which holds every IO balance.
pub const TOKEN_PROGRAM_ID: Address =
    Address::from_str_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");

pub use solana_sdk_ids::{
    bpf_loader_upgradeable::ID as BPF_LOADER_UPGRADEABLE_ID,
    ed25519_program::ID as ED25519_PROGRAM_ID, system_program::ID as SYSTEM_PROGRAM_ID,
    sysvar::clock::ID as CLOCK_SYSVAR_ID, sysvar::instructions::ID as INSTRUCTIONS_SYSVAR_ID,
    sysvar::rent::ID as RENT_SYSVAR_ID,
};
