//! Every error the program returns. Codes are an API: append only, never
//! reorder. The number beside each variant is its on-chain code.

use anchor_lang::prelude::*;

#[error_code]
#[derive(Debug, PartialEq, Eq)]
pub enum IogridError {
    /// 6000
    #[msg("Arithmetic overflowed or divided by zero.")]
    MathOverflow,
    /// 6001
    #[msg("The signer is not the program's upgrade authority, which alone may initialize the network.")]
    NotUpgradeAuthority,
    /// 6002
    #[msg("The program account does not match this program or is not upgradeable.")]
    InvalidProgramAccount,
    /// 6003
    #[msg("The ProgramData account is not this program's ProgramData.")]
    InvalidProgramData,
    /// 6004
    #[msg("A network parameter is outside the hard bounds compiled into the program.")]
    ParamOutOfBounds,
    /// 6005
    #[msg("The token account holds a different mint than the IO mint.")]
    WrongMint,
    /// 6006
    #[msg("The token account is owned by a different authority than required.")]
    WrongTokenOwner,
    /// 6007
    #[msg("The account is not a token account of the SPL Token program.")]
    NotTokenAccount,
    /// 6008
    #[msg("The account is not an IO mint of the SPL Token program.")]
    NotMint,
    /// 6009
    #[msg("Minting this amount would exceed the 800,000,000 IO supply cap.")]
    SupplyCapExceeded,
    /// 6010
    #[msg("The signer is not the network authority.")]
    Unauthorized,
    /// 6011
    #[msg("The account's stored state violates an invariant.")]
    InvariantViolated,
    /// 6012
    #[msg("The instruction received accounts it does not use.")]
    UnexpectedRemainingAccounts,
    /// 6013
    #[msg("The amount must be greater than zero.")]
    ZeroAmount,
    /// 6014
    #[msg("That much stake is locked by listings or by a vote in progress.")]
    StakeLocked,
    /// 6015
    #[msg("There is no stake unbonding.")]
    NothingUnbonding,
    /// 6016
    #[msg("The unbonding cooldown has not ended yet.")]
    CooldownNotOver,
    /// 6017
    #[msg("Not enough unlocked stake to back this many GPUs (min_stake_per_gpu each).")]
    InsufficientStake,
    /// 6018
    #[msg("A listing offers between 1 and 1,024 GPUs.")]
    InvalidGpuCount,
    /// 6019
    #[msg("The listing needs a GPU model, VRAM, a worker key and a non-zero price.")]
    InvalidListing,
    /// 6020
    #[msg("The signer does not own this listing.")]
    NotListingOwner,
    /// 6021
    #[msg("The signer is not this listing's worker key.")]
    NotListingWorker,
    /// 6022
    #[msg("The listing is offline.")]
    ListingOffline,
    /// 6023
    #[msg("The listing has GPUs running jobs; that change would harm them.")]
    ListingBusy,
    /// 6024
    #[msg("The listing's worker heartbeated within the timeout: it is not provably offline.")]
    ListingNotStale,
    /// 6025
    #[msg("The listing is already online.")]
    ListingAlreadyOnline,
    /// 6026
    #[msg("The listing has no rewards to claim.")]
    NoRewards,
    /// 6027
    #[msg("The account is not the network's vault for this purpose.")]
    WrongVault,
    /// 6028
    #[msg("The job spec is invalid: GPUs, duration (up to a year), price, workload hash and 1 to 16 listings are required.")]
    InvalidJob,
    /// 6029
    #[msg("Only a registered keeper or the job owner may assign listings.")]
    NotKeeper,
    /// 6030
    #[msg("The signer does not own this job.")]
    NotJobOwner,
    /// 6031
    #[msg("Every GPU of this job is already assigned.")]
    JobFullyAssigned,
    /// 6032
    #[msg("The assigned GPUs must add up to exactly the GPUs the job is missing.")]
    AssignmentMismatch,
    /// 6033
    #[msg("The listing's price is above the job's maximum.")]
    ListingTooExpensive,
    /// 6034
    #[msg("The listing does not meet the job's GPU model, VRAM or region.")]
    ListingMismatch,
    /// 6035
    #[msg("The listing's worker has not heartbeated within the timeout.")]
    ListingStale,
    /// 6036
    #[msg("The listing's locked stake is below min_stake_per_gpu for its GPUs.")]
    ListingUnderStaked,
    /// 6037
    #[msg("The listing has fewer free GPUs than assigned.")]
    NotEnoughFreeGpus,
    /// 6038
    #[msg("The listing already runs part of this job.")]
    ListingAlreadyInJob,
    /// 6039
    #[msg("The job account has no free assignment slot (scale_job adds room).")]
    ClusterFull,
    /// 6040
    #[msg("The listing has no running assignment in this job.")]
    NoActiveAssignment,
    /// 6041
    #[msg("The job is not in a state that allows this.")]
    WrongJobStatus,
    /// 6042
    #[msg("The proof needs an Ed25519 signature-verify instruction right before this one.")]
    ProofMissing,
    /// 6043
    #[msg(
        "The Ed25519 instruction is malformed: one signature, all data inside that instruction."
    )]
    ProofMalformed,
    /// 6044
    #[msg("The proof or receipt is not signed by the listing's worker key.")]
    ProofWrongSigner,
    /// 6045
    #[msg("The signed message is not the statement this instruction checks: this job's and listing's completion proof, or this usage receipt.")]
    ProofWrongMessage,
    /// 6046
    #[msg("The challenge window is still open.")]
    ChallengeWindowOpen,
    /// 6047
    #[msg("The challenge window has closed.")]
    ChallengeWindowClosed,
    /// 6048
    #[msg("The signer is not the network's arbiter.")]
    NotArbiter,
    /// 6049
    #[msg("The arbiter cannot award suppliers more than 100% of their proven claims.")]
    AwardTooLarge,
    /// 6050
    #[msg("The job has not passed its duration plus grace period.")]
    JobNotExpired,
    /// 6051
    #[msg("The payee must be an IO token account of the listing's owner.")]
    WrongPayee,
    /// 6052
    #[msg("The accounts after the fixed ones must be, in assignment order, each payable assignment's payee (settle) or each running assignment's listing (expire).")]
    WrongRemainingAccounts,
    /// 6053
    #[msg("The job's paid-for time is over.")]
    JobEnded,
    /// 6054
    #[msg("The job has assignments; it can no longer be cancelled.")]
    JobAlreadyAssigned,
    /// 6055
    #[msg("At most eight keepers can be registered.")]
    TooManyKeepers,
    /// 6056
    #[msg("The network is paused by governance: no new stakes, listings, jobs or assignments.")]
    Paused,
    /// 6057
    #[msg("Creating a proposal needs at least proposal_min_stake of active stake.")]
    ProposalStakeTooLow,
    /// 6058
    #[msg("The proposal's action is invalid.")]
    InvalidProposal,
    /// 6059
    #[msg("Voting on this proposal has ended.")]
    VotingClosed,
    /// 6060
    #[msg("Voting on this proposal has not ended yet.")]
    VotingOpen,
    /// 6061
    #[msg("The voter has no active stake.")]
    NoVotingPower,
    /// 6062
    #[msg("The proposal is not in a state that allows this.")]
    WrongProposalStatus,
    /// 6063
    #[msg("The proposal's timelock has not passed.")]
    TimelockNotOver,
    /// 6064
    #[msg("The treasury holds less than the transfer.")]
    TreasuryInsufficient,
    /// 6065
    #[msg("The arbiter cannot be the zero address.")]
    InvalidArbiter,
    /// 6066
    #[msg("The proposal passed but was not executed within its execution window.")]
    ProposalExpired,
    /// 6067
    #[msg("There is no unclaimable emission to sweep.")]
    NothingToSweep,
    /// 6068
    #[msg("Listing ids only grow: use an id at or above the stake account's next_listing_id.")]
    ListingIdReused,
    /// 6069
    #[msg("More token movements than one settlement can make.")]
    TooManyPayouts,
    /// 6070
    #[msg("The config account is not the network's Config PDA.")]
    WrongConfig,
    /// 6071
    #[msg("The governance account is not the governance PDA.")]
    WrongGovernance,
    /// 6072
    #[msg("The signer does not own this credit account.")]
    NotCreditOwner,
    /// 6073
    #[msg("The signer is not the gateway this credit account accepts usage receipts from.")]
    NotCreditGateway,
    /// 6074
    #[msg("A credit account needs a gateway and a price ceiling between 1 base unit and 1,000 IO per million tokens.")]
    InvalidCreditTerms,
    /// 6075
    #[msg(
        "The receipt's sequence number is not above the last one settled for this credit account."
    )]
    ReceiptReplayed,
    /// 6076
    #[msg("The receipt's price per million tokens is above the credit owner's ceiling.")]
    ReceiptPriceTooHigh,
    /// 6077
    #[msg("The receipt charges nothing: it needs tokens, and a charge of at least one base unit.")]
    ReceiptEmpty,
    /// 6078
    #[msg("The credit balance is below the amount.")]
    InsufficientCredit,
    /// 6079
    #[msg("There is no credit withdrawal pending.")]
    NoCreditWithdrawal,
    /// 6080
    #[msg("The credit withdrawal delay has not passed yet.")]
    CreditWithdrawalNotReady,
    /// 6081
    #[msg("The credit account still holds a balance or a pending withdrawal.")]
    CreditNotEmpty,
    /// 6082
    #[msg("A batched heartbeat carries between 1 and 60 listings.")]
    HeartbeatBatchSize,
    /// 6083
    #[msg(
        "A batched heartbeat's listings must be writable, distinct and in ascending address order."
    )]
    HeartbeatBatchInvalid,
}
