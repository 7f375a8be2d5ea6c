//! The workers serving models: who registered (a listing's worker key,
//! checked on-chain), where they answer, how busy they are. Requests go to
//! the least-loaded live worker of the model; one that fails is benched for a
//! while and dropped after repeated failures, and one that stops
//! re-registering expires.

use {
    iogrid_sdk::{gateway::RegisterWorker, Address},
    serde::Serialize,
    std::{
        collections::{BTreeMap, BTreeSet, HashMap},
        sync::{
            atomic::{AtomicU32, Ordering},
            Arc, Mutex, MutexGuard,
        },
        time::{Duration, Instant},
    },
};

/// After a failed request a worker gets no traffic for this long.
const BENCH: Duration = Duration::from_secs(10);
/// Failures in a row after which a worker is dropped until it registers again.
const MAX_FAILURES: u32 = 3;

#[derive(Debug)]
struct Entry {
    worker: Address,
    url: String,
    /// Its model server's bearer token (never shown).
    token: String,
    /// Its supplier's price for paid usage, base units per million tokens.
    price_per_mtok: u64,
    models: Vec<String>,
    parallel: u32,
    registered: Instant,
    in_flight: Arc<AtomicU32>,
    failures: u32,
    benched_until: Option<Instant>,
}

impl Entry {
    fn serves(&self, model: &str, now: Instant, ttl: Duration) -> bool {
        now.duration_since(self.registered) < ttl
            && self.benched_until.is_none_or(|until| now >= until)
            && self.models.iter().any(|served| served == model)
    }

    /// Requests in flight per request slot, in thousandths (the order key).
    fn load(&self) -> u64 {
        u64::from(self.in_flight.load(Ordering::Relaxed)) * 1_000 / u64::from(self.parallel.max(1))
    }
}

/// One request's claim on a worker; its in-flight count drops with it.
#[derive(Debug)]
pub struct Lease {
    pub listing: Address,
    pub url: String,
    pub token: String,
    pub price_per_mtok: u64,
    in_flight: Arc<AtomicU32>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A worker as `GET /v1/workers` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerView {
    pub listing: String,
    pub worker: String,
    pub url: String,
    pub models: Vec<String>,
    pub price_per_mtok: u64,
    pub parallel: u32,
    pub in_flight: u32,
    pub failures: u32,
    pub benched: bool,
    pub registered_secs_ago: u64,
}

pub struct Registry {
    ttl: Duration,
    entries: Mutex<HashMap<Address, Entry>>,
    /// Every model ever offered here: an unknown model is a 404, a known
    /// one without a live worker a 503.
    known_models: Mutex<BTreeSet<String>>,
    next: AtomicU32,
}

impl Registry {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            known_models: Mutex::new(BTreeSet::new()),
            next: AtomicU32::new(0),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<Address, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records (or renews) `listing`'s registration. A renewal keeps the
    /// in-flight count and clears a bench only if the URL changed (a
    /// restarted model server).
    pub fn register(&self, listing: Address, worker: Address, offer: RegisterWorker) {
        let RegisterWorker {
            url,
            models,
            parallel,
            token,
            price_per_mtok,
            ..
        } = offer;
        self.known_models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(models.iter().cloned());
        let mut entries = self.entries();
        let now = Instant::now();
        match entries.get_mut(&listing) {
            Some(entry) if entry.worker == worker => {
                if entry.url != url {
                    entry.failures = 0;
                    entry.benched_until = None;
                }
                entry.url = url;
                entry.token = token;
                entry.price_per_mtok = price_per_mtok;
                entry.models = models;
                entry.parallel = parallel;
                entry.registered = now;
            }
            _ => {
                entries.insert(
                    listing,
                    Entry {
                        worker,
                        url,
                        token,
                        price_per_mtok,
                        models,
                        parallel,
                        registered: now,
                        in_flight: Arc::new(AtomicU32::new(0)),
                        failures: 0,
                        benched_until: None,
                    },
                );
            }
        }
    }

    pub fn is_known(&self, model: &str) -> bool {
        self.known_models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(model)
    }

    /// The least-loaded live worker of `model` not in `tried`, and within
    /// `max_price` (per million tokens) when the request is paid; ties go
    /// round-robin so equal workers share the traffic.
    pub fn lease(&self, model: &str, tried: &[Address], max_price: Option<u64>) -> Option<Lease> {
        let now = Instant::now();
        let mut entries = self.entries();
        entries.retain(|_, entry| now.duration_since(entry.registered) < self.ttl);
        let mut candidates: Vec<(&Address, &Entry)> = entries
            .iter()
            .filter(|(listing, entry)| {
                entry.serves(model, now, self.ttl)
                    && !tried.contains(listing)
                    && max_price.is_none_or(|max| entry.price_per_mtok <= max)
            })
            .collect();
        if candidates.is_empty() {
            return None;
        }
        candidates.sort_by_key(|(listing, entry)| (entry.load(), **listing));
        let least = candidates[0].1.load();
        let tied = candidates
            .iter()
            .take_while(|(_, e)| e.load() == least)
            .count();
        let turn = self.next.fetch_add(1, Ordering::Relaxed) as usize % tied;
        let (listing, entry) = candidates[turn];
        entry.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(Lease {
            listing: *listing,
            url: entry.url.clone(),
            token: entry.token.clone(),
            price_per_mtok: entry.price_per_mtok,
            in_flight: entry.in_flight.clone(),
        })
    }

    /// The worker could not serve: bench it, and drop it after
    /// [`MAX_FAILURES`] in a row.
    pub fn failed(&self, listing: &Address) {
        let mut entries = self.entries();
        let Some(entry) = entries.get_mut(listing) else {
            return;
        };
        entry.failures += 1;
        entry.benched_until = Some(Instant::now() + BENCH);
        if entry.failures >= MAX_FAILURES {
            entries.remove(listing);
        }
    }

    pub fn succeeded(&self, listing: &Address) {
        if let Some(entry) = self.entries().get_mut(listing) {
            entry.failures = 0;
            entry.benched_until = None;
        }
    }

    /// Models with at least one live worker, and how many serve each.
    pub fn live_models(&self) -> BTreeMap<String, usize> {
        let now = Instant::now();
        let mut models = BTreeMap::new();
        for entry in self.entries().values() {
            if now.duration_since(entry.registered) < self.ttl {
                for model in &entry.models {
                    *models.entry(model.clone()).or_insert(0) += 1;
                }
            }
        }
        models
    }

    pub fn view(&self) -> Vec<WorkerView> {
        let now = Instant::now();
        let mut views: Vec<WorkerView> = self
            .entries()
            .iter()
            .filter(|(_, entry)| now.duration_since(entry.registered) < self.ttl)
            .map(|(listing, entry)| WorkerView {
                listing: listing.to_string(),
                worker: entry.worker.to_string(),
                url: entry.url.clone(),
                models: entry.models.clone(),
                price_per_mtok: entry.price_per_mtok,
                parallel: entry.parallel,
                in_flight: entry.in_flight.load(Ordering::Relaxed),
                failures: entry.failures,
                benched: entry.benched_until.is_some_and(|until| now < until),
                registered_secs_ago: now.duration_since(entry.registered).as_secs(),
            })
            .collect();
        views.sort_by(|a, b| a.listing.cmp(&b.listing));
        views
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(model: &str, parallel: u32) -> RegisterWorker {
        RegisterWorker {
            listing: String::new(),
            url: format!("http://{}", Address::new_unique()),
            models: vec![model.into()],
            parallel,
            token: "t".into(),
            price_per_mtok: 100,
        }
    }

    fn registry_with(workers: &[(Address, u32)]) -> Registry {
        let registry = Registry::new(Duration::from_secs(30));
        for (listing, parallel) in workers {
            registry.register(
                *listing,
                Address::new_unique(),
                offer("smollm2-135m", *parallel),
            );
        }
        registry
    }

    #[test]
    fn requests_go_to_the_least_loaded_worker() {
        let (a, b) = (Address::new_unique(), Address::new_unique());
        let registry = registry_with(&[(a, 1), (b, 4)]);
        let first = registry.lease("smollm2-135m", &[], None).unwrap();
        let second = registry.lease("smollm2-135m", &[], None).unwrap();
        assert_ne!(first.listing, second.listing, "ties are shared");
        // a (1 slot) is full; b has 3 of 4 slots free.
        let busy = if first.listing == a { &first } else { &second };
        assert_eq!(busy.listing, a);
        let third = registry.lease("smollm2-135m", &[], None).unwrap();
        assert_eq!(third.listing, b);
        drop(first);
        drop(second);
        drop(third);
        assert!(registry.view().iter().all(|w| w.in_flight == 0));
    }

    #[test]
    fn tried_and_failed_workers_are_skipped_and_dropped_after_three_failures() {
        let (a, b) = (Address::new_unique(), Address::new_unique());
        let registry = registry_with(&[(a, 1), (b, 1)]);
        let lease = registry.lease("smollm2-135m", &[a], None).unwrap();
        assert_eq!(lease.listing, b);
        assert!(registry.lease("smollm2-135m", &[a, b], None).is_none());
        registry.failed(&b);
        assert_eq!(
            registry.lease("smollm2-135m", &[], None).unwrap().listing,
            a
        );
        assert!(registry.view().iter().any(|w| w.benched));
        registry.failed(&b);
        registry.failed(&b);
        assert_eq!(registry.view().len(), 1, "dropped after three failures");
        assert!(registry.is_known("smollm2-135m"));
        assert!(!registry.is_known("gpt-4"));
    }

    #[test]
    fn paid_requests_go_only_to_workers_within_the_price_ceiling() {
        let registry = registry_with(&[(Address::new_unique(), 1)]);
        assert!(registry.lease("smollm2-135m", &[], Some(99)).is_none());
        let lease = registry.lease("smollm2-135m", &[], Some(100)).unwrap();
        assert_eq!(lease.price_per_mtok, 100);
    }

    #[test]
    fn registrations_expire() {
        let registry = Registry::new(Duration::from_millis(50));
        registry.register(Address::new_unique(), Address::new_unique(), offer("m", 1));
        assert_eq!(registry.live_models().get("m"), Some(&1));
        std::thread::sleep(Duration::from_millis(60));
        assert!(registry.lease("m", &[], None).is_none());
        assert!(registry.live_models().is_empty());
        assert!(
            registry.is_known("m"),
            "an expired model is known: 503, not 404"
        );
    }
}
