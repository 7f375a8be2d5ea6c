pub mod cast_vote;
pub mod create_proposal;
pub mod execute_proposal;
pub mod finalize_proposal;
pub mod transfer_authority;

pub use {
    cast_vote::*, create_proposal::*, execute_proposal::*, finalize_proposal::*,
    transfer_authority::*,
};

use {
    crate::{
        events::{emit_event, ProposalStatusChanged},
        state::Proposal,
    },
    anchor_lang::prelude::*,
};

/// Reports a proposal's status change (finalized or executed).
pub(crate) fn emit_proposal_status(proposal: &Account<Proposal>) -> Result<()> {
    emit_event(&ProposalStatusChanged {
        proposal: *proposal.address(),
        at: Clock::get()?.unix_timestamp,
        executable_at: proposal.executable_at,
        status: proposal.status,
        _padding: [0; 7],
    });
    Ok(())
}
