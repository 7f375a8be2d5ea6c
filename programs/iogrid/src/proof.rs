//! Worker-signed statements: completion proofs and usage receipts. A worker
//! signs, with its listing's worker key, the statement built by
//! [`proof_message`] (relayed by anyone to `complete_job`) or by
//! [`usage_message`] (settled by the credit's gateway with `settle_usage`),
//! in a transaction whose preceding instruction is the native Ed25519
//! program verifying that signature. The runtime rejects the whole
//! transaction if the signature is invalid; [`check_ed25519_instruction`]
//! makes sure the verified signature is the right key over the right message,
//! with every offset inside that one instruction (an offset into another
//! instruction is how a forged proof would smuggle in different bytes).

use {
    crate::{constants::ED25519_PROGRAM_ID, errors::IogridError},
    anchor_lang::prelude::*,
};

pub use iogrid_rules::{
    proof::{proof_message, ProofStatement, PROOF_DOMAIN, PROOF_MESSAGE_LEN},
    usage::{usage_charge, usage_message, UsageReceipt, USAGE_DOMAIN, USAGE_MESSAGE_LEN},
};

/// Ed25519 program instruction header: count (1), padding (1), then one
/// 14-byte offsets record.
const OFFSETS_START: usize = 2;
const OFFSETS_LEN: usize = 14;
/// `*_instruction_index` value meaning "this same instruction".
const THIS_INSTRUCTION: u16 = u16::MAX;

fn read_u16(data: &[u8], at: usize) -> Result<u16> {
    let bytes = data
        .get(at..at.saturating_add(2))
        .ok_or(IogridError::ProofMalformed)?;
    Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn slice(data: &[u8], offset: u16, len: usize) -> Result<&[u8]> {
    let start = usize::from(offset);
    Ok(data
        .get(start..start.saturating_add(len))
        .ok_or(IogridError::ProofMalformed)?)
}

/// Checks that `data` (an Ed25519-program instruction's data) verifies exactly
/// one signature by `signer` over `message`, entirely within itself.
/// Inlined: its six register arguments are more than the BPF target passes
/// (its one caller on-chain is [`check_preceding_ed25519`]).
#[inline(always)]
pub fn check_ed25519_instruction(data: &[u8], signer: &Address, message: &[u8]) -> Result<()> {
    if data.len() < OFFSETS_START.saturating_add(OFFSETS_LEN) || data[0] != 1 {
        return Err(IogridError::ProofMalformed.into());
    }
    let field = |i: usize| read_u16(data, OFFSETS_START.saturating_add(i.saturating_mul(2)));
    let (signature_ix, key_offset, key_ix) = (field(1)?, field(2)?, field(3)?);
    let (message_offset, message_size, message_ix) = (field(4)?, field(5)?, field(6)?);
    if signature_ix != THIS_INSTRUCTION
        || key_ix != THIS_INSTRUCTION
        || message_ix != THIS_INSTRUCTION
    {
        return Err(IogridError::ProofMalformed.into());
    }
    if slice(data, key_offset, 32)? != signer.as_ref() {
        return Err(IogridError::ProofWrongSigner.into());
    }
    if usize::from(message_size) != message.len()
        || slice(data, message_offset, message.len())? != message
    {
        return Err(IogridError::ProofWrongMessage.into());
    }
    Ok(())
}

/// The instruction right before the current one must be the Ed25519 program
/// verifying `signer` over `message` ([`check_ed25519_instruction`]). Each
/// instruction checks its own predecessor, so several signed statements, each
/// with its Ed25519 instruction, can share a transaction.
/// Inlined into its two callers: as a call it cost `complete_job` about
/// 1,570 CU more (3,928–4,401 against 2,358–2,835, `scenario_jobs`).
#[inline(always)]
pub fn check_preceding_ed25519(
    instructions: &SysvarInstructions,
    signer: &Address,
    message: &[u8],
) -> Result<()> {
    let current = instructions.load_current_index();
    if current == 0 {
        return Err(IogridError::ProofMissing.into());
    }
    let previous = instructions
        .load_instruction_at(usize::from(current).saturating_sub(1))
        .map_err(|_| IogridError::ProofMissing)?;
    if previous.get_program_id() != &ED25519_PROGRAM_ID {
        return Err(IogridError::ProofMissing.into());
    }
    check_ed25519_instruction(previous.get_instruction_data(), signer, message)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn ed25519_data(key: &[u8; 32], message: &[u8], indices: u16) -> alloc::vec::Vec<u8> {
        let key_offset = 16u16;
        let signature_offset = key_offset + 32;
        let message_offset = signature_offset + 64;
        let mut data = alloc::vec![1u8, 0];
        for v in [
            signature_offset,
            indices,
            key_offset,
            indices,
            message_offset,
            message.len() as u16,
            indices,
        ] {
            data.extend_from_slice(&v.to_le_bytes());
        }
        data.extend_from_slice(key);
        data.extend_from_slice(&[7u8; 64]);
        data.extend_from_slice(message);
        data
    }

    fn statement_message() -> [u8; PROOF_MESSAGE_LEN] {
        let (job, listing) = (
            Address::new_from_array([1; 32]),
            Address::new_from_array([2; 32]),
        );
        proof_message(&ProofStatement {
            program: crate::ID.as_array(),
            job: job.as_array(),
            listing: listing.as_array(),
            nonce: 9,
            result_hash: &[3; 32],
            gpu_seconds: 60,
        })
    }

    #[test]
    fn message_layout_is_fixed() {
        let message = statement_message();
        assert_eq!(&message[..15], PROOF_DOMAIN);
        assert_eq!(&message[15..47], crate::ID.as_ref());
        assert_eq!(&message[111..119], &9i64.to_le_bytes());
        assert_eq!(&message[151..], &60u64.to_le_bytes());
    }

    #[test]
    fn accepts_the_right_key_and_message() {
        let message = statement_message();
        let key = Address::new_from_array([5; 32]);
        check_ed25519_instruction(&ed25519_data(&[5; 32], &message, u16::MAX), &key, &message)
            .unwrap();
    }

    #[test]
    fn rejects_forgeries() {
        let message = statement_message();
        let key = Address::new_from_array([5; 32]);
        let wrong_key = ed25519_data(&[6; 32], &message, u16::MAX);
        assert_eq!(
            check_ed25519_instruction(&wrong_key, &key, &message),
            Err(IogridError::ProofWrongSigner.into())
        );
        let mut other = message;
        other[158] ^= 1;
        let wrong_message = ed25519_data(&[5; 32], &other, u16::MAX);
        assert_eq!(
            check_ed25519_instruction(&wrong_message, &key, &message),
            Err(IogridError::ProofWrongMessage.into())
        );
        let elsewhere = ed25519_data(&[5; 32], &message, 0);
        assert_eq!(
            check_ed25519_instruction(&elsewhere, &key, &message),
            Err(IogridError::ProofMalformed.into())
        );
        let mut two = ed25519_data(&[5; 32], &message, u16::MAX);
        two[0] = 2;
        assert_eq!(
            check_ed25519_instruction(&two, &key, &message),
            Err(IogridError::ProofMalformed.into())
        );
        let mut out_of_range = ed25519_data(&[5; 32], &message, u16::MAX);
        out_of_range[6..8].copy_from_slice(&60_000u16.to_le_bytes());
        assert_eq!(
            check_ed25519_instruction(&out_of_range, &key, &message),
            Err(IogridError::ProofMalformed.into())
        );
    }
}
