//! Instruction builders. Each `…Accounts` struct lists the accounts in the
//! order of the program's `#[derive(Accounts)]` struct; `new` fills in PDAs
//! and program ids; every field is public so a caller (or an attack test)
//! can substitute any of them before building the instruction.
//! `tests/tests/idl.rs` checks names, order, flags and seeds against the IDL.

use {
    crate::{
        accounts::{GpuSpec, NetworkParams},
        pda, Address, PROGRAM_ID, SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID,
    },
    borsh::{BorshDeserialize, BorshSerialize},
    solana_instruction::{AccountMeta, Instruction},
};

/// Instruction discriminators: `sha256("global:<name>")[..8]`.
pub mod discriminator {
    pub const INITIALIZE: [u8; 8] = [175, 175, 109, 31, 13, 152, 155, 237];
    pub const STAKE: [u8; 8] = [206, 176, 202, 18, 200, 209, 179, 108];
    pub const REQUEST_UNSTAKE: [u8; 8] = [44, 154, 110, 253, 160, 202, 54, 34];
    pub const WITHDRAW: [u8; 8] = [183, 18, 70, 156, 148, 109, 161, 34];
    pub const CANCEL_UNSTAKE: [u8; 8] = [64, 65, 53, 227, 125, 153, 3, 167];
    pub const LIST_GPU: [u8; 8] = [57, 37, 18, 216, 244, 8, 253, 15];
    pub const UPDATE_LISTING: [u8; 8] = [192, 174, 210, 68, 116, 40, 242, 253];
    pub const DELIST: [u8; 8] = [55, 136, 205, 107, 107, 173, 4, 31];
    pub const CLAIM_REWARDS: [u8; 8] = [4, 144, 132, 71, 116, 23, 151, 80];
    pub const HEARTBEAT: [u8; 8] = [202, 104, 56, 6, 240, 170, 63, 134];
    pub const CRANK_EMISSION: [u8; 8] = [212, 90, 75, 177, 18, 160, 104, 172];
    pub const MARK_OFFLINE: [u8; 8] = [85, 130, 91, 103, 48, 54, 152, 243];
}

/// Every instruction's name with its discriminator, for the IDL check.
pub const ALL_DISCRIMINATORS: &[(&str, [u8; 8])] = &[
    ("initialize", discriminator::INITIALIZE),
    ("stake", discriminator::STAKE),
    ("request_unstake", discriminator::REQUEST_UNSTAKE),
    ("withdraw", discriminator::WITHDRAW),
    ("cancel_unstake", discriminator::CANCEL_UNSTAKE),
    ("list_gpu", discriminator::LIST_GPU),
    ("update_listing", discriminator::UPDATE_LISTING),
    ("delist", discriminator::DELIST),
    ("claim_rewards", discriminator::CLAIM_REWARDS),
    ("heartbeat", discriminator::HEARTBEAT),
    ("crank_emission", discriminator::CRANK_EMISSION),
    ("mark_offline", discriminator::MARK_OFFLINE),
];

fn data_of(discriminator: [u8; 8], args: &impl BorshSerialize) -> Vec<u8> {
    let mut data = discriminator.to_vec();
    args.serialize(&mut data)
        .expect("writing to a Vec cannot fail");
    data
}

fn meta(address: Address, writable: bool, signer: bool) -> AccountMeta {
    AccountMeta {
        pubkey: address,
        is_writable: writable,
        is_signer: signer,
    }
}

/// Declares an accounts struct in program order. Each field is marked
/// `mut` (writable), `signer`, both or neither.
macro_rules! instruction_accounts {
    ($(#[$doc:meta])* $name:ident { $($field:ident: [$($flag:ident)*]),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            $(pub $field: Address,)*
        }

        impl $name {
            /// The accounts in program order, named as in the IDL.
            pub fn named_metas(&self) -> Vec<(&'static str, AccountMeta)> {
                vec![$((
                    stringify!($field),
                    meta(self.$field, flag!(mut; $($flag)*), flag!(signer; $($flag)*)),
                )),*]
            }

            pub fn metas(&self) -> Vec<AccountMeta> {
                self.named_metas().into_iter().map(|(_, meta)| meta).collect()
            }

            fn instruction_with(&self, data: Vec<u8>) -> Instruction {
                Instruction { program_id: PROGRAM_ID, accounts: self.metas(), data }
            }
        }
    };
}

macro_rules! flag {
    (mut; mut $($rest:ident)*) => { true };
    (signer; signer $($rest:ident)*) => { true };
    ($want:ident; $other:ident $($rest:ident)*) => { flag!($want; $($rest)*) };
    ($want:ident;) => { false };
}

instruction_accounts!(
    /// `initialize`: bootstraps the network (program upgrade authority only).
    InitializeAccounts {
        authority: [mut signer],
        config: [mut],
        io_mint: [mut],
        distribution_owner: [],
        distribution: [mut],
        treasury: [mut],
        rewards_vault: [mut],
        stake_vault: [mut],
        program: [],
        program_data: [],
        token_program: [],
        system_program: [],
    }
);

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

    /// Bootstraps the network with `params`; `arbiter` resolves disputes.
    pub fn instruction(&self, params: &NetworkParams, arbiter: &Address) -> Instruction {
        self.instruction_with(data_of(discriminator::INITIALIZE, &(params, arbiter)))
    }
}

instruction_accounts!(
    /// `stake`: moves IO from `owner_tokens` into the stake vault.
    StakeAccounts {
        owner: [mut signer],
        config: [mut],
        stake_account: [mut],
        owner_tokens: [mut],
        stake_vault: [mut],
        token_program: [],
        system_program: [],
    }
);

impl StakeAccounts {
    pub fn new(owner: Address, owner_tokens: Address) -> Self {
        Self {
            owner,
            config: pda::config().0,
            stake_account: pda::stake(&owner).0,
            owner_tokens,
            stake_vault: pda::stake_vault().0,
            token_program: TOKEN_PROGRAM_ID,
            system_program: SYSTEM_PROGRAM_ID,
        }
    }

    pub fn instruction(&self, amount: u64) -> Instruction {
        self.instruction_with(data_of(discriminator::STAKE, &amount))
    }
}

instruction_accounts!(
    /// `request_unstake` and `cancel_unstake` (same accounts).
    UnstakeAccounts {
        owner: [signer],
        config: [mut],
        stake_account: [mut],
    }
);

impl UnstakeAccounts {
    pub fn new(owner: Address) -> Self {
        Self {
            owner,
            config: pda::config().0,
            stake_account: pda::stake(&owner).0,
        }
    }

    /// Starts unbonding `amount`.
    pub fn request_unstake(&self, amount: u64) -> Instruction {
        self.instruction_with(data_of(discriminator::REQUEST_UNSTAKE, &amount))
    }

    /// Returns unbonding stake to active stake.
    pub fn cancel_unstake(&self) -> Instruction {
        self.instruction_with(discriminator::CANCEL_UNSTAKE.to_vec())
    }
}

instruction_accounts!(
    /// `withdraw`: pays unbonded stake to `destination` after the cooldown.
    WithdrawAccounts {
        owner: [signer],
        config: [],
        stake_account: [mut],
        stake_vault: [mut],
        destination: [mut],
        token_program: [],
    }
);

impl WithdrawAccounts {
    pub fn new(owner: Address, destination: Address) -> Self {
        Self {
            owner,
            config: pda::config().0,
            stake_account: pda::stake(&owner).0,
            stake_vault: pda::stake_vault().0,
            destination,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::WITHDRAW.to_vec())
    }
}

instruction_accounts!(
    /// `list_gpu`: creates listing `id` (the owner's `next_listing_id`).
    ListGpuAccounts {
        owner: [mut signer],
        config: [mut],
        stake_account: [mut],
        listing: [mut],
        system_program: [],
    }
);

impl ListGpuAccounts {
    pub fn new(owner: Address, id: u64) -> Self {
        Self {
            owner,
            config: pda::config().0,
            stake_account: pda::stake(&owner).0,
            listing: pda::listing(&owner, id).0,
            system_program: SYSTEM_PROGRAM_ID,
        }
    }

    pub fn instruction(&self, spec: &GpuSpec) -> Instruction {
        self.instruction_with(data_of(discriminator::LIST_GPU, spec))
    }
}

/// Changes to a listing; `None` keeps the current value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ListingUpdate {
    pub price_per_gpu_hour: Option<u64>,
    pub worker: Option<Address>,
    pub online: Option<bool>,
}

instruction_accounts!(
    /// `update_listing`.
    UpdateListingAccounts {
        owner: [signer],
        config: [mut],
        listing: [mut],
    }
);

impl UpdateListingAccounts {
    pub fn new(owner: Address, listing: Address) -> Self {
        Self {
            owner,
            config: pda::config().0,
            listing,
        }
    }

    pub fn instruction(&self, update: &ListingUpdate) -> Instruction {
        self.instruction_with(data_of(discriminator::UPDATE_LISTING, update))
    }
}

instruction_accounts!(
    /// `delist` (pays rewards to `destination`) and `claim_rewards` share
    /// these accounts but for the stake account; see [`ClaimRewardsAccounts`].
    DelistAccounts {
        owner: [mut signer],
        config: [mut],
        stake_account: [mut],
        listing: [mut],
        rewards_vault: [mut],
        io_mint: [mut],
        destination: [mut],
        token_program: [],
    }
);

impl DelistAccounts {
    pub fn new(owner: Address, listing: Address, destination: Address) -> Self {
        Self {
            owner,
            config: pda::config().0,
            stake_account: pda::stake(&owner).0,
            listing,
            rewards_vault: pda::rewards_vault().0,
            io_mint: pda::io_mint().0,
            destination,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::DELIST.to_vec())
    }
}

instruction_accounts!(
    /// `claim_rewards`: pays a listing's emission rewards to `destination`.
    ClaimRewardsAccounts {
        owner: [signer],
        config: [mut],
        listing: [mut],
        rewards_vault: [mut],
        io_mint: [mut],
        destination: [mut],
        token_program: [],
    }
);

impl ClaimRewardsAccounts {
    pub fn new(owner: Address, listing: Address, destination: Address) -> Self {
        Self {
            owner,
            config: pda::config().0,
            listing,
            rewards_vault: pda::rewards_vault().0,
            io_mint: pda::io_mint().0,
            destination,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::CLAIM_REWARDS.to_vec())
    }
}

instruction_accounts!(
    /// `heartbeat`, signed by the listing's worker key.
    HeartbeatAccounts {
        worker: [signer],
        config: [],
        listing: [mut],
    }
);

impl HeartbeatAccounts {
    pub fn new(worker: Address, listing: Address) -> Self {
        Self {
            worker,
            config: pda::config().0,
            listing,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::HEARTBEAT.to_vec())
    }
}

instruction_accounts!(
    /// `crank_emission`: permissionless.
    CrankEmissionAccounts {
        config: [mut],
        io_mint: [mut],
        rewards_vault: [mut],
        token_program: [],
    }
);

impl CrankEmissionAccounts {
    pub fn new() -> Self {
        Self {
            config: pda::config().0,
            io_mint: pda::io_mint().0,
            rewards_vault: pda::rewards_vault().0,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::CRANK_EMISSION.to_vec())
    }
}

impl Default for CrankEmissionAccounts {
    fn default() -> Self {
        Self::new()
    }
}

instruction_accounts!(
    /// `mark_offline`: permissionless, for a silent idle listing.
    MarkOfflineAccounts {
        config: [mut],
        listing: [mut],
    }
);

impl MarkOfflineAccounts {
    pub fn new(listing: Address) -> Self {
        Self {
            config: pda::config().0,
            listing,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::MARK_OFFLINE.to_vec())
    }
}
