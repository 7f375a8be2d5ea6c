//! What the keeper keeps for workloads besides the chain: the
//! content-addressed store of workload specs (`spec:` URIs) and the
//! announced head of each job's Ray cluster.
//!
//! Neither needs trust in the keeper: a spec is addressed by the SHA-256 the
//! job committed to on-chain (the worker checks it again), and an
//! announcement is signed by the head's worker key, which the keeper checks
//! against the listing and the job before publishing it.

use {
    crate::state::ChainState,
    iogrid_sdk::{
        accounts::AssignmentStatus,
        workload::{ClusterAnnouncement, MAX_SPEC_BYTES},
        Address,
    },
    sha2::{Digest, Sha256},
    std::{collections::HashMap, sync::Arc},
};

/// Bytes of specs held at most: a store anyone may write to is bounded.
pub const SPEC_STORE_BYTES: usize = 64 * 1024 * 1024;

/// Specs by SHA-256, in memory: a keeper restart forgets them (`iogrid job
/// create` uploads the spec it commits to).
#[derive(Default)]
pub struct SpecStore {
    specs: HashMap<[u8; 32], Arc<Vec<u8>>>,
    bytes: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("a spec is at most {MAX_SPEC_BYTES} bytes; this one is {0}")]
    TooLarge(usize),
    #[error("the spec store is full ({SPEC_STORE_BYTES} bytes)")]
    Full,
}

impl SpecStore {
    /// Stores `bytes` under their SHA-256 (idempotent); returns the hash.
    pub fn put(&mut self, bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
        if bytes.len() > MAX_SPEC_BYTES {
            return Err(StoreError::TooLarge(bytes.len()));
        }
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        if self.specs.contains_key(&hash) {
            return Ok(hash);
        }
        if self.bytes + bytes.len() > SPEC_STORE_BYTES {
            return Err(StoreError::Full);
        }
        self.bytes += bytes.len();
        self.specs.insert(hash, Arc::new(bytes));
        Ok(hash)
    }

    pub fn get(&self, hash: &[u8; 32]) -> Option<Arc<Vec<u8>>> {
        self.specs.get(hash).cloned()
    }
}

/// Why an announcement is not published (HTTP status, message).
pub type Rejection = (u16, String);

/// Checks a head announcement against the chain as the keeper last read it:
/// signed by the listing's worker key, for this job, by the first node of
/// its cluster (`JobAccount::cluster_nodes`), whose assignment is active
/// with this nonce.
pub fn check_announcement(
    state: &ChainState,
    job: &Address,
    announcement: &ClusterAnnouncement,
) -> Result<(), Rejection> {
    let bad = |message: &str| Err((400, message.to_string()));
    if announcement.job != job.to_string() {
        return bad("the announcement is for another job");
    }
    let Ok(listing) = announcement.listing.parse::<Address>() else {
        return bad("listing is not an address");
    };
    if !announcement.verify() {
        return bad("the signature is not the worker's over this announcement");
    }
    if [
        &announcement.gcs_address,
        &announcement.dashboard_url,
        &announcement.submission_id,
    ]
    .iter()
    .any(|text| text.is_empty() || text.len() > 256)
    {
        return bad("gcs_address, dashboard_url and submission_id: 1 to 256 characters");
    }
    let entry = state
        .jobs
        .get(job)
        .ok_or_else(|| (404, format!("no job at {job}")))?;
    let worker = state
        .listings
        .get(&listing)
        .map(|l| l.value.spec.worker.to_string())
        .ok_or_else(|| (404, format!("no listing at {listing}")))?;
    if worker != announcement.worker {
        return Err((
            409,
            format!(
                "{} is not the worker of listing {listing}",
                announcement.worker
            ),
        ));
    }
    let head = entry
        .account
        .cluster_nodes()
        .next()
        .ok_or_else(|| (409, "the job has no active assignment".to_string()))?;
    if head.listing != listing || head.nonce != announcement.nonce {
        return Err((
            409,
            format!(
                "the head of this job's cluster is listing {} (nonce {})",
                head.listing, head.nonce
            ),
        ));
    }
    if head.status() != AssignmentStatus::Active {
        return Err((409, format!("the head's assignment is {:?}", head.status())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_stored_by_hash_within_bounds() {
        let mut store = SpecStore::default();
        let hash = store.put(b"kind = \"ray\"".to_vec()).unwrap();
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(b"kind = \"ray\"")));
        assert_eq!(store.put(b"kind = \"ray\"".to_vec()), Ok(hash));
        assert_eq!(store.bytes, 12);
        assert_eq!(store.get(&hash).unwrap().as_slice(), b"kind = \"ray\"");
        assert_eq!(store.get(&[0; 32]), None);
        assert_eq!(
            store.put(vec![0; MAX_SPEC_BYTES + 1]),
            Err(StoreError::TooLarge(MAX_SPEC_BYTES + 1))
        );
        let mut i = 0u32;
        let full = loop {
            let mut spec = vec![0; MAX_SPEC_BYTES - 4];
            spec.extend_from_slice(&i.to_le_bytes());
            i += 1;
            if let Err(err) = store.put(spec) {
                break err;
            }
        };
        assert_eq!(full, StoreError::Full);
        assert!(store.bytes <= SPEC_STORE_BYTES);
    }
}
