//! Paid inference: the usage receipt a serving worker signs, with its
//! listing's worker key, for tokens it served a wallet beyond its free
//! quota, and what such a receipt charges. The program rebuilds the message
//! and checks the signature; the worker and the gateway build it to sign
//! and to verify.

use crate::math::{self, MathResult};

/// Domain separation: versioned, and unlike anything else a worker key
/// signs (proofs are `iogrid/proof/v2`).
pub const USAGE_DOMAIN: &[u8; 15] = b"iogrid/usage/v1";

pub const USAGE_MESSAGE_LEN: usize = 15 + 32 * 3 + 8 * 3;

/// Prices are per million tokens.
pub const TOKENS_PER_PRICE_UNIT: u64 = 1_000_000;

/// Everything a usage receipt commits to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageReceipt<'a> {
    /// The program the receipt is for: a receipt for another deployment is void.
    pub program: &'a [u8; 32],
    /// The wallet's prepaid credit account that pays.
    pub credit: &'a [u8; 32],
    /// The listing whose worker served (and signs).
    pub listing: &'a [u8; 32],
    /// The receipt's number in the credit account's sequence: settled
    /// strictly increasing, so no receipt is paid twice. Numbered in
    /// microseconds since the Unix epoch (a gateway issues at most one per
    /// microsecond per credit): a credit starts its sequence at the time it
    /// is opened, so one closed and opened again refuses receipts of its
    /// earlier life.
    pub seq: u64,
    pub tokens: u64,
    /// IO base units per million tokens.
    pub price_per_mtok: u64,
}

/// `iogrid/usage/v1 ‖ program ‖ credit ‖ listing ‖ seq ‖ tokens ‖ price_per_mtok`
/// (integers little-endian).
pub fn usage_message(receipt: &UsageReceipt) -> [u8; USAGE_MESSAGE_LEN] {
    let mut message = [0u8; USAGE_MESSAGE_LEN];
    let parts: [&[u8]; 7] = [
        USAGE_DOMAIN,
        receipt.program,
        receipt.credit,
        receipt.listing,
        &receipt.seq.to_le_bytes(),
        &receipt.tokens.to_le_bytes(),
        &receipt.price_per_mtok.to_le_bytes(),
    ];
    let mut at = 0usize;
    for part in parts {
        let end = at.saturating_add(part.len());
        if let Some(slot) = message.get_mut(at..end) {
            slot.copy_from_slice(part);
        }
        at = end;
    }
    message
}

/// IO base units `tokens` cost at `price_per_mtok`, rounded down (a
/// fraction of a base unit is never charged).
pub fn usage_charge(tokens: u64, price_per_mtok: u64) -> MathResult<u64> {
    math::mul_div_floor(tokens, price_per_mtok, TOKENS_PER_PRICE_UNIT)
}

/// The most tokens `budget` base units pay for at `price_per_mtok` (all of
/// them, `u64::MAX`, when the price is 0).
pub fn usage_tokens_for(budget: u64, price_per_mtok: u64) -> u64 {
    if price_per_mtok == 0 {
        return u64::MAX;
    }
    math::mul_div_floor(budget, TOKENS_PER_PRICE_UNIT, price_per_mtok).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout_is_fixed() {
        let message = usage_message(&UsageReceipt {
            program: &[1; 32],
            credit: &[2; 32],
            listing: &[3; 32],
            seq: 0x0102,
            tokens: 0x0a0b,
            price_per_mtok: 7,
        });
        assert_eq!(&message[..15], USAGE_DOMAIN);
        assert_eq!(&message[15..47], &[1; 32]);
        assert_eq!(&message[47..79], &[2; 32]);
        assert_eq!(&message[79..111], &[3; 32]);
        assert_eq!(&message[111..119], &[2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&message[119..127], &[0x0b, 0x0a, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&message[127..], &[7, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn charges_round_down_and_never_overflow_silently() {
        assert_eq!(usage_charge(1_000_000, 250_000), Ok(250_000));
        assert_eq!(usage_charge(3, 500_000), Ok(1));
        assert_eq!(usage_charge(1, 999_999), Ok(0));
        assert_eq!(usage_charge(0, u64::MAX), Ok(0));
        assert!(usage_charge(u64::MAX, u64::MAX).is_err());
    }

    #[test]
    fn a_budget_buys_what_its_charge_covers() {
        assert_eq!(usage_tokens_for(250_000, 250_000), 1_000_000);
        assert_eq!(usage_tokens_for(1, 500_000), 2);
        assert_eq!(usage_tokens_for(0, 500_000), 0);
        assert_eq!(usage_tokens_for(5, 0), u64::MAX);
        for (budget, price) in [(7, 3), (1_000, 999_999), (123_456, 77)] {
            let tokens = usage_tokens_for(budget, price);
            assert!(usage_charge(tokens, price).unwrap() <= budget);
            assert!(usage_charge(tokens + 1, price).unwrap() >= budget);
        }
    }
}
