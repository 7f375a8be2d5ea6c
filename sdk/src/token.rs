//! Reading SPL Token accounts (every IO balance lives in one).

use {
    crate::Address,
    solana_program_pack::Pack,
    spl_token_interface::state::{Account, Mint},
};

/// Total supply of a mint account's data.
pub fn mint_supply(data: &[u8]) -> Option<u64> {
    Mint::unpack(data).ok().map(|m| m.supply)
}

/// Balance of a token account's data.
pub fn balance(data: &[u8]) -> Option<u64> {
    Account::unpack(data).ok().map(|a| a.amount)
}

/// `(mint, owner, amount)` of a token account's data.
pub fn account_parts(data: &[u8]) -> Option<(Address, Address, u64)> {
    Account::unpack(data)
        .ok()
        .map(|a| (a.mint, a.owner, a.amount))
}
