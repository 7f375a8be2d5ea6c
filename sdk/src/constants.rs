//! Mirrors `programs/iogrid/src/constants.rs` for clients.

/// Base units per IO (6 decimals).
pub const IO: u64 = 1_000_000;
pub const IO_DECIMALS: u8 = 6;
/// Hard cap on total IO supply: 800,000,000 IO.
pub const SUPPLY_CAP: u64 = 800_000_000 * IO;
/// Minted by `initialize` to the distribution account.
pub const GENESIS_SUPPLY: u64 = 500_000_000 * IO;
/// Emitted to suppliers over 240 months.
pub const EMISSION_SUPPLY: u64 = SUPPLY_CAP - GENESIS_SUPPLY;
pub const MAX_KEEPERS: usize = 8;
/// Scale of the reward-per-GPU accumulator.
pub const REWARD_PRECISION: u64 = 10_000;
pub const MAX_GPUS_PER_LISTING: u16 = 1_024;
/// Listings one job may run on at once.
pub const MAX_CLUSTER: usize = 16;
/// Listings one `heartbeat_many` may carry.
pub const MAX_HEARTBEAT_BATCH: usize = 60;
pub use iogrid_rules::SECS_PER_HOUR;
/// A lapsed dispute settles after this long without the arbiter.
pub const MAX_DISPUTE_SECS: i64 = 14 * 86_400;
/// Share of a slash paid to the job owner.
pub const SLASH_OWNER_SHARE_BPS: u16 = 5_000;
/// Hard bound on the governed `free_tokens_per_io_day` (free inference tokens
/// a day per whole IO of active stake).
pub const MAX_FREE_TOKENS_PER_IO_DAY: u64 = 1_000_000;
/// The highest price ceiling a credit account may accept: 1,000 IO per
/// million tokens.
pub const MAX_CREDIT_PRICE_PER_MTOK: u64 = 1_000 * IO;
/// Time between `request_credit_withdrawal` and `withdraw_credit`: the
/// gateway's window to settle usage already served.
pub const CREDIT_WITHDRAWAL_DELAY_SECS: i64 = 3_600;

/// Formats base units as IO with six decimals, e.g. `1.500000 IO`.
pub fn format_io(base_units: u64) -> String {
    format!("{}.{:06} IO", base_units / IO, base_units % IO)
}

/// Parses an IO amount written with up to six decimals (`1.5`, `100`,
/// `0.000001`) into base units.
pub fn parse_io(text: &str) -> Result<u64, String> {
    let invalid = || format!("{text:?} is not an IO amount (up to 6 decimals, e.g. 12.5)");
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction) = match text.trim().split_once('.') {
        Some((whole, fraction)) if digits(fraction) && fraction.len() <= 6 => (whole, fraction),
        Some(_) => return Err(invalid()),
        None => (text.trim(), ""),
    };
    if !digits(whole) {
        return Err(invalid());
    }
    let whole: u64 = whole.parse().map_err(|_| invalid())?;
    let fraction: u64 = format!("{fraction:0<6}").parse().map_err(|_| invalid())?;
    whole
        .checked_mul(IO)
        .and_then(|w| w.checked_add(fraction))
        .filter(|amount| *amount <= SUPPLY_CAP)
        .ok_or_else(|| format!("{text} IO is more than will ever exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_io_keeps_every_base_unit() {
        assert_eq!(format_io(0), "0.000000 IO");
        assert_eq!(format_io(1), "0.000001 IO");
        assert_eq!(format_io(GENESIS_SUPPLY), "500000000.000000 IO");
        assert_eq!(format_io(1_500_000), "1.500000 IO");
    }

    #[test]
    fn parse_io_reads_decimals_exactly() {
        assert_eq!(parse_io("1"), Ok(IO));
        assert_eq!(parse_io("1.5"), Ok(1_500_000));
        assert_eq!(parse_io("0.000001"), Ok(1));
        assert_eq!(parse_io("800000000"), Ok(SUPPLY_CAP));
        assert!(parse_io("800000000.000001")
            .unwrap_err()
            .contains("more than will ever exist"));
        for bad in ["", "1.", ".5", "1.0000001", "-1", "1e3", "1,5", "abc"] {
            assert!(parse_io(bad).is_err(), "{bad:?}");
        }
    }
}
