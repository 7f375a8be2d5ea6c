//! Completion proofs: the statement a worker signs and the Ed25519
//! signature-verify instruction that carries its signature on-chain.
//! Mirrors `programs/iogrid/src/proof.rs`.

use {
    crate::{Address, PROGRAM_ID},
    solana_instruction::Instruction,
};

pub const PROOF_DOMAIN: &[u8; 15] = b"iogrid/proof/v1";

/// `iogrid/proof/v1 ‖ program ‖ job ‖ listing ‖ started_at ‖ result_hash ‖ gpu_seconds`.
pub fn proof_message(
    job: &Address,
    listing: &Address,
    started_at: i64,
    result_hash: &[u8; 32],
    gpu_seconds: u64,
) -> Vec<u8> {
    let mut message = Vec::with_capacity(159);
    message.extend_from_slice(PROOF_DOMAIN);
    message.extend_from_slice(PROGRAM_ID.as_ref());
    message.extend_from_slice(job.as_ref());
    message.extend_from_slice(listing.as_ref());
    message.extend_from_slice(&started_at.to_le_bytes());
    message.extend_from_slice(result_hash);
    message.extend_from_slice(&gpu_seconds.to_le_bytes());
    message
}

/// The native Ed25519 program instruction verifying `signature` by `worker`
/// over `message`, with all data inside itself (what `complete_job` requires).
pub fn ed25519_verify_instruction(
    worker: &Address,
    signature: &[u8; 64],
    message: &[u8],
) -> Instruction {
    solana_ed25519_program::new_ed25519_instruction_with_signature(
        message,
        signature,
        &worker.to_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_159_bytes_in_the_program_layout() {
        let (job, listing) = (
            Address::new_from_array([1; 32]),
            Address::new_from_array([2; 32]),
        );
        let message = proof_message(&job, &listing, 9, &[3; 32], 60);
        assert_eq!(message.len(), 159);
        assert_eq!(&message[111..119], &9i64.to_le_bytes());
        assert_eq!(&message[151..], &60u64.to_le_bytes());
    }
}
