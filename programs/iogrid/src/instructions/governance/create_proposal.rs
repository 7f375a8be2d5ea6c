use {
    crate::{
        constants::ACCOUNT_VERSION,
        errors::IogridError,
        events::{emit_event, ProposalCreated},
        state::{Config, Proposal, ProposalAction, ProposalStatus, StakeAccount},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct CreateProposal {
    #[account(mut)]
    pub proposer: Signer,
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(seeds = [crate::constants::SEED_STAKE, proposer.address().as_ref()], bump = stake_account.bump)]
    pub stake_account: Account<StakeAccount>,
    #[account(
        init,
        payer = proposer,
        seeds = [crate::constants::SEED_PROPOSAL, &config.proposal_count.to_le_bytes()],
        bump
    )]
    pub proposal: Account<Proposal>,
    pub system_program: Program<System>,
}

/// What `create_proposal` takes.
#[derive(Clone, Copy, Debug, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct ProposalArgs {
    pub action: ProposalAction,
    pub title: [u8; 64],
    pub description_hash: [u8; 32],
}

impl CreateProposal {
    /// A staker with `proposal_min_stake` proposes one typed action; voting
    /// runs for `voting_secs`.
    pub fn create_proposal(&mut self, args: &ProposalArgs, bump: u8) -> Result<()> {
        let params = self.config.params;
        if self.stake_account.staked < params.proposal_min_stake {
            return Err(IogridError::ProposalStakeTooLow.into());
        }
        args.action.validate(&self.config)?;
        let now = Clock::get()?.unix_timestamp;
        let id = self.config.proposal_count;
        self.config.proposal_count = id.checked_add(1).ok_or(IogridError::MathOverflow)?;
        let proposal = &mut *self.proposal;
        proposal.proposer = *self.proposer.address();
        proposal.description_hash = args.description_hash;
        proposal.title = args.title;
        proposal.action = args.action;
        proposal.id = id;
        proposal.created_at = now;
        proposal.voting_ends_at = now
            .checked_add(i64::from(params.voting_secs))
            .ok_or(IogridError::MathOverflow)?;
        proposal.turnout_base = self.config.total_staked;
        proposal.quorum_bps = self.config.params.quorum_bps;
        proposal.threshold_bps = self.config.params.threshold_bps;
        proposal.set_status(ProposalStatus::Voting);
        proposal.bump = bump;
        proposal.version = ACCOUNT_VERSION;
        self.proposal.invariant()?;
        emit_event(&ProposalCreated {
            proposal: *self.proposal.address(),
            proposer: *self.proposer.address(),
            id,
            voting_ends_at: self.proposal.voting_ends_at,
            turnout_base: self.proposal.turnout_base,
            kind: args.action.kind,
            _padding: [0; 7],
        });
        Ok(())
    }
}
