//! Instruction builders. Each `…Accounts` struct lists the accounts in the
//! order of the program's `#[derive(Accounts)]` struct, with PDAs filled in by
//! `new`; its fields are public so a caller (or an attack test) can substitute
//! any of them before building the instruction.

use {
    crate::{
        accounts::NetworkParams, pda, Address, BPF_LOADER_UPGRADEABLE_ID, PROGRAM_ID,
        SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID,
    },
    borsh::BorshSerialize,
    solana_instruction::{AccountMeta, Instruction},
};

/// Instruction discriminators: `sha256("global:<name>")[..8]`.
pub mod discriminator {
    pub const INITIALIZE: [u8; 8] = [175, 175, 109, 31, 13, 152, 155, 237];
}

/// Every instruction's name with its discriminator, for the IDL check.
pub const ALL_DISCRIMINATORS: &[(&str, [u8; 8])] = &[("initialize", discriminator::INITIALIZE)];

fn data_of(discriminator: [u8; 8], args: &impl BorshSerialize) -> Vec<u8> {
    let mut data = discriminator.to_vec();
    args.serialize(&mut data)
        .expect("writing to a Vec cannot fail");
    data
}

/// `initialize` accounts; `new` derives every PDA.
#[derive(Clone, Debug)]
pub struct InitializeAccounts {
    pub authority: Address,
    pub config: Address,
    pub io_mint: Address,
    pub distribution_owner: Address,
    pub distribution: Address,
    pub treasury: Address,
    pub rewards_vault: Address,
    pub stake_vault: Address,
    pub program: Address,
    pub program_data: Address,
    pub token_program: Address,
    pub system_program: Address,
}

impl InitializeAccounts {
    pub fn new(authority: Address, distribution_owner: Address) -> Self {
        Self {
            authority,
            config: pda::config().0,
            io_mint: pda::io_mint().0,
            distribution_owner,
            distribution: pda::distribution().0,
            treasury: pda::treasury().0,
            rewards_vault: pda::rewards_vault().0,
            stake_vault: pda::stake_vault().0,
            program: PROGRAM_ID,
            program_data: pda::program_data(),
            token_program: TOKEN_PROGRAM_ID,
            system_program: SYSTEM_PROGRAM_ID,
        }
    }

    /// The accounts in program order, named as in the IDL.
    pub fn named_metas(&self) -> Vec<(&'static str, AccountMeta)> {
        vec![
            ("authority", AccountMeta::new(self.authority, true)),
            ("config", AccountMeta::new(self.config, false)),
            ("io_mint", AccountMeta::new(self.io_mint, false)),
            (
                "distribution_owner",
                AccountMeta::new_readonly(self.distribution_owner, false),
            ),
            ("distribution", AccountMeta::new(self.distribution, false)),
            ("treasury", AccountMeta::new(self.treasury, false)),
            ("rewards_vault", AccountMeta::new(self.rewards_vault, false)),
            ("stake_vault", AccountMeta::new(self.stake_vault, false)),
            ("program", AccountMeta::new_readonly(self.program, false)),
            (
                "program_data",
                AccountMeta::new_readonly(self.program_data, false),
            ),
            (
                "token_program",
                AccountMeta::new_readonly(self.token_program, false),
            ),
            (
                "system_program",
                AccountMeta::new_readonly(self.system_program, false),
            ),
        ]
    }

    pub fn metas(&self) -> Vec<AccountMeta> {
        self.named_metas()
            .into_iter()
            .map(|(_, meta)| meta)
            .collect()
    }

    /// Bootstraps the network with `params`; `arbiter` resolves disputes.
    pub fn instruction(&self, params: &NetworkParams, arbiter: &Address) -> Instruction {
        Instruction {
            program_id: PROGRAM_ID,
            accounts: self.metas(),
            data: data_of(discriminator::INITIALIZE, &(params, arbiter)),
        }
    }
}

/// The loader that owns the program and its ProgramData.
pub const LOADER: Address = BPF_LOADER_UPGRADEABLE_ID;
