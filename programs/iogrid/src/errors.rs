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
}
