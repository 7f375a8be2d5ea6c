//! The simulated supply side: a million (or any number of) listed GPUs,
//! grouped into pools that each heartbeat through one worker key, batched
//! as `iogrid-worker heartbeats` batches them (sorted, cut into `batch`).
//!
//! A listing exists only in this model until the keeper first assigns it;
//! then [`super::Sim`] creates it on the chain for real (stake, `list_gpu`)
//! at the address the keeper already knows, and from then on the program
//! keeps it. The owner's key is derived from the listing's index, so the
//! address is known from the start without a million keypairs in memory.

use {
    iogrid_keeper::state::encode,
    iogrid_sdk::{
        accounts::{GpuListing, GpuSpec},
        constants::IO,
        instructions::ListGpuAccounts,
        pda, Address,
    },
    sha2::{Digest, Sha256},
    solana_keypair::Keypair,
    solana_signer::Signer,
};

/// GPU kinds on offer, with their VRAM, weight in the fleet (percent) and
/// price range per GPU-hour in hundredths of an IO.
pub const KINDS: [(&str, u16, u32, (u64, u64)); 3] = [
    ("H100-80GB", 80, 30, (200, 300)),
    ("A100-80GB", 80, 30, (100, 200)),
    ("RTX4090-24GB", 24, 40, (30, 60)),
];
pub const REGIONS: [&str; 3] = ["eu-west", "us-east", "ap-south"];

/// One listing as the simulation holds it until the chain does.
pub struct ModelListing {
    pub address: Address,
    pub id: u64,
    pub pool: u32,
    /// Created on the chain: its heartbeats are real transactions now.
    pub on_chain: bool,
    pub value: GpuListing,
}

/// A pool: one worker key beating for its members.
pub struct Pool {
    pub key: Keypair,
    /// Member indices, in address order (the program's batch order).
    pub members: Vec<u32>,
}

/// `pool`'s members `start..start + len` go out in one `heartbeat_many`.
#[derive(Clone, Copy, Debug)]
pub struct Batch {
    pub pool: u32,
    pub start: u32,
    pub len: u32,
}

pub struct Fleet {
    pub seed: u64,
    pub listings: Vec<ModelListing>,
    pub by_address: std::collections::HashMap<Address, u32>,
    pub pools: Vec<Pool>,
    /// Batches by the slot within the heartbeat interval they go out in.
    pub schedule: Vec<Vec<Batch>>,
}

/// The owner key of listing `index`: a hash of the seed and the index.
pub fn owner_key(seed: u64, index: u32) -> Keypair {
    let digest = Sha256::new()
        .chain_update(b"iogrid-scale-sim owner")
        .chain_update(seed.to_le_bytes())
        .chain_update(index.to_le_bytes())
        .finalize();
    Keypair::new_from_array(digest.into())
}

pub struct FleetShape {
    pub listings: usize,
    pub gpus_per_listing: u16,
    pub pool_size: usize,
    pub batch: usize,
    pub interval_slots: usize,
    pub seed: u64,
}

impl Fleet {
    /// Builds the fleet: every listing's address (derived on all cores:
    /// about 40 µs each), spec, price and pool; every batch's slot.
    pub fn build(shape: &FleetShape, now: i64, min_stake_per_gpu: u64) -> Self {
        let pool_count = shape.listings.div_ceil(shape.pool_size.max(1));
        let pools_keys: Vec<Keypair> = (0..pool_count).map(|_| Keypair::new()).collect();
        let addresses = derive_addresses(shape.seed, shape.listings);
        let mut rng = fastrand::Rng::with_seed(shape.seed);
        let listings: Vec<ModelListing> = addresses
            .into_iter()
            .enumerate()
            .map(|(index, (owner, id, address))| {
                let pool = (index / shape.pool_size.max(1)) as u32;
                let worker = pools_keys[pool as usize].pubkey();
                let value = model_listing(
                    &mut rng,
                    owner,
                    id,
                    worker,
                    shape.gpus_per_listing,
                    now,
                    min_stake_per_gpu,
                );
                ModelListing {
                    address,
                    id,
                    pool,
                    on_chain: false,
                    value,
                }
            })
            .collect();
        let by_address = listings
            .iter()
            .enumerate()
            .map(|(i, l)| (l.address, i as u32))
            .collect();
        let mut pools: Vec<Pool> = pools_keys
            .into_iter()
            .map(|key| Pool {
                key,
                members: Vec::new(),
            })
            .collect();
        for (index, listing) in listings.iter().enumerate() {
            pools[listing.pool as usize].members.push(index as u32);
        }
        for pool in &mut pools {
            pool.members
                .sort_unstable_by_key(|m| listings[*m as usize].address);
        }
        let schedule = schedule(&pools, shape, &mut rng);
        Self {
            seed: shape.seed,
            listings,
            by_address,
            pools,
            schedule,
        }
    }

    pub fn gpus(&self) -> u64 {
        self.listings
            .iter()
            .map(|l| u64::from(l.value.spec.gpu_count))
            .sum()
    }

    /// The model listing's account bytes, as `getProgramAccounts` or a
    /// notification would carry them.
    pub fn encoded(&self, index: u32) -> Vec<u8> {
        encode::listing(&self.listings[index as usize].value)
    }

    /// The `list_gpu` instruction that creates listing `index` on the chain
    /// with the model's spec, and its owner key.
    pub fn list_instruction(&self, index: u32) -> (Keypair, solana_instruction::Instruction) {
        let listing = &self.listings[index as usize];
        let owner = owner_key(self.seed, index);
        let ix = ListGpuAccounts::new(owner.pubkey(), listing.id)
            .instruction(&listing.value.spec, listing.id);
        (owner, ix)
    }
}

/// `(owner, listing id, listing address)` per index, on every core.
fn derive_addresses(seed: u64, count: usize) -> Vec<(Address, u64, Address)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                scope.spawn(move || {
                    (start..(start + chunk).min(count))
                        .map(|index| {
                            let owner = owner_key(seed, index as u32).pubkey();
                            let id = pda::fast_listing_id(&owner, 0);
                            (owner, id, pda::listing(&owner, id).0)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("address derivation"))
            .collect()
    })
}

fn model_listing(
    rng: &mut fastrand::Rng,
    owner: Address,
    id: u64,
    worker: Address,
    gpus: u16,
    now: i64,
    min_stake_per_gpu: u64,
) -> GpuListing {
    let (model, vram, _, (low, high)) = pick_kind(rng);
    let region = REGIONS[rng.usize(..REGIONS.len())];
    let price = rng.u64(low..=high) * IO / 100;
    let mut listing = <GpuListing as bytemuck::Zeroable>::zeroed();
    listing.owner = owner;
    listing.spec = GpuSpec::new(worker, model, vram, gpus, region, price).expect("valid spec");
    listing.id = id;
    listing.stake_locked = min_stake_per_gpu * u64::from(gpus);
    listing.listed_at = now;
    listing.last_heartbeat = now - rng.i64(0..60);
    listing.gpus_free = gpus;
    listing.bump = u8::MAX;
    listing
}

/// A GPU kind by the fleet's weights.
pub fn pick_kind(rng: &mut fastrand::Rng) -> (&'static str, u16, u32, (u64, u64)) {
    let total: u32 = KINDS.iter().map(|k| k.2).sum();
    let mut roll = rng.u32(..total);
    for kind in KINDS {
        if roll < kind.2 {
            return kind;
        }
        roll -= kind.2;
    }
    KINDS[0]
}

/// Every pool's batches, each at a random slot of the interval: batchers
/// start at independent times, so the load spreads evenly.
fn schedule(pools: &[Pool], shape: &FleetShape, rng: &mut fastrand::Rng) -> Vec<Vec<Batch>> {
    let mut schedule = vec![Vec::new(); shape.interval_slots.max(1)];
    for (index, pool) in pools.iter().enumerate() {
        for start in (0..pool.members.len()).step_by(shape.batch.max(1)) {
            let len = shape.batch.min(pool.members.len() - start);
            let slot = rng.usize(..schedule.len());
            schedule[slot].push(Batch {
                pool: index as u32,
                start: start as u32,
                len: len as u32,
            });
        }
    }
    schedule
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listing_beats_once_per_interval_in_address_order() {
        let shape = FleetShape {
            listings: 250,
            gpus_per_listing: 1,
            pool_size: 100,
            batch: 24,
            interval_slots: 300,
            seed: 3,
        };
        let fleet = Fleet::build(&shape, 1_000, 100 * IO);
        assert_eq!(fleet.pools.len(), 3);
        let mut beats = vec![0u32; 250];
        for batch in fleet.schedule.iter().flatten() {
            assert!(batch.len as usize <= 24);
            let pool = &fleet.pools[batch.pool as usize];
            let members = &pool.members[batch.start as usize..(batch.start + batch.len) as usize];
            assert!(members
                .windows(2)
                .all(|w| fleet.listings[w[0] as usize].address
                    < fleet.listings[w[1] as usize].address));
            for member in members {
                beats[*member as usize] += 1;
            }
        }
        assert!(beats.iter().all(|b| *b == 1), "{beats:?}");
        // The address is the one `list_gpu` will create.
        let (owner, _) = fleet.list_instruction(7);
        let listing = &fleet.listings[7];
        assert_eq!(pda::listing(&owner.pubkey(), listing.id).0, listing.address);
    }
}
