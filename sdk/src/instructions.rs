//! Instruction builders. Each `…Accounts` struct lists the accounts in the
//! order of the program's `#[derive(Accounts)]` struct; `new` fills in PDAs
//! and program ids; every field is public so a caller (or an attack test)
//! can substitute any of them before building the instruction.
//! `tests/tests/idl.rs` checks names, order, flags and seeds against the IDL.

use {
    crate::{
        accounts::{GpuSpec, JobSpec, NetworkParams, ProposalAction, VoteChoice},
        constants::{MAX_CLUSTER, MAX_KEEPERS},
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
    pub const SWEEP_REWARDS: [u8; 8] = [51, 178, 232, 16, 65, 222, 150, 39];
    pub const MARK_OFFLINE: [u8; 8] = [85, 130, 91, 103, 48, 54, 152, 243];
    pub const SET_KEEPERS: [u8; 8] = [135, 123, 16, 243, 252, 182, 46, 169];
    pub const CREATE_JOB: [u8; 8] = [178, 130, 217, 110, 100, 27, 82, 119];
    pub const CANCEL_JOB: [u8; 8] = [126, 241, 155, 241, 50, 236, 83, 118];
    pub const ASSIGN_JOB: [u8; 8] = [37, 235, 105, 13, 196, 58, 248, 10];
    pub const REASSIGN: [u8; 8] = [215, 75, 241, 231, 181, 219, 116, 99];
    pub const COMPLETE_JOB: [u8; 8] = [221, 216, 225, 72, 101, 250, 3, 11];
    pub const APPROVE_JOB: [u8; 8] = [201, 133, 238, 82, 103, 63, 234, 131];
    pub const DISPUTE_JOB: [u8; 8] = [101, 104, 253, 231, 1, 139, 108, 100];
    pub const RESOLVE_DISPUTE: [u8; 8] = [231, 6, 202, 6, 96, 103, 12, 230];
    pub const SETTLE_JOB: [u8; 8] = [246, 155, 221, 34, 168, 70, 173, 72];
    pub const EXPIRE_JOB: [u8; 8] = [127, 5, 119, 250, 214, 255, 102, 168];
    pub const REPORT_FAULT: [u8; 8] = [157, 41, 238, 215, 248, 106, 98, 222];
    pub const EXTEND_JOB: [u8; 8] = [161, 112, 86, 185, 160, 145, 91, 179];
    pub const SCALE_JOB: [u8; 8] = [137, 112, 45, 128, 108, 1, 97, 121];
    pub const CREATE_PROPOSAL: [u8; 8] = [132, 116, 68, 174, 216, 160, 198, 22];
    pub const CAST_VOTE: [u8; 8] = [20, 212, 15, 189, 69, 180, 69, 151];
    pub const WITHDRAW_VOTE: [u8; 8] = [243, 255, 70, 200, 3, 242, 103, 137];
    pub const FINALIZE_PROPOSAL: [u8; 8] = [23, 68, 51, 167, 109, 173, 187, 164];
    pub const EXECUTE_PROPOSAL: [u8; 8] = [186, 60, 116, 133, 108, 128, 111, 28];
    pub const TRANSFER_AUTHORITY_TO_GOVERNANCE: [u8; 8] = [224, 202, 84, 68, 212, 72, 57, 181];
    pub const OPEN_CREDIT: [u8; 8] = [230, 209, 181, 155, 78, 201, 99, 216];
    pub const DEPOSIT_CREDIT: [u8; 8] = [41, 246, 186, 72, 221, 109, 1, 65];
    pub const REQUEST_CREDIT_WITHDRAWAL: [u8; 8] = [235, 123, 103, 131, 85, 200, 186, 209];
    pub const WITHDRAW_CREDIT: [u8; 8] = [8, 173, 134, 129, 40, 255, 134, 30];
    pub const SETTLE_USAGE: [u8; 8] = [61, 174, 167, 9, 21, 219, 242, 117];
    pub const CLOSE_CREDIT: [u8; 8] = [151, 225, 136, 142, 221, 237, 105, 183];
    pub const HEARTBEAT_MANY: [u8; 8] = [170, 110, 125, 32, 241, 62, 57, 196];
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
    ("heartbeat_many", discriminator::HEARTBEAT_MANY),
    ("crank_emission", discriminator::CRANK_EMISSION),
    ("sweep_rewards", discriminator::SWEEP_REWARDS),
    ("mark_offline", discriminator::MARK_OFFLINE),
    ("set_keepers", discriminator::SET_KEEPERS),
    ("create_job", discriminator::CREATE_JOB),
    ("cancel_job", discriminator::CANCEL_JOB),
    ("assign_job", discriminator::ASSIGN_JOB),
    ("reassign", discriminator::REASSIGN),
    ("complete_job", discriminator::COMPLETE_JOB),
    ("approve_job", discriminator::APPROVE_JOB),
    ("dispute_job", discriminator::DISPUTE_JOB),
    ("resolve_dispute", discriminator::RESOLVE_DISPUTE),
    ("settle_job", discriminator::SETTLE_JOB),
    ("expire_job", discriminator::EXPIRE_JOB),
    ("report_fault", discriminator::REPORT_FAULT),
    ("extend_job", discriminator::EXTEND_JOB),
    ("scale_job", discriminator::SCALE_JOB),
    ("create_proposal", discriminator::CREATE_PROPOSAL),
    ("cast_vote", discriminator::CAST_VOTE),
    ("withdraw_vote", discriminator::WITHDRAW_VOTE),
    ("finalize_proposal", discriminator::FINALIZE_PROPOSAL),
    ("execute_proposal", discriminator::EXECUTE_PROPOSAL),
    (
        "transfer_authority_to_governance",
        discriminator::TRANSFER_AUTHORITY_TO_GOVERNANCE,
    ),
    ("open_credit", discriminator::OPEN_CREDIT),
    ("deposit_credit", discriminator::DEPOSIT_CREDIT),
    (
        "request_credit_withdrawal",
        discriminator::REQUEST_CREDIT_WITHDRAWAL,
    ),
    ("withdraw_credit", discriminator::WITHDRAW_CREDIT),
    ("settle_usage", discriminator::SETTLE_USAGE),
    ("close_credit", discriminator::CLOSE_CREDIT),
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

    /// `id` must be the one the accounts were derived with, at or above the
    /// stake account's `next_listing_id` ([`crate::pda::fast_listing_id`]
    /// picks a cheap one).
    pub fn instruction(&self, spec: &GpuSpec, id: u64) -> Instruction {
        self.instruction_with(data_of(discriminator::LIST_GPU, &(spec, id)))
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
    /// `heartbeat_many`, signed by the worker key the listings share; the
    /// listings follow as writable remaining accounts.
    HeartbeatManyAccounts {
        worker: [signer],
        config: [],
    }
);

impl HeartbeatManyAccounts {
    pub fn new(worker: Address) -> Self {
        Self {
            worker,
            config: pda::config().0,
        }
    }

    /// One batched heartbeat for `listings` (at most
    /// [`MAX_HEARTBEAT_BATCH`](crate::constants::MAX_HEARTBEAT_BATCH)); they
    /// are sorted and deduplicated, as the program requires.
    pub fn instruction(&self, listings: &[Address]) -> Instruction {
        let mut sorted = listings.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut ix = self.instruction_with(discriminator::HEARTBEAT_MANY.to_vec());
        ix.accounts
            .extend(sorted.into_iter().map(|l| AccountMeta::new(l, false)));
        ix
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
    /// `sweep_rewards`: permissionless; listings whose forfeits are not yet
    /// counted may follow, writable.
    SweepRewardsAccounts {
        config: [mut],
        io_mint: [mut],
        rewards_vault: [mut],
        treasury: [mut],
        token_program: [],
    }
);

impl SweepRewardsAccounts {
    pub fn new() -> Self {
        Self {
            config: pda::config().0,
            io_mint: pda::io_mint().0,
            rewards_vault: pda::rewards_vault().0,
            treasury: pda::treasury().0,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    /// `listings`: those with forfeits Config has not counted
    /// ([`crate::accounts::GpuListing::unfolded_forfeits`] > 0).
    pub fn instruction(&self, listings: &[Address]) -> Instruction {
        let mut ix = self.instruction_with(discriminator::SWEEP_REWARDS.to_vec());
        ix.accounts.extend(
            listings
                .iter()
                .map(|listing| AccountMeta::new(*listing, false)),
        );
        ix
    }
}

impl Default for SweepRewardsAccounts {
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

instruction_accounts!(
    /// `set_keepers`: the network authority replaces the registered keepers.
    SetKeepersAccounts {
        authority: [signer],
        config: [mut],
    }
);

impl SetKeepersAccounts {
    pub fn new(authority: Address) -> Self {
        Self {
            authority,
            config: pda::config().0,
        }
    }

    pub fn instruction(&self, keepers: &[Address]) -> Instruction {
        let mut slots = [Address::default(); MAX_KEEPERS];
        let count = keepers.len().min(MAX_KEEPERS);
        slots[..count].copy_from_slice(&keepers[..count]);
        self.instruction_with(data_of(
            discriminator::SET_KEEPERS,
            &(slots, keepers.len() as u8),
        ))
    }
}

instruction_accounts!(
    /// `create_job`: escrows `max_price × gpus × duration` from `owner_tokens`.
    CreateJobAccounts {
        owner: [mut signer],
        config: [],
        job: [mut],
        escrow: [mut],
        owner_tokens: [mut],
        io_mint: [],
        token_program: [],
        system_program: [],
    }
);

impl CreateJobAccounts {
    pub fn new(owner: Address, id: u64, owner_tokens: Address) -> Self {
        let job = pda::job(&owner, id).0;
        Self {
            owner,
            config: pda::config().0,
            job,
            escrow: pda::escrow(&job).0,
            owner_tokens,
            io_mint: pda::io_mint().0,
            token_program: TOKEN_PROGRAM_ID,
            system_program: SYSTEM_PROGRAM_ID,
        }
    }

    pub fn instruction(&self, id: u64, spec: &JobSpec) -> Instruction {
        self.instruction_with(data_of(discriminator::CREATE_JOB, &(id, spec)))
    }
}

instruction_accounts!(
    /// `cancel_job`: refunds a job nobody was assigned to.
    CancelJobAccounts {
        owner: [mut signer],
        config: [],
        job: [mut],
        escrow: [mut],
        owner_tokens: [mut],
        token_program: [],
    }
);

impl CancelJobAccounts {
    pub fn new(owner: Address, job: Address, owner_tokens: Address) -> Self {
        Self {
            owner,
            config: pda::config().0,
            job,
            escrow: pda::escrow(&job).0,
            owner_tokens,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::CANCEL_JOB.to_vec())
    }
}

instruction_accounts!(
    /// `assign_job` / `reassign`: the listings follow as writable remaining accounts.
    AssignJobAccounts {
        assigner: [signer],
        config: [],
        job: [mut],
    }
);

impl AssignJobAccounts {
    pub fn new(assigner: Address, job: Address) -> Self {
        Self {
            assigner,
            config: pda::config().0,
            job,
        }
    }

    fn with_listings(&self, discriminator: [u8; 8], listings: &[(Address, u16)]) -> Instruction {
        let mut gpus = [0u16; MAX_CLUSTER];
        for (slot, (_, count)) in gpus.iter_mut().zip(listings) {
            *slot = *count;
        }
        let mut ix = self.instruction_with(data_of(discriminator, &gpus));
        ix.accounts.extend(
            listings
                .iter()
                .map(|(listing, _)| AccountMeta::new(*listing, false)),
        );
        ix
    }

    /// Assigns `(listing, gpus)` pairs that together supply the job's missing GPUs.
    pub fn assign_job(&self, listings: &[(Address, u16)]) -> Instruction {
        self.with_listings(discriminator::ASSIGN_JOB, listings)
    }

    /// Refills a running job's GPUs freed by a fault or added by scaling.
    pub fn reassign(&self, listings: &[(Address, u16)]) -> Instruction {
        self.with_listings(discriminator::REASSIGN, listings)
    }
}

instruction_accounts!(
    /// `complete_job`: must directly follow the Ed25519 verify instruction.
    CompleteJobAccounts {
        job: [mut],
        listing: [mut],
        instructions: [],
    }
);

impl CompleteJobAccounts {
    pub fn new(job: Address, listing: Address) -> Self {
        Self {
            job,
            listing,
            instructions: crate::INSTRUCTIONS_SYSVAR_ID,
        }
    }

    pub fn instruction(&self, result_hash: &[u8; 32], gpu_seconds: u64) -> Instruction {
        self.instruction_with(data_of(
            discriminator::COMPLETE_JOB,
            &(result_hash, gpu_seconds),
        ))
    }

    /// The Ed25519 verification of the worker's `signature` followed by
    /// `complete_job`: the two instructions a relayer sends together.
    pub fn with_proof(
        &self,
        worker: &Address,
        signature: &[u8; 64],
        nonce: u64,
        result_hash: &[u8; 32],
        gpu_seconds: u64,
    ) -> [Instruction; 2] {
        let message =
            crate::proof::proof_message(&self.job, &self.listing, nonce, result_hash, gpu_seconds);
        [
            crate::proof::ed25519_verify_instruction(worker, signature, &message),
            self.instruction(result_hash, gpu_seconds),
        ]
    }
}

instruction_accounts!(
    /// `approve_job`.
    ApproveJobAccounts {
        owner: [signer],
        job: [mut],
    }
);

impl ApproveJobAccounts {
    pub fn new(owner: Address, job: Address) -> Self {
        Self { owner, job }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::APPROVE_JOB.to_vec())
    }
}

instruction_accounts!(
    /// `dispute_job`.
    DisputeJobAccounts {
        owner: [signer],
        config: [],
        job: [mut],
    }
);

impl DisputeJobAccounts {
    pub fn new(owner: Address, job: Address) -> Self {
        Self {
            owner,
            config: pda::config().0,
            job,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::DISPUTE_JOB.to_vec())
    }
}

instruction_accounts!(
    /// `resolve_dispute`, signed by the arbiter.
    ResolveDisputeAccounts {
        arbiter: [signer],
        config: [],
        job: [mut],
    }
);

impl ResolveDisputeAccounts {
    pub fn new(arbiter: Address, job: Address) -> Self {
        Self {
            arbiter,
            config: pda::config().0,
            job,
        }
    }

    pub fn instruction(&self, award_bps: u16) -> Instruction {
        self.instruction_with(data_of(discriminator::RESOLVE_DISPUTE, &award_bps))
    }
}

instruction_accounts!(
    /// `settle_job`: permissionless; one IO account of each payable
    /// assignment's supplier follows as a remaining account, in assignment
    /// order (no listings: a supplier that delisted cannot block it).
    CloseJobAccounts {
        config: [mut],
        job: [mut],
        escrow: [mut],
        owner: [mut],
        owner_tokens: [mut],
        treasury: [mut],
        io_mint: [mut],
        token_program: [],
    }
);

impl CloseJobAccounts {
    pub fn new(job: Address, owner: Address, owner_tokens: Address) -> Self {
        Self {
            config: pda::config().0,
            job,
            escrow: pda::escrow(&job).0,
            owner,
            owner_tokens,
            treasury: pda::treasury().0,
            io_mint: pda::io_mint().0,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    /// `payees`: an IO account of each payable assignment's supplier
    /// ([`crate::accounts::JobAccount::payable`] order).
    pub fn settle_job(&self, payees: &[Address]) -> Instruction {
        let mut ix = self.instruction_with(discriminator::SETTLE_JOB.to_vec());
        ix.accounts
            .extend(payees.iter().map(|payee| AccountMeta::new(*payee, false)));
        ix
    }
}

instruction_accounts!(
    /// `expire_job`: permissionless; the listing of each assignment still
    /// running follows, writable, in assignment order.
    ExpireJobAccounts {
        job: [mut],
    }
);

impl ExpireJobAccounts {
    pub fn new(job: Address) -> Self {
        Self { job }
    }

    /// `listings`: each active assignment's listing
    /// ([`crate::accounts::JobAccount::active`] order).
    pub fn instruction(&self, listings: &[Address]) -> Instruction {
        let mut ix = self.instruction_with(discriminator::EXPIRE_JOB.to_vec());
        ix.accounts.extend(
            listings
                .iter()
                .map(|listing| AccountMeta::new(*listing, false)),
        );
        ix
    }
}

instruction_accounts!(
    /// `report_fault`: permissionless.
    ReportFaultAccounts {
        config: [mut],
        job: [mut],
        escrow: [mut],
        listing: [mut],
        supplier_stake: [mut],
        stake_vault: [mut],
        treasury: [mut],
        io_mint: [mut],
        payee: [mut],
        token_program: [],
    }
);

impl ReportFaultAccounts {
    /// `supplier` owns `listing`; `payee` is an IO account of theirs.
    pub fn new(job: Address, listing: Address, supplier: &Address, payee: Address) -> Self {
        Self {
            config: pda::config().0,
            job,
            escrow: pda::escrow(&job).0,
            listing,
            supplier_stake: pda::stake(supplier).0,
            stake_vault: pda::stake_vault().0,
            treasury: pda::treasury().0,
            io_mint: pda::io_mint().0,
            payee,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::REPORT_FAULT.to_vec())
    }
}

instruction_accounts!(
    /// `extend_job` / `scale_job`.
    TopUpJobAccounts {
        owner: [mut signer],
        config: [],
        job: [mut],
        escrow: [mut],
        owner_tokens: [mut],
        token_program: [],
        system_program: [],
    }
);

impl TopUpJobAccounts {
    pub fn new(owner: Address, job: Address, owner_tokens: Address) -> Self {
        Self {
            owner,
            config: pda::config().0,
            job,
            escrow: pda::escrow(&job).0,
            owner_tokens,
            token_program: TOKEN_PROGRAM_ID,
            system_program: SYSTEM_PROGRAM_ID,
        }
    }

    pub fn extend_job(&self, extra_secs: u64) -> Instruction {
        self.instruction_with(data_of(discriminator::EXTEND_JOB, &extra_secs))
    }

    /// Adds `extra_gpus`; `capacity` is the job account's listing slots after.
    pub fn scale_job(&self, extra_gpus: u16, capacity: u8) -> Instruction {
        self.instruction_with(data_of(discriminator::SCALE_JOB, &(extra_gpus, capacity)))
    }
}

/// The argument of `create_proposal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProposalArgs {
    pub action: ProposalAction,
    /// ASCII, zero-padded (see [`crate::accounts::ascii_field`]).
    pub title: [u8; 64],
    /// Hash of the off-chain description (e.g. sha256 of its text).
    pub description_hash: [u8; 32],
}

instruction_accounts!(
    /// `create_proposal`: proposal number `Config::proposal_count`.
    CreateProposalAccounts {
        proposer: [mut signer],
        config: [mut],
        stake_account: [],
        proposal: [mut],
        system_program: [],
    }
);

impl CreateProposalAccounts {
    /// `id` must be the network's current `proposal_count`.
    pub fn new(proposer: Address, id: u64) -> Self {
        Self {
            proposer,
            config: pda::config().0,
            stake_account: pda::stake(&proposer).0,
            proposal: pda::proposal(id).0,
            system_program: SYSTEM_PROGRAM_ID,
        }
    }

    pub fn instruction(&self, args: &ProposalArgs) -> Instruction {
        self.instruction_with(data_of(discriminator::CREATE_PROPOSAL, args))
    }
}

instruction_accounts!(
    /// `cast_vote`: votes with the voter's whole active stake.
    CastVoteAccounts {
        voter: [mut signer],
        proposal: [mut],
        stake_account: [mut],
        vote_record: [mut],
        system_program: [],
    }
);

impl CastVoteAccounts {
    pub fn new(voter: Address, proposal: Address) -> Self {
        Self {
            voter,
            proposal,
            stake_account: pda::stake(&voter).0,
            vote_record: pda::vote(&proposal, &voter).0,
            system_program: SYSTEM_PROGRAM_ID,
        }
    }

    pub fn instruction(&self, choice: VoteChoice) -> Instruction {
        self.instruction_with(data_of(discriminator::CAST_VOTE, &(choice as u8)))
    }
}

instruction_accounts!(
    /// `withdraw_vote`: takes a vote back while voting is open.
    WithdrawVoteAccounts {
        voter: [mut signer],
        proposal: [mut],
        vote_record: [mut],
    }
);

impl WithdrawVoteAccounts {
    pub fn new(voter: Address, proposal: Address) -> Self {
        Self {
            voter,
            proposal,
            vote_record: pda::vote(&proposal, &voter).0,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::WITHDRAW_VOTE.to_vec())
    }
}

instruction_accounts!(
    /// `finalize_proposal`: permissionless once voting has ended.
    FinalizeProposalAccounts {
        config: [],
        proposal: [mut],
    }
);

impl FinalizeProposalAccounts {
    pub fn new(proposal: Address) -> Self {
        Self {
            config: pda::config().0,
            proposal,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::FINALIZE_PROPOSAL.to_vec())
    }
}

instruction_accounts!(
    /// `execute_proposal`: permissionless once a passed proposal's timelock is over.
    ExecuteProposalAccounts {
        config: [mut],
        proposal: [mut],
        treasury: [mut],
        recipient: [mut],
        token_program: [],
    }
);

impl ExecuteProposalAccounts {
    /// `action` is the proposal's: a treasury transfer names its recipient;
    /// other actions ignore `recipient`, so it is the (never created)
    /// governance PDA.
    pub fn new(proposal: Address, action: &ProposalAction) -> Self {
        let recipient = match action.kind() {
            crate::accounts::ActionKind::TreasuryTransfer => action.address,
            _ => pda::governance().0,
        };
        Self {
            config: pda::config().0,
            proposal,
            treasury: pda::treasury().0,
            recipient,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::EXECUTE_PROPOSAL.to_vec())
    }

    /// `execute_proposal` for an `UpgradeProgram` proposal by `proposer`
    /// (who funded `buffer` and gets its lamports back): the loader's
    /// accounts follow as remaining accounts; `recipient` is the governance
    /// PDA, which signs the upgrade.
    pub fn upgrade_instruction(&self, buffer: &Address, proposer: &Address) -> Instruction {
        let mut ix = self.instruction();
        ix.accounts.extend([
            AccountMeta::new(pda::program_data(), false),
            AccountMeta::new(crate::PROGRAM_ID, false),
            AccountMeta::new(*buffer, false),
            AccountMeta::new(*proposer, false),
            AccountMeta::new_readonly(crate::RENT_SYSVAR_ID, false),
            AccountMeta::new_readonly(crate::CLOCK_SYSVAR_ID, false),
            AccountMeta::new_readonly(crate::BPF_LOADER_UPGRADEABLE_ID, false),
        ]);
        ix
    }
}

instruction_accounts!(
    /// `transfer_authority_to_governance`: the bootstrap authority's last act.
    TransferAuthorityAccounts {
        authority: [signer],
        config: [mut],
        governance: [],
        program_data: [mut],
        bpf_loader_upgradeable: [],
    }
);

impl TransferAuthorityAccounts {
    /// `authority` must be both Config's authority and the program's upgrade
    /// authority: the handover moves both to the governance PDA.
    pub fn new(authority: Address) -> Self {
        Self {
            authority,
            config: pda::config().0,
            governance: pda::governance().0,
            program_data: pda::program_data(),
            bpf_loader_upgradeable: crate::BPF_LOADER_UPGRADEABLE_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::TRANSFER_AUTHORITY_TO_GOVERNANCE.to_vec())
    }
}

instruction_accounts!(
    /// `open_credit`: creates the owner's credit account and its escrow.
    OpenCreditAccounts {
        owner: [mut signer],
        config: [],
        credit: [mut],
        escrow: [mut],
        io_mint: [],
        token_program: [],
        system_program: [],
    }
);

impl OpenCreditAccounts {
    pub fn new(owner: Address) -> Self {
        let credit = pda::credit(&owner).0;
        Self {
            owner,
            config: pda::config().0,
            credit,
            escrow: pda::credit_escrow(&credit).0,
            io_mint: pda::io_mint().0,
            token_program: TOKEN_PROGRAM_ID,
            system_program: SYSTEM_PROGRAM_ID,
        }
    }

    /// Only `gateway` may settle receipts, at up to `max_price_per_mtok`
    /// IO base units per million tokens.
    pub fn instruction(&self, gateway: &Address, max_price_per_mtok: u64) -> Instruction {
        self.instruction_with(data_of(
            discriminator::OPEN_CREDIT,
            &(gateway, max_price_per_mtok),
        ))
    }
}

instruction_accounts!(
    /// `deposit_credit`: moves IO from `owner_tokens` into the credit's escrow.
    DepositCreditAccounts {
        owner: [signer],
        config: [],
        credit: [mut],
        escrow: [mut],
        owner_tokens: [mut],
        token_program: [],
    }
);

impl DepositCreditAccounts {
    pub fn new(owner: Address, owner_tokens: Address) -> Self {
        let credit = pda::credit(&owner).0;
        Self {
            owner,
            config: pda::config().0,
            credit,
            escrow: pda::credit_escrow(&credit).0,
            owner_tokens,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self, amount: u64) -> Instruction {
        self.instruction_with(data_of(discriminator::DEPOSIT_CREDIT, &amount))
    }
}

instruction_accounts!(
    /// `request_credit_withdrawal`: payable after the withdrawal delay.
    RequestCreditWithdrawalAccounts {
        owner: [signer],
        credit: [mut],
    }
);

impl RequestCreditWithdrawalAccounts {
    pub fn new(owner: Address) -> Self {
        Self {
            owner,
            credit: pda::credit(&owner).0,
        }
    }

    pub fn instruction(&self, amount: u64) -> Instruction {
        self.instruction_with(data_of(discriminator::REQUEST_CREDIT_WITHDRAWAL, &amount))
    }
}

instruction_accounts!(
    /// `withdraw_credit`: pays the pending withdrawal to `destination`.
    WithdrawCreditAccounts {
        owner: [signer],
        config: [],
        credit: [mut],
        escrow: [mut],
        destination: [mut],
        token_program: [],
    }
);

impl WithdrawCreditAccounts {
    pub fn new(owner: Address, destination: Address) -> Self {
        let credit = pda::credit(&owner).0;
        Self {
            owner,
            config: pda::config().0,
            credit,
            escrow: pda::credit_escrow(&credit).0,
            destination,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::WITHDRAW_CREDIT.to_vec())
    }
}

instruction_accounts!(
    /// `settle_usage`, signed by the credit's gateway; `payee` is an IO
    /// account of the serving listing's owner.
    SettleUsageAccounts {
        gateway: [signer],
        config: [mut],
        credit: [mut],
        escrow: [mut],
        listing: [],
        payee: [mut],
        treasury: [mut],
        io_mint: [mut],
        token_program: [],
        instructions: [],
    }
);

impl SettleUsageAccounts {
    /// `credit` is the paying credit account (`pda::credit(user)`).
    pub fn new(gateway: Address, credit: Address, listing: Address, payee: Address) -> Self {
        Self {
            gateway,
            config: pda::config().0,
            credit,
            escrow: pda::credit_escrow(&credit).0,
            listing,
            payee,
            treasury: pda::treasury().0,
            io_mint: pda::io_mint().0,
            token_program: TOKEN_PROGRAM_ID,
            instructions: crate::INSTRUCTIONS_SYSVAR_ID,
        }
    }

    pub fn instruction(&self, seq: u64, tokens: u64, price_per_mtok: u64) -> Instruction {
        self.instruction_with(data_of(
            discriminator::SETTLE_USAGE,
            &(seq, tokens, price_per_mtok),
        ))
    }

    /// The Ed25519 verification of the worker's signature over `receipt`
    /// followed by `settle_usage`: the two instructions the gateway sends
    /// together (several pairs may share a transaction).
    pub fn with_receipt(&self, receipt: &crate::proof::SignedUsageReceipt) -> [Instruction; 2] {
        [
            receipt.ed25519_instruction(),
            self.instruction(receipt.seq, receipt.tokens, receipt.price_per_mtok),
        ]
    }
}

instruction_accounts!(
    /// `close_credit`: closes an empty credit and its escrow.
    CloseCreditAccounts {
        owner: [mut signer],
        config: [],
        credit: [mut],
        escrow: [mut],
        owner_tokens: [mut],
        token_program: [],
    }
);

impl CloseCreditAccounts {
    pub fn new(owner: Address, owner_tokens: Address) -> Self {
        let credit = pda::credit(&owner).0;
        Self {
            owner,
            config: pda::config().0,
            credit,
            escrow: pda::credit_escrow(&credit).0,
            owner_tokens,
            token_program: TOKEN_PROGRAM_ID,
        }
    }

    pub fn instruction(&self) -> Instruction {
        self.instruction_with(discriminator::CLOSE_CREDIT.to_vec())
    }
}
