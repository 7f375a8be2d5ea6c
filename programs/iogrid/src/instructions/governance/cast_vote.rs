use {
    crate::{
        constants::ACCOUNT_VERSION,
        errors::IogridError,
        events::{emit_event, VoteChanged},
        state::{Proposal, ProposalStatus, StakeAccount, VoteChoice, VoteRecord},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct CastVote {
    #[account(mut)]
    pub voter: Signer,
    #[account(mut, seeds = [crate::constants::SEED_PROPOSAL, &proposal.id.to_le_bytes()], bump = proposal.bump)]
    pub proposal: Account<Proposal>,
    #[account(mut, seeds = [crate::constants::SEED_STAKE, voter.address().as_ref()], bump = stake_account.bump)]
    pub stake_account: Account<StakeAccount>,
    /// One per voter and proposal: a second vote finds it already created.
    #[account(
        init,
        payer = voter,
        seeds = [crate::constants::SEED_VOTE, proposal.address().as_ref(), voter.address().as_ref()],
        bump
    )]
    pub vote_record: Account<VoteRecord>,
    pub system_program: Program<System>,
}

impl CastVote {
    /// Votes with the voter's whole active stake, which stays locked until
    /// voting ends.
    pub fn cast_vote(&mut self, choice: u8, bump: u8) -> Result<()> {
        let choice_kind = VoteChoice::from_u8(choice)?;
        require_voting(&self.proposal)?;
        let weight = self.stake_account.staked;
        if weight == 0 {
            return Err(IogridError::NoVotingPower.into());
        }
        self.proposal.add_vote(choice_kind, weight)?;
        self.stake_account
            .lock_for_vote(weight, self.proposal.voting_ends_at);
        let record = &mut *self.vote_record;
        record.voter = *self.voter.address();
        record.proposal = *self.proposal.address();
        record.weight = weight;
        record.choice = choice;
        record.bump = bump;
        record.version = ACCOUNT_VERSION;
        self.stake_account.invariant()?;
        self.proposal.invariant()?;
        emit_vote(
            &self.proposal,
            self.voter.address(),
            choice,
            i64::try_from(weight).unwrap_or(i64::MAX),
        )
    }
}

#[derive(Accounts)]
pub struct WithdrawVote {
    #[account(mut)]
    pub voter: Signer,
    #[account(mut, seeds = [crate::constants::SEED_PROPOSAL, &proposal.id.to_le_bytes()], bump = proposal.bump)]
    pub proposal: Account<Proposal>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_VOTE, proposal.address().as_ref(), voter.address().as_ref()],
        bump = vote_record.bump,
        close = voter
    )]
    pub vote_record: Account<VoteRecord>,
}

impl WithdrawVote {
    /// Takes the vote's weight back out of the tally before voting ends. The
    /// stake stays locked until then: it has been counted once already.
    pub fn withdraw_vote(&mut self) -> Result<()> {
        require_voting(&self.proposal)?;
        let (choice, weight) = (self.vote_record.choice, self.vote_record.weight);
        self.proposal
            .remove_vote(VoteChoice::from_u8(choice)?, weight)?;
        self.proposal.invariant()?;
        let signed = i64::try_from(weight)
            .unwrap_or(i64::MAX)
            .checked_neg()
            .ok_or(IogridError::MathOverflow)?;
        emit_vote(&self.proposal, self.voter.address(), choice, signed)
    }
}

fn require_voting(proposal: &Proposal) -> Result<()> {
    if proposal.status()? != ProposalStatus::Voting {
        return Err(IogridError::WrongProposalStatus.into());
    }
    if Clock::get()?.unix_timestamp >= proposal.voting_ends_at {
        return Err(IogridError::VotingClosed.into());
    }
    Ok(())
}

fn emit_vote(
    proposal: &Account<Proposal>,
    voter: &Address,
    choice: u8,
    weight_change: i64,
) -> Result<()> {
    emit_event(&VoteChanged {
        proposal: *proposal.address(),
        voter: *voter,
        weight_change,
        yes: proposal.yes,
        no: proposal.no,
        abstain: proposal.abstain,
        choice,
        _padding: [0; 7],
    });
    Ok(())
}
