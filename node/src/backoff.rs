//! How long to wait before retrying something that failed `failures` times
//! in a row.

use std::time::Duration;

/// `base × 2^failures`, at most `cap`: exponential, deterministic.
pub fn backoff(base: Duration, failures: u32, cap: Duration) -> Duration {
    base.saturating_mul(1u32 << failures.min(16)).min(cap)
}

/// `wait` less up to 25 %, so several processes retrying the same thing do
/// not retry in lockstep.
pub fn jittered(wait: Duration) -> Duration {
    wait.saturating_sub(wait.mul_f64(fastrand::f64() * 0.25))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let (base, cap) = (Duration::from_millis(500), Duration::from_secs(8));
        let waits: Vec<_> = (1..=6).map(|n| backoff(base, n, cap).as_millis()).collect();
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
        assert_eq!(backoff(base, u32::MAX, cap), cap);
        assert_eq!(backoff(Duration::MAX, 3, cap), cap);
    }

    #[test]
    fn jitter_only_shortens_and_by_at_most_a_quarter() {
        let wait = Duration::from_secs(4);
        for _ in 0..1_000 {
            let j = jittered(wait);
            assert!(j <= wait && j >= Duration::from_secs(3), "{j:?}");
        }
    }
}
