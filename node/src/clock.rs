//! The chain's time. Job deadlines, heartbeats and challenge windows are in
//! the Clock sysvar's unix time, which drifts from the host's.

use {
    iogrid_sdk::rpc::{fetch_account, NonblockingRpcClient as RpcClient, RpcReadError},
    std::time::{Duration, Instant},
};

/// `Clock::unix_timestamp` (bytes 32..40 of the sysvar), read now.
pub async fn chain_time(rpc: &RpcClient) -> Result<i64, RpcReadError> {
    let clock = solana_sdk_ids::sysvar::clock::ID;
    let account = fetch_account(rpc, &clock, "Clock sysvar", "every cluster has one").await?;
    unix_timestamp(&account.data).ok_or(RpcReadError::Missing {
        what: "Clock sysvar data",
        address: clock,
        hint: "the sysvar is 40 bytes",
    })
}

/// Clock: slot, epoch_start_timestamp, epoch, leader_schedule_epoch,
/// unix_timestamp; eight bytes each.
fn unix_timestamp(data: &[u8]) -> Option<i64> {
    let bytes: [u8; 8] = data.get(32..40)?.try_into().ok()?;
    Some(i64::from_le_bytes(bytes))
}

/// The chain's time read at most every `refresh` and extrapolated with the
/// host's monotonic clock in between (a slot is 400 ms; callers that decide
/// by the second need no more).
pub struct ChainClock {
    refresh: Duration,
    last: Option<(i64, Instant)>,
    /// After a failed read, none before this; the wait doubles per failure
    /// up to [`MAX_READ_BACKOFF`], so a node that is down is not hammered.
    retry_at: Option<Instant>,
    failures: u32,
}

const FIRST_READ_BACKOFF: Duration = Duration::from_millis(250);
const MAX_READ_BACKOFF: Duration = Duration::from_secs(4);

impl ChainClock {
    pub fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            last: None,
            retry_at: None,
            failures: 0,
        }
    }

    fn backoff(failures: u32) -> Duration {
        FIRST_READ_BACKOFF
            .saturating_mul(1 << failures.min(8))
            .min(MAX_READ_BACKOFF)
    }

    fn extrapolated(&self) -> Option<i64> {
        self.last
            .map(|(unix, at)| unix.saturating_add(at.elapsed().as_secs() as i64))
    }

    /// The chain's time; on a failed read, the error and the last reading
    /// extrapolated (if there was one) so a caller can go on.
    /// While backing off after a failure it extrapolates the last reading,
    /// or, with none, waits the backoff out before reading again.
    pub async fn now(&mut self, rpc: &RpcClient) -> Result<i64, (RpcReadError, Option<i64>)> {
        let fresh = self.last.is_some_and(|(_, at)| at.elapsed() < self.refresh);
        let backing_off = self.retry_at.filter(|at| Instant::now() < *at);
        if let (Some(unix), true) = (self.extrapolated(), fresh || backing_off.is_some()) {
            return Ok(unix);
        }
        if let Some(at) = backing_off {
            tokio::time::sleep_until(at.into()).await;
        }
        match chain_time(rpc).await {
            Ok(unix) => {
                self.last = Some((unix, Instant::now()));
                (self.retry_at, self.failures) = (None, 0);
                Ok(unix)
            }
            Err(err) => {
                self.retry_at = Some(Instant::now() + Self::backoff(self.failures));
                self.failures = self.failures.saturating_add(1);
                Err((err, self.extrapolated()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_reads_back_off_doubling_to_a_cap() {
        let waits: Vec<u128> = (0..7).map(|n| ChainClock::backoff(n).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1_000, 2_000, 4_000, 4_000, 4_000]);
    }

    #[test]
    fn reads_the_unix_timestamp_field() {
        let mut data = [0u8; 40];
        data[32..].copy_from_slice(&1_700_000_123i64.to_le_bytes());
        assert_eq!(unix_timestamp(&data), Some(1_700_000_123));
        assert_eq!(unix_timestamp(&data[..39]), None);
    }
}
