//! CPIs into the BPF upgradeable loader: moving the program's upgrade
//! authority to governance at the handover, and upgrading the program from a
//! buffer when an `UpgradeProgram` proposal executes. Instructions are the
//! loader's bincode enum: a little-endian `u32` tag and no payload.

use {
    crate::{
        constants::{BPF_LOADER_UPGRADEABLE_ID, PROGRAM_DATA_ADDRESS},
        errors::IogridError,
    },
    anchor_lang::prelude::*,
    pinocchio::{
        cpi::{invoke_signed_unchecked, CpiAccount, Signer},
        instruction::{InstructionAccount, InstructionView},
    },
};

const IX_UPGRADE: [u8; 4] = [3, 0, 0, 0];
const IX_SET_AUTHORITY: [u8; 4] = [4, 0, 0, 0];

pub fn require_program_data(view: &AccountView) -> Result<()> {
    if *view.address() != PROGRAM_DATA_ADDRESS {
        return Err(IogridError::InvalidProgramData.into());
    }
    Ok(())
}

/// `SetAuthority` on the program's ProgramData: `current` (a signer of this
/// transaction) hands the upgrade authority to `new`.
pub fn set_upgrade_authority(
    program_data: &AccountView,
    current: &AccountView,
    new: &AccountView,
) -> Result<()> {
    let metas = [
        InstructionAccount::writable(program_data.address()),
        InstructionAccount::readonly_signer(current.address()),
        InstructionAccount::readonly(new.address()),
    ];
    let accounts = [
        CpiAccount::from(program_data),
        CpiAccount::from(current),
        CpiAccount::from(new),
    ];
    let instruction = InstructionView {
        program_id: &BPF_LOADER_UPGRADEABLE_ID,
        accounts: &metas,
        data: &IX_SET_AUTHORITY,
    };
    // SAFETY: no reference into these accounts' data is live across the call.
    unsafe { invoke_signed_unchecked(&instruction, &accounts, &[]) };
    Ok(())
}

/// The accounts the loader's `Upgrade` takes, in its order.
pub struct UpgradeAccounts<'a> {
    pub program_data: &'a AccountView,
    pub program: &'a AccountView,
    pub buffer: &'a AccountView,
    /// Receives the buffer's lamports.
    pub spill: &'a AccountView,
    pub rent: &'a AccountView,
    pub clock: &'a AccountView,
    /// The upgrade authority: the governance PDA, signing through `signer`.
    pub authority: &'a AccountView,
}

/// `Upgrade`: replaces the program with the buffer's bytes.
pub fn upgrade(accounts: &UpgradeAccounts, signer: &[Signer]) -> Result<()> {
    let metas = [
        InstructionAccount::writable(accounts.program_data.address()),
        InstructionAccount::writable(accounts.program.address()),
        InstructionAccount::writable(accounts.buffer.address()),
        InstructionAccount::writable(accounts.spill.address()),
        InstructionAccount::readonly(accounts.rent.address()),
        InstructionAccount::readonly(accounts.clock.address()),
        InstructionAccount::readonly_signer(accounts.authority.address()),
    ];
    let views = [
        CpiAccount::from(accounts.program_data),
        CpiAccount::from(accounts.program),
        CpiAccount::from(accounts.buffer),
        CpiAccount::from(accounts.spill),
        CpiAccount::from(accounts.rent),
        CpiAccount::from(accounts.clock),
        CpiAccount::from(accounts.authority),
    ];
    let instruction = InstructionView {
        program_id: &BPF_LOADER_UPGRADEABLE_ID,
        accounts: &metas,
        data: &IX_UPGRADE,
    };
    // SAFETY: no reference into these accounts' data is live across the call.
    unsafe { invoke_signed_unchecked(&instruction, &views, signer) };
    Ok(())
}
