//! iogrid: a decentralized GPU compute marketplace.
//!
//! This file only dispatches; each instruction lives in `instructions/`.
#![cfg_attr(not(test), no_std)]
#![deny(clippy::arithmetic_side_effects)]

extern crate alloc;

use anchor_lang::prelude::*;

pub mod constants;
pub mod emission;
pub mod errors;
pub mod events;
pub mod instructions;
pub mod loader;
pub mod math;
pub mod proof;
pub mod security;
pub mod spl;
pub mod state;

use instructions::*;
use {
    constants::MAX_CLUSTER,
    instructions::governance::ProposalArgs,
    state::{GpuSpec, JobSpec, NetworkParams},
};

declare_id!("56uC97afJv9SQFUK7jkUFVDJjSEnY6mQbo2VE7tF3yvi");

#[cfg(all(target_os = "solana", not(feature = "no-entrypoint")))]
pinocchio::nostd_panic_handler!();

/// Instructions that take no trailing accounts refuse them rather than
/// silently ignoring what a caller may believe is checked.
fn reject_remaining_accounts<T: Bumps>(ctx: &mut Context<T>) -> Result<()> {
    if ctx.remaining_accounts()?.is_empty() {
        Ok(())
    } else {
        Err(errors::IogridError::UnexpectedRemainingAccounts.into())
    }
}

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
        reject_remaining_accounts(ctx)?;
        security::keep();
        let bump = ctx.bumps.config;
        ctx.accounts.initialize(&params, &arbiter, bump)
    }

    /// Stakes IO into the shared stake vault (creates the StakeAccount).
    pub fn stake(ctx: &mut Context<Stake>, amount: u64) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        let bump = ctx.bumps.stake_account;
        ctx.accounts.stake(amount, bump)
    }

    /// Starts unbonding stake that no listing or vote locks.
    pub fn request_unstake(ctx: &mut Context<RequestUnstake>, amount: u64) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.request_unstake(amount)
    }

    /// Pays out unbonded stake after the cooldown.
    pub fn withdraw(ctx: &mut Context<Withdraw>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.withdraw()
    }

    /// Returns unbonding stake to active stake.
    pub fn cancel_unstake(ctx: &mut Context<CancelUnstake>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.cancel_unstake()
    }

    /// Lists GPUs under listing `id` (≥ the staker's next id), locking
    /// `min_stake_per_gpu` per GPU of the owner's stake.
    pub fn list_gpu(ctx: &mut Context<ListGpu>, spec: GpuSpec, id: u64) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        let bump = ctx.bumps.listing;
        ctx.accounts.list_gpu(&spec, id, bump)
    }

    /// Changes price, worker key or online state, never harming a running job.
    pub fn update_listing(ctx: &mut Context<UpdateListing>, update: ListingUpdate) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.update_listing(&update)
    }

    /// Removes an idle listing: pays its rewards, unlocks its stake, closes it.
    pub fn delist(ctx: &mut Context<Delist>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.delist()
    }

    /// Pays a listing's emission rewards to its owner.
    pub fn claim_rewards(ctx: &mut Context<ClaimRewards>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.claim_rewards()
    }

    /// Worker liveness, signed by the listing's worker key.
    pub fn heartbeat(ctx: &mut Context<Heartbeat>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.heartbeat()
    }

    /// Liveness of many listings sharing one worker key, in one transaction;
    /// the listings follow as writable remaining accounts, ascending.
    pub fn heartbeat_many(ctx: &mut Context<HeartbeatMany>) -> Result<()> {
        let listings = ctx.remaining_accounts()?;
        ctx.accounts.heartbeat_many(&listings)
    }

    /// Permissionless: mints released emission into the rewards vault.
    pub fn crank_emission(ctx: &mut Context<CrankEmission>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.crank_emission()
    }

    /// Permissionless: sends emission nobody can claim (no GPU online, or
    /// forfeited by silence; listings to count follow) to the treasury.
    pub fn sweep_rewards(ctx: &mut Context<SweepRewards>) -> Result<()> {
        let listings = ctx.remaining_accounts()?;
        ctx.accounts.sweep_rewards(&listings)
    }

    /// Permissionless: takes a silent idle listing out of the reward pool.
    pub fn mark_offline(ctx: &mut Context<MarkOffline>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.mark_offline()
    }

    /// Replaces the registered keepers (network authority only).
    pub fn set_keepers(
        ctx: &mut Context<SetKeepers>,
        keepers: [Address; 8],
        count: u8,
    ) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.set_keepers(&keepers, count)
    }

    /// Escrows `max_price × gpus × duration` for a new job.
    pub fn create_job(ctx: &mut Context<CreateJob>, id: u64, spec: JobSpec) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        let bumps = (ctx.bumps.job, ctx.bumps.escrow);
        ctx.accounts.create_job(id, &spec, bumps)
    }

    /// Refunds and closes a job nobody was assigned to (owner only).
    pub fn cancel_job(ctx: &mut Context<CancelJob>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.cancel_job()
    }

    /// Assigns listings (remaining accounts) to a job's missing GPUs.
    #[access_control(ctx.accounts.validate())]
    pub fn assign_job(ctx: &mut Context<AssignJob>, gpus: [u16; MAX_CLUSTER]) -> Result<()> {
        let listings = ctx.remaining_accounts()?;
        let request = AssignRequest {
            listings: &listings,
            gpus: &gpus,
            refill_only: false,
        };
        ctx.accounts.assign(&request)
    }

    /// Refills a running job's GPUs freed by a fault (or added by scale_job).
    #[access_control(ctx.accounts.validate())]
    pub fn reassign(ctx: &mut Context<AssignJob>, gpus: [u16; MAX_CLUSTER]) -> Result<()> {
        let listings = ctx.remaining_accounts()?;
        let request = AssignRequest {
            listings: &listings,
            gpus: &gpus,
            refill_only: true,
        };
        ctx.accounts.assign(&request)
    }

    /// Accepts a worker-signed completion proof (Ed25519 instruction before it).
    pub fn complete_job(
        ctx: &mut Context<CompleteJob>,
        result_hash: [u8; 32],
        gpu_seconds: u64,
    ) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.complete_job(&result_hash, gpu_seconds)
    }

    /// The owner accepts the proofs; settlement may run at once.
    pub fn approve_job(ctx: &mut Context<ApproveJob>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.approve_job()
    }

    /// The owner disputes within the challenge window; the arbiter decides.
    pub fn dispute_job(ctx: &mut Context<DisputeJob>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.dispute_job()
    }

    /// The arbiter awards suppliers `award_bps` of their proven claims.
    pub fn resolve_dispute(ctx: &mut Context<ResolveDispute>, award_bps: u16) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.resolve_dispute(award_bps)
    }

    /// Permissionless: pays suppliers, fee and burn, refunds and closes the job.
    pub fn settle_job(ctx: &mut Context<CloseJob>) -> Result<()> {
        let payees = ctx.remaining_accounts()?;
        ctx.accounts.settle_job(&payees)
    }

    /// Permissionless: stops a job past duration + grace without full proof
    /// at its workers' last heartbeats; `settle_job` then pays it at once.
    pub fn expire_job(ctx: &mut Context<ExpireJob>) -> Result<()> {
        let listings = ctx.remaining_accounts()?;
        ctx.accounts.expire_job(&listings)
    }

    /// Permissionless: a silent worker's assignment is paid to its last
    /// heartbeat, its supplier slashed, its GPUs freed for `reassign`.
    pub fn report_fault(ctx: &mut Context<ReportFault>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.report_fault()
    }

    /// The owner adds time to a job, escrowing for it.
    pub fn extend_job(ctx: &mut Context<TopUpJob>, extra_secs: u64) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.extend_job(extra_secs)
    }

    /// The owner adds GPUs to a job, escrowing for them.
    pub fn scale_job(ctx: &mut Context<TopUpJob>, extra_gpus: u16, capacity: u8) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.scale_job(extra_gpus, capacity)
    }

    /// Opens the signer's prepaid inference credit and its escrow; `gateway`
    /// alone may settle receipts, at up to `max_price_per_mtok`.
    pub fn open_credit(
        ctx: &mut Context<OpenCredit>,
        gateway: Address,
        max_price_per_mtok: u64,
    ) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        let bumps = (ctx.bumps.credit, ctx.bumps.escrow);
        ctx.accounts
            .open_credit(&gateway, max_price_per_mtok, bumps)
    }

    /// The owner moves IO into its credit's escrow.
    pub fn deposit_credit(ctx: &mut Context<DepositCredit>, amount: u64) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.deposit_credit(amount)
    }

    /// The owner asks for credit back, payable after the withdrawal delay.
    pub fn request_credit_withdrawal(
        ctx: &mut Context<RequestCreditWithdrawal>,
        amount: u64,
    ) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.request_credit_withdrawal(amount)
    }

    /// Pays a requested withdrawal after its delay (at most the balance left).
    pub fn withdraw_credit(ctx: &mut Context<WithdrawCredit>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.withdraw_credit()
    }

    /// The credit's gateway settles a worker-signed usage receipt (Ed25519
    /// instruction before it): listing owner, fee and burn paid from the credit.
    pub fn settle_usage(
        ctx: &mut Context<SettleUsage>,
        seq: u64,
        tokens: u64,
        price_per_mtok: u64,
    ) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.settle_usage(&ReceiptArgs {
            seq,
            tokens,
            price_per_mtok,
        })
    }

    /// Closes an empty credit and its escrow, rent to the owner.
    pub fn close_credit(ctx: &mut Context<CloseCredit>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.close_credit()
    }

    /// A staker proposes one typed action (needs `proposal_min_stake`).
    pub fn create_proposal(ctx: &mut Context<CreateProposal>, args: ProposalArgs) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        let bump = ctx.bumps.proposal;
        ctx.accounts.create_proposal(&args, bump)
    }

    /// Votes (0 yes, 1 no, 2 abstain) with all active stake, locked until the vote ends.
    pub fn cast_vote(ctx: &mut Context<CastVote>, choice: u8) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        let bump = ctx.bumps.vote_record;
        ctx.accounts.cast_vote(choice, bump)
    }

    /// Takes a vote back before voting ends.
    pub fn withdraw_vote(ctx: &mut Context<WithdrawVote>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.withdraw_vote()
    }

    /// Permissionless after voting: passed (timelock starts) or rejected.
    pub fn finalize_proposal(ctx: &mut Context<FinalizeProposal>) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.finalize_proposal()
    }

    /// Permissionless after the timelock: executes a passed proposal once
    /// (an upgrade takes the loader's accounts as remaining accounts).
    pub fn execute_proposal(ctx: &mut Context<ExecuteProposal>) -> Result<()> {
        let remaining = ctx.remaining_accounts()?;
        ctx.accounts.execute_proposal(&remaining)
    }

    /// The bootstrap authority hands Config to governance, irreversibly.
    pub fn transfer_authority_to_governance(
        ctx: &mut Context<TransferAuthorityToGovernance>,
    ) -> Result<()> {
        reject_remaining_accounts(ctx)?;
        ctx.accounts.transfer_authority()
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
