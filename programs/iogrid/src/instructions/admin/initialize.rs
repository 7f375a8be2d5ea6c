use {
    crate::{
        constants::*,
        errors::IogridError,
        events::{emit_event, NetworkInitialized},
        spl::{cpi, mint, token, Mint, TokenAccount},
        state::{Config, NetworkParams},
    },
    anchor_lang::prelude::*,
    pinocchio::cpi::{Seed, Signer as PdaSigner},
};

/// Upgradeable-loader account tags (bincode `UpgradeableLoaderState`).
const LOADER_TAG_PROGRAM: [u8; 4] = [2, 0, 0, 0];
const LOADER_TAG_PROGRAM_DATA: [u8; 4] = [3, 0, 0, 0];
/// ProgramData: tag (4) + slot (8), then `Option<Address>` upgrade authority.
const PROGRAM_DATA_AUTHORITY_OFFSET: usize = 12;

#[derive(Accounts)]
pub struct Initialize {
    /// The program's upgrade authority: only it may bootstrap the network, so
    /// nobody can front-run the deployment with their own parameters.
    #[account(mut)]
    pub authority: Signer,
    #[account(init, payer = authority, seeds = [SEED_CONFIG], bump)]
    pub config: Account<Config>,
    #[account(
        init,
        payer = authority,
        seeds = [SEED_MINT],
        bump,
        mint::decimals = IO_DECIMALS,
        mint::authority = config
    )]
    pub io_mint: Account<Mint>,
    /// CHECK: any address may receive the genesis allocation; it only becomes
    /// the token authority of `distribution`.
    pub distribution_owner: UncheckedAccount,
    #[account(
        init,
        payer = authority,
        seeds = [SEED_DISTRIBUTION],
        bump,
        token::mint = io_mint,
        token::authority = distribution_owner
    )]
    pub distribution: Account<TokenAccount>,
    #[account(
        init,
        payer = authority,
        seeds = [SEED_TREASURY],
        bump,
        token::mint = io_mint,
        token::authority = config
    )]
    pub treasury: Account<TokenAccount>,
    #[account(
        init,
        payer = authority,
        seeds = [SEED_REWARDS_VAULT],
        bump,
        token::mint = io_mint,
        token::authority = config
    )]
    pub rewards_vault: Account<TokenAccount>,
    #[account(
        init,
        payer = authority,
        seeds = [SEED_STAKE_VAULT],
        bump,
        token::mint = io_mint,
        token::authority = config
    )]
    pub stake_vault: Account<TokenAccount>,
    /// CHECK: pinned to this program's address; its loader state names the
    /// ProgramData account, checked in `validate`.
    #[account(address = crate::ID @ IogridError::InvalidProgramAccount)]
    pub program: UncheckedAccount,
    /// CHECK: must be the ProgramData named by `program`, owned by the
    /// upgradeable loader, with `authority` as upgrade authority (`validate`).
    pub program_data: UncheckedAccount,
    pub token_program: Program<Token>,
    pub system_program: Program<System>,
}

impl Initialize {
    /// Only the program's upgrade authority may initialize.
    pub fn validate(&self) -> Result<()> {
        let program = self.program.account();
        let program_data = self.program_data.account();
        if !program.owned_by(&BPF_LOADER_UPGRADEABLE_ID) {
            return Err(IogridError::InvalidProgramAccount.into());
        }
        {
            let data = program.try_borrow()?;
            if data.len() < 36
                || data[..4] != LOADER_TAG_PROGRAM
                || data[4..36] != *program_data.address().as_ref()
            {
                return Err(IogridError::InvalidProgramData.into());
            }
        }
        if !program_data.owned_by(&BPF_LOADER_UPGRADEABLE_ID) {
            return Err(IogridError::InvalidProgramData.into());
        }
        let data = program_data.try_borrow()?;
        let authority_at = PROGRAM_DATA_AUTHORITY_OFFSET;
        if data.len() < authority_at + 33 || data[..4] != LOADER_TAG_PROGRAM_DATA {
            return Err(IogridError::InvalidProgramData.into());
        }
        let has_authority = data[authority_at] == 1;
        if !has_authority
            || data[authority_at + 1..authority_at + 33] != *self.authority.address().as_ref()
        {
            return Err(IogridError::NotUpgradeAuthority.into());
        }
        Ok(())
    }

    pub fn initialize(
        &mut self,
        params: &NetworkParams,
        arbiter: &Address,
        bump: u8,
    ) -> Result<()> {
        params.validate()?;
        if *arbiter == Address::default() {
            return Err(IogridError::InvalidArbiter.into());
        }
        let now = Clock::get()?.unix_timestamp;
        let config = &mut *self.config;
        config.authority = *self.authority.address();
        config.io_mint = *self.io_mint.address();
        config.distribution = *self.distribution.address();
        config.treasury = *self.treasury.address();
        config.rewards_vault = *self.rewards_vault.address();
        config.stake_vault = *self.stake_vault.address();
        config.arbiter = *arbiter;
        config.supply_cap = SUPPLY_CAP;
        config.genesis_supply = GENESIS_SUPPLY;
        config.emission_start = now;
        config.last_emission = now;
        config.params = *params;
        config.bump = bump;
        config.version = ACCOUNT_VERSION;
        self.mint_genesis(bump)?;
        self.config.invariant()?;
        emit_event(&NetworkInitialized {
            authority: *self.authority.address(),
            io_mint: *self.io_mint.address(),
            distribution: *self.distribution.address(),
            genesis_supply: GENESIS_SUPPLY,
            supply_cap: SUPPLY_CAP,
            emission_start: now,
        });
        Ok(())
    }

    fn mint_genesis(&self, bump: u8) -> Result<()> {
        let bump = [bump];
        let seeds = [Seed::from(SEED_CONFIG), Seed::from(&bump)];
        cpi::mint_to(
            self.io_mint.account(),
            self.distribution.account(),
            self.config.account(),
            GENESIS_SUPPLY,
            &[PdaSigner::from(&seeds)],
        )?;
        if self.io_mint.supply() != GENESIS_SUPPLY {
            return Err(IogridError::InvariantViolated.into());
        }
        Ok(())
    }
}
