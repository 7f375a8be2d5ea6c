//! Which listing may serve a job, and when a worker counts as silent.
//!
//! `assign_job` refuses any listing [`check_listing`] refuses, with the
//! matching error; the keeper's matcher indexes only listings these rules
//! accept, and its tests use [`check_listing`] as the oracle.

use crate::math;

/// What a job asks of each listing it runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobNeeds<'a> {
    /// All zeros: any model.
    pub gpu_model: &'a [u8; 16],
    /// All zeros: any region.
    pub region: &'a [u8; 8],
    pub min_vram_gb: u16,
    pub max_price_per_gpu_hour: u64,
}

/// A listing's offer and state, as far as assignment cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingOffer<'a> {
    pub gpu_model: &'a [u8; 16],
    pub region: &'a [u8; 8],
    pub vram_gb: u16,
    /// GPUs the listing declares (its stake must cover all of them).
    pub gpu_count: u16,
    pub price_per_gpu_hour: u64,
    /// Available or Busy (not Offline or Delisted).
    pub online: bool,
    pub last_heartbeat: i64,
    pub stake_locked: u64,
    pub gpus_free: u16,
}

/// The network parameters assignment depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssignParams {
    pub heartbeat_timeout_secs: u32,
    pub min_stake_per_gpu: u64,
}

/// Why a listing cannot take GPUs of a job, in the order they are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Offline,
    Stale,
    TooExpensive,
    /// Wrong model or region, or too little VRAM.
    Mismatch,
    UnderStaked,
    NotEnoughFreeGpus,
    Overflow,
}

/// Whether GPUs of `gpu_model` with `vram_gb` are what the job asked for.
pub fn hardware_fits(job: &JobNeeds, gpu_model: &[u8; 16], vram_gb: u16) -> bool {
    (*job.gpu_model == [0; 16] || job.gpu_model == gpu_model) && vram_gb >= job.min_vram_gb
}

/// Whether `region` is where the job asked to run.
pub fn region_fits(job: &JobNeeds, region: &[u8; 8]) -> bool {
    *job.region == [0; 8] || job.region == region
}

/// Whether the listing's hardware and place are what the job asked for.
pub fn spec_fits(job: &JobNeeds, listing: &ListingOffer) -> bool {
    hardware_fits(job, listing.gpu_model, listing.vram_gb) && region_fits(job, listing.region)
}

/// A listing whose worker has not beaten for longer than the timeout.
pub fn is_stale(last_heartbeat: i64, now: i64, timeout_secs: u32) -> bool {
    now.saturating_sub(last_heartbeat) > i64::from(timeout_secs)
}

/// An assignment's worker is silent when neither a heartbeat nor the
/// assignment itself is more recent than the timeout: a worker assigned on
/// the edge of staleness gets a full timeout to show it is alive.
pub fn is_silent(last_heartbeat: i64, assigned_at: i64, now: i64, timeout_secs: u32) -> bool {
    is_stale(last_heartbeat.max(assigned_at), now, timeout_secs)
}

/// Stake a listing of `gpu_count` GPUs must keep locked.
pub fn required_stake(min_stake_per_gpu: u64, gpu_count: u16) -> Result<u64, math::Overflow> {
    math::checked_mul(min_stake_per_gpu, u64::from(gpu_count))
}

/// Whether `listing` may take `gpus` GPUs of `job` at `now`.
pub fn check_listing(
    listing: &ListingOffer,
    job: &JobNeeds,
    params: &AssignParams,
    now: i64,
    gpus: u16,
) -> Result<(), Refusal> {
    if !listing.online {
        return Err(Refusal::Offline);
    }
    if is_stale(listing.last_heartbeat, now, params.heartbeat_timeout_secs) {
        return Err(Refusal::Stale);
    }
    if listing.price_per_gpu_hour > job.max_price_per_gpu_hour {
        return Err(Refusal::TooExpensive);
    }
    if !spec_fits(job, listing) {
        return Err(Refusal::Mismatch);
    }
    let required = required_stake(params.min_stake_per_gpu, listing.gpu_count)
        .map_err(|_| Refusal::Overflow)?;
    if listing.stake_locked < required {
        return Err(Refusal::UnderStaked);
    }
    if listing.gpus_free < gpus {
        return Err(Refusal::NotEnoughFreeGpus);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: AssignParams = AssignParams {
        heartbeat_timeout_secs: 60,
        min_stake_per_gpu: 100,
    };

    fn offer<'a>(model: &'a [u8; 16], region: &'a [u8; 8]) -> ListingOffer<'a> {
        ListingOffer {
            gpu_model: model,
            region,
            vram_gb: 80,
            gpu_count: 4,
            price_per_gpu_hour: 10,
            online: true,
            last_heartbeat: 1_000,
            stake_locked: 400,
            gpus_free: 2,
        }
    }

    #[test]
    fn each_requirement_refuses_in_order() {
        let (h100, a100, eu, us) = (
            *b"H100\0\0\0\0\0\0\0\0\0\0\0\0",
            *b"A100\0\0\0\0\0\0\0\0\0\0\0\0",
            *b"eu\0\0\0\0\0\0",
            *b"us\0\0\0\0\0\0",
        );
        let job = JobNeeds {
            gpu_model: &h100,
            region: &eu,
            min_vram_gb: 40,
            max_price_per_gpu_hour: 10,
        };
        let ok = offer(&h100, &eu);
        assert_eq!(check_listing(&ok, &job, &PARAMS, 1_060, 2), Ok(()));
        let cases = [
            (
                ListingOffer {
                    online: false,
                    ..ok
                },
                Refusal::Offline,
            ),
            (
                ListingOffer {
                    last_heartbeat: 999,
                    ..ok
                },
                Refusal::Stale,
            ),
            (
                ListingOffer {
                    price_per_gpu_hour: 11,
                    ..ok
                },
                Refusal::TooExpensive,
            ),
            (
                ListingOffer {
                    gpu_model: &a100,
                    ..ok
                },
                Refusal::Mismatch,
            ),
            (ListingOffer { region: &us, ..ok }, Refusal::Mismatch),
            (ListingOffer { vram_gb: 39, ..ok }, Refusal::Mismatch),
            (
                ListingOffer {
                    stake_locked: 399,
                    ..ok
                },
                Refusal::UnderStaked,
            ),
            (
                ListingOffer { gpus_free: 1, ..ok },
                Refusal::NotEnoughFreeGpus,
            ),
        ];
        for (listing, refusal) in cases {
            assert_eq!(
                check_listing(&listing, &job, &PARAMS, 1_060, 2),
                Err(refusal)
            );
        }
        let any = JobNeeds {
            gpu_model: &[0; 16],
            region: &[0; 8],
            ..job
        };
        assert_eq!(
            check_listing(&offer(&a100, &us), &any, &PARAMS, 1_060, 2),
            Ok(())
        );
    }

    #[test]
    fn silence_counts_from_the_later_of_beat_and_assignment() {
        assert!(!is_stale(1_000, 1_060, 60));
        assert!(is_stale(1_000, 1_061, 60));
        // Assigned at 1,059 on a listing last seen at 1,000: not silent
        // until 1,120.
        assert!(!is_silent(1_000, 1_059, 1_119, 60));
        assert!(is_silent(1_000, 1_059, 1_120, 60));
    }
}
