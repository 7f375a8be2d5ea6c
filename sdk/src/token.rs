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

/// `owner`'s associated IO token account.
pub fn io_account_of(owner: &Address) -> Address {
    spl_associated_token_account_interface::address::get_associated_token_address(
        owner,
        &crate::pda::io_mint().0,
    )
}

/// Creates `owner`'s associated IO account if it does not exist (paid by
/// `payer`); a no-op when it does.
pub fn create_io_account_idempotent(
    payer: &Address,
    owner: &Address,
) -> solana_instruction::Instruction {
    spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
        payer,
        owner,
        &crate::pda::io_mint().0,
        &crate::TOKEN_PROGRAM_ID,
    )
}

/// Moves `amount` IO base units between two IO accounts, signed by `owner`.
pub fn transfer_io(
    from: &Address,
    to: &Address,
    owner: &Address,
    amount: u64,
) -> solana_instruction::Instruction {
    spl_token_interface::instruction::transfer_checked(
        &crate::TOKEN_PROGRAM_ID,
        from,
        &crate::pda::io_mint().0,
        to,
        owner,
        &[],
        amount,
        crate::constants::IO_DECIMALS,
    )
    .expect("transfer_checked takes no multisig signers here")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_accounts_are_the_associated_token_accounts_of_the_io_mint() {
        let owner = Address::new_unique();
        let (expected, _) = Address::find_program_address(
            &[
                owner.as_ref(),
                crate::TOKEN_PROGRAM_ID.as_ref(),
                crate::pda::io_mint().0.as_ref(),
            ],
            &spl_associated_token_account_interface::program::ID,
        );
        assert_eq!(io_account_of(&owner), expected);
        let ix = create_io_account_idempotent(&owner, &owner);
        assert_eq!(ix.accounts[1].pubkey, expected);
    }
}
