use {
    crate::{
        constants::BPF_LOADER_UPGRADEABLE_ID,
        errors::IogridError,
        events::{emit_event, AuthorityTransferred},
        loader,
        state::Config,
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct TransferAuthorityToGovernance {
    pub authority: Signer,
    #[account(
        mut,
        address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig,
        constraint = config.authority == *authority.address() @ IogridError::Unauthorized
    )]
    pub config: Account<Config>,
    /// CHECK: the governance PDA. The program signs with it only to upgrade
    /// itself when an `UpgradeProgram` proposal executes, so once it is the
    /// authority no key can call an authority-gated instruction again.
    #[account(address = crate::constants::GOVERNANCE_ADDRESS @ IogridError::WrongGovernance)]
    pub governance: UncheckedAccount,
    /// CHECK: this program's ProgramData (address derived and checked in the
    /// handler); the loader checks the signer is its upgrade authority.
    #[account(mut)]
    pub program_data: UncheckedAccount,
    /// CHECK: pinned to the BPF upgradeable loader.
    #[account(address = BPF_LOADER_UPGRADEABLE_ID @ IogridError::InvalidProgramAccount)]
    pub bpf_loader_upgradeable: UncheckedAccount,
}

impl TransferAuthorityToGovernance {
    /// Config's authority and the program's upgrade authority move to the
    /// governance PDA together: the loader refuses unless the signer is the
    /// current upgrade authority, so a handover that leaves an upgrade key
    /// behind cannot happen.
    pub fn transfer_authority(&mut self) -> Result<()> {
        loader::require_program_data(self.program_data.account())?;
        loader::set_upgrade_authority(
            self.program_data.account(),
            self.authority.account(),
            self.governance.account(),
        )?;
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
