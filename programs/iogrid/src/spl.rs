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
        core::mem::MaybeUninit,
        pinocchio::{
            cpi::{invoke_signed_unchecked, CpiAccount},
            instruction::{InstructionAccount, InstructionView},
        },
    };

    const IX_TRANSFER: u8 = 3;
    const IX_MINT_TO: u8 = 7;
    const IX_BURN: u8 = 8;
    const IX_CLOSE_ACCOUNT: u8 = 9;
    const IX_BATCH: u8 = 255;

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

    /// The most token movements one [`Payouts`] carries: a payment to each of
    /// `MAX_CLUSTER` suppliers, then fee, burn, refund and the escrow's close.
    pub const MAX_PAYOUTS: usize = crate::constants::MAX_CLUSTER + 4;

    /// One movement out of a [`Payouts`] source: `tag` is the Token
    /// instruction, `to` its second account (destination, mint for a burn,
    /// rent receiver for a close).
    #[derive(Clone, Copy)]
    struct Movement<'a> {
        tag: u8,
        amount: u64,
        to: &'a AccountView,
    }

    /// Token movements out of one account under one authority (a job's
    /// escrow under the job PDA), made as a single CPI where the Token
    /// program is p-token, which takes them as one `Batch` instruction:
    /// every CPI costs at least 1,000 CU before the callee runs, so paying
    /// a supplier, the fee, the burn, the refund and closing the escrow
    /// costs one call instead of five. The SPL Token program p-token
    /// replaced was deployed under the non-upgradeable BPF loader, which
    /// has no `Batch`; there, each movement is its own CPI, with the same
    /// result.
    pub struct Payouts<'a> {
        source: &'a AccountView,
        authority: &'a AccountView,
        /// The first `len` are written; the rest never read.
        movements: [MaybeUninit<Movement<'a>>; MAX_PAYOUTS],
        len: usize,
    }

    impl<'a> Payouts<'a> {
        pub fn new(source: &'a AccountView, authority: &'a AccountView) -> Self {
            Self {
                source,
                authority,
                movements: [MaybeUninit::uninit(); MAX_PAYOUTS],
                len: 0,
            }
        }

        fn push(&mut self, tag: u8, amount: u64, to: &'a AccountView) -> Result<(), ProgramError> {
            let slot = self
                .movements
                .get_mut(self.len)
                .ok_or(IogridError::TooManyPayouts)?;
            slot.write(Movement { tag, amount, to });
            self.len = self.len.saturating_add(1);
            Ok(())
        }

        /// Moves `amount` to the token account `to`; nothing when zero.
        pub fn transfer(&mut self, to: &'a AccountView, amount: u64) -> Result<(), ProgramError> {
            if amount == 0 {
                return Ok(());
            }
            self.push(IX_TRANSFER, amount, to)
        }

        /// Burns `amount` of `mint`; nothing when zero.
        pub fn burn(&mut self, mint: &'a AccountView, amount: u64) -> Result<(), ProgramError> {
            if amount == 0 {
                return Ok(());
            }
            self.push(IX_BURN, amount, mint)
        }

        /// Closes the (then empty) source, its rent to `rent_to`.
        pub fn close(&mut self, rent_to: &'a AccountView) -> Result<(), ProgramError> {
            self.push(IX_CLOSE_ACCOUNT, 0, rent_to)
        }

        fn movements(&self) -> &[Movement<'a>] {
            let len = self.len.min(MAX_PAYOUTS);
            // SAFETY: `push` wrote the first `len` slots; `MaybeUninit<T>`
            // has `T`'s layout.
            unsafe {
                core::slice::from_raw_parts(self.movements.as_ptr().cast::<Movement<'a>>(), len)
            }
        }

        /// Makes every movement, in order, signed by `signer`.
        pub fn execute(
            &self,
            token_program: &AccountView,
            signer: &[Signer],
        ) -> Result<(), ProgramError> {
            let movements = self.movements();
            if movements.len() > 1 && supports_batch(token_program) {
                return self.invoke_batch(movements, signer);
            }
            for m in movements {
                let data = amount_data(m.tag, m.amount);
                let data = if m.tag == IX_CLOSE_ACCOUNT {
                    &data[..1]
                } else {
                    &data[..]
                };
                invoke_token(data, [self.source, m.to], self.authority, signer)?;
            }
            Ok(())
        }

        /// One `Batch` (tag 255): per movement a header of its account count
        /// (3) and data length, then its data; its three accounts in order.
        /// Its own frame, as the buffers are the largest on this stack. The
        /// account lists are left uninitialized past what is written: filling
        /// them would cost more than the batch saves.
        // Indices stay below the buffers' lengths: at most MAX_PAYOUTS
        // movements (checked first), each writing 3 metas and ENTRY bytes.
        #[allow(clippy::arithmetic_side_effects)]
        #[inline(never)]
        fn invoke_batch(
            &self,
            movements: &[Movement<'a>],
            signer: &[Signer],
        ) -> Result<(), ProgramError> {
            const ENTRY: usize = 2 + 9;
            if movements.len() > MAX_PAYOUTS {
                return Err(IogridError::TooManyPayouts.into());
            }
            let mut data = [0u8; 1 + MAX_PAYOUTS * ENTRY];
            let mut metas =
                [const { MaybeUninit::<InstructionAccount>::uninit() }; MAX_PAYOUTS * 3];
            // The source, the authority, then each movement's own account
            // (a repeat is harmless): each account once, not three times.
            let mut infos = [MaybeUninit::<CpiAccount>::uninit(); MAX_PAYOUTS + 2];
            infos[0].write(CpiAccount::from(self.source));
            infos[1].write(CpiAccount::from(self.authority));
            data[0] = IX_BATCH;
            let mut at = 1usize;
            for (i, m) in movements.iter().enumerate() {
                let body_len = if m.tag == IX_CLOSE_ACCOUNT { 1 } else { 9 };
                data[at] = 3;
                data[at + 1] = body_len;
                data[at + 2] = m.tag;
                if body_len == 9 {
                    data[at + 3..at + 11].copy_from_slice(&m.amount.to_le_bytes());
                }
                at += 2 + usize::from(body_len);
                metas[3 * i].write(InstructionAccount::writable(self.source.address()));
                metas[3 * i + 1].write(InstructionAccount::writable(m.to.address()));
                metas[3 * i + 2].write(InstructionAccount::readonly_signer(
                    self.authority.address(),
                ));
                infos[i + 2].write(CpiAccount::from(m.to));
            }
            let (meta_count, info_count) = (movements.len() * 3, movements.len() + 2);
            // SAFETY: `meta_count` metas and `info_count` infos were written
            // above (at most MAX_PAYOUTS movements, checked first);
            // `MaybeUninit<T>` has `T`'s layout.
            let (metas, infos) = unsafe {
                (
                    core::slice::from_raw_parts(
                        metas.as_ptr().cast::<InstructionAccount>(),
                        meta_count,
                    ),
                    core::slice::from_raw_parts(infos.as_ptr().cast::<CpiAccount>(), info_count),
                )
            };
            let instruction = InstructionView {
                program_id: &Token::id(),
                accounts: metas,
                data: &data[..at],
            };
            // SAFETY: as for `invoke_token`: no reference into these
            // accounts' data is live across the call.
            unsafe { invoke_signed_unchecked(&instruction, infos, signer) };
            Ok(())
        }
    }

    /// p-token, which took over the Token program's address through a
    /// migration to the upgradeable loader, takes `Batch`; the SPL Token
    /// program it replaced, under the BPF loader v2, does not.
    fn supports_batch(token_program: &AccountView) -> bool {
        token_program.owned_by(&crate::constants::BPF_LOADER_UPGRADEABLE_ID)
    }
}
