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
pub const SECS_PER_HOUR: u64 = 3_600;
/// A lapsed dispute settles after this long without the arbiter.
pub const MAX_DISPUTE_SECS: i64 = 14 * 86_400;
/// Share of a slash paid to the job owner.
pub const SLASH_OWNER_SHARE_BPS: u16 = 5_000;

/// Formats base units as IO with six decimals, e.g. `1.500000 IO`.
pub fn format_io(base_units: u64) -> String {
    format!("{}.{:06} IO", base_units / IO, base_units % IO)
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
}
