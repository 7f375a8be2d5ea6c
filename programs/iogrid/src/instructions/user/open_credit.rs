use {
    crate::{
        errors::IogridError,
        events::{emit_event, CreditOpened},
        spl::{token, Mint, TokenAccount},
        state::{Config, CreditTerms, InferenceCredit},
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct OpenCredit {
    #[account(mut)]
    pub owner: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    /// One per wallet: a second `open_credit` finds it already created.
    #[account(
        init,
        payer = owner,
        seeds = [crate::constants::SEED_CREDIT, owner.address().as_ref()],
        bump
    )]
    pub credit: Account<InferenceCredit>,
    #[account(
        init,
        payer = owner,
        seeds = [crate::constants::SEED_CREDIT_ESCROW, credit.address().as_ref()],
        bump,
        token::mint = io_mint,
        token::authority = credit
    )]
    pub escrow: Account<TokenAccount>,
    #[account(address = config.io_mint @ IogridError::NotMint)]
    pub io_mint: Account<Mint>,
    pub token_program: Program<Token>,
    pub system_program: Program<System>,
}

impl OpenCredit {
    /// Opens the owner's prepaid inference credit: `gateway` alone may
    /// settle receipts against it, at up to `max_price_per_mtok`.
    pub fn open_credit(
        &mut self,
        gateway: &Address,
        max_price_per_mtok: u64,
        bumps: (u8, u8),
    ) -> Result<()> {
        self.config.require_not_paused()?;
        let now = Clock::get()?.unix_timestamp;
        self.credit.open(
            &CreditTerms {
                owner: *self.owner.address(),
                gateway: *gateway,
                escrow: *self.escrow.address(),
                max_price_per_mtok,
                bump: bumps.0,
                escrow_bump: bumps.1,
            },
            now,
        )?;
        self.credit.invariant()?;
        emit_event(&CreditOpened {
            credit: *self.credit.address(),
            owner: *self.owner.address(),
            gateway: *gateway,
            escrow: *self.escrow.address(),
            max_price_per_mtok,
        });
        Ok(())
    }
}
