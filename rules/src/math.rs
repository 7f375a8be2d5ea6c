//! Checked money math for upstream LLVM's BPF target.
//!
//! That backend cannot call compiler-rt, so anything lowering to `__multi3` or
//! `__udivti3` fails to link: `u128` multiply/divide, `u64::checked_mul`, and a
//! plain `a * b` under `overflow-checks`. Here a 64×64→128 product is built from
//! 32-bit limbs and a 128÷64 quotient from two 32-bit digits (Knuth's algorithm
//! D), using only native 64-bit multiply and divide.
//!
//! Rounding: every function states its direction. Callers pick the one in the
//! program's favour (floor when paying out, ceil when charging).

/// The result did not fit in a u64, or a divisor was zero: every user of
/// these rules reports it as its own overflow error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

pub type MathResult<T> = core::result::Result<T, Overflow>;

const LOW_32: u64 = 0xffff_ffff;
const BASE_32: u64 = 1 << 32;

/// Full 128-bit product of `a × b` as `(high, low)` 64-bit words.
#[inline]
pub fn mul_wide(a: u64, b: u64) -> (u64, u64) {
    let (a_hi, a_lo) = (a >> 32, a & LOW_32);
    let (b_hi, b_lo) = (b >> 32, b & LOW_32);
    // Each partial product of two 32-bit limbs fits in 64 bits.
    let lo_lo = a_lo.wrapping_mul(b_lo);
    let hi_lo = a_hi.wrapping_mul(b_lo);
    let lo_hi = a_lo.wrapping_mul(b_hi);
    let hi_hi = a_hi.wrapping_mul(b_hi);
    // Middle column: at most 3 × (2^32 − 1), no overflow.
    let middle = (lo_lo >> 32)
        .wrapping_add(hi_lo & LOW_32)
        .wrapping_add(lo_hi & LOW_32);
    let low = (middle << 32) | (lo_lo & LOW_32);
    let high = hi_hi
        .wrapping_add(hi_lo >> 32)
        .wrapping_add(lo_hi >> 32)
        .wrapping_add(middle >> 32);
    (high, low)
}

/// `a × b`, or `Overflow` if the product does not fit in a u64.
#[inline]
pub fn checked_mul(a: u64, b: u64) -> MathResult<u64> {
    match mul_wide(a, b) {
        (0, low) => Ok(low),
        _ => Err(Overflow),
    }
}

/// `a × b × c`, or `Overflow`.
#[inline]
pub fn checked_mul3(a: u64, b: u64, c: u64) -> MathResult<u64> {
    checked_mul(checked_mul(a, b)?, c)
}

/// Divides the 128-bit `(high, low)` by `divisor`, returning
/// `(quotient, remainder)`. Requires `high < divisor`, which is exactly the
/// condition for the quotient to fit in a u64.
#[inline]
fn div_wide(high: u64, low: u64, divisor: u64) -> MathResult<(u64, u64)> {
    if divisor == 0 || high >= divisor {
        return Err(Overflow);
    }
    if high == 0 {
        let quotient = low.checked_div(divisor).ok_or(Overflow)?;
        let remainder = low.checked_rem(divisor).ok_or(Overflow)?;
        return Ok((quotient, remainder));
    }
    // Normalize so the divisor's top bit is set; `high < divisor` keeps the
    // shifted high word within 64 bits.
    let shift = divisor.leading_zeros();
    let divisor = divisor << shift;
    let (d_hi, d_lo) = (divisor >> 32, divisor & LOW_32);
    let numerator_hi = if shift == 0 {
        high
    } else {
        (high << shift) | (low >> 64u32.wrapping_sub(shift))
    };
    let numerator_lo = low << shift;
    let (n1, n0) = (numerator_lo >> 32, numerator_lo & LOW_32);

    let q1 = quotient_digit(numerator_hi, n1, d_hi, d_lo)?;
    let partial = numerator_hi
        .wrapping_mul(BASE_32)
        .wrapping_add(n1)
        .wrapping_sub(q1.wrapping_mul(divisor));
    let q0 = quotient_digit(partial, n0, d_hi, d_lo)?;
    let remainder = partial
        .wrapping_mul(BASE_32)
        .wrapping_add(n0)
        .wrapping_sub(q0.wrapping_mul(divisor));
    Ok(((q1 << 32) | q0, remainder >> shift))
}

/// One 32-bit quotient digit of Knuth's algorithm D: estimate from the top
/// divisor limb, then correct (at most twice) against the lower limb.
#[inline]
fn quotient_digit(top: u64, next_digit: u64, d_hi: u64, d_lo: u64) -> MathResult<u64> {
    // d_hi ≥ 2^31 after normalization, so these never fail.
    let mut q = top.checked_div(d_hi).ok_or(Overflow)?;
    let mut rem = top.checked_rem(d_hi).ok_or(Overflow)?;
    // Short-circuit keeps `q × d_lo` within 64 bits (`q < 2^32` there) and
    // `rem < 2^32` keeps `rem × 2^32 + next_digit` within 64 bits.
    while q >= BASE_32 || q.wrapping_mul(d_lo) > (rem << 32) | next_digit {
        q = q.wrapping_sub(1);
        rem = rem.wrapping_add(d_hi);
        if rem >= BASE_32 {
            break;
        }
    }
    Ok(q)
}

/// `⌊a × b ÷ d⌋` exactly (128-bit intermediate). Rounds down.
#[inline]
pub fn mul_div_floor(a: u64, b: u64, d: u64) -> MathResult<u64> {
    let (high, low) = mul_wide(a, b);
    div_wide(high, low, d).map(|(q, _)| q)
}

/// `⌈a × b ÷ d⌉` exactly (128-bit intermediate). Rounds up.
#[inline]
pub fn mul_div_ceil(a: u64, b: u64, d: u64) -> MathResult<u64> {
    let (high, low) = mul_wide(a, b);
    let (q, r) = div_wide(high, low, d)?;
    if r == 0 {
        Ok(q)
    } else {
        q.checked_add(1).ok_or(Overflow)
    }
}

/// `⌊amount × bps ÷ 10,000⌋`: a basis-point share, rounded down.
#[inline]
pub fn bps_share(amount: u64, bps: u16) -> MathResult<u64> {
    mul_div_floor(amount, u64::from(bps), crate::BPS_DENOMINATOR)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // the u128 reference runs on the host
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference_product(a: u64, b: u64) -> u128 {
        u128::from(a) * u128::from(b)
    }

    fn reference_mul_div(a: u64, b: u64, d: u64, round_up: bool) -> Option<u64> {
        if d == 0 {
            return None;
        }
        let product = reference_product(a, b);
        let d = u128::from(d);
        let q = if round_up {
            product.div_ceil(d)
        } else {
            product / d
        };
        u64::try_from(q).ok()
    }

    const EDGES: [u64; 10] = [
        0,
        1,
        2,
        3,
        LOW_32,
        BASE_32,
        BASE_32 + 1,
        u64::MAX / 2,
        u64::MAX - 1,
        u64::MAX,
    ];

    #[test]
    fn mul_wide_matches_u128_on_edges() {
        for a in EDGES {
            for b in EDGES {
                let (high, low) = mul_wide(a, b);
                assert_eq!(
                    (u128::from(high) << 64) | u128::from(low),
                    reference_product(a, b)
                );
            }
        }
    }

    #[test]
    fn checked_mul_reports_overflow() {
        assert_eq!(checked_mul(u64::MAX, 2), Err(Overflow));
        assert_eq!(checked_mul(BASE_32, BASE_32), Err(Overflow));
        assert_eq!(checked_mul(LOW_32, BASE_32 + 1), Ok(u64::MAX));
        assert_eq!(checked_mul3(1 << 21, 1 << 21, 1 << 21), Ok(1 << 63));
        assert_eq!(checked_mul3(1 << 22, 1 << 21, 1 << 21), Err(Overflow));
    }

    #[test]
    fn mul_div_matches_u128_on_edges() {
        for a in EDGES {
            for b in EDGES {
                for d in EDGES {
                    assert_eq!(
                        mul_div_floor(a, b, d).ok(),
                        reference_mul_div(a, b, d, false),
                        "floor({a} * {b} / {d})"
                    );
                    assert_eq!(
                        mul_div_ceil(a, b, d).ok(),
                        reference_mul_div(a, b, d, true),
                        "ceil({a} * {b} / {d})"
                    );
                }
            }
        }
    }

    #[test]
    fn bps_share_rounds_down() {
        assert_eq!(bps_share(10_000, 250), Ok(250));
        assert_eq!(bps_share(9_999, 1), Ok(0));
        assert_eq!(bps_share(u64::MAX, 10_000), Ok(u64::MAX));
        assert_eq!(bps_share(u64::MAX, 9_999), Ok(18_444_899_399_302_180_659));
    }

    /// Divisors whose top limb is small relative to the numerator exercise the
    /// quotient-digit correction loop.
    fn divisor_strategy() -> impl Strategy<Value = u64> {
        prop_oneof![
            1..=u64::MAX,
            (1u64..=u64::MAX).prop_map(|d| d >> (d % 63)),
            (0u32..64).prop_map(|s| 1u64 << s),
            (33u32..64).prop_map(|s| (1u64 << s) - 1),
        ]
        .prop_filter("non-zero", |d| *d != 0)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn mul_wide_matches_u128(a: u64, b: u64) {
            let (high, low) = mul_wide(a, b);
            prop_assert_eq!((u128::from(high) << 64) | u128::from(low), reference_product(a, b));
        }

        #[test]
        fn checked_mul_matches_u128(a: u64, b: u64) {
            prop_assert_eq!(checked_mul(a, b).ok(), a.checked_mul(b));
        }

        #[test]
        fn mul_div_floor_matches_u128(a: u64, b: u64, d in divisor_strategy()) {
            prop_assert_eq!(mul_div_floor(a, b, d).ok(), reference_mul_div(a, b, d, false));
        }

        #[test]
        fn mul_div_ceil_matches_u128(a: u64, b: u64, d in divisor_strategy()) {
            prop_assert_eq!(mul_div_ceil(a, b, d).ok(), reference_mul_div(a, b, d, true));
        }

        #[test]
        fn mul_div_with_largest_quotients(q: u64, d in divisor_strategy()) {
            // q × d ÷ d is exactly q, however close to u64::MAX.
            prop_assert_eq!(mul_div_floor(q, d, d), Ok(q));
            prop_assert_eq!(mul_div_ceil(q, d, d), Ok(q));
        }
    }
}
