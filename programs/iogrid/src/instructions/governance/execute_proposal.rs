use {
    super::emit_proposal_status,
    crate::{
        constants::{
            BPF_LOADER_UPGRADEABLE_ID, EXECUTION_WINDOW_SECS, GOVERNANCE_ADDRESS, GOVERNANCE_BUMP,
            MAX_KEEPERS, SEED_GOVERNANCE, SYSVAR_CLOCK_ID, SYSVAR_RENT_ID,
        },
        errors::IogridError,
        instructions::{escrow::validate_payee, with_config_signer},
        loader,
        spl::{cpi, TokenAccount},
        state::{ActionKind, Config, Proposal, ProposalStatus},
    },
    anchor_lang::prelude::*,
    pinocchio::cpi::{Seed, Signer as PdaSigner},
};

#[derive(Accounts)]
pub struct ExecuteProposal {
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(mut, seeds = [crate::constants::SEED_PROPOSAL, &proposal.id.to_le_bytes()], bump = proposal.bump)]
    pub proposal: Account<Proposal>,
    #[account(mut, address = config.treasury @ IogridError::WrongVault)]
    pub treasury: Account<TokenAccount>,
    /// CHECK: a treasury transfer requires it to be the proposal's named
    /// recipient and an IO token account; an upgrade requires it to be the
    /// governance PDA (checked in `upgrade_program`); other actions ignore it.
    #[account(mut)]
    pub recipient: UncheckedAccount,
    pub token_program: Program<Token>,
}

impl ExecuteProposal {
    /// Permissionless once a passed proposal's timelock is over; exactly once.
    /// Governance signs with Config's PDA, so no key is involved.
    pub fn execute_proposal(&mut self, remaining: &[AccountView]) -> Result<()> {
        if self.proposal.status()? != ProposalStatus::Passed {
            return Err(IogridError::WrongProposalStatus.into());
        }
        let now = Clock::get()?.unix_timestamp;
        if now < self.proposal.executable_at {
            return Err(IogridError::TimelockNotOver.into());
        }
        // A passed action is meant for the network as it was voted on: one
        // left unexecuted for long cannot be sprung on a changed network.
        let deadline = self
            .proposal
            .executable_at
            .checked_add(EXECUTION_WINDOW_SECS)
            .ok_or(IogridError::MathOverflow)?;
        if now > deadline {
            return Err(IogridError::ProposalExpired.into());
        }
        self.proposal.set_status(ProposalStatus::Executed);
        let action = self.proposal.action;
        let config = &mut *self.config;
        match ActionKind::from_u8(action.kind)? {
            ActionKind::SetParams => {
                action.params.validate()?;
                config.params = action.params;
            }
            ActionKind::AddKeeper => {
                let count = usize::from(config.keeper_count);
                if count >= MAX_KEEPERS || config.is_keeper(&action.address) {
                    return Err(IogridError::InvalidProposal.into());
                }
                config.keepers[count] = action.address;
                config.keeper_count = config.keeper_count.saturating_add(1);
            }
            ActionKind::RemoveKeeper => remove_keeper(config, &action.address)?,
            ActionKind::SetArbiter => config.arbiter = action.address,
            ActionKind::Pause => config.paused = 1,
            ActionKind::Unpause => config.paused = 0,
            ActionKind::TreasuryTransfer => {
                self.pay_from_treasury(action.amount, &action.address)?
            }
            ActionKind::UpgradeProgram => self.upgrade_program(&action.address, remaining)?,
        }
        if ActionKind::from_u8(action.kind)? != ActionKind::UpgradeProgram && !remaining.is_empty()
        {
            return Err(IogridError::UnexpectedRemainingAccounts.into());
        }
        self.config.invariant()?;
        self.proposal.invariant()?;
        emit_proposal_status(&self.proposal)
    }

    fn pay_from_treasury(&mut self, amount: u64, recipient: &Address) -> Result<()> {
        if self.recipient.address() != recipient {
            return Err(IogridError::WrongPayee.into());
        }
        let owner = {
            // SAFETY: no reference into the recipient's data is held.
            let data = unsafe { self.recipient.account().borrow_unchecked() };
            let bytes: [u8; 32] = data
                .get(32..64)
                .and_then(|b| b.try_into().ok())
                .ok_or(IogridError::WrongPayee)?;
            Address::new_from_array(bytes)
        };
        validate_payee(self.recipient.account(), &self.config.io_mint, &owner)?;
        if amount > self.config.treasury_balance || amount > self.treasury.amount() {
            return Err(IogridError::TreasuryInsufficient.into());
        }
        self.config.treasury_balance = self.config.treasury_balance.saturating_sub(amount);
        let (treasury, recipient, config) = (
            *self.treasury.account(),
            *self.recipient.account(),
            *self.config.account(),
        );
        with_config_signer(self.config.bump, |signer| {
            cpi::transfer(&treasury, &recipient, &config, amount, signer)
        })
    }
}

impl ExecuteProposal {
    /// Upgrades the program from `buffer` through the loader, the governance
    /// PDA (passed as `recipient`, which only treasury transfers use
    /// otherwise) signing as upgrade authority. `remaining`: ProgramData, the
    /// program, the buffer, the spill account (the proposer, who funded the
    /// buffer), the Rent and Clock sysvars, the loader.
    fn upgrade_program(&self, buffer: &Address, remaining: &[AccountView]) -> Result<()> {
        let [program_data, program, buffer_view, spill, rent, clock, loader_program] = remaining
        else {
            return Err(IogridError::WrongRemainingAccounts.into());
        };
        let governance = self.recipient.account();
        loader::require_program_data(program_data)?;
        let expected = [
            (program.address(), &crate::ID),
            (buffer_view.address(), buffer),
            (spill.address(), &self.proposal.proposer),
            (rent.address(), &SYSVAR_RENT_ID),
            (clock.address(), &SYSVAR_CLOCK_ID),
            (governance.address(), &GOVERNANCE_ADDRESS),
            (loader_program.address(), &BPF_LOADER_UPGRADEABLE_ID),
        ];
        if expected.iter().any(|(got, want)| got != want) {
            return Err(IogridError::WrongRemainingAccounts.into());
        }
        let bump = [GOVERNANCE_BUMP];
        let seeds = [Seed::from(SEED_GOVERNANCE), Seed::from(&bump)];
        let accounts = loader::UpgradeAccounts {
            program_data,
            program,
            buffer: buffer_view,
            spill,
            rent,
            clock,
            authority: governance,
        };
        loader::upgrade(&accounts, &[PdaSigner::from(&seeds)])
    }
}

fn remove_keeper(config: &mut Config, keeper: &Address) -> Result<()> {
    let count = usize::from(config.keeper_count);
    let index = config.keepers[..count]
        .iter()
        .position(|k| k == keeper)
        .ok_or(IogridError::InvalidProposal)?;
    let last = count.checked_sub(1).ok_or(IogridError::InvariantViolated)?;
    config.keepers.swap(index, last);
    config.keepers[last] = Address::default();
    config.keeper_count = config.keeper_count.saturating_sub(1);
    Ok(())
}
