use {
    crate::{
        errors::IogridError,
        events::{emit_event, AuthorityTransferred},
        state::Config,
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct TransferAuthorityToGovernance {
    pub authority: Signer,
    #[account(
        mut,
        seeds = [b"config"],
        bump,
        constraint = config.authority == *authority.address() @ IogridError::Unauthorized
    )]
    pub config: Account<Config>,
    /// CHECK: the governance PDA. The program never signs with it (executed
    /// proposals act through Config's PDA), so once it is the authority no
    /// key can call an authority-gated instruction again.
    #[account(seeds = [b"governance"], bump)]
    pub governance: UncheckedAccount,
}

impl TransferAuthorityToGovernance {
    pub fn transfer_authority(&mut self) -> Result<()> {
        let governance = *self.governance.address();
        let previous = self.config.authority;
        self.config.authority = governance;
        self.config.invariant()?;
        emit_event(&AuthorityTransferred {
            previous,
            governance,
        });
        Ok(())
    }
}
