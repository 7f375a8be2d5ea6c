//! SPL Token accounts as zero-copy Anchor account types, and the token CPIs
//! the program makes, through `pinocchio-token`.
//!
//! Why not anchor-spl 2.0.0-rc.2: it pulls std-only crates unconditionally
//! and its CPI helpers grow `Vec`s, which cannot link on this target; making
//! it build needs a patch several times larger than anchor-lang's. These types
//! plug into Anchor v2's `Account<T>` through its public `SlabSchema` /
//! `SlabInit` hooks, the constraint markers below serve
//! `#[account(token::mint = …, token::authority = …)]`, and each failure is a
//! typed `IogridError` (docs/build.md has the comparison).

use {
    crate::errors::IogridError,
    anchor_lang::prelude::ProgramError,
    anchor_lang::{
        accounts::{Account, SlabInit, SlabSchema},
        programs::Token,
        AccountConstraint, Id,
    },
    bytemuck::{Pod, Zeroable},
    pinocchio::{account::AccountView, address::Address, cpi::Signer},
};

/// SPL Token account state byte: 1 = initialized, 2 = frozen.
const STATE_INITIALIZED: u8 = 1;

fn is_token_program_owned(view: &AccountView) -> bool {
    view.owned_by(&Token::id())
}

/// An SPL Token account (165 bytes), read in place.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct TokenAccount {
    mint: Address,
    owner: Address,
    amount: [u8; 8],
    delegate_tag: [u8; 4],
    delegate: Address,
    state: u8,
    is_native_tag: [u8; 4],
    native_reserve: [u8; 8],
    delegated_amount: [u8; 8],
    close_authority_tag: [u8; 4],
    close_authority: Address,
}

impl TokenAccount {
    pub const LEN: usize = core::mem::size_of::<Self>();

    pub fn mint(&self) -> &Address {
        &self.mint
    }

    /// The authority that may move the tokens.
    pub fn owner(&self) -> &Address {
        &self.owner
    }

    pub fn amount(&self) -> u64 {
        u64::from_le_bytes(self.amount)
    }
}

impl SlabSchema for TokenAccount {
    const DATA_OFFSET: usize = 0;
    const MIN_DATA_LEN: usize = TokenAccount::LEN;

    #[inline(always)]
    fn validate(view: &AccountView, data: &[u8]) -> Result<(), ProgramError> {
        // Exact length tells a token account (165) from a mint (82); the state
        // byte rejects uninitialized and frozen accounts.
        if !is_token_program_owned(view)
            || data.len() != TokenAccount::LEN
            || data[108] != STATE_INITIALIZED
        {
            return Err(IogridError::NotTokenAccount.into());
        }
        Ok(())
    }
}

/// Params for `#[account(init, token::mint = m, token::authority = a)]`.
#[derive(Default)]
pub struct TokenAccountInit<'a> {
    pub mint: Option<&'a AccountView>,
    pub authority: Option<&'a AccountView>,
}

impl SlabInit for TokenAccount {
    type Params<'a> = TokenAccountInit<'a>;

    #[inline(always)]
    fn create_and_initialize<'a>(
        payer: &AccountView,
        account: &AccountView,
        _space: usize,
        params: &Self::Params<'a>,
        signer_seeds: Option<&[&[u8]]>,
        payer_signer_seeds: Option<&[&[u8]]>,
    ) -> Result<(), ProgramError> {
        let mint = params.mint.ok_or(ProgramError::InvalidArgument)?;
        let authority = params.authority.ok_or(ProgramError::InvalidArgument)?;
        anchor_lang::create_account_with_signers(
            payer,
            account,
            TokenAccount::LEN,
            &Token::id(),
            signer_seeds,
            payer_signer_seeds,
        )?;
        pinocchio_token::instructions::InitializeAccount3 {
            account,
            mint,
            owner: authority.address(),
        }
        .invoke()
    }
}

impl anchor_lang::Space for TokenAccount {
    const INIT_SPACE: usize = TokenAccount::LEN;
}

// Defined by the SPL Token program, so it stays out of our IDL's types.
impl anchor_lang::IdlAccountType for TokenAccount {}

/// The balance of a token account already validated as one (an
/// `Account<TokenAccount>`), read from its view.
pub fn token_amount(view: &AccountView) -> Result<u64, ProgramError> {
    // SAFETY: the loaded `Account<TokenAccount>` marks the account borrowed
    // but holds no Rust reference into it, and only the Token program writes
    // token accounts (during CPIs, never while this slice lives).
    let data = unsafe { view.borrow_unchecked() };
    let bytes: [u8; 8] = data
        .get(64..72)
        .and_then(|b| b.try_into().ok())
        .ok_or(IogridError::NotTokenAccount)?;
    Ok(u64::from_le_bytes(bytes))
}

/// An SPL Token mint (82 bytes), read in place.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct Mint {
    mint_authority_tag: [u8; 4],
    mint_authority: Address,
    supply: [u8; 8],
    decimals: u8,
    is_initialized: u8,
    freeze_authority_tag: [u8; 4],
    freeze_authority: Address,
}

impl Mint {
    pub const LEN: usize = core::mem::size_of::<Self>();

    pub fn supply(&self) -> u64 {
        u64::from_le_bytes(self.supply)
    }

    pub fn decimals(&self) -> u8 {
        self.decimals
    }

    pub fn mint_authority(&self) -> Option<&Address> {
        (self.mint_authority_tag == [1, 0, 0, 0]).then_some(&self.mint_authority)
    }
}

impl SlabSchema for Mint {
    const DATA_OFFSET: usize = 0;
    const MIN_DATA_LEN: usize = Mint::LEN;

    #[inline(always)]
    fn validate(view: &AccountView, data: &[u8]) -> Result<(), ProgramError> {
        if !is_token_program_owned(view) || data.len() != Mint::LEN || data[45] != 1 {
            return Err(IogridError::NotMint.into());
        }
        Ok(())
    }
}

/// Params for `#[account(init, mint::decimals = d, mint::authority = a)]`.
#[derive(Default)]
pub struct MintInit<'a> {
    pub decimals: Option<u8>,
    pub authority: Option<&'a AccountView>,
}

impl SlabInit for Mint {
    type Params<'a> = MintInit<'a>;

    #[inline(always)]
    fn create_and_initialize<'a>(
        payer: &AccountView,
        account: &AccountView,
        _space: usize,
        params: &Self::Params<'a>,
        signer_seeds: Option<&[&[u8]]>,
        payer_signer_seeds: Option<&[&[u8]]>,
    ) -> Result<(), ProgramError> {
        let decimals = params.decimals.ok_or(ProgramError::InvalidArgument)?;
        let authority = params.authority.ok_or(ProgramError::InvalidArgument)?;
        anchor_lang::create_account_with_signers(
            payer,
            account,
            Mint::LEN,
            &Token::id(),
            signer_seeds,
            payer_signer_seeds,
        )?;
        // No freeze authority: nobody can freeze a holder's IO.
        pinocchio_token::instructions::InitializeMint2 {
            mint: account,
            decimals,
            mint_authority: authority.address(),
            freeze_authority: None,
        }
        .invoke()
    }
}

impl anchor_lang::Space for Mint {
    const INIT_SPACE: usize = Mint::LEN;
}

impl anchor_lang::IdlAccountType for Mint {}

/// Markers for `#[account(token::mint = …, token::authority = …)]`.
pub mod token {
    use super::*;

    pub struct MintConstraint;
    pub struct AuthorityConstraint;

    impl AccountConstraint<Account<TokenAccount>> for MintConstraint {
        type Value = Address;

        #[inline(always)]
        fn check(account: &Account<TokenAccount>, expected: &Address) -> Result<(), ProgramError> {
            if account.mint() != expected {
                return Err(IogridError::WrongMint.into());
            }
            Ok(())
        }
    }

    impl AccountConstraint<Account<TokenAccount>> for AuthorityConstraint {
        type Value = Address;

        #[inline(always)]
        fn check(account: &Account<TokenAccount>, expected: &Address) -> Result<(), ProgramError> {
            if account.owner() != expected {
                return Err(IogridError::WrongTokenOwner.into());
            }
            Ok(())
        }
    }
}

/// Markers for `#[account(mint::decimals = …, mint::authority = …)]`.
pub mod mint {
    use super::*;

    pub struct DecimalsConstraint;
    pub struct AuthorityConstraint;

    impl AccountConstraint<Account<Mint>> for DecimalsConstraint {
        type Value = u8;

        #[inline(always)]
        fn check(account: &Account<Mint>, expected: &u8) -> Result<(), ProgramError> {
            if account.decimals() != *expected {
                return Err(IogridError::NotMint.into());
            }
            Ok(())
        }
    }

    impl AccountConstraint<Account<Mint>> for AuthorityConstraint {
        type Value = Address;

        #[inline(always)]
        fn check(account: &Account<Mint>, expected: &Address) -> Result<(), ProgramError> {
            if account.mint_authority() != Some(expected) {
                return Err(IogridError::NotMint.into());
            }
            Ok(())
        }
    }
}

/// Token CPIs that move IO between accounts this instruction has loaded.
///
/// pinocchio-token's builders refuse accounts whose runtime borrow flag is
/// set, and every loaded `Account<T>` sets it, so these go through
/// `invoke_signed_unchecked`. That is sound here because our wrappers over
/// token-program accounts never hold a Rust reference into their data across
/// a call: `Account<TokenAccount>` / `Account<Mint>` dereference on demand.
/// `signer` carries the PDA seeds when a program account is the authority.
pub mod cpi {
    use {
        super::*,
        pinocchio::{
            cpi::{invoke_signed_unchecked, CpiAccount},
            instruction::{InstructionAccount, InstructionView},
        },
    };

    const IX_TRANSFER: u8 = 3;
    const IX_MINT_TO: u8 = 7;
    const IX_BURN: u8 = 8;
    const IX_CLOSE_ACCOUNT: u8 = 9;

    /// Token instruction data: one tag byte and an optional little-endian amount.
    fn amount_data(tag: u8, amount: u64) -> [u8; 9] {
        let mut data = [0u8; 9];
        data[0] = tag;
        data[1..].copy_from_slice(&amount.to_le_bytes());
        data
    }

    /// Invokes the Token program with two writable accounts and a signing
    /// authority, the shape of transfer, mint_to, burn and close_account.
    #[inline(always)]
    fn invoke_token(
        data: &[u8],
        writable: [&AccountView; 2],
        authority: &AccountView,
        signer: &[Signer],
    ) -> Result<(), ProgramError> {
        let metas = [
            InstructionAccount::writable(writable[0].address()),
            InstructionAccount::writable(writable[1].address()),
            InstructionAccount::readonly_signer(authority.address()),
        ];
        let accounts = [
            CpiAccount::from(writable[0]),
            CpiAccount::from(writable[1]),
            CpiAccount::from(authority),
        ];
        let instruction = InstructionView {
            program_id: &Token::id(),
            accounts: &metas,
            data,
        };
        // SAFETY: see the module comment; no reference into these accounts'
        // data is live across the call.
        unsafe { invoke_signed_unchecked(&instruction, &accounts, signer) };
        Ok(())
    }

    #[inline(always)]
    pub fn transfer(
        from: &AccountView,
        to: &AccountView,
        authority: &AccountView,
        amount: u64,
        signer: &[Signer],
    ) -> Result<(), ProgramError> {
        invoke_token(
            &amount_data(IX_TRANSFER, amount),
            [from, to],
            authority,
            signer,
        )
    }

    #[inline(always)]
    pub fn mint_to(
        mint: &AccountView,
        to: &AccountView,
        authority: &AccountView,
        amount: u64,
        signer: &[Signer],
    ) -> Result<(), ProgramError> {
        invoke_token(
            &amount_data(IX_MINT_TO, amount),
            [mint, to],
            authority,
            signer,
        )
    }

    #[inline(always)]
    pub fn burn(
        from: &AccountView,
        mint: &AccountView,
        authority: &AccountView,
        amount: u64,
        signer: &[Signer],
    ) -> Result<(), ProgramError> {
        invoke_token(
            &amount_data(IX_BURN, amount),
            [from, mint],
            authority,
            signer,
        )
    }

    /// Closes an empty token account, sending its rent to `destination`.
    #[inline(always)]
    pub fn close_account(
        account: &AccountView,
        destination: &AccountView,
        authority: &AccountView,
        signer: &[Signer],
    ) -> Result<(), ProgramError> {
        invoke_token(
            &[IX_CLOSE_ACCOUNT],
            [account, destination],
            authority,
            signer,
        )
    }
}
