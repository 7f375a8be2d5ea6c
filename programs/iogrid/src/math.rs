//! `iogrid_rules::math` as the program uses it: the same functions (the
//! logic lives once, in the rules crate the sdk and keeper share), with an
//! overflow reported as `IogridError::MathOverflow`.

use {crate::errors::IogridError, iogrid_rules::math};

pub use iogrid_rules::math::Overflow;

pub type MathResult<T> = core::result::Result<T, IogridError>;

impl From<Overflow> for IogridError {
    fn from(_: Overflow) -> Self {
        IogridError::MathOverflow
    }
}

/// `a × b`, or `MathOverflow` if the product does not fit in a u64.
#[inline]
pub fn checked_mul(a: u64, b: u64) -> MathResult<u64> {
    Ok(math::checked_mul(a, b)?)
}

/// `a × b × c`, or `MathOverflow`.
#[inline]
pub fn checked_mul3(a: u64, b: u64, c: u64) -> MathResult<u64> {
    Ok(math::checked_mul3(a, b, c)?)
}

/// `⌊a × b ÷ d⌋` exactly (128-bit intermediate). Rounds down.
#[inline]
pub fn mul_div_floor(a: u64, b: u64, d: u64) -> MathResult<u64> {
    Ok(math::mul_div_floor(a, b, d)?)
}

/// `⌈a × b ÷ d⌉` exactly (128-bit intermediate). Rounds up.
#[inline]
pub fn mul_div_ceil(a: u64, b: u64, d: u64) -> MathResult<u64> {
    Ok(math::mul_div_ceil(a, b, d)?)
}

/// `⌊amount × bps ÷ 10,000⌋`: a basis-point share, rounded down.
#[inline]
pub fn bps_share(amount: u64, bps: u16) -> MathResult<u64> {
    Ok(math::bps_share(amount, bps)?)
}
