use {
    super::emit_proposal_status,
    crate::{
        errors::IogridError,
        state::{Config, Proposal, ProposalStatus},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct FinalizeProposal {
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(mut, seeds = [crate::constants::SEED_PROPOSAL, &proposal.id.to_le_bytes()], bump = proposal.bump)]
    pub proposal: Account<Proposal>,
}

impl FinalizeProposal {
    /// Permissionless after voting ends: passed (timelock starts) or rejected.
    pub fn finalize_proposal(&mut self) -> Result<()> {
        if self.proposal.status()? != ProposalStatus::Voting {
            return Err(IogridError::WrongProposalStatus.into());
        }
        let now = Clock::get()?.unix_timestamp;
        if now < self.proposal.voting_ends_at {
            return Err(IogridError::VotingOpen.into());
        }
        if self.proposal.passes()? {
            let timelock = i64::from(self.config.params.timelock_secs);
            self.proposal.executable_at =
                now.checked_add(timelock).ok_or(IogridError::MathOverflow)?;
            self.proposal.set_status(ProposalStatus::Passed);
        } else {
            self.proposal.set_status(ProposalStatus::Rejected);
        }
        self.proposal.invariant()?;
        emit_proposal_status(&self.proposal)
    }
}
