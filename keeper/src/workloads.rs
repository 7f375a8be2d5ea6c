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
    use {
        super::*,
        crate::state::encode,
        bytemuck::Zeroable,
        iogrid_sdk::accounts::{Assignment, GpuListing, GpuSpec, Job, JobAccount},
        solana_keypair::Keypair,
        solana_signer::Signer,
    };

    const ACTIVE: u8 = 0;
    const PROVEN: u8 = 1;
    const FAULTED: u8 = 2;

    /// A job whose cluster is `nodes` (listing, nonce, status), and a state
    /// holding it and a listing per worker key.
    struct Fixture {
        state: ChainState,
        job: Address,
        listings: Vec<(Address, Keypair)>,
    }

    fn fixture(statuses: &[u8]) -> Fixture {
        let mut state = ChainState::default();
        let listings: Vec<(Address, Keypair)> = statuses
            .iter()
            .map(|_| (Address::new_unique(), Keypair::new()))
            .collect();
        for (address, worker) in &listings {
            let mut listing = GpuListing::zeroed();
            listing.spec = GpuSpec::new(worker.pubkey(), "H100", 80, 1, "eu", 1).unwrap();
            state.apply(*address, &encode::listing(&listing), 10);
        }
        let mut job = Job::zeroed();
        job.status = 1;
        job.gpus = statuses.len() as u16;
        let assignments = listings
            .iter()
            .zip(statuses)
            .enumerate()
            .map(|(i, ((listing, _), status))| {
                let mut a = Assignment::zeroed();
                a.listing = *listing;
                a.gpus = 1;
                a.nonce = 5 + i as u64;
                a.status = *status;
                a
            })
            .collect();
        let address = Address::new_unique();
        let account = JobAccount {
            job,
            assignments,
            capacity: 4,
        };
        state.apply(address, &encode::job(&account), 10);
        Fixture {
            state,
            job: address,
            listings,
        }
    }

    fn announcement(f: &Fixture, node: usize, signer: &Keypair) -> ClusterAnnouncement {
        ClusterAnnouncement {
            job: f.job.to_string(),
            listing: f.listings[node].0.to_string(),
            worker: String::new(),
            nonce: 5 + node as u64,
            gcs_address: "10.0.0.1:6379".into(),
            dashboard_url: "http://10.0.0.1:8265".into(),
            submission_id: "iogrid-job".into(),
            signature: String::new(),
        }
        .sign(signer)
    }

    fn status_of(result: Result<(), Rejection>) -> u16 {
        result.map_or_else(|(status, _)| status, |()| 200)
    }

    #[test]
    fn only_the_head_listings_worker_may_announce_the_cluster() {
        let f = fixture(&[ACTIVE, ACTIVE]);
        let head_key = &f.listings[0].1;
        let head = announcement(&f, 0, head_key);
        assert_eq!(status_of(check_announcement(&f.state, &f.job, &head)), 200);
        // Another job's path.
        let elsewhere = Address::new_unique();
        assert_eq!(
            status_of(check_announcement(&f.state, &elsewhere, &head)),
            400
        );
        // A field changed after signing.
        let mut moved = head.clone();
        moved.gcs_address = "10.6.6.6:6379".into();
        assert_eq!(status_of(check_announcement(&f.state, &f.job, &moved)), 400);
        // The member's own worker, announcing itself as head.
        let member = announcement(&f, 1, &f.listings[1].1);
        let refused = check_announcement(&f.state, &f.job, &member).unwrap_err();
        assert_eq!(refused.0, 409);
        assert!(
            refused
                .1
                .contains("the head of this job's cluster is listing"),
            "{}",
            refused.1
        );
        // A key that is not the head listing's worker, signing for it.
        let foreign = announcement(&f, 0, &Keypair::new());
        let refused = check_announcement(&f.state, &f.job, &foreign).unwrap_err();
        assert_eq!(refused.0, 409);
        assert!(
            refused.1.contains("is not the worker of listing"),
            "{}",
            refused.1
        );
        // The head's listing with a stale nonce (an earlier assignment).
        let mut stale = announcement(&f, 0, head_key);
        stale.nonce = 4;
        let stale = stale.sign(head_key);
        assert_eq!(status_of(check_announcement(&f.state, &f.job, &stale)), 409);
        // Oversized and empty fields.
        let mut long = announcement(&f, 0, head_key);
        long.dashboard_url = "x".repeat(257);
        assert_eq!(
            status_of(check_announcement(&f.state, &f.job, &long.sign(head_key))),
            400
        );
        let mut empty = announcement(&f, 0, head_key);
        empty.submission_id.clear();
        assert_eq!(
            status_of(check_announcement(&f.state, &f.job, &empty.sign(head_key))),
            400
        );
    }

    #[test]
    fn a_replaced_or_finished_head_no_longer_announces() {
        // The first node faulted: the head is now the second.
        let f = fixture(&[FAULTED, ACTIVE]);
        let old_head = announcement(&f, 0, &f.listings[0].1);
        assert_eq!(
            status_of(check_announcement(&f.state, &f.job, &old_head)),
            409
        );
        let new_head = announcement(&f, 1, &f.listings[1].1);
        assert_eq!(
            status_of(check_announcement(&f.state, &f.job, &new_head)),
            200
        );
        // A head that has proven is done serving the cluster.
        let f = fixture(&[PROVEN, ACTIVE]);
        let proven = check_announcement(&f.state, &f.job, &announcement(&f, 0, &f.listings[0].1));
        assert_eq!(proven.unwrap_err().0, 409);
        // Unknown job and unknown listing.
        let f = fixture(&[ACTIVE]);
        let mut unknown_listing = announcement(&f, 0, &f.listings[0].1);
        unknown_listing.listing = Address::new_unique().to_string();
        let unknown_listing = unknown_listing.sign(&f.listings[0].1);
        assert_eq!(
            status_of(check_announcement(&f.state, &f.job, &unknown_listing)),
            404
        );
        let no_job = ChainState::default();
        assert_eq!(
            status_of(check_announcement(
                &no_job,
                &f.job,
                &announcement(&f, 0, &f.listings[0].1)
            )),
            404
        );
    }

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
