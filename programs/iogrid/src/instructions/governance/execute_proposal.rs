use {
    super::emit_proposal_status,
    crate::{
        constants::{EXECUTION_WINDOW_SECS, MAX_KEEPERS},
        errors::IogridError,
        instructions::{escrow::validate_payee, with_config_signer},
        spl::{cpi, TokenAccount},
        state::{ActionKind, Config, Proposal, ProposalStatus},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct ExecuteProposal {
    #[account(mut, seeds = [b"config"], bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [b"proposal", &proposal.id.to_le_bytes()], bump = proposal.bump)]
    pub proposal: Account<Proposal>,
    #[account(mut, address = config.treasury @ IogridError::WrongVault)]
    pub treasury: Account<TokenAccount>,
    /// CHECK: used only by a treasury transfer, which requires it to be the
    /// proposal's named recipient and an IO token account.
    #[account(mut)]
    pub recipient: UncheckedAccount,
    pub token_program: Program<Token>,
}

impl ExecuteProposal {
    /// Permissionless once a passed proposal's timelock is over; exactly once.
    /// Governance signs with Config's PDA, so no key is involved.
    pub fn execute_proposal(&mut self) -> Result<()> {
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
