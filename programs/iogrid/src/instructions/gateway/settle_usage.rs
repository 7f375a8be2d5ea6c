use {
    super::super::escrow::{validate_payee, with_credit_signer},
    crate::{
        errors::IogridError,
        events::{emit_event, UsageSettled},
        proof::{check_preceding_ed25519, usage_charge, usage_message, UsageReceipt},
        spl::{cpi::Payouts, Mint, TokenAccount},
        state::{Config, GpuListing, InferenceCredit},
    },
    anchor_lang::prelude::*,
    iogrid_rules::pay,
};

/// Signed by the credit's gateway, with the serving listing's worker
/// signature over the receipt in the Ed25519 instruction right before this
/// one. Works while the network is paused, like `settle_job`: it pays for
/// inference already served.
#[derive(Accounts)]
pub struct SettleUsage {
    pub gateway: Signer,
    #[account(mut, address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_CREDIT, credit.owner.as_ref()],
        bump = credit.bump,
        constraint = credit.gateway == *gateway.address() @ IogridError::NotCreditGateway
    )]
    pub credit: Account<InferenceCredit>,
    #[account(mut, address = credit.escrow @ IogridError::WrongVault)]
    pub escrow: Account<TokenAccount>,
    /// Program-owned with the listing discriminator: only `list_gpu` makes
    /// one, so no PDA derivation is needed (as in `heartbeat`).
    pub listing: Account<GpuListing>,
    /// CHECK: an IO token account of the listing's owner (`validate_payee`).
    #[account(mut)]
    pub payee: UncheckedAccount,
    #[account(mut, address = config.treasury @ IogridError::WrongVault)]
    pub treasury: Account<TokenAccount>,
    #[account(mut, address = config.io_mint @ IogridError::NotMint)]
    pub io_mint: Account<Mint>,
    pub token_program: Program<Token>,
    pub instructions: Sysvar<SysvarInstructions>,
}

/// A usage receipt's numbers, as the instruction's arguments.
pub struct ReceiptArgs {
    pub seq: u64,
    pub tokens: u64,
    pub price_per_mtok: u64,
}

impl SettleUsage {
    /// Pays a worker-signed receipt out of the credit: the listing owner's
    /// net, the treasury's fee and the burn, by the current network
    /// parameters; never more than the balance.
    pub fn settle_usage(&mut self, receipt: &ReceiptArgs) -> Result<()> {
        self.credit
            .check_receipt(receipt.seq, receipt.tokens, receipt.price_per_mtok)?;
        let listing = *self.listing.address();
        let message = usage_message(&UsageReceipt {
            program: crate::ID.as_array(),
            credit: self.credit.address().as_array(),
            listing: listing.as_array(),
            seq: receipt.seq,
            tokens: receipt.tokens,
            price_per_mtok: receipt.price_per_mtok,
        });
        check_preceding_ed25519(&self.instructions, &self.listing.spec.worker, &message)?;
        validate_payee(
            self.payee.account(),
            &self.config.io_mint,
            &self.listing.owner,
        )?;

        let charge =
            usage_charge(receipt.tokens, receipt.price_per_mtok).map_err(IogridError::from)?;
        self.credit.settle(receipt.seq, charge)?;
        let params = &self.config.params;
        let split =
            pay::split(charge, params.fee_bps, params.burn_bps).map_err(IogridError::from)?;
        self.config.record_treasury_income(split.fee)?;
        self.config.record_burn(split.burn)?;

        let views = (*self.escrow.account(), *self.credit.account());
        let mut payouts = Payouts::new(&views.0, &views.1);
        payouts.transfer(self.payee.account(), split.net)?;
        payouts.transfer(self.treasury.account(), split.fee)?;
        payouts.burn(self.io_mint.account(), split.burn)?;
        with_credit_signer(&self.credit, |signer| {
            payouts.execute(self.token_program.account(), signer)
        })?;

        self.credit.invariant()?;
        self.config.invariant()?;
        emit_event(&UsageSettled {
            credit: *self.credit.address(),
            listing,
            payee: *self.payee.address(),
            seq: receipt.seq,
            tokens: receipt.tokens,
            price_per_mtok: receipt.price_per_mtok,
            charge,
            net: split.net,
            fee: split.fee,
            burned: split.burn,
            balance_after: self.credit.balance,
            spent_after: self.credit.spent,
        });
        Ok(())
    }
}
