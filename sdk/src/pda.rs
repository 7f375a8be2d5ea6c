//! Every PDA the program uses. Seeds mirror `SEED_*` in
//! `programs/iogrid/src/constants.rs`; the IDL test checks them.

use crate::{Address, BPF_LOADER_UPGRADEABLE_ID, PROGRAM_ID};

pub const SEED_CONFIG: &[u8] = b"config";
pub const SEED_MINT: &[u8] = b"mint";
pub const SEED_DISTRIBUTION: &[u8] = b"distribution";
pub const SEED_TREASURY: &[u8] = b"treasury";
pub const SEED_REWARDS_VAULT: &[u8] = b"rewards";
pub const SEED_STAKE_VAULT: &[u8] = b"stake_vault";
pub const SEED_STAKE: &[u8] = b"stake";
pub const SEED_LISTING: &[u8] = b"listing";
pub const SEED_JOB: &[u8] = b"job";
pub const SEED_ESCROW: &[u8] = b"escrow";
pub const SEED_GOVERNANCE: &[u8] = b"governance";
pub const SEED_PROPOSAL: &[u8] = b"proposal";
pub const SEED_VOTE: &[u8] = b"vote";
pub const SEED_CREDIT: &[u8] = b"credit";
pub const SEED_CREDIT_ESCROW: &[u8] = b"credit_escrow";

fn find(seeds: &[&[u8]]) -> (Address, u8) {
    Address::find_program_address(seeds, &PROGRAM_ID)
}

/// Config: network parameters; authority of the mint and pooled vaults.
pub fn config() -> (Address, u8) {
    find(&[SEED_CONFIG])
}

/// The IO mint.
pub fn io_mint() -> (Address, u8) {
    find(&[SEED_MINT])
}

/// Token account holding the genesis allocation.
pub fn distribution() -> (Address, u8) {
    find(&[SEED_DISTRIBUTION])
}

pub fn treasury() -> (Address, u8) {
    find(&[SEED_TREASURY])
}

pub fn rewards_vault() -> (Address, u8) {
    find(&[SEED_REWARDS_VAULT])
}

pub fn stake_vault() -> (Address, u8) {
    find(&[SEED_STAKE_VAULT])
}

/// A staker's StakeAccount.
pub fn stake(owner: &Address) -> (Address, u8) {
    find(&[SEED_STAKE, owner.as_ref()])
}

/// Listing number `id` of `owner` (ids come from `StakeAccount::next_listing_id`).
pub fn listing(owner: &Address, id: u64) -> (Address, u8) {
    find(&[SEED_LISTING, owner.as_ref(), &id.to_le_bytes()])
}

/// The first listing id at or above `from` whose canonical bump is 255: the
/// program then verifies the listing PDA with one hash instead of searching
/// (about 330 CU saved per bump step; half of all ids qualify).
pub fn fast_listing_id(owner: &Address, from: u64) -> u64 {
    (from..)
        .find(|id| listing(owner, *id).1 == u8::MAX)
        .expect("half of all ids have bump 255")
}

/// Job `id` of `owner` (the owner picks the id; it must be unused).
pub fn job(owner: &Address, id: u64) -> (Address, u8) {
    find(&[SEED_JOB, owner.as_ref(), &id.to_le_bytes()])
}

/// The first job id at or above `from` whose job PDA and escrow both have
/// canonical bump 255: `create_job` then verifies each with one hash
/// instead of searching (about 330 CU per bump step; a quarter of all ids
/// qualify).
pub fn fast_job_id(owner: &Address, from: u64) -> u64 {
    (from..)
        .find(|id| {
            let (job, bump) = job(owner, *id);
            bump == u8::MAX && escrow(&job).1 == u8::MAX
        })
        .expect("a quarter of all ids have both bumps 255")
}

/// A job's escrow token account (its authority is the job PDA).
pub fn escrow(job: &Address) -> (Address, u8) {
    find(&[SEED_ESCROW, job.as_ref()])
}

/// `owner`'s prepaid inference credit account (one per wallet).
pub fn credit(owner: &Address) -> (Address, u8) {
    find(&[SEED_CREDIT, owner.as_ref()])
}

/// A credit's escrow token account (its authority is the credit PDA).
pub fn credit_escrow(credit: &Address) -> (Address, u8) {
    find(&[SEED_CREDIT_ESCROW, credit.as_ref()])
}

/// Governance's PDA: Config's authority once the bootstrap key hands over.
/// Nothing signs for it, so the handover is final.
pub fn governance() -> (Address, u8) {
    find(&[SEED_GOVERNANCE])
}

/// Proposal number `id` (ids come from `Config::proposal_count`).
pub fn proposal(id: u64) -> (Address, u8) {
    find(&[SEED_PROPOSAL, &id.to_le_bytes()])
}

/// `voter`'s vote on `proposal`.
pub fn vote(proposal: &Address, voter: &Address) -> (Address, u8) {
    find(&[SEED_VOTE, proposal.as_ref(), voter.as_ref()])
}

/// The upgradeable loader's ProgramData account of the iogrid program.
pub fn program_data() -> Address {
    Address::find_program_address(&[PROGRAM_ID.as_ref()], &BPF_LOADER_UPGRADEABLE_ID).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ids_have_canonical_bump_255() {
        let owner = Address::new_unique();
        let id = fast_job_id(&owner, 1_000);
        assert!(id >= 1_000);
        let (address, bump) = job(&owner, id);
        assert_eq!((bump, escrow(&address).1), (u8::MAX, u8::MAX));
        assert_eq!(fast_job_id(&owner, id), id, "an id that qualifies is kept");
        let listing_id = fast_listing_id(&owner, 7);
        assert_eq!(listing(&owner, listing_id).1, u8::MAX);
    }
}
