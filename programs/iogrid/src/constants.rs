//! Seeds, token amounts and hard bounds. The off-chain mirror is `sdk/src/pda.rs`
//! and `sdk/src/constants.rs`; a test checks both against the IDL.

use anchor_lang::prelude::*;

// ---- PDA seeds -------------------------------------------------------------
/// Config `["config"]`: network parameters; also the authority of the IO mint
/// and of the pooled vaults (stake, rewards, treasury).
pub const SEED_CONFIG: &[u8] = b"config";
/// The IO mint `["mint"]`.
pub const SEED_MINT: &[u8] = b"mint";
/// Genesis distribution token account `["distribution"]`.
pub const SEED_DISTRIBUTION: &[u8] = b"distribution";
/// Treasury token account `["treasury"]`.
pub const SEED_TREASURY: &[u8] = b"treasury";
/// Emission rewards token account `["rewards"]`.
pub const SEED_REWARDS_VAULT: &[u8] = b"rewards";
/// Pooled staked IO `["stake_vault"]`.
pub const SEED_STAKE_VAULT: &[u8] = b"stake_vault";
/// A staker's account `["stake", owner]`.
pub const SEED_STAKE: &[u8] = b"stake";
/// A GPU listing `["listing", owner, id as u64 LE]`.
pub const SEED_LISTING: &[u8] = b"listing";
/// Governance's signing PDA `["governance"]`: Config's authority after handover.
pub const SEED_GOVERNANCE: &[u8] = b"governance";
/// A proposal `["proposal", id as u64 LE]`.
pub const SEED_PROPOSAL: &[u8] = b"proposal";
/// A vote `["vote", proposal, voter]`.
pub const SEED_VOTE: &[u8] = b"vote";
/// A job `["job", owner, id as u64 LE]`.
pub const SEED_JOB: &[u8] = b"job";
/// A job's escrow token account `["escrow", job]`, owned by the job PDA.
pub const SEED_ESCROW: &[u8] = b"escrow";
/// A wallet's prepaid inference credit `["credit", owner]`.
pub const SEED_CREDIT: &[u8] = b"credit";
/// A credit's escrow token account `["credit_escrow", credit]`, owned by the
/// credit PDA.
pub const SEED_CREDIT_ESCROW: &[u8] = b"credit_escrow";

// ---- IO token --------------------------------------------------------------
pub const IO_DECIMALS: u8 = 6;
/// Base units per IO.
pub const IO: u64 = 1_000_000;
/// Hard cap on total IO supply: 800,000,000 IO.
pub const SUPPLY_CAP: u64 = 800_000_000 * IO;
/// Minted once by `initialize`: 500,000,000 IO.
pub const GENESIS_SUPPLY: u64 = 500_000_000 * IO;
/// Emitted to suppliers over 240 months: 300,000,000 IO.
pub const EMISSION_SUPPLY: u64 = SUPPLY_CAP - GENESIS_SUPPLY;

// ---- Limits ----------------------------------------------------------------
/// Scale of the reward-per-GPU accumulator. With all 300M IO (3·10^14 base
/// units) spread over a single GPU the accumulator reaches 3·10^18 < 2^64.
pub const REWARD_PRECISION: u64 = 10_000;
/// GPUs one listing may offer (a large multi-GPU server).
pub const MAX_GPUS_PER_LISTING: u16 = 1_024;
/// A listing's price must keep a year of all its GPUs within u64.
pub const PRICE_HORIZON_HOURS: u64 = 8_760;
/// Listings one job may run on at once (a multi-supplier cluster).
pub const MAX_CLUSTER: usize = 16;
/// Listings one `heartbeat_many` may carry: a transaction locks at most 64
/// accounts, and the signer, Config and the program take three (about 30 fit
/// without an address lookup table).
pub const MAX_HEARTBEAT_BATCH: usize = 60;
/// Longest job, and longest extension.
pub const MAX_JOB_DURATION_SECS: u64 = 365 * 86_400;
pub use iogrid_rules::SECS_PER_HOUR;
/// How long after its timelock a passed proposal may still be executed.
pub const EXECUTION_WINDOW_SECS: i64 = 14 * 86_400;
/// A dispute the arbiter leaves unresolved this long lapses: settlement pays
/// the suppliers' proven claims, so no escrow can be stuck.
pub const MAX_DISPUTE_SECS: i64 = 14 * 86_400;
/// Share of a slash paid to the job owner; the rest goes to the treasury.
pub const SLASH_OWNER_SHARE_BPS: u16 = 5_000;
/// The native Ed25519 signature-verify program.
pub const ED25519_PROGRAM_ID: Address =
    anchor_lang::address!("Ed25519SigVerify111111111111111111111111111");
/// Registered keepers held in Config.
pub const MAX_KEEPERS: usize = 8;
/// Layout version written into every account this program creates.
pub const ACCOUNT_VERSION: u8 = 1;
/// The highest price ceiling a credit account may accept: 1,000 IO per
/// million tokens, far above any plausible inference price. It bounds what a
/// ceiling mistyped in the wrong unit exposes, and keeps every charge the
/// ceiling allows (`tokens × price / 10^6`) within u64 for any token count
/// below 1.8·10^13.
pub const MAX_CREDIT_PRICE_PER_MTOK: u64 = 1_000 * IO;
/// Time between `request_credit_withdrawal` and `withdraw_credit`: the
/// gateway's window to settle receipts for inference already served, so a
/// user cannot take the balance out from under usage it has received.
/// Settlement keeps running in the window and the withdrawal then pays at
/// most what is left.
pub const CREDIT_WITHDRAWAL_DELAY_SECS: i64 = 3_600;
/// Receipt numbers count microseconds (see `InferenceCredit::open`).
pub const MICROS_PER_SEC: u64 = 1_000_000;

// ---- Hard bounds on governable parameters ----------------------------------
pub use iogrid_rules::BPS_DENOMINATOR;
pub const MAX_FEE_BPS: u16 = 1_000;
pub const MAX_BURN_BPS: u16 = 5_000;
pub const MAX_SLASH_BPS: u16 = 10_000;
/// A slash never takes more than half of the stake locked for a listing.
pub const MAX_SLASH_CAP_BPS: u16 = 5_000;
pub const MIN_QUORUM_BPS: u16 = 100;
/// Proposals need at least a simple majority of yes + no.
pub const MIN_THRESHOLD_BPS: u16 = 5_001;
pub const MIN_HEARTBEAT_INTERVAL_SECS: u32 = 5;
pub const MAX_HEARTBEAT_INTERVAL_SECS: u32 = 3_600;
pub const MAX_UNBONDING_SECS: u32 = 90 * 86_400;
pub const MIN_VOTING_SECS: u32 = 60;
pub const MAX_VOTING_SECS: u32 = 30 * 86_400;
pub const MAX_TIMELOCK_SECS: u32 = 30 * 86_400;
pub const MAX_CHALLENGE_WINDOW_SECS: u32 = 7 * 86_400;
pub const MAX_JOB_GRACE_SECS: u32 = 7 * 86_400;
/// Free inference tokens a day per whole IO of active stake. At this ceiling
/// the stake behind one GPU (100 IO at launch) earns 10^8 tokens a day, about
/// what one GPU can serve in a day (~1,000 tokens/s × 86,400 s ≈ 8.6·10^7),
/// so governance cannot promise free inference far beyond the capacity the
/// stake stands for; and the quota of the whole supply (8·10^8 IO × 10^6 =
/// 8·10^14 tokens) stays far inside u64.
pub const MAX_FREE_TOKENS_PER_IO_DAY: u64 = 1_000_000;

/// The Rent and Clock sysvars, which the loader's `Upgrade` takes.
pub const SYSVAR_RENT_ID: Address =
    anchor_lang::address!("SysvarRent111111111111111111111111111111111");
pub const SYSVAR_CLOCK_ID: Address =
    anchor_lang::address!("SysvarC1ock11111111111111111111111111111111");

/// The BPF upgradeable loader, owner of the ProgramData account whose upgrade
/// authority may bootstrap the network.
pub const BPF_LOADER_UPGRADEABLE_ID: Address =
    anchor_lang::address!("BPFLoaderUpgradeab1e11111111111111111111111");

/// The config PDA (`[SEED_CONFIG]`, bump 253) of this program id, as a
/// constant: instructions check the account's address instead of deriving
/// it (three hash rounds) each time. `tests::config_address_is_the_pda`
/// fails if the program id changes without this.
pub const CONFIG_ADDRESS: Address =
    anchor_lang::address!("A4QA8FxWHtZsjE9tUfjhbNda76XPHehVjjB1Z5jh1rY4");

/// The program's ProgramData account (`[program id]` under the upgradeable
/// loader), as a constant: deriving it on-chain costs 1,500 CU a time.
/// `tests::program_data_address_is_the_loaders_pda` checks it.
pub const PROGRAM_DATA_ADDRESS: Address =
    anchor_lang::address!("FsjZ6YnJfG8sBTfUQRwUvidX61W6CEN1x56pjAgXwQJs");

/// The governance PDA (`[SEED_GOVERNANCE]`) and its bump, as constants for
/// the same reason; `tests::governance_address_is_the_pda` checks them.
pub const GOVERNANCE_ADDRESS: Address =
    anchor_lang::address!("25mADhguLton61EsaUfVc9twLChKGvAcfZ1Xtr3gQosw");
pub const GOVERNANCE_BUMP: u8 = 253;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_address_is_the_pda() {
        let (address, bump) = Address::find_program_address(&[SEED_CONFIG], &crate::ID);
        assert_eq!((address, bump), (CONFIG_ADDRESS, 253));
    }

    #[test]
    fn governance_address_is_the_pda() {
        let found = Address::find_program_address(&[SEED_GOVERNANCE], &crate::ID);
        assert_eq!(found, (GOVERNANCE_ADDRESS, GOVERNANCE_BUMP));
    }

    #[test]
    fn program_data_address_is_the_loaders_pda() {
        let (address, _) =
            Address::find_program_address(&[crate::ID.as_ref()], &BPF_LOADER_UPGRADEABLE_ID);
        assert_eq!(address, PROGRAM_DATA_ADDRESS);
    }
}
