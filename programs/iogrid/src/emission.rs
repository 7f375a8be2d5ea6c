//! The emission schedule: 300,000,000 IO released to suppliers over 240
//! months. Month 1 releases 3,333,333 IO; each month releases 1.0151% less
//! than the one before (rounded down to the base unit); the last month
//! releases whatever makes the total exactly 300,000,000 IO. Within a month,
//! emission is linear in time.
//!
//! The table is computed by the compiler (`const`), so the program carries
//! the 240 amounts and their prefix sums and looking up "emitted by time t"
//! costs one division and one `mul_div`.

use crate::{constants::EMISSION_SUPPLY, constants::IO, errors::IogridError, math};

pub const MONTHS: usize = 240;
/// A month is a twelfth of a Julian year: 30.4375 days.
pub const MONTH_SECS: u64 = 2_629_800;
pub const FIRST_MONTH: u64 = 3_333_333 * IO;
/// Monthly decay, parts per million.
pub const DECAY_PPM: u64 = 10_151;

/// `MONTHLY[m]`: IO base units released during month `m` (0-based).
pub const MONTHLY: [u64; MONTHS] = monthly_amounts();
/// `CUMULATIVE[m]`: released before month `m` starts; `CUMULATIVE[240]` is the total.
pub const CUMULATIVE: [u64; MONTHS + 1] = prefix_sums(&MONTHLY);

// Evaluated by the compiler only: an overflow here is a compile error, and
// amounts stay below 2^42 so `amount × DECAY_PPM` stays below 2^56.
#[allow(clippy::arithmetic_side_effects)]
const fn monthly_amounts() -> [u64; MONTHS] {
    let mut amounts = [0u64; MONTHS];
    let mut amount = FIRST_MONTH;
    let mut released = 0u64;
    let mut m = 0;
    while m < MONTHS - 1 {
        amounts[m] = amount;
        released += amount;
        amount -= amount * DECAY_PPM / 1_000_000;
        m += 1;
    }
    // The last month absorbs every rounding so the total is exact.
    amounts[MONTHS - 1] = EMISSION_SUPPLY - released;
    amounts
}

#[allow(clippy::arithmetic_side_effects)]
const fn prefix_sums(amounts: &[u64; MONTHS]) -> [u64; MONTHS + 1] {
    let mut sums = [0u64; MONTHS + 1];
    let mut m = 0;
    while m < MONTHS {
        sums[m + 1] = sums[m] + amounts[m];
        m += 1;
    }
    sums
}

const _: () = assert!(CUMULATIVE[MONTHS] == EMISSION_SUPPLY);

/// IO base units released `elapsed_secs` after emission started: exact at
/// month boundaries, rounded down within a month, `EMISSION_SUPPLY` from the
/// end of month 240 on. Never decreases as time advances.
pub fn emitted_by(elapsed_secs: i64) -> Result<u64, IogridError> {
    let Ok(elapsed) = u64::try_from(elapsed_secs) else {
        return Ok(0);
    };
    let month = elapsed / MONTH_SECS;
    let Some(&released_before) = CUMULATIVE.get(month as usize) else {
        return Ok(EMISSION_SUPPLY);
    };
    let Some(&this_month) = MONTHLY.get(month as usize) else {
        return Ok(EMISSION_SUPPLY);
    };
    let into_month = elapsed % MONTH_SECS;
    let partial = math::mul_div_floor(this_month, into_month, MONTH_SECS)?;
    released_before
        .checked_add(partial)
        .ok_or(IogridError::MathOverflow)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn the_240_months_sum_to_exactly_300_million_io() {
        let total: u64 = MONTHLY.iter().sum();
        assert_eq!(total, 300_000_000 * IO);
        assert_eq!(MONTHLY[0], 3_333_333 * IO);
        // The schedule decays every month, the last month included.
        assert!(MONTHLY.windows(2).all(|w| w[1] < w[0]));
        // The last month's rounding correction is small (< 0.4% of it).
        let geometric_last = MONTHLY[MONTHS - 2] - MONTHLY[MONTHS - 2] * DECAY_PPM / 1_000_000;
        assert!(geometric_last.abs_diff(MONTHLY[MONTHS - 1]) < geometric_last / 250);
    }

    #[test]
    fn emitted_by_matches_the_table_at_month_boundaries() {
        for (m, released) in CUMULATIVE.iter().enumerate() {
            let at = (m as u64 * MONTH_SECS) as i64;
            assert_eq!(emitted_by(at), Ok(*released), "month {m}");
        }
        assert_eq!(emitted_by(-5), Ok(0));
        assert_eq!(emitted_by(i64::MAX), Ok(EMISSION_SUPPLY));
    }

    #[test]
    fn emission_is_linear_within_a_month_and_monotonic() {
        let half = (MONTH_SECS / 2) as i64;
        assert_eq!(emitted_by(half), Ok(MONTHLY[0] / 2));
        let mut last = 0;
        let step = 86_399;
        let mut t = 0i64;
        while t < (MONTHS as i64 + 2) * MONTH_SECS as i64 {
            let now = emitted_by(t).unwrap();
            assert!(now >= last, "emission went backwards at {t}");
            last = now;
            t += step;
        }
        assert_eq!(last, EMISSION_SUPPLY);
    }
}
