use {
    crate::{
        constants::*,
        errors::IogridError,
        math,
        state::{Config, NetworkParams},
    },
    anchor_lang::prelude::*,
};

/// What a proposal does when executed. Stored as a `u8` in [`ProposalAction::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ActionKind {
    /// Replace every network parameter with `params` (checked against the hard bounds).
    SetParams = 0,
    AddKeeper = 1,
    RemoveKeeper = 2,
    SetArbiter = 3,
    /// Pay `amount` from the treasury to the IO account `address`.
    TreasuryTransfer = 4,
    Pause = 5,
    Unpause = 6,
    /// Replace the program with the buffer at `address`, whose authority
    /// must be the governance PDA; the buffer's lamports go to the proposer.
    UpgradeProgram = 7,
}

impl ActionKind {
    pub fn from_u8(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::SetParams,
            1 => Self::AddKeeper,
            2 => Self::RemoveKeeper,
            3 => Self::SetArbiter,
            4 => Self::TreasuryTransfer,
            5 => Self::Pause,
            6 => Self::Unpause,
            7 => Self::UpgradeProgram,
            _ => return Err(IogridError::InvalidProposal.into()),
        })
    }
}

/// A typed action; fields an action does not use must be zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct ProposalAction {
    pub kind: u8,
    pub _padding: [u8; 7],
    /// TreasuryTransfer: IO base units.
    pub amount: u64,
    /// AddKeeper / RemoveKeeper / SetArbiter: the key; TreasuryTransfer: the recipient IO account.
    pub address: Address,
    /// SetParams: the new parameters.
    pub params: NetworkParams,
}

// SAFETY: repr(C), 112 bytes without padding (asserted); any bit pattern valid.
unsafe impl bytemuck::Pod for ProposalAction {}
unsafe impl bytemuck::Zeroable for ProposalAction {}
const _: () = assert!(core::mem::size_of::<ProposalAction>() == 112);

impl ProposalAction {
    /// Refuses actions that could never execute: parameters outside the hard
    /// bounds, keepers already (not) registered, zero amounts or addresses.
    pub fn validate(&self, config: &Config) -> Result<()> {
        let kind = ActionKind::from_u8(self.kind)?;
        let has_address = self.address != Address::default();
        let ok = match kind {
            ActionKind::SetParams => {
                self.params.validate()?;
                true
            }
            ActionKind::AddKeeper => {
                has_address
                    && !config.is_keeper(&self.address)
                    && usize::from(config.keeper_count) < MAX_KEEPERS
            }
            ActionKind::RemoveKeeper => config.is_keeper(&self.address),
            ActionKind::SetArbiter => has_address,
            ActionKind::TreasuryTransfer => has_address && self.amount > 0,
            ActionKind::Pause | ActionKind::Unpause => true,
            ActionKind::UpgradeProgram => has_address,
        };
        if !ok {
            return Err(IogridError::InvalidProposal.into());
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ProposalStatus {
    Voting = 0,
    Passed = 1,
    Rejected = 2,
    Executed = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum VoteChoice {
    Yes = 0,
    No = 1,
    Abstain = 2,
}

impl VoteChoice {
    pub fn from_u8(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::Yes,
            1 => Self::No,
            2 => Self::Abstain,
            _ => return Err(IogridError::InvalidProposal.into()),
        })
    }
}

/// A proposal: `["proposal", id]`.
#[account]
pub struct Proposal {
    pub proposer: Address,
    pub description_hash: [u8; 32],
    /// ASCII, zero-padded.
    pub title: [u8; 64],
    pub action: ProposalAction,
    pub id: u64,
    pub created_at: i64,
    pub voting_ends_at: i64,
    /// When a passed proposal may execute (voting end + timelock).
    pub executable_at: i64,
    pub yes: u64,
    pub no: u64,
    pub abstain: u64,
    /// Total active stake when the proposal was created: quorum's base.
    pub turnout_base: u64,
    pub status: u8,
    pub bump: u8,
    pub version: u8,
    pub _padding: u8,
    /// The network's quorum and threshold when the proposal was created: a
    /// proposal is judged by the rules it was put to the vote under.
    pub quorum_bps: u16,
    pub threshold_bps: u16,
}

impl Proposal {
    pub fn status(&self) -> Result<ProposalStatus> {
        Ok(match self.status {
            0 => ProposalStatus::Voting,
            1 => ProposalStatus::Passed,
            2 => ProposalStatus::Rejected,
            3 => ProposalStatus::Executed,
            _ => return Err(IogridError::InvariantViolated.into()),
        })
    }

    pub fn set_status(&mut self, status: ProposalStatus) {
        self.status = status as u8;
    }

    fn tally_of(&mut self, choice: VoteChoice) -> &mut u64 {
        match choice {
            VoteChoice::Yes => &mut self.yes,
            VoteChoice::No => &mut self.no,
            VoteChoice::Abstain => &mut self.abstain,
        }
    }

    pub fn add_vote(&mut self, choice: VoteChoice, weight: u64) -> Result<()> {
        let tally = self.tally_of(choice);
        *tally = tally.checked_add(weight).ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    pub fn remove_vote(&mut self, choice: VoteChoice, weight: u64) -> Result<()> {
        let tally = self.tally_of(choice);
        *tally = tally
            .checked_sub(weight)
            .ok_or(IogridError::InvariantViolated)?;
        Ok(())
    }

    /// Passes with turnout ≥ quorum of the stake at creation and yes ≥
    /// threshold of yes + no, both as they stood at creation.
    pub fn passes(&self) -> Result<bool> {
        let turnout = self
            .yes
            .checked_add(self.no)
            .and_then(|t| t.checked_add(self.abstain))
            .ok_or(IogridError::MathOverflow)?;
        let quorum = math::mul_div_ceil(
            self.turnout_base,
            u64::from(self.quorum_bps),
            BPS_DENOMINATOR,
        )?;
        let decided = self
            .yes
            .checked_add(self.no)
            .ok_or(IogridError::MathOverflow)?;
        let needed = math::mul_div_ceil(decided, u64::from(self.threshold_bps), BPS_DENOMINATOR)?;
        Ok(turnout >= quorum && turnout > 0 && self.yes >= needed && self.yes > 0)
    }

    pub fn invariant(&self) -> Result<()> {
        self.status()?;
        ActionKind::from_u8(self.action.kind)?;
        if self.voting_ends_at < self.created_at {
            return Err(IogridError::InvariantViolated.into());
        }
        Ok(())
    }
}

/// One staker's vote on one proposal: `["vote", proposal, voter]`.
#[account]
pub struct VoteRecord {
    pub voter: Address,
    pub proposal: Address,
    pub weight: u64,
    pub choice: u8,
    pub bump: u8,
    pub version: u8,
    pub _padding: [u8; 5],
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use {super::*, bytemuck::Zeroable};

    fn proposal(base: u64, yes: u64, no: u64, abstain: u64) -> Proposal {
        let mut p = Proposal::zeroed();
        p.turnout_base = base;
        (p.quorum_bps, p.threshold_bps) = (1_000, 6_000);
        (p.yes, p.no, p.abstain) = (yes, no, abstain);
        p
    }

    #[test]
    fn quorum_and_threshold() {
        // 10% quorum of 1,000 = 100; 60% of yes + no.
        assert_eq!(proposal(1_000, 60, 40, 0).passes(), Ok(true));
        assert_eq!(
            proposal(1_000, 60, 41, 0).passes(),
            Ok(false),
            "threshold not met"
        );
        assert_eq!(
            proposal(1_000, 61, 40, 0).passes(),
            Ok(true),
            "yes ≥ ⌈60% of 101⌉"
        );
        assert_eq!(
            proposal(1_000, 60, 0, 40).passes(),
            Ok(true),
            "abstain counts for quorum"
        );
        assert_eq!(proposal(1_000, 50, 0, 49).passes(), Ok(false), "no quorum");
        assert_eq!(proposal(0, 0, 0, 0).passes(), Ok(false), "nobody voted");
    }
}
