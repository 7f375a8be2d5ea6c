//! The emission schedule, computed independently of the program (in u128) so
//! tests can check the on-chain mints against it and clients can show it.

use crate::constants::{EMISSION_SUPPLY, IO};

pub const MONTHS: usize = 240;
pub const MONTH_SECS: u64 = 2_629_800;
pub const FIRST_MONTH: u64 = 3_333_333 * IO;
pub const DECAY_PPM: u64 = 10_151;

/// IO base units released in each of the 240 months.
pub fn monthly() -> Vec<u64> {
    let mut amounts = Vec::with_capacity(MONTHS);
    let mut amount = u128::from(FIRST_MONTH);
    for _ in 0..MONTHS - 1 {
        amounts.push(amount as u64);
        amount -= amount * u128::from(DECAY_PPM) / 1_000_000;
    }
    let released: u64 = amounts.iter().sum();
    amounts.push(EMISSION_SUPPLY - released);
    amounts
}

/// Released `elapsed_secs` after emission started.
pub fn emitted_by(elapsed_secs: i64) -> u64 {
    let Ok(elapsed) = u64::try_from(elapsed_secs) else {
        return 0;
    };
    let month = (elapsed / MONTH_SECS) as usize;
    let amounts = monthly();
    if month >= MONTHS {
        return EMISSION_SUPPLY;
    }
    let before: u64 = amounts[..month].iter().sum();
    let partial =
        u128::from(amounts[month]) * u128::from(elapsed % MONTH_SECS) / u128::from(MONTH_SECS);
    before + partial as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_totals_300_million_io() {
        let months = monthly();
        assert_eq!(months.len(), 240);
        assert_eq!(months.iter().sum::<u64>(), 300_000_000 * IO);
        assert_eq!(emitted_by(MONTH_SECS as i64 * 240), EMISSION_SUPPLY);
        assert_eq!(emitted_by(MONTH_SECS as i64), FIRST_MONTH);
    }
}
