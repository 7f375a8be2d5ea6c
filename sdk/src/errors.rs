//! Program errors decoded into their names and messages, so no user ever sees
//! a raw `custom program error: 0x1771`.

use {
    solana_instruction::error::InstructionError, solana_transaction_error::TransactionError,
    std::fmt,
};

/// Custom errors start here (Anchor's `ERROR_CODE_OFFSET`).
pub const ERROR_CODE_OFFSET: u32 = 6000;

macro_rules! iogrid_errors {
    ($($code:literal $name:ident $msg:literal,)*) => {
        /// Mirrors `IogridError` in `programs/iogrid/src/errors.rs`, codes included.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum IogridError {
            $($name = $code,)*
        }

        impl IogridError {
            pub const ALL: &'static [IogridError] = &[$(IogridError::$name,)*];

            pub fn from_code(code: u32) -> Option<Self> {
                match code {
                    $($code => Some(IogridError::$name),)*
                    _ => None,
                }
            }

            pub fn code(self) -> u32 {
                self as u32
            }

            pub fn name(self) -> &'static str {
                match self {
                    $(IogridError::$name => stringify!($name),)*
                }
            }

            /// The `#[msg]` text.
            pub fn message(self) -> &'static str {
                match self {
                    $(IogridError::$name => $msg,)*
                }
            }
        }
    };
}

iogrid_errors! {
    6000 MathOverflow "Arithmetic overflowed or divided by zero.",
    6001 NotUpgradeAuthority "The signer is not the program's upgrade authority, which alone may initialize the network.",
    6002 InvalidProgramAccount "The program account does not match this program or is not upgradeable.",
    6003 InvalidProgramData "The ProgramData account is not this program's ProgramData.",
    6004 ParamOutOfBounds "A network parameter is outside the hard bounds compiled into the program.",
    6005 WrongMint "The token account holds a different mint than the IO mint.",
    6006 WrongTokenOwner "The token account is owned by a different authority than required.",
    6007 NotTokenAccount "The account is not a token account of the SPL Token program.",
    6008 NotMint "The account is not an IO mint of the SPL Token program.",
    6009 SupplyCapExceeded "Minting this amount would exceed the 800,000,000 IO supply cap.",
    6010 Unauthorized "The signer is not the network authority.",
    6011 InvariantViolated "The account's stored state violates an invariant.",
    6012 UnexpectedRemainingAccounts "The instruction received accounts it does not use.",
    6013 ZeroAmount "The amount must be greater than zero.",
    6014 StakeLocked "That much stake is locked by listings or by a vote in progress.",
    6015 NothingUnbonding "There is no stake unbonding.",
    6016 CooldownNotOver "The unbonding cooldown has not ended yet.",
    6017 InsufficientStake "Not enough unlocked stake to back this many GPUs (min_stake_per_gpu each).",
    6018 InvalidGpuCount "A listing offers between 1 and 1,024 GPUs.",
    6019 InvalidListing "The listing needs a GPU model, VRAM, a worker key and a non-zero price.",
    6020 NotListingOwner "The signer does not own this listing.",
    6021 NotListingWorker "The signer is not this listing's worker key.",
    6022 ListingOffline "The listing is offline.",
    6023 ListingBusy "The listing has GPUs running jobs; that change would harm them.",
    6024 ListingNotStale "The listing's worker heartbeated within the timeout: it is not provably offline.",
    6025 ListingAlreadyOnline "The listing is already online.",
    6026 NoRewards "The listing has no rewards to claim.",
    6027 WrongVault "The account is not the network's vault for this purpose.",
    6028 InvalidJob "The job spec is invalid: GPUs, duration (up to a year), price, workload hash and 1 to 16 listings are required.",
    6029 NotKeeper "Only a registered keeper or the job owner may assign listings.",
    6030 NotJobOwner "The signer does not own this job.",
    6031 JobFullyAssigned "Every GPU of this job is already assigned.",
    6032 AssignmentMismatch "The assigned GPUs must add up to exactly the GPUs the job is missing.",
    6033 ListingTooExpensive "The listing's price is above the job's maximum.",
    6034 ListingMismatch "The listing does not meet the job's GPU model, VRAM or region.",
    6035 ListingStale "The listing's worker has not heartbeated within the timeout.",
    6036 ListingUnderStaked "The listing's locked stake is below min_stake_per_gpu for its GPUs.",
    6037 NotEnoughFreeGpus "The listing has fewer free GPUs than assigned.",
    6038 ListingAlreadyInJob "The listing already runs part of this job.",
    6039 ClusterFull "The job account has no free assignment slot (scale_job adds room).",
    6040 NoActiveAssignment "The listing has no running assignment in this job.",
    6041 WrongJobStatus "The job is not in a state that allows this.",
    6042 ProofMissing "The proof needs an Ed25519 signature-verify instruction right before this one.",
    6043 ProofMalformed "The Ed25519 instruction is malformed: one signature, all data inside that instruction.",
    6044 ProofWrongSigner "The proof or receipt is not signed by the listing's worker key.",
    6045 ProofWrongMessage "The signed message is not the statement this instruction checks: this job's and listing's completion proof, or this usage receipt.",
    6046 ChallengeWindowOpen "The challenge window is still open.",
    6047 ChallengeWindowClosed "The challenge window has closed.",
    6048 NotArbiter "The signer is not the network's arbiter.",
    6049 AwardTooLarge "The arbiter cannot award suppliers more than 100% of their proven claims.",
    6050 JobNotExpired "The job has not passed its duration plus grace period.",
    6051 WrongPayee "The payee must be an IO token account of the listing's owner.",
    6052 WrongRemainingAccounts "The accounts after the fixed ones must be, in assignment order, each payable assignment's payee (settle) or each running assignment's listing (expire).",
    6053 JobEnded "The job's paid-for time is over.",
    6054 JobAlreadyAssigned "The job has assignments; it can no longer be cancelled.",
    6055 TooManyKeepers "At most eight keepers can be registered.",
    6056 Paused "The network is paused by governance: no new stakes, listings, jobs or assignments.",
    6057 ProposalStakeTooLow "Creating a proposal needs at least proposal_min_stake of active stake.",
    6058 InvalidProposal "The proposal's action is invalid.",
    6059 VotingClosed "Voting on this proposal has ended.",
    6060 VotingOpen "Voting on this proposal has not ended yet.",
    6061 NoVotingPower "The voter has no active stake.",
    6062 WrongProposalStatus "The proposal is not in a state that allows this.",
    6063 TimelockNotOver "The proposal's timelock has not passed.",
    6064 TreasuryInsufficient "The treasury holds less than the transfer.",
    6065 InvalidArbiter "The arbiter cannot be the zero address.",
    6066 ProposalExpired "The proposal passed but was not executed within its execution window.",
    6067 NothingToSweep "There is no unclaimable emission to sweep.",
    6068 ListingIdReused "Listing ids only grow: use an id at or above the stake account's next_listing_id.",
    6069 TooManyPayouts "More token movements than one settlement can make.",
    6070 WrongConfig "The config account is not the network's Config PDA.",
    6071 WrongGovernance "The governance account is not the governance PDA.",
    6072 NotCreditOwner "The signer does not own this credit account.",
    6073 NotCreditGateway "The signer is not the gateway this credit account accepts usage receipts from.",
    6074 InvalidCreditTerms "A credit account needs a gateway and a price ceiling between 1 base unit and 1,000 IO per million tokens.",
    6075 ReceiptReplayed "The receipt's sequence number is not above the last one settled for this credit account.",
    6076 ReceiptPriceTooHigh "The receipt's price per million tokens is above the credit owner's ceiling.",
    6077 ReceiptEmpty "The receipt charges nothing: it needs tokens, and a charge of at least one base unit.",
    6078 InsufficientCredit "The credit balance is below the amount.",
    6079 NoCreditWithdrawal "There is no credit withdrawal pending.",
    6080 CreditWithdrawalNotReady "The credit withdrawal delay has not passed yet.",
    6081 CreditNotEmpty "The credit account still holds a balance or a pending withdrawal.",
    6082 HeartbeatBatchSize "A batched heartbeat carries between 1 and 60 listings.",
    6083 HeartbeatBatchInvalid "A batched heartbeat's listings must be writable, distinct and in ascending address order.",
}

impl fmt::Display for IogridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.code(), self.message())
    }
}

impl std::error::Error for IogridError {}

/// Anchor v2's own constraint errors that surface as custom codes.
fn anchor_error_name(code: u32) -> Option<&'static str> {
    Some(match code {
        2000 => "ConstraintMut: an account that must be writable is not",
        2001 => "ConstraintHasOne: an account does not match the one stored in its parent",
        2003 => "ConstraintRaw: an account constraint was violated",
        2005 => "ConstraintRentExempt: the account is not rent exempt",
        2007 => "ConstraintExecutable: the account is not executable",
        2011 => "ConstraintClose: the close target is invalid",
        2012 => "ConstraintAddress: an account is not at the required address",
        2013 => "ConstraintZero: the account is already initialized",
        2019 => "ConstraintSpace: the account has the wrong size",
        2020 => "ConstraintAccountIsNone: a required optional account is missing",
        2040 => "ConstraintDuplicateMutableAccount: the same account is passed twice as writable",
        _ => return None,
    })
}

/// Why a transaction failed, in terms a user can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramFailure {
    /// An iogrid error, by name.
    Iogrid(IogridError),
    /// Any other instruction error (Anchor constraint, token program, runtime).
    Instruction(InstructionError),
    /// The transaction failed before or outside an instruction.
    Transaction(TransactionError),
}

impl ProgramFailure {
    pub fn from_transaction_error(err: &TransactionError) -> Self {
        match err {
            TransactionError::InstructionError(_, ix_err) => Self::from_instruction_error(ix_err),
            other => ProgramFailure::Transaction(other.clone()),
        }
    }

    pub fn from_instruction_error(err: &InstructionError) -> Self {
        match err {
            InstructionError::Custom(code) => match IogridError::from_code(*code) {
                Some(e) => ProgramFailure::Iogrid(e),
                None => ProgramFailure::Instruction(err.clone()),
            },
            other => ProgramFailure::Instruction(other.clone()),
        }
    }

    /// The iogrid error, if that is what failed.
    pub fn iogrid(&self) -> Option<IogridError> {
        match self {
            ProgramFailure::Iogrid(e) => Some(*e),
            _ => None,
        }
    }
}

impl fmt::Display for ProgramFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramFailure::Iogrid(e) => e.fmt(f),
            ProgramFailure::Instruction(InstructionError::Custom(code)) => {
                match anchor_error_name(*code) {
                    Some(text) => write!(f, "{text} (code {code})"),
                    None => write!(f, "custom program error {code}"),
                }
            }
            ProgramFailure::Instruction(InstructionError::InvalidSeeds) => {
                write!(
                    f,
                    "InvalidSeeds: an account is not the expected program address (PDA)"
                )
            }
            ProgramFailure::Instruction(e) => write!(f, "{e}"),
            ProgramFailure::Transaction(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_contiguous_from_the_offset() {
        for (i, e) in IogridError::ALL.iter().enumerate() {
            assert_eq!(e.code(), ERROR_CODE_OFFSET + i as u32, "{}", e.name());
            assert_eq!(IogridError::from_code(e.code()), Some(*e));
        }
    }

    #[test]
    fn transaction_errors_decode_to_names() {
        let err = TransactionError::InstructionError(0, InstructionError::Custom(6001));
        let failure = ProgramFailure::from_transaction_error(&err);
        assert_eq!(failure.iogrid(), Some(IogridError::NotUpgradeAuthority));
        assert!(failure
            .to_string()
            .starts_with("NotUpgradeAuthority (6001): The signer"));
        let seeds = TransactionError::InstructionError(0, InstructionError::InvalidSeeds);
        assert!(ProgramFailure::from_transaction_error(&seeds)
            .to_string()
            .contains("PDA"));
    }
}
