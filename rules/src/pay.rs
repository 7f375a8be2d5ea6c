//! What a job escrows, what an assignment earns, and how each payment splits
//! between the supplier, the treasury and the burn.

use crate::{
    math::{self, MathResult, Overflow},
    BPS_DENOMINATOR, SECS_PER_HOUR,
};

/// IO needed to pay `gpus` GPUs for `secs` seconds at `price` per GPU-hour,
/// rounded up: the escrow must cover the worst case.
pub fn escrow_for(price_per_gpu_hour: u64, gpus: u16, secs: u64) -> MathResult<u64> {
    let per_hour = math::checked_mul(price_per_gpu_hour, u64::from(gpus))?;
    math::mul_div_ceil(per_hour, secs, SECS_PER_HOUR)
}

/// Pay for `gpu_seconds` at `price` per GPU-hour, rounded down: never more
/// than the escrow covered.
pub fn payment_for(price_per_gpu_hour: u64, gpu_seconds: u64) -> MathResult<u64> {
    math::mul_div_floor(price_per_gpu_hour, gpu_seconds, SECS_PER_HOUR)
}

/// Scales a proven claim by the arbiter's award (10,000 = all of it).
pub fn awarded(gross: u64, award_bps: u16) -> MathResult<u64> {
    if u64::from(award_bps) == BPS_DENOMINATOR {
        return Ok(gross);
    }
    math::bps_share(gross, award_bps)
}

/// A payment split three ways: the supplier's net, the treasury's fee and
/// the burn. `net + fee + burn == gross` exactly; fee and burn round down, so
/// rounding favours the supplier by at most a base unit per share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub net: u64,
    pub fee: u64,
    pub burn: u64,
}

/// Splits `gross` by a job's `fee_bps` and `burn_bps` (fixed when the job
/// was created).
pub fn split(gross: u64, fee_bps: u16, burn_bps: u16) -> MathResult<Split> {
    let fee = math::bps_share(gross, fee_bps)?;
    let burn = math::bps_share(gross, burn_bps)?;
    let net = gross
        .checked_sub(fee)
        .and_then(|rest| rest.checked_sub(burn))
        .ok_or(Overflow)?;
    Ok(Split { net, fee, burn })
}

impl Split {
    pub fn gross(&self) -> MathResult<u64> {
        self.net
            .checked_add(self.fee)
            .and_then(|v| v.checked_add(self.burn))
            .ok_or(Overflow)
    }

    /// Adds `other` share by share.
    pub fn add(&mut self, other: &Split) -> MathResult<()> {
        self.net = self.net.checked_add(other.net).ok_or(Overflow)?;
        self.fee = self.fee.checked_add(other.fee).ok_or(Overflow)?;
        self.burn = self.burn.checked_add(other.burn).ok_or(Overflow)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // u128 references on the host
mod tests {
    use {super::*, proptest::prelude::*};

    #[test]
    fn escrow_rounds_up_and_payment_rounds_down() {
        // 1.5 IO per GPU-hour, 3 GPUs, 20 minutes = 1.5 IO, exactly.
        assert_eq!(escrow_for(1_500_000_000, 3, 1_200), Ok(1_500_000_000));
        // One second of one GPU at 1 IO/h: 277.77… base units (9 decimals).
        assert_eq!(escrow_for(1_000_000, 1, 1), Ok(278));
        assert_eq!(payment_for(1_000_000, 1), Ok(277));
        assert_eq!(escrow_for(u64::MAX, 2, 3_600), Err(Overflow));
    }

    #[test]
    fn split_at_launch_terms() {
        // 2.5 % fee, 0.5 % burn of 1,000 base units.
        assert_eq!(
            split(1_000, 250, 50),
            Ok(Split {
                net: 970,
                fee: 25,
                burn: 5
            })
        );
        // Rounding goes to the supplier.
        assert_eq!(
            split(39, 250, 50),
            Ok(Split {
                net: 39,
                fee: 0,
                burn: 0
            })
        );
        assert_eq!(split(100, 9_000, 2_000), Err(Overflow));
    }

    proptest! {
        #[test]
        fn split_adds_up_exactly(gross: u64, fee in 0u16..=5_000, burn in 0u16..=5_000) {
            let s = split(gross, fee, burn).unwrap();
            prop_assert_eq!(s.gross(), Ok(gross));
            prop_assert_eq!(u128::from(s.fee), u128::from(gross) * u128::from(fee) / 10_000);
            prop_assert_eq!(u128::from(s.burn), u128::from(gross) * u128::from(burn) / 10_000);
        }

        #[test]
        fn payment_never_exceeds_escrow(price in 0u64..1u64 << 40, gpus in 1u16..=64, secs in 0u64..1u64 << 24) {
            let escrow = escrow_for(price, gpus, secs).unwrap();
            let paid = payment_for(price, secs * u64::from(gpus)).unwrap();
            prop_assert!(paid <= escrow);
            prop_assert_eq!(u128::from(escrow), (u128::from(price) * u128::from(gpus) * u128::from(secs)).div_ceil(3_600));
        }

        #[test]
        fn award_scales_down(gross: u64, award in 0u16..=10_000) {
            let a = awarded(gross, award).unwrap();
            prop_assert_eq!(u128::from(a), u128::from(gross) * u128::from(award) / 10_000);
        }
    }
}
