use {
    crate::{constants::*, errors::IogridError, math},
    anchor_lang::prelude::*,
    iogrid_rules::{assign, pay},
};

/// A job's life. Settled, cancelled and expired jobs are closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum JobStatus {
    /// Escrowed, waiting for its first full assignment.
    Open = 0,
    /// Every GPU assigned at least once; running until proven.
    Running = 1,
    /// Every assignment proven: the challenge window runs.
    Proven = 2,
    /// The owner approved the proofs; settle pays at once.
    Approved = 3,
    /// The owner disputed; funds frozen until the arbiter resolves.
    Disputed = 4,
    /// The arbiter decided the suppliers' share (`award_bps`).
    Resolved = 5,
    /// Past its duration plus grace without full proof: what still ran was
    /// stopped at its heartbeat-verified time; settle pays at once.
    Expired = 6,
}

impl JobStatus {
    pub fn from_u8(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::Open,
            1 => Self::Running,
            2 => Self::Proven,
            3 => Self::Approved,
            4 => Self::Disputed,
            5 => Self::Resolved,
            6 => Self::Expired,
            _ => return Err(IogridError::InvariantViolated.into()),
        })
    }
}

/// An assignment's life within its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AssignmentStatus {
    /// Running on the listing's GPUs.
    Active = 0,
    /// The worker's signed proof was accepted; paid at settlement.
    Proven = 1,
    /// The worker went silent; paid up to its last heartbeat, slot reusable.
    Faulted = 2,
    /// Still running when the job expired: stopped at its worker's last
    /// heartbeat, paid that time at settlement.
    Stopped = 3,
}

/// What a job needs; the argument of `create_job`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct JobSpec {
    /// SHA-256 of the workload spec the workers run.
    pub workload_hash: [u8; 32],
    /// Where the workload spec is, ASCII, zero-padded.
    pub workload_uri: [u8; 64],
    /// Required GPU model, ASCII, zero-padded; all zeros = any model.
    pub gpu_model: [u8; 16],
    /// Required region, ASCII, zero-padded; all zeros = anywhere.
    pub region: [u8; 8],
    pub max_price_per_gpu_hour: u64,
    pub duration_secs: u64,
    /// Minimum VRAM per GPU, GB.
    pub min_vram_gb: u16,
    /// GPUs in total, across however many listings.
    pub gpus: u16,
    /// Listings the job account has room for (1 to 16).
    pub max_listings: u8,
    pub _padding: [u8; 3],
}

// SAFETY: repr(C), 144 bytes without padding (asserted); any bit pattern valid.
unsafe impl bytemuck::Pod for JobSpec {}
unsafe impl bytemuck::Zeroable for JobSpec {}
const _: () = assert!(core::mem::size_of::<JobSpec>() == 144);

/// `iogrid_rules::pay::escrow_for`: the worst case a job must escrow.
pub fn escrow_for(price_per_gpu_hour: u64, gpus: u16, secs: u64) -> Result<u64> {
    Ok(pay::escrow_for(price_per_gpu_hour, gpus, secs).map_err(IogridError::from)?)
}

/// `iogrid_rules::pay::payment_for`: what `gpu_seconds` earn, rounded down.
pub fn payment_for(price_per_gpu_hour: u64, gpu_seconds: u64) -> Result<u64> {
    Ok(pay::payment_for(price_per_gpu_hour, gpu_seconds).map_err(IogridError::from)?)
}

impl JobSpec {
    pub fn validate(&self) -> Result<()> {
        if self.gpus == 0 || self.max_listings == 0 || usize::from(self.max_listings) > MAX_CLUSTER
        {
            return Err(IogridError::InvalidJob.into());
        }
        if self.duration_secs == 0 || self.duration_secs > MAX_JOB_DURATION_SECS {
            return Err(IogridError::InvalidJob.into());
        }
        if self.max_price_per_gpu_hour == 0 || self.workload_hash == [0; 32] {
            return Err(IogridError::InvalidJob.into());
        }
        Ok(())
    }

    pub fn deposit(&self) -> Result<u64> {
        escrow_for(self.max_price_per_gpu_hour, self.gpus, self.duration_secs)
    }
}

/// One listing's part of a job.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, IdlType)]
pub struct Assignment {
    pub listing: Address,
    /// The listing's owner when assigned (it never changes): settlement pays
    /// an IO account of theirs without needing the listing, which may be
    /// delisted once its part is proven.
    pub supplier: Address,
    /// The listing's price when assigned; later price changes don't apply.
    pub price_per_gpu_hour: u64,
    pub started_at: i64,
    /// GPU-seconds to pay: proven by the worker, or heartbeat-verified on
    /// fault or expiry.
    pub gpu_seconds: u64,
    /// The listing's assignment counter when assigned: unique for ever per
    /// listing address (listing ids are never reused), so a signed proof
    /// names exactly one assignment and cannot be replayed onto another.
    pub nonce: u64,
    /// The worker's result hash (zero until proven).
    pub result_hash: [u8; 32],
    pub gpus: u16,
    pub status: u8,
    pub _padding: [u8; 5],
}

// SAFETY: repr(C), 136 bytes without padding (asserted); any bit pattern valid.
unsafe impl bytemuck::Pod for Assignment {}
unsafe impl bytemuck::Zeroable for Assignment {}
const _: () = assert!(core::mem::size_of::<Assignment>() == 136);

impl Assignment {
    pub fn status(&self) -> Result<AssignmentStatus> {
        Ok(match self.status {
            0 => AssignmentStatus::Active,
            1 => AssignmentStatus::Proven,
            2 => AssignmentStatus::Faulted,
            3 => AssignmentStatus::Stopped,
            _ => return Err(IogridError::InvariantViolated.into()),
        })
    }

    pub fn is_active(&self) -> bool {
        self.status == AssignmentStatus::Active as u8
    }

    /// Paid at settlement (proven or stopped at expiry); faulted assignments
    /// were paid when the fault was reported.
    pub fn is_payable(&self) -> bool {
        self.status == AssignmentStatus::Proven as u8
            || self.status == AssignmentStatus::Stopped as u8
    }

    /// Silent past `timeout_secs` since the later of its worker's last
    /// heartbeat and its own start: a fault provable from chain state alone.
    /// Counting from the start gives a freshly assigned worker a full timeout
    /// to show it is alive, so silence while idle is never slashable.
    pub fn is_silent(&self, last_heartbeat: i64, now: i64, timeout_secs: u32) -> bool {
        assign::is_silent(last_heartbeat, self.started_at, now, timeout_secs)
    }

    /// The most GPU-seconds this assignment can have served by `until`.
    pub fn max_gpu_seconds(&self, until: i64) -> Result<u64> {
        let secs = u64::try_from(until.saturating_sub(self.started_at)).unwrap_or(0);
        Ok(math::checked_mul(secs, u64::from(self.gpus))?)
    }

    /// Gross pay owed for the recorded GPU-seconds.
    pub fn payment(&self) -> Result<u64> {
        payment_for(self.price_per_gpu_hour, self.gpu_seconds)
    }

    /// Ends a running assignment in `status`, recording `gpu_seconds` (at
    /// most what it can have served by `until`).
    fn end(&mut self, status: AssignmentStatus, gpu_seconds: u64, until: i64) -> Result<()> {
        if !self.is_active() {
            return Err(IogridError::NoActiveAssignment.into());
        }
        self.gpu_seconds = gpu_seconds.min(self.max_gpu_seconds(until)?);
        self.status = status as u8;
        Ok(())
    }

    /// A verified proof: the claim, cut to the time elapsed by `until`.
    pub fn prove(&mut self, result_hash: &[u8; 32], gpu_seconds: u64, until: i64) -> Result<()> {
        self.end(AssignmentStatus::Proven, gpu_seconds, until)?;
        self.result_hash = *result_hash;
        Ok(())
    }

    /// A silent worker: paid (now, by the caller) up to `until`, its last
    /// heartbeat; the slot becomes reusable.
    pub fn fault(&mut self, until: i64) -> Result<()> {
        self.end(AssignmentStatus::Faulted, u64::MAX, until)
    }

    /// Stopped at expiry at `until` (the worker's last heartbeat, never past
    /// the job's end); paid at settlement.
    pub fn stop(&mut self, until: i64) -> Result<()> {
        self.end(AssignmentStatus::Stopped, u64::MAX, until)
    }
}

/// A job: `["job", owner, id]`, a header followed by up to `max_listings`
/// assignments (the account is a `Slab<Job, Assignment>`).
#[account]
pub struct Job {
    pub owner: Address,
    pub workload_hash: [u8; 32],
    pub workload_uri: [u8; 64],
    pub gpu_model: [u8; 16],
    pub region: [u8; 8],
    pub id: u64,
    pub max_price_per_gpu_hour: u64,
    pub duration_secs: u64,
    /// IO the owner escrowed, top-ups included.
    pub deposit: u64,
    /// Slashed IO paid into the escrow for the owner.
    pub compensation: u64,
    /// Gross IO already paid out of the escrow (faulted assignments).
    pub paid_out: u64,
    /// First full assignment (set when the job leaves `Open`); the job ends
    /// `duration_secs` later.
    pub started_at: i64,
    /// When the last proof arrived; the challenge window runs from here.
    pub proven_at: i64,
    pub disputed_at: i64,
    pub min_vram_gb: u16,
    pub gpus: u16,
    /// GPUs of Active and Proven assignments.
    pub gpus_assigned: u16,
    /// Suppliers' share of their proven claims after a dispute.
    pub award_bps: u16,
    pub status: u8,
    pub bump: u8,
    pub escrow_bump: u8,
    pub version: u8,
    pub _padding: [u8; 4],
    /// The network's terms when the job was created: later governance
    /// changes never alter what a running job pays or risks.
    pub terms: JobTerms,
    /// When the job was created: an open job nobody takes lapses
    /// `duration_secs` + grace later, so even an unmatched escrow is closed
    /// by anyone.
    pub created_at: i64,
    /// The job's escrow, `["escrow", job]`, made by `create_job`: later
    /// instructions compare addresses instead of deriving the PDA again.
    pub escrow: Address,
}

const _: () = assert!(core::mem::size_of::<Job>() == 296);

/// The parameters a job is created under, fixed for its whole life.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, IdlType)]
pub struct JobTerms {
    pub challenge_window_secs: u32,
    pub job_grace_secs: u32,
    pub fee_bps: u16,
    pub burn_bps: u16,
    /// `min(slash_bps, slash_cap_bps)`: the share of a faulty listing's
    /// locked stake one outage costs.
    pub slash_bps: u16,
    pub _padding: u16,
}

// SAFETY: repr(C), 16 bytes without padding (asserted); any bit pattern valid.
unsafe impl bytemuck::Pod for JobTerms {}
unsafe impl bytemuck::Zeroable for JobTerms {}
const _: () = assert!(core::mem::size_of::<JobTerms>() == 16);

impl JobTerms {
    pub fn from_params(params: &crate::state::NetworkParams) -> Self {
        Self {
            challenge_window_secs: params.challenge_window_secs,
            job_grace_secs: params.job_grace_secs,
            fee_bps: params.fee_bps,
            burn_bps: params.burn_bps,
            slash_bps: params.slash_bps.min(params.slash_cap_bps),
            _padding: 0,
        }
    }
}

impl Job {
    pub fn status(&self) -> Result<JobStatus> {
        JobStatus::from_u8(self.status)
    }

    pub fn set_status(&mut self, status: JobStatus) {
        self.status = status as u8;
    }

    /// When the paid-for time runs out; meaningful once the job left `Open`.
    pub fn end_time(&self) -> Result<i64> {
        let duration = i64::try_from(self.duration_secs).map_err(|_| IogridError::MathOverflow)?;
        Ok(self
            .started_at
            .checked_add(duration)
            .ok_or(IogridError::MathOverflow)?)
    }

    /// When anyone may expire the job: its end (for an open job, the end it
    /// would have had if taken at creation) plus the grace of its terms.
    pub fn expires_at(&self) -> Result<i64> {
        let end = if self.status()? == JobStatus::Open {
            let duration =
                i64::try_from(self.duration_secs).map_err(|_| IogridError::MathOverflow)?;
            self.created_at
                .checked_add(duration)
                .ok_or(IogridError::MathOverflow)?
        } else {
            self.end_time()?
        };
        Ok(end
            .checked_add(i64::from(self.terms.job_grace_secs))
            .ok_or(IogridError::MathOverflow)?)
    }

    /// Every assignment proven: the challenge window opens at `now`.
    pub fn open_challenge_window(&mut self, now: i64) {
        self.proven_at = now;
        self.set_status(JobStatus::Proven);
    }

    /// The owner accepts the proofs: settlement may run at once.
    pub fn approve(&mut self) -> Result<()> {
        if self.status()? != JobStatus::Proven {
            return Err(IogridError::WrongJobStatus.into());
        }
        self.set_status(JobStatus::Approved);
        Ok(())
    }

    /// The owner disputes within the challenge window, freezing the escrow
    /// for the arbiter.
    pub fn dispute(&mut self, now: i64) -> Result<()> {
        if self.status()? != JobStatus::Proven {
            return Err(IogridError::WrongJobStatus.into());
        }
        let closes = self
            .proven_at
            .checked_add(i64::from(self.terms.challenge_window_secs))
            .ok_or(IogridError::MathOverflow)?;
        if now >= closes {
            return Err(IogridError::ChallengeWindowClosed.into());
        }
        self.disputed_at = now;
        self.set_status(JobStatus::Disputed);
        Ok(())
    }

    /// The arbiter awards the suppliers `award_bps` of their proven claims
    /// (never more than all of them, so never more than the escrow).
    pub fn resolve(&mut self, award_bps: u16) -> Result<()> {
        if self.status()? != JobStatus::Disputed {
            return Err(IogridError::WrongJobStatus.into());
        }
        if u64::from(award_bps) > BPS_DENOMINATOR {
            return Err(IogridError::AwardTooLarge.into());
        }
        self.award_bps = award_bps;
        self.set_status(JobStatus::Resolved);
        Ok(())
    }

    /// GPUs waiting for a listing (initially, after a fault or a scale-up).
    pub fn missing_gpus(&self) -> u16 {
        self.gpus.saturating_sub(self.gpus_assigned)
    }

    /// What the job asks of each listing, for `iogrid_rules::assign`.
    pub fn needs(&self) -> assign::JobNeeds<'_> {
        assign::JobNeeds {
            gpu_model: &self.gpu_model,
            region: &self.region,
            min_vram_gb: self.min_vram_gb,
            max_price_per_gpu_hour: self.max_price_per_gpu_hour,
        }
    }

    pub fn invariant(&self) -> Result<()> {
        self.status()?;
        if self.gpus_assigned > self.gpus || self.award_bps > 10_000 {
            return Err(IogridError::InvariantViolated.into());
        }
        let available = self
            .deposit
            .checked_add(self.compensation)
            .ok_or(IogridError::MathOverflow)?;
        if self.paid_out > available {
            return Err(IogridError::InvariantViolated.into());
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn escrow_rounds_up_and_payment_rounds_down() {
        // 1.5 IO per GPU-hour, 3 GPUs, 20 minutes = 1.5 IO, exactly.
        assert_eq!(escrow_for(1_500_000, 3, 1_200), Ok(1_500_000));
        // One second of one GPU at 1 IO/h = 277.77… base units.
        assert_eq!(escrow_for(1_000_000, 1, 1), Ok(278));
        assert_eq!(payment_for(1_000_000, 1), Ok(277));
        // A payment never exceeds the escrow for the same time.
        for secs in [1u64, 59, 3_599, 86_401] {
            assert!(
                payment_for(7_777_777, secs * 5).unwrap()
                    <= escrow_for(7_777_777, 5, secs).unwrap()
            );
        }
    }

    #[test]
    fn price_times_gpus_times_time_overflow_is_an_error() {
        assert_eq!(
            escrow_for(u64::MAX, 2, 3_600),
            Err(IogridError::MathOverflow.into())
        );
        assert_eq!(
            escrow_for(u64::MAX / 2, 2, u64::MAX),
            Err(IogridError::MathOverflow.into())
        );
    }

    #[test]
    fn assignment_service_is_capped_by_time() {
        let a = Assignment {
            listing: Address::default(),
            supplier: Address::default(),
            price_per_gpu_hour: 3_600,
            started_at: 100,
            gpu_seconds: 0,
            nonce: 0,
            result_hash: [0; 32],
            gpus: 4,
            status: 0,
            _padding: [0; 5],
        };
        assert_eq!(a.max_gpu_seconds(160), Ok(240));
        assert_eq!(a.max_gpu_seconds(50), Ok(0));
        // Silence counts from the later of the last heartbeat and the start.
        assert!(
            !a.is_silent(40, 130, 30),
            "assigned 30 s ago to an idle-silent worker"
        );
        assert!(a.is_silent(40, 131, 30));
        assert!(!a.is_silent(120, 150, 30));
        assert!(a.is_silent(120, 151, 30));
    }

    fn running(gpus: u16, started_at: i64) -> Assignment {
        Assignment {
            listing: Address::default(),
            supplier: Address::default(),
            price_per_gpu_hour: 3_600,
            started_at,
            gpu_seconds: 0,
            nonce: 0,
            result_hash: [0; 32],
            gpus,
            status: AssignmentStatus::Active as u8,
            _padding: [0; 5],
        }
    }

    #[test]
    fn an_assignment_ends_once_and_never_claims_more_than_it_served() {
        let no_assignment = Err(IogridError::NoActiveAssignment.into());
        let mut a = running(2, 100);
        a.prove(&[7; 32], 1_000, 160).unwrap();
        assert_eq!(
            (a.status(), a.gpu_seconds, a.result_hash),
            (Ok(AssignmentStatus::Proven), 120, [7; 32]),
            "a claim past the elapsed time is cut to it"
        );
        assert_eq!(a.payment(), Ok(120));
        assert_eq!(a.prove(&[8; 32], 1, 160), no_assignment);
        assert_eq!(a.fault(160), no_assignment);
        assert_eq!(a.stop(160), no_assignment);

        let mut a = running(2, 100);
        a.prove(&[0; 32], 50, 160).unwrap();
        assert_eq!(a.gpu_seconds, 50, "a smaller claim stands");

        let mut a = running(3, 100);
        a.fault(130).unwrap();
        assert_eq!(
            (a.status(), a.gpu_seconds),
            (Ok(AssignmentStatus::Faulted), 90)
        );
        assert!(!a.is_payable(), "paid when the fault was reported");

        let mut a = running(3, 100);
        a.stop(90).unwrap();
        assert_eq!(
            (a.status(), a.gpu_seconds),
            (Ok(AssignmentStatus::Stopped), 0)
        );
        assert!(a.is_payable());
    }

    fn proven_job(proven_at: i64, window: u32) -> Job {
        let mut job = <Job as bytemuck::Zeroable>::zeroed();
        job.terms.challenge_window_secs = window;
        job.set_status(JobStatus::Running);
        job.open_challenge_window(proven_at);
        job
    }

    #[test]
    fn approve_and_dispute_only_a_proven_job_within_its_window() {
        let wrong_status = Err(IogridError::WrongJobStatus.into());
        let mut job = proven_job(1_000, 60);
        assert_eq!(
            (job.status(), job.proven_at),
            (Ok(JobStatus::Proven), 1_000)
        );
        job.approve().unwrap();
        assert_eq!(job.status(), Ok(JobStatus::Approved));
        assert_eq!(job.approve(), wrong_status);
        assert_eq!(job.dispute(1_001), wrong_status);

        let mut job = proven_job(1_000, 60);
        assert_eq!(
            job.dispute(1_060),
            Err(IogridError::ChallengeWindowClosed.into())
        );
        job.dispute(1_059).unwrap();
        assert_eq!(
            (job.status(), job.disputed_at),
            (Ok(JobStatus::Disputed), 1_059)
        );
        assert_eq!(job.approve(), wrong_status);
        assert_eq!(job.resolve(10_001), Err(IogridError::AwardTooLarge.into()));
        job.resolve(2_500).unwrap();
        assert_eq!(
            (job.status(), job.award_bps),
            (Ok(JobStatus::Resolved), 2_500)
        );
        assert_eq!(job.resolve(2_500), wrong_status);

        let mut open = <Job as bytemuck::Zeroable>::zeroed();
        open.set_status(JobStatus::Open);
        assert_eq!(open.approve(), wrong_status);
        assert_eq!(open.dispute(0), wrong_status);
    }
}
