//! Program events, decoded from transaction logs (`Program data: <base64>`).

use {
    crate::Address,
    base64::{engine::general_purpose::STANDARD, Engine},
    bytemuck::{Pod, Zeroable},
    serde::Serialize,
};

/// An event: `#[event(bytemuck)]` in `programs/iogrid/src/events.rs`.
pub trait ProgramEvent: Pod {
    const NAME: &'static str;
    /// `sha256("event:<Name>")[..8]`.
    const DISCRIMINATOR: [u8; 8];

    fn decode(data: &[u8]) -> Option<Self> {
        let body = data.strip_prefix(&Self::DISCRIMINATOR)?;
        (body.len() == core::mem::size_of::<Self>()).then(|| bytemuck::pod_read_unaligned(body))
    }
}

/// Declares a fixed-size event mirroring `#[event(bytemuck)]` in the program.
macro_rules! events {
    ($($name:ident [$($disc:literal),*] { $($field:ident: $ty:ty),* $(,)? })*) => {$(
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable, Serialize)]
        pub struct $name {
            $(pub $field: $ty,)*
        }

        impl ProgramEvent for $name {
            const NAME: &'static str = stringify!($name);
            const DISCRIMINATOR: [u8; 8] = [$($disc),*];
        }
    )*};
}

events! {
    NetworkInitialized [248, 98, 167, 253, 2, 186, 222, 90] {
        authority: Address, io_mint: Address, distribution: Address, genesis_supply: u64,
        supply_cap: u64, emission_start: i64,
    }
    Staked [11, 146, 45, 205, 230, 58, 213, 240] {
        owner: Address, amount: u64, staked_after: u64, total_staked_after: u64,
    }
    UnstakeRequested [21, 253, 177, 85, 129, 206, 42, 152] {
        owner: Address, amount: u64, unbonding_after: u64, available_at: i64, staked_after: u64,
    }
    UnstakeCancelled [102, 223, 189, 101, 201, 223, 180, 38] {
        owner: Address, amount: u64, staked_after: u64,
    }
    Withdrawn [20, 89, 223, 198, 194, 124, 219, 13] {
        owner: Address, destination: Address, amount: u64,
    }
    GpuListed [78, 31, 211, 112, 153, 23, 36, 243] {
        owner: Address, listing: Address, worker: Address, id: u64, price_per_gpu_hour: u64,
        stake_locked: u64, gpus_online_after: u64, gpu_count: u16, vram_gb: u16, padding: [u8; 4],
    }
    ListingUpdated [190, 215, 199, 138, 255, 248, 98, 62] {
        listing: Address, worker: Address, price_per_gpu_hour: u64, gpus_online_after: u64,
        status: u8, padding: [u8; 7],
    }
    GpuDelisted [219, 187, 206, 58, 187, 201, 178, 187] {
        owner: Address, listing: Address, stake_unlocked: u64, rewards_paid: u64,
        rewards_forfeited: u64, gpus_online_after: u64,
    }
    RewardsClaimed [75, 98, 88, 18, 219, 112, 88, 121] {
        listing: Address, destination: Address, amount: u64, claimed_total: u64,
    }
    HeartbeatRecorded [171, 129, 156, 232, 208, 84, 30, 86] {
        listing: Address, at: i64, credited: u64, forfeited: u64,
    }
    EmissionMinted [127, 4, 53, 212, 212, 89, 247, 244] {
        amount: u64, emitted_after: u64, at: i64,
    }
    RewardsSwept [64, 51, 211, 143, 151, 22, 241, 145] {
        amount: u64, folded_from_listings: u64, treasury_after: u64, at: i64,
    }
    ListingMarkedOffline [149, 124, 127, 70, 245, 32, 116, 93] {
        listing: Address, last_heartbeat: i64, forfeited: u64, gpus_online_after: u64,
    }
    JobCreated [48, 110, 162, 177, 67, 74, 159, 131] {
        job: Address, owner: Address, id: u64, deposit: u64, max_price_per_gpu_hour: u64,
        duration_secs: u64, gpus: u16, min_vram_gb: u16, padding: [u8; 4],
    }
    JobAssigned [37, 41, 120, 33, 26, 236, 76, 219] {
        job: Address, assigner: Address, started_at: i64, gpus_assigned_after: u16, listings: u16,
        padding: [u8; 4],
    }
    ProofAccepted [152, 87, 2, 57, 14, 170, 164, 51] {
        job: Address, assignment: crate::accounts::Assignment, fully_proven: u8, padding: [u8; 7],
    }
    JobStatusChanged [64, 24, 19, 217, 60, 118, 79, 110] {
        job: Address, at: i64, status: u8, padding: [u8; 1], award_bps: u16, padding2: [u8; 4],
    }
    JobToppedUp [10, 251, 87, 120, 150, 117, 18, 232] {
        job: Address, amount: u64, deposit_after: u64, duration_secs_after: u64, gpus_after: u16,
        padding: [u8; 6],
    }
    FaultReported [255, 71, 157, 102, 193, 126, 117, 2] {
        job: Address, listing: Address, last_heartbeat: i64, gpu_seconds_paid: u64, slashed: u64,
        compensation: u64,
    }
    JobPayment [208, 15, 81, 157, 59, 244, 230, 79] {
        job: Address, listing: Address, payee: Address, gross: u64, net: u64, fee: u64, burned: u64,
    }
    JobClosed [123, 63, 243, 153, 174, 212, 2, 55] {
        job: Address, deposit: u64, compensation: u64, paid_out: u64, refund: u64, outcome: u8,
        padding: [u8; 7],
    }
    KeepersSet [25, 180, 116, 180, 247, 137, 20, 144] {
        authority: Address, count: u8, padding: [u8; 7],
    }
    ProposalCreated [186, 8, 160, 108, 81, 13, 51, 206] {
        proposal: Address, proposer: Address, id: u64, voting_ends_at: i64, turnout_base: u64,
        kind: u8, padding: [u8; 7],
    }
    VoteChanged [79, 26, 11, 164, 223, 15, 1, 154] {
        proposal: Address, voter: Address, weight_change: i64, yes: u64, no: u64, abstain: u64,
        choice: u8, padding: [u8; 7],
    }
    ProposalStatusChanged [208, 56, 3, 21, 190, 108, 86, 142] {
        proposal: Address, at: i64, executable_at: i64, status: u8, padding: [u8; 7],
    }
    AuthorityTransferred [245, 109, 179, 54, 135, 92, 22, 64] {
        previous: Address, governance: Address,
    }
    CreditOpened [210, 51, 122, 154, 254, 42, 109, 153] {
        credit: Address, owner: Address, gateway: Address, escrow: Address, max_price_per_mtok: u64,
    }
    CreditDeposited [249, 87, 223, 209, 9, 119, 31, 117] {
        credit: Address, amount: u64, balance_after: u64,
    }
    CreditWithdrawalRequested [178, 157, 15, 218, 176, 197, 209, 7] {
        credit: Address, amount: u64, available_at: i64, balance: u64,
    }
    CreditWithdrawn [139, 168, 232, 108, 145, 249, 85, 58] {
        credit: Address, destination: Address, amount: u64, requested: u64, balance_after: u64,
    }
    UsageSettled [34, 78, 6, 42, 206, 77, 112, 167] {
        credit: Address, listing: Address, payee: Address, seq: u64, tokens: u64,
        price_per_mtok: u64, charge: u64, net: u64, fee: u64, burned: u64, balance_after: u64,
        spent_after: u64,
    }
    CreditClosed [143, 225, 97, 78, 165, 165, 172, 54] {
        credit: Address, owner: Address, spent: u64, swept: u64,
    }
}

/// The raw payloads of every `Program data:` line in `logs`.
pub fn event_payloads(logs: &[String]) -> impl Iterator<Item = Vec<u8>> + '_ {
    logs.iter()
        .filter_map(|line| line.strip_prefix("Program data: "))
        .filter_map(|b64| STANDARD.decode(b64.trim()).ok())
}

/// Every event of type `E` in `logs`, in order.
pub fn find_events<E: ProgramEvent>(logs: &[String]) -> Vec<E> {
    event_payloads(logs)
        .filter_map(|data| E::decode(&data))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_events_from_program_data_lines() {
        let event = NetworkInitialized {
            authority: Address::new_from_array([1; 32]),
            io_mint: Address::new_from_array([2; 32]),
            distribution: Address::new_from_array([3; 32]),
            genesis_supply: 5,
            supply_cap: 8,
            emission_start: -1,
        };
        let mut data = NetworkInitialized::DISCRIMINATOR.to_vec();
        data.extend_from_slice(bytemuck::bytes_of(&event));
        let logs = vec![
            "Program log: hello".to_string(),
            format!("Program data: {}", STANDARD.encode(&data)),
            format!("Program data: {}", STANDARD.encode([0u8; 3])),
        ];
        assert_eq!(find_events::<NetworkInitialized>(&logs), vec![event]);
    }
}
