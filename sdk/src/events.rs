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

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct NetworkInitialized {
    pub authority: Address,
    pub io_mint: Address,
    pub distribution: Address,
    pub genesis_supply: u64,
    pub supply_cap: u64,
    pub emission_start: i64,
}

impl ProgramEvent for NetworkInitialized {
    const NAME: &'static str = "NetworkInitialized";
    const DISCRIMINATOR: [u8; 8] = [248, 98, 167, 253, 2, 186, 222, 90];
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
