//! `bench_math` exists only in the `cu-bench` build (target/deploy/iogrid_bench.so),
//! never in the deployed program: it runs one `math.rs` helper `iterations`
//! times so `tests/tests/math_cu.rs` can measure its compute units in the VM.

#[cfg(feature = "cu-bench")]
use crate::math;
use anchor_lang::prelude::*;

// The Accounts struct is always compiled because the `#[program]` macro's
// client module names it even when the handler is configured out.
#[derive(Accounts)]
pub struct BenchMath {
    pub caller: Signer,
}

/// Which helper to run; 0 runs the loop alone, the baseline.
#[cfg(feature = "cu-bench")]
pub fn run(op: u8, operands: [u64; 3], iterations: u16) -> Result<()> {
    let [a, b, d] = operands;
    let mut sink = 0u64;
    for i in 0..iterations {
        // black_box keeps the optimizer from hoisting the call out of the loop.
        let a = core::hint::black_box(a ^ u64::from(i & 1));
        let result = match op {
            0 => Ok(a),
            1 => math::checked_mul(a, b),
            2 => math::mul_div_floor(a, b, d),
            3 => math::mul_div_ceil(a, b, d),
            4 => math::bps_share(a, (b % 10_001) as u16),
            _ => return Err(ProgramError::InvalidArgument),
        }?;
        sink ^= core::hint::black_box(result);
    }
    core::hint::black_box(sink);
    Ok(())
}
