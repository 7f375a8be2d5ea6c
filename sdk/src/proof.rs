//! Worker-signed statements: completion proofs and usage receipts, and the
//! Ed25519 signature-verify instruction that carries a signature on-chain.
//! The statements themselves are `iogrid_rules::proof` and
//! `iogrid_rules::usage`, the program's own.

use {
    crate::{Address, PROGRAM_ID},
    solana_instruction::Instruction,
};

pub use iogrid_rules::{
    proof::{PROOF_DOMAIN, PROOF_MESSAGE_LEN},
    usage::{usage_charge, USAGE_DOMAIN, USAGE_MESSAGE_LEN},
};

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

/// `iogrid/usage/v1 ‖ program ‖ credit ‖ listing ‖ seq ‖ tokens ‖ price_per_mtok`
/// for this program: what a serving worker signs for paid inference and
/// `settle_usage` checks.
pub fn usage_message(
    credit: &Address,
    listing: &Address,
    seq: u64,
    tokens: u64,
    price_per_mtok: u64,
) -> [u8; USAGE_MESSAGE_LEN] {
    iogrid_rules::usage::usage_message(&iogrid_rules::usage::UsageReceipt {
        program: PROGRAM_ID.as_array(),
        credit: credit.as_array(),
        listing: listing.as_array(),
        seq,
        tokens,
        price_per_mtok,
    })
}

/// A usage receipt signed by the serving listing's worker key, ready for
/// the credit's gateway to settle (`SettleUsageAccounts::with_receipt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedUsageReceipt {
    /// The paying credit account (`pda::credit(user)`).
    pub credit: Address,
    pub listing: Address,
    /// The listing's worker key, which signed.
    pub worker: Address,
    pub seq: u64,
    pub tokens: u64,
    /// IO base units per million tokens.
    pub price_per_mtok: u64,
    pub signature: [u8; 64],
}

impl SignedUsageReceipt {
    /// The statement the worker signs: [`usage_message`] of these fields.
    pub fn message(&self) -> [u8; USAGE_MESSAGE_LEN] {
        usage_message(
            &self.credit,
            &self.listing,
            self.seq,
            self.tokens,
            self.price_per_mtok,
        )
    }

    /// What settling it charges the credit, rounded down; `None` on overflow
    /// (the program refuses such a receipt).
    pub fn charge(&self) -> Option<u64> {
        usage_charge(self.tokens, self.price_per_mtok).ok()
    }

    /// The Ed25519 instruction that must come right before `settle_usage`.
    pub fn ed25519_instruction(&self) -> Instruction {
        ed25519_verify_instruction(&self.worker, &self.signature, &self.message())
    }

    /// Signs a receipt with the listing's worker key.
    #[cfg(feature = "rpc")]
    pub fn sign(
        worker: &solana_keypair::Keypair,
        credit: Address,
        listing: Address,
        seq: u64,
        tokens: u64,
        price_per_mtok: u64,
    ) -> Self {
        use solana_signer::Signer;
        let message = usage_message(&credit, &listing, seq, tokens, price_per_mtok);
        Self {
            credit,
            listing,
            worker: worker.pubkey(),
            seq,
            tokens,
            price_per_mtok,
            signature: worker.sign_message(&message).into(),
        }
    }

    /// Whether the signature is the worker's over [`Self::message`]; the
    /// gateway checks this before paying for a transaction the chain would
    /// refuse.
    #[cfg(feature = "rpc")]
    pub fn verify(&self) -> bool {
        solana_signature::Signature::from(self.signature)
            .verify(self.worker.as_ref(), &self.message())
    }
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
    fn usage_message_is_the_rules_layout_for_this_program() {
        let (credit, listing) = (
            Address::new_from_array([1; 32]),
            Address::new_from_array([2; 32]),
        );
        let message = usage_message(&credit, &listing, 3, 4, 5);
        assert_eq!(message.len(), USAGE_MESSAGE_LEN);
        assert_eq!(&message[..15], USAGE_DOMAIN);
        assert_eq!(&message[15..47], PROGRAM_ID.as_ref());
        assert_eq!(&message[47..79], credit.as_ref());
        assert_eq!(&message[79..111], listing.as_ref());
        assert_eq!(&message[111..119], &3u64.to_le_bytes());
        let receipt = SignedUsageReceipt {
            credit,
            listing,
            worker: Address::new_from_array([9; 32]),
            seq: 3,
            tokens: 2_000_000,
            price_per_mtok: 5,
            signature: [0; 64],
        };
        assert_eq!(receipt.charge(), Some(10));
        let ix = receipt.ed25519_instruction();
        assert_eq!(ix.program_id, crate::ED25519_PROGRAM_ID);
        assert!(ix.data.ends_with(&receipt.message()));
    }

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
