//! Completion proofs: the statement a worker signs and the Ed25519
//! signature-verify instruction that carries its signature on-chain.
//! The statement itself is `iogrid_rules::proof`, the program's own.

use {
    crate::{Address, PROGRAM_ID},
    solana_instruction::Instruction,
};

pub use iogrid_rules::proof::{PROOF_DOMAIN, PROOF_MESSAGE_LEN};

/// `iogrid/proof/v2 ‖ program ‖ job ‖ listing ‖ nonce ‖ result_hash ‖ gpu_seconds`
/// for this program: the nonce is the assignment's (`Assignment::nonce`),
/// unique per listing for ever.
pub fn proof_message(
    job: &Address,
    listing: &Address,
    nonce: u64,
    result_hash: &[u8; 32],
    gpu_seconds: u64,
) -> [u8; PROOF_MESSAGE_LEN] {
    iogrid_rules::proof::proof_message(&iogrid_rules::proof::ProofStatement {
        program: PROGRAM_ID.as_array(),
        job: job.as_array(),
        listing: listing.as_array(),
        nonce,
        result_hash,
        gpu_seconds,
    })
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

/// A worker's signed completion proof as it travels to a relayer (the
/// keeper's `POST /v1/proofs`): addresses and the signature in base58, the
/// result hash in hex, so it reads well in JSON and logs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofSubmission {
    pub job: String,
    pub listing: String,
    pub worker: String,
    pub nonce: u64,
    pub result_hash: String,
    pub gpu_seconds: u64,
    pub signature: String,
}

/// A [`ProofSubmission`] with every field decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub job: Address,
    pub listing: Address,
    pub worker: Address,
    pub nonce: u64,
    pub result_hash: [u8; 32],
    pub gpu_seconds: u64,
    pub signature: [u8; 64],
}

/// Why a submission was refused before anything was sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("{field} is not a valid base58 address")]
    BadAddress { field: &'static str },
    #[error("result_hash must be 64 hex characters")]
    BadResultHash,
    #[error("signature must be 64 bytes in base58")]
    BadSignature,
}

impl Proof {
    /// The statement the worker signs: [`proof_message`] of these fields.
    pub fn message(&self) -> [u8; PROOF_MESSAGE_LEN] {
        proof_message(
            &self.job,
            &self.listing,
            self.nonce,
            &self.result_hash,
            self.gpu_seconds,
        )
    }

    /// The Ed25519 verification and `complete_job`, ready to send.
    pub fn instructions(&self) -> [Instruction; 2] {
        crate::instructions::CompleteJobAccounts::new(self.job, self.listing).with_proof(
            &self.worker,
            &self.signature,
            self.nonce,
            &self.result_hash,
            self.gpu_seconds,
        )
    }

    /// Signs the statement with the listing's worker key.
    #[cfg(feature = "rpc")]
    pub fn sign(
        worker: &solana_keypair::Keypair,
        job: Address,
        listing: Address,
        nonce: u64,
        result_hash: [u8; 32],
        gpu_seconds: u64,
    ) -> Self {
        use solana_signer::Signer;
        let message = proof_message(&job, &listing, nonce, &result_hash, gpu_seconds);
        Self {
            job,
            listing,
            worker: worker.pubkey(),
            nonce,
            result_hash,
            gpu_seconds,
            signature: worker.sign_message(&message).into(),
        }
    }

    /// Whether the signature is the worker's over [`Proof::message`]; a
    /// relayer checks this before paying for a transaction the chain would refuse.
    #[cfg(feature = "rpc")]
    pub fn verify(&self) -> bool {
        solana_signature::Signature::from(self.signature)
            .verify(self.worker.as_ref(), &self.message())
    }

    pub fn to_submission(&self) -> ProofSubmission {
        ProofSubmission {
            job: self.job.to_string(),
            listing: self.listing.to_string(),
            worker: self.worker.to_string(),
            nonce: self.nonce,
            result_hash: hex::encode(self.result_hash),
            gpu_seconds: self.gpu_seconds,
            signature: bs58::encode(self.signature).into_string(),
        }
    }
}

impl TryFrom<&ProofSubmission> for Proof {
    type Error = ProofError;

    fn try_from(submission: &ProofSubmission) -> Result<Self, ProofError> {
        let address = |text: &str, field| {
            text.parse::<Address>()
                .map_err(|_| ProofError::BadAddress { field })
        };
        let mut result_hash = [0u8; 32];
        hex::decode_to_slice(&submission.result_hash, &mut result_hash)
            .map_err(|_| ProofError::BadResultHash)?;
        let signature: [u8; 64] = bs58::decode(&submission.signature)
            .into_vec()
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(ProofError::BadSignature)?;
        Ok(Self {
            job: address(&submission.job, "job")?,
            listing: address(&submission.listing, "listing")?,
            worker: address(&submission.worker, "worker")?,
            nonce: submission.nonce,
            result_hash,
            gpu_seconds: submission.gpu_seconds,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn submission_round_trips_and_rejects_bad_fields() {
        let proof = Proof {
            job: Address::new_from_array([1; 32]),
            listing: Address::new_from_array([2; 32]),
            worker: Address::new_from_array([3; 32]),
            nonce: 7,
            result_hash: [4; 32],
            gpu_seconds: 60,
            signature: [5; 64],
        };
        let submission = proof.to_submission();
        assert_eq!(Proof::try_from(&submission), Ok(proof));
        let bad = |edit: fn(&mut ProofSubmission)| {
            let mut submission = submission.clone();
            edit(&mut submission);
            Proof::try_from(&submission).unwrap_err()
        };
        assert_eq!(
            bad(|s| s.job = "not-an-address".into()),
            ProofError::BadAddress { field: "job" }
        );
        assert_eq!(
            bad(|s| s.result_hash.pop().map(drop).unwrap()),
            ProofError::BadResultHash
        );
        assert_eq!(
            bad(|s| s.signature = "1111".into()),
            ProofError::BadSignature
        );
    }

    use super::*;

    #[test]
    fn message_is_159_bytes_in_the_program_layout() {
        let (job, listing) = (
            Address::new_from_array([1; 32]),
            Address::new_from_array([2; 32]),
        );
        let message = proof_message(&job, &listing, 9, &[3; 32], 60);
        assert_eq!(message.len(), 159);
        assert_eq!(&message[111..119], &9u64.to_le_bytes());
        assert_eq!(&message[151..], &60u64.to_le_bytes());
    }
}
