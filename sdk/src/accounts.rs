//! Program account layouts, decoded from raw account data. Each mirrors a
//! `#[account]` struct in `programs/iogrid/src/state/` byte for byte.

use {
    crate::{
        constants::{MAX_KEEPERS, REWARD_PRECISION},
        Address,
    },
    borsh::{BorshDeserialize, BorshSerialize},
    bytemuck::{Pod, Zeroable},
    serde::{Deserialize, Serialize},
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("account data is {actual} bytes, {name} needs at least {expected}")]
    TooShort {
        name: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("account is not a {name} (discriminator mismatch)")]
    WrongDiscriminator { name: &'static str },
}

/// A program account: an 8-byte discriminator, then the Pod fields.
pub trait ProgramAccount: Pod {
    const NAME: &'static str;
    /// `sha256("account:<Name>")[..8]`.
    const DISCRIMINATOR: [u8; 8];
    /// Data length of a freshly created account.
    const SPACE: usize = 8 + core::mem::size_of::<Self>();

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if data.len() < Self::SPACE {
            return Err(DecodeError::TooShort {
                name: Self::NAME,
                expected: Self::SPACE,
                actual: data.len(),
            });
        }
        if data[..8] != Self::DISCRIMINATOR {
            return Err(DecodeError::WrongDiscriminator { name: Self::NAME });
        }
        Ok(bytemuck::pod_read_unaligned(&data[8..Self::SPACE]))
    }
}

/// Every governable network parameter (`state::NetworkParams`). Also the
/// borsh-encoded argument of `initialize`: no padding, so both encodings agree.
#[repr(C)]
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Pod,
    Zeroable,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct NetworkParams {
    pub min_stake_per_gpu: u64,
    pub proposal_min_stake: u64,
    /// Free inference tokens per day per whole IO of active stake
    /// ([`crate::inference::daily_free_tokens`]).
    pub free_tokens_per_io_day: u64,
    pub unbonding_secs: u32,
    pub heartbeat_interval_secs: u32,
    pub heartbeat_timeout_secs: u32,
    pub challenge_window_secs: u32,
    pub job_grace_secs: u32,
    pub voting_secs: u32,
    pub timelock_secs: u32,
    pub fee_bps: u16,
    pub burn_bps: u16,
    pub slash_bps: u16,
    pub slash_cap_bps: u16,
    pub quorum_bps: u16,
    pub threshold_bps: u16,
}

impl Default for NetworkParams {
    /// Launch parameters: 100 IO stake per GPU, 1,000 free inference tokens a
    /// day per IO staked, 1-minute heartbeats, a one-day challenge window,
    /// 2.5% fee, 0.5% burn, 10% slash capped at 50%.
    fn default() -> Self {
        use crate::constants::IO;
        Self {
            min_stake_per_gpu: 100 * IO,
            proposal_min_stake: 10_000 * IO,
            free_tokens_per_io_day: 1_000,
            unbonding_secs: 7 * 86_400,
            heartbeat_interval_secs: 60,
            heartbeat_timeout_secs: 300,
            challenge_window_secs: 86_400,
            job_grace_secs: 3_600,
            voting_secs: 3 * 86_400,
            timelock_secs: 86_400,
            fee_bps: 250,
            burn_bps: 50,
            slash_bps: 1_000,
            slash_cap_bps: 5_000,
            quorum_bps: 1_000,
            threshold_bps: 6_000,
        }
    }
}

/// Emission reward accumulator (`state::RewardPool`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct RewardPool {
    pub acc_reward_per_gpu: u64,
    pub gpus_online: u64,
    pub accounted: u64,
    pub unallocated: u64,
    pub claimed: u64,
    pub last_update: i64,
}

/// The network (`state::Config`), PDA `["config"]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Config {
    pub authority: Address,
    pub io_mint: Address,
    pub distribution: Address,
    pub treasury: Address,
    pub rewards_vault: Address,
    pub stake_vault: Address,
    pub arbiter: Address,
    pub keepers: [Address; MAX_KEEPERS],
    pub supply_cap: u64,
    pub genesis_supply: u64,
    pub emitted: u64,
    pub emission_start: i64,
    pub last_emission: i64,
    pub total_staked: u64,
    pub burned: u64,
    pub treasury_balance: u64,
    pub proposal_count: u64,
    pub rewards: RewardPool,
    pub params: NetworkParams,
    pub keeper_count: u8,
    pub paused: u8,
    pub bump: u8,
    pub version: u8,
    pub reserved: [u8; 164],
}

impl ProgramAccount for Config {
    const NAME: &'static str = "Config";
    const DISCRIMINATOR: [u8; 8] = [155, 12, 170, 224, 30, 250, 204, 130];
}

impl Config {
    /// The registered keepers.
    pub fn active_keepers(&self) -> &[Address] {
        &self.keepers[..usize::from(self.keeper_count).min(MAX_KEEPERS)]
    }

    pub fn is_paused(&self) -> bool {
        self.paused != 0
    }
}

/// A staker (`state::StakeAccount`), PDA `["stake", owner]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct StakeAccount {
    pub owner: Address,
    pub staked: u64,
    pub locked_for_listings: u64,
    pub unbonding: u64,
    pub unbonding_available_at: i64,
    pub vote_locked: u64,
    pub vote_lock_until: i64,
    pub next_listing_id: u64,
    pub listings: u32,
    pub bump: u8,
    pub version: u8,
    pub padding: [u8; 2],
    pub reserved: [u8; 64],
}

impl ProgramAccount for StakeAccount {
    const NAME: &'static str = "StakeAccount";
    const DISCRIMINATOR: [u8; 8] = [80, 158, 67, 124, 50, 189, 192, 255];
}

/// Fixed-width ASCII field (GPU model, region): zero-padded.
pub fn ascii_field<const N: usize>(text: &str) -> Result<[u8; N], String> {
    if text.is_empty() || text.len() > N || !text.is_ascii() {
        return Err(format!("{text:?} must be 1 to {N} ASCII characters"));
    }
    let mut field = [0u8; N];
    field[..text.len()].copy_from_slice(text.as_bytes());
    Ok(field)
}

/// The text of a zero-padded ASCII field.
pub fn ascii_text(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// What a listing offers (`state::GpuSpec`); the argument of `list_gpu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable, BorshSerialize, BorshDeserialize)]
pub struct GpuSpec {
    pub worker: Address,
    pub gpu_model: [u8; 16],
    pub price_per_gpu_hour: u64,
    pub region: [u8; 8],
    pub vram_gb: u16,
    pub gpu_count: u16,
    pub padding: [u8; 4],
}

impl GpuSpec {
    pub fn new(
        worker: Address,
        gpu_model: &str,
        vram_gb: u16,
        gpu_count: u16,
        region: &str,
        price_per_gpu_hour: u64,
    ) -> Result<Self, String> {
        Ok(Self {
            worker,
            gpu_model: ascii_field(gpu_model)?,
            price_per_gpu_hour,
            region: ascii_field(region)?,
            vram_gb,
            gpu_count,
            padding: [0; 4],
        })
    }

    pub fn model(&self) -> String {
        ascii_text(&self.gpu_model)
    }

    pub fn region_code(&self) -> String {
        ascii_text(&self.region)
    }
}

/// `GpuListing::status` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ListingStatus {
    Available,
    Busy,
    Offline,
    Unknown(u8),
}

impl From<u8> for ListingStatus {
    fn from(value: u8) -> Self {
        match value {
            0 => ListingStatus::Available,
            1 => ListingStatus::Busy,
            2 => ListingStatus::Offline,
            other => ListingStatus::Unknown(other),
        }
    }
}

/// A supplier's GPUs (`state::GpuListing`), PDA `["listing", owner, id]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GpuListing {
    pub owner: Address,
    pub spec: GpuSpec,
    pub id: u64,
    pub stake_locked: u64,
    pub listed_at: i64,
    pub last_heartbeat: i64,
    pub reward_debt: u64,
    pub rewards_accrued: u64,
    pub rewards_forfeited: u64,
    pub rewards_claimed: u64,
    pub jobs_completed: u32,
    pub jobs_faulted: u32,
    pub gpus_free: u16,
    pub status: u8,
    pub bump: u8,
    pub version: u8,
    pub padding: [u8; 3],
    /// Assignments ever made; the next assignment's proof nonce.
    pub assignments_made: u64,
    /// `last_heartbeat` when last slashed: one outage slashes at most once.
    pub slashed_at_heartbeat: i64,
    /// Part of `rewards_forfeited` Config already counts as unallocated.
    pub forfeits_folded: u64,
    pub reserved: [u8; 40],
}

impl ProgramAccount for GpuListing {
    const NAME: &'static str = "GpuListing";
    const DISCRIMINATOR: [u8; 8] = [59, 252, 47, 41, 254, 195, 245, 252];
}

impl GpuListing {
    /// Forfeited rewards `sweep_rewards` has yet to count (pass the listing).
    pub fn unfolded_forfeits(&self) -> u64 {
        self.rewards_forfeited.saturating_sub(self.forfeits_folded)
    }

    pub fn status(&self) -> ListingStatus {
        self.status.into()
    }

    pub fn is_online(&self) -> bool {
        matches!(
            self.status(),
            ListingStatus::Available | ListingStatus::Busy
        )
    }

    /// The listing as `assign_job` judges it (`iogrid_rules::assign`).
    pub fn offer(&self) -> iogrid_rules::assign::ListingOffer<'_> {
        iogrid_rules::assign::ListingOffer {
            gpu_model: &self.spec.gpu_model,
            region: &self.spec.region,
            vram_gb: self.spec.vram_gb,
            gpu_count: self.spec.gpu_count,
            price_per_gpu_hour: self.spec.price_per_gpu_hour,
            online: self.is_online(),
            last_heartbeat: self.last_heartbeat,
            stake_locked: self.stake_locked,
            gpus_free: self.gpus_free,
        }
    }

    /// Rewards earned but not yet settled, at accumulator `acc`.
    pub fn pending_rewards(&self, acc: u64) -> u64 {
        if !self.is_online() {
            return 0;
        }
        let delta = u128::from(acc.saturating_sub(self.reward_debt));
        (u128::from(self.spec.gpu_count) * delta / u128::from(REWARD_PRECISION)) as u64
    }
}

/// What a job needs (`state::JobSpec`); the argument of `create_job`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable, BorshSerialize, BorshDeserialize)]
pub struct JobSpec {
    pub workload_hash: [u8; 32],
    pub workload_uri: [u8; 64],
    /// All zeros: any model.
    pub gpu_model: [u8; 16],
    /// All zeros: any region.
    pub region: [u8; 8],
    pub max_price_per_gpu_hour: u64,
    pub duration_secs: u64,
    pub min_vram_gb: u16,
    pub gpus: u16,
    pub max_listings: u8,
    pub padding: [u8; 3],
}

impl JobSpec {
    /// IO escrowed at creation: `max_price × gpus × duration`, rounded up;
    /// `None` where that overflows (the program refuses such a job).
    pub fn deposit(&self) -> Option<u64> {
        iogrid_rules::pay::escrow_for(self.max_price_per_gpu_hour, self.gpus, self.duration_secs)
            .ok()
    }
}

/// Escrow for `gpus` GPUs over `secs` at `price` per GPU-hour, rounded up
/// (`iogrid_rules::pay::escrow_for`). Where that overflows a u64 the program
/// refuses the job (`MathOverflow`); here it is `u64::MAX`, which no balance
/// covers, so a client's funds check fails first. [`JobSpec::deposit`] says so.
pub fn escrow_for(price_per_gpu_hour: u64, gpus: u16, secs: u64) -> u64 {
    iogrid_rules::pay::escrow_for(price_per_gpu_hour, gpus, secs).unwrap_or(u64::MAX)
}

/// Pay for `gpu_seconds` at `price` per GPU-hour, rounded down
/// (`iogrid_rules::pay::payment_for`; never more than the escrow, so never
/// past a u64 for a job the program accepted).
pub fn payment_for(price_per_gpu_hour: u64, gpu_seconds: u64) -> u64 {
    iogrid_rules::pay::payment_for(price_per_gpu_hour, gpu_seconds).unwrap_or(u64::MAX)
}

/// `Job::status` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum JobStatus {
    Open,
    Running,
    Proven,
    Approved,
    Disputed,
    Resolved,
    /// Past duration + grace without full proof; settle pays at once.
    Expired,
    Unknown(u8),
}

impl From<u8> for JobStatus {
    fn from(value: u8) -> Self {
        match value {
            0 => JobStatus::Open,
            1 => JobStatus::Running,
            2 => JobStatus::Proven,
            3 => JobStatus::Approved,
            4 => JobStatus::Disputed,
            5 => JobStatus::Resolved,
            6 => JobStatus::Expired,
            other => JobStatus::Unknown(other),
        }
    }
}

/// `Assignment::status` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AssignmentStatus {
    Active,
    Proven,
    Faulted,
    /// Stopped at expiry at its worker's last heartbeat; paid at settlement.
    Stopped,
    Unknown(u8),
}

/// One listing's part of a job (`state::Assignment`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct Assignment {
    pub listing: Address,
    /// The listing's owner: settlement pays an IO account of theirs.
    pub supplier: Address,
    pub price_per_gpu_hour: u64,
    pub started_at: i64,
    pub gpu_seconds: u64,
    /// What the worker's proof signs to name this assignment.
    pub nonce: u64,
    pub result_hash: [u8; 32],
    pub gpus: u16,
    pub status: u8,
    pub padding: [u8; 5],
}

impl Assignment {
    pub fn status(&self) -> AssignmentStatus {
        match self.status {
            0 => AssignmentStatus::Active,
            1 => AssignmentStatus::Proven,
            2 => AssignmentStatus::Faulted,
            3 => AssignmentStatus::Stopped,
            other => AssignmentStatus::Unknown(other),
        }
    }

    /// Gross pay for the recorded GPU-seconds at the assigned price.
    pub fn payment(&self) -> u64 {
        payment_for(self.price_per_gpu_hour, self.gpu_seconds)
    }

    /// Paid at settlement: proven, or stopped at expiry.
    pub fn is_payable(&self) -> bool {
        matches!(
            self.status(),
            AssignmentStatus::Proven | AssignmentStatus::Stopped
        )
    }

    /// Faultable: silent past `timeout_secs` since the later of the last
    /// heartbeat and the assignment's start (the program's rule).
    pub fn is_silent(&self, last_heartbeat: i64, now: i64, timeout_secs: u32) -> bool {
        iogrid_rules::assign::is_silent(last_heartbeat, self.started_at, now, timeout_secs)
    }
}

/// A job's header (`state::Job`), PDA `["job", owner, id]`; its account also
/// holds the assignments ([`JobAccount`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Job {
    pub owner: Address,
    pub workload_hash: [u8; 32],
    pub workload_uri: [u8; 64],
    pub gpu_model: [u8; 16],
    pub region: [u8; 8],
    pub id: u64,
    pub max_price_per_gpu_hour: u64,
    pub duration_secs: u64,
    pub deposit: u64,
    pub compensation: u64,
    pub paid_out: u64,
    pub started_at: i64,
    pub proven_at: i64,
    pub disputed_at: i64,
    pub min_vram_gb: u16,
    pub gpus: u16,
    pub gpus_assigned: u16,
    pub award_bps: u16,
    pub status: u8,
    pub bump: u8,
    pub escrow_bump: u8,
    pub version: u8,
    pub padding: [u8; 4],
    /// The network's terms when the job was created.
    pub terms: JobTerms,
    /// When the job was created (an open job lapses `duration_secs` + grace later).
    pub created_at: i64,
    /// The job's escrow (`pda::escrow(job)`), recorded at creation.
    pub escrow: Address,
}

/// A job's terms, fixed at creation (`state::JobTerms`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct JobTerms {
    pub challenge_window_secs: u32,
    pub job_grace_secs: u32,
    pub fee_bps: u16,
    pub burn_bps: u16,
    /// `min(slash_bps, slash_cap_bps)` at creation.
    pub slash_bps: u16,
    pub padding: u16,
}

impl ProgramAccount for Job {
    const NAME: &'static str = "Job";
    const DISCRIMINATOR: [u8; 8] = [75, 124, 80, 203, 161, 180, 202, 80];
}

impl Job {
    /// What the job asks of each listing (`iogrid_rules::assign`).
    pub fn needs(&self) -> iogrid_rules::assign::JobNeeds<'_> {
        iogrid_rules::assign::JobNeeds {
            gpu_model: &self.gpu_model,
            region: &self.region,
            min_vram_gb: self.min_vram_gb,
            max_price_per_gpu_hour: self.max_price_per_gpu_hour,
        }
    }

    pub fn status(&self) -> JobStatus {
        self.status.into()
    }

    pub fn end_time(&self) -> i64 {
        if self.started_at == 0 {
            0
        } else {
            self.started_at + self.duration_secs as i64
        }
    }

    pub fn missing_gpus(&self) -> u16 {
        self.gpus.saturating_sub(self.gpus_assigned)
    }

    /// When anyone may expire the job (the program's `Job::expires_at`).
    pub fn expires_at(&self) -> i64 {
        let end = if self.status() == JobStatus::Open {
            self.created_at.saturating_add(self.duration_secs as i64)
        } else {
            self.end_time()
        };
        end.saturating_add(i64::from(self.terms.job_grace_secs))
    }
}

/// A whole job account: header, then a `u32` count and the assignments
/// (Anchor v2's `Slab<Job, Assignment>` layout).
#[derive(Clone, Debug)]
pub struct JobAccount {
    pub job: Job,
    pub assignments: Vec<Assignment>,
    /// Assignment slots the account has room for.
    pub capacity: usize,
}

/// Where the assignment count and the assignments sit in a job account.
pub const JOB_LEN_OFFSET: usize = 8 + core::mem::size_of::<Job>();
pub const JOB_ITEMS_OFFSET: usize = (JOB_LEN_OFFSET + 4).div_ceil(8) * 8;

/// Bytes of a job account with room for `slots` assignments.
pub fn job_space(slots: usize) -> usize {
    JOB_ITEMS_OFFSET + slots * core::mem::size_of::<Assignment>()
}

impl JobAccount {
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let job = Job::decode(data)?;
        let too_short = || DecodeError::TooShort {
            name: Job::NAME,
            expected: JOB_ITEMS_OFFSET,
            actual: data.len(),
        };
        let len_bytes: [u8; 4] = data
            .get(JOB_LEN_OFFSET..JOB_LEN_OFFSET + 4)
            .ok_or_else(too_short)?
            .try_into()
            .unwrap();
        let len = u32::from_le_bytes(len_bytes) as usize;
        let size = core::mem::size_of::<Assignment>();
        let capacity = data.len().saturating_sub(JOB_ITEMS_OFFSET) / size;
        if len > capacity {
            return Err(too_short());
        }
        let assignments = (0..len)
            .map(|i| {
                bytemuck::pod_read_unaligned(
                    &data[JOB_ITEMS_OFFSET + i * size..JOB_ITEMS_OFFSET + (i + 1) * size],
                )
            })
            .collect();
        Ok(Self {
            job,
            assignments,
            capacity,
        })
    }

    /// Assignments still running.
    pub fn active(&self) -> impl Iterator<Item = &Assignment> {
        self.assignments
            .iter()
            .filter(|a| a.status() == AssignmentStatus::Active)
    }

    /// The nodes of the job's Ray cluster: assignments still serving it or
    /// done (active or proven), in assignment order. The first one runs the
    /// head; when its assignment faults, the next one becomes the head and
    /// the cluster forms again.
    pub fn cluster_nodes(&self) -> impl Iterator<Item = &Assignment> {
        self.assignments.iter().filter(|a| {
            matches!(
                a.status(),
                AssignmentStatus::Active | AssignmentStatus::Proven
            )
        })
    }

    /// Assignments a settlement pays, in the order its payee accounts must
    /// follow: proven or stopped at expiry (faults were paid when reported).
    pub fn payable(&self) -> impl Iterator<Item = &Assignment> {
        self.assignments.iter().filter(|a| a.is_payable())
    }
}

/// What a proposal does when executed (`state::ActionKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ActionKind {
    SetParams,
    AddKeeper,
    RemoveKeeper,
    SetArbiter,
    TreasuryTransfer,
    Pause,
    Unpause,
    /// Replace the program with a buffer whose authority is the governance PDA.
    UpgradeProgram,
    Unknown(u8),
}

impl ActionKind {
    const KNOWN: [ActionKind; 8] = [
        ActionKind::SetParams,
        ActionKind::AddKeeper,
        ActionKind::RemoveKeeper,
        ActionKind::SetArbiter,
        ActionKind::TreasuryTransfer,
        ActionKind::Pause,
        ActionKind::Unpause,
        ActionKind::UpgradeProgram,
    ];

    pub fn code(self) -> u8 {
        match self {
            ActionKind::Unknown(code) => code,
            known => Self::KNOWN.iter().position(|k| *k == known).unwrap() as u8,
        }
    }
}

impl From<u8> for ActionKind {
    fn from(value: u8) -> Self {
        Self::KNOWN
            .get(usize::from(value))
            .copied()
            .unwrap_or(ActionKind::Unknown(value))
    }
}

/// A typed governance action (`state::ProposalAction`); fields the action
/// does not use are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable, BorshSerialize, BorshDeserialize)]
pub struct ProposalAction {
    pub kind: u8,
    pub padding: [u8; 7],
    /// TreasuryTransfer: IO base units.
    pub amount: u64,
    /// AddKeeper / RemoveKeeper / SetArbiter: the key; TreasuryTransfer: the
    /// recipient IO token account.
    pub address: Address,
    /// SetParams: every parameter's new value.
    pub params: NetworkParams,
}

impl ProposalAction {
    fn with(kind: ActionKind) -> Self {
        Self {
            kind: kind.code(),
            ..Self::zeroed()
        }
    }

    pub fn set_params(params: NetworkParams) -> Self {
        Self {
            params,
            ..Self::with(ActionKind::SetParams)
        }
    }

    pub fn add_keeper(keeper: Address) -> Self {
        Self {
            address: keeper,
            ..Self::with(ActionKind::AddKeeper)
        }
    }

    pub fn remove_keeper(keeper: Address) -> Self {
        Self {
            address: keeper,
            ..Self::with(ActionKind::RemoveKeeper)
        }
    }

    pub fn set_arbiter(arbiter: Address) -> Self {
        Self {
            address: arbiter,
            ..Self::with(ActionKind::SetArbiter)
        }
    }

    /// Pays `amount` base units from the treasury to the IO token account `recipient`.
    pub fn treasury_transfer(amount: u64, recipient: Address) -> Self {
        Self {
            amount,
            address: recipient,
            ..Self::with(ActionKind::TreasuryTransfer)
        }
    }

    pub fn pause() -> Self {
        Self::with(ActionKind::Pause)
    }

    pub fn unpause() -> Self {
        Self::with(ActionKind::Unpause)
    }

    /// Upgrades the program from `buffer` (a loader buffer whose authority
    /// is the governance PDA); its lamports go back to the proposer.
    pub fn upgrade_program(buffer: Address) -> Self {
        Self {
            address: buffer,
            ..Self::with(ActionKind::UpgradeProgram)
        }
    }

    pub fn kind(&self) -> ActionKind {
        self.kind.into()
    }
}

/// `Proposal::status` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ProposalStatus {
    Voting,
    Passed,
    Rejected,
    Executed,
    Unknown(u8),
}

impl From<u8> for ProposalStatus {
    fn from(value: u8) -> Self {
        match value {
            0 => ProposalStatus::Voting,
            1 => ProposalStatus::Passed,
            2 => ProposalStatus::Rejected,
            3 => ProposalStatus::Executed,
            other => ProposalStatus::Unknown(other),
        }
    }
}

/// How a staker votes (`state::VoteChoice`), the argument of `cast_vote`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[repr(u8)]
pub enum VoteChoice {
    Yes = 0,
    No = 1,
    Abstain = 2,
}

/// A governance proposal (`state::Proposal`), PDA `["proposal", id]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Proposal {
    pub proposer: Address,
    pub description_hash: [u8; 32],
    pub title: [u8; 64],
    pub action: ProposalAction,
    pub id: u64,
    pub created_at: i64,
    pub voting_ends_at: i64,
    pub executable_at: i64,
    pub yes: u64,
    pub no: u64,
    pub abstain: u64,
    pub turnout_base: u64,
    pub status: u8,
    pub bump: u8,
    pub version: u8,
    pub padding: u8,
    /// Quorum and threshold when the proposal was created: what it is judged by.
    pub quorum_bps: u16,
    pub threshold_bps: u16,
}

impl ProgramAccount for Proposal {
    const NAME: &'static str = "Proposal";
    const DISCRIMINATOR: [u8; 8] = [26, 94, 189, 187, 116, 136, 53, 33];
}

impl Proposal {
    pub fn status(&self) -> ProposalStatus {
        self.status.into()
    }
}

/// One staker's vote on one proposal (`state::VoteRecord`), PDA
/// `["vote", proposal, voter]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct VoteRecord {
    pub voter: Address,
    pub proposal: Address,
    pub weight: u64,
    pub choice: u8,
    pub bump: u8,
    pub version: u8,
    pub padding: [u8; 5],
}

impl ProgramAccount for VoteRecord {
    const NAME: &'static str = "VoteRecord";
    const DISCRIMINATOR: [u8; 8] = [112, 9, 123, 165, 234, 9, 157, 167];
}

/// A wallet's prepaid inference credit (`state::InferenceCredit`), PDA
/// `["credit", owner]`; its IO sits in `pda::credit_escrow(credit)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct InferenceCredit {
    pub owner: Address,
    /// The only key that may settle receipts against this credit.
    pub gateway: Address,
    pub escrow: Address,
    /// IO the escrow holds for this credit.
    pub balance: u64,
    /// The highest price per million tokens the owner accepts.
    pub max_price_per_mtok: u64,
    /// The highest receipt sequence number settled; the next must be above.
    pub last_seq: u64,
    pub spent: u64,
    pub withdrawal_pending: u64,
    pub withdrawal_available_at: i64,
    pub bump: u8,
    pub escrow_bump: u8,
    pub version: u8,
    pub padding: [u8; 5],
    pub reserved: [u8; 64],
}

impl ProgramAccount for InferenceCredit {
    const NAME: &'static str = "InferenceCredit";
    const DISCRIMINATOR: [u8; 8] = [174, 220, 200, 123, 53, 194, 188, 1];
}

impl InferenceCredit {
    /// What a withdrawal requested now would pay when it runs, if nothing
    /// is settled meanwhile.
    pub fn withdrawable(&self) -> u64 {
        self.withdrawal_pending.min(self.balance)
    }
}
