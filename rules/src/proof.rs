//! The statement a worker signs, with its listing's worker key, to prove an
//! assignment: the program rebuilds it and checks the signature against it;
//! workers, the sdk and the keeper build it to sign and to verify.

/// Domain separation: versioned, and unlike anything else a worker key signs.
pub const PROOF_DOMAIN: &[u8; 15] = b"iogrid/proof/v2";

pub const PROOF_MESSAGE_LEN: usize = 15 + 32 * 4 + 8 + 8;

/// Everything a proof commits to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProofStatement<'a> {
    /// The program the proof is for: a proof for another deployment is void.
    pub program: &'a [u8; 32],
    pub job: &'a [u8; 32],
    pub listing: &'a [u8; 32],
    /// The assignment's nonce (the listing's assignment counter when it was
    /// made): unique for ever per listing, so a proof names one assignment
    /// and cannot be replayed onto any other, even of a re-created job.
    pub nonce: u64,
    pub result_hash: &'a [u8; 32],
    pub gpu_seconds: u64,
}

/// `iogrid/proof/v2 ‖ program ‖ job ‖ listing ‖ nonce ‖ result_hash ‖ gpu_seconds`
/// (integers little-endian).
pub fn proof_message(statement: &ProofStatement) -> [u8; PROOF_MESSAGE_LEN] {
    let mut message = [0u8; PROOF_MESSAGE_LEN];
    let parts: [&[u8]; 7] = [
        PROOF_DOMAIN,
        statement.program,
        statement.job,
        statement.listing,
        &statement.nonce.to_le_bytes(),
        statement.result_hash,
        &statement.gpu_seconds.to_le_bytes(),
    ];
    let mut at = 0usize;
    for part in parts {
        let end = at.saturating_add(part.len());
        if let Some(slot) = message.get_mut(at..end) {
            slot.copy_from_slice(part);
        }
        at = end;
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout_is_fixed() {
        let message = proof_message(&ProofStatement {
            program: &[1; 32],
            job: &[2; 32],
            listing: &[3; 32],
            nonce: 0x0102,
            result_hash: &[4; 32],
            gpu_seconds: 0x0a0b,
        });
        assert_eq!(&message[..15], PROOF_DOMAIN);
        assert_eq!(&message[15..47], &[1; 32]);
        assert_eq!(&message[47..79], &[2; 32]);
        assert_eq!(&message[79..111], &[3; 32]);
        assert_eq!(&message[111..119], &[2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&message[119..151], &[4; 32]);
        assert_eq!(&message[151..], &[0x0b, 0x0a, 0, 0, 0, 0, 0, 0]);
    }
}
