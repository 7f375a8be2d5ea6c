//! The free daily inference quota: every off-chain user (the gateway, the
//! CLI, the worker) computes a wallet's allowance with [`daily_free_tokens`],
//! so they all agree to the token.

use crate::constants::IO;

/// Free inference tokens a wallet may use per day: its active stake (IO base
/// units) times the governed rate `NetworkParams::free_tokens_per_io_day`
/// (tokens per whole IO), rounded down — a fraction of an IO earns its
/// fraction of the rate, and a partial token is not granted. Saturates at
/// `u64::MAX` (never reached within the program's bounds: the whole supply at
/// the maximum rate is 8·10^14 tokens).
pub fn daily_free_tokens(active_stake_base_units: u64, free_tokens_per_io_day: u64) -> u64 {
    let tokens =
        u128::from(active_stake_base_units) * u128::from(free_tokens_per_io_day) / u128::from(IO);
    u64::try_from(tokens).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{
            accounts::NetworkParams,
            constants::{MAX_FREE_TOKENS_PER_IO_DAY, SUPPLY_CAP},
        },
    };

    #[test]
    fn no_stake_or_no_rate_gets_nothing() {
        assert_eq!(daily_free_tokens(0, 1_000), 0);
        assert_eq!(daily_free_tokens(0, MAX_FREE_TOKENS_PER_IO_DAY), 0);
        assert_eq!(daily_free_tokens(1_000 * IO, 0), 0);
    }

    #[test]
    fn one_io_gets_the_rate() {
        assert_eq!(daily_free_tokens(IO, 1_000), 1_000);
        assert_eq!(daily_free_tokens(IO, 1), 1);
        assert_eq!(
            daily_free_tokens(IO, MAX_FREE_TOKENS_PER_IO_DAY),
            MAX_FREE_TOKENS_PER_IO_DAY
        );
        // The launch rate: a supplier with 1,000 IO staked gets 10^6 tokens a day.
        let rate = NetworkParams::default().free_tokens_per_io_day;
        assert_eq!(daily_free_tokens(1_000 * IO, rate), 1_000_000);
    }

    #[test]
    fn fractions_of_an_io_round_down() {
        assert_eq!(daily_free_tokens(IO / 2, 1_000), 500);
        assert_eq!(daily_free_tokens(1_500_000, 1_000), 1_500);
        // 0.000999 IO × 1,000 = 0.999 tokens: nothing.
        assert_eq!(daily_free_tokens(999, 1_000), 0);
        assert_eq!(daily_free_tokens(1_000, 1_000), 1);
        assert_eq!(daily_free_tokens(1_999, 1_000), 1);
        // One base unit at 1 token per IO.
        assert_eq!(daily_free_tokens(1, 1), 0);
        assert_eq!(daily_free_tokens(IO - 1, 1), 0);
    }

    #[test]
    fn huge_values_neither_overflow_nor_wrap() {
        // The whole supply at the maximum rate: stake × rate (8·10^20) is past
        // u64, the quota (8·10^14) is not.
        assert_eq!(
            daily_free_tokens(SUPPLY_CAP, MAX_FREE_TOKENS_PER_IO_DAY),
            800_000_000 * MAX_FREE_TOKENS_PER_IO_DAY
        );
        assert_eq!(daily_free_tokens(u64::MAX, 1), u64::MAX / IO);
        assert_eq!(daily_free_tokens(u64::MAX, IO), u64::MAX);
        assert_eq!(daily_free_tokens(IO, u64::MAX), u64::MAX);
        assert_eq!(daily_free_tokens(u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(daily_free_tokens(2 * IO, u64::MAX / 2 + 1), u64::MAX);
    }
}
