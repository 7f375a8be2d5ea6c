//! The gateway's durable state, one JSON file in its state directory: API
//! keys (hashes only), the nonces of recent wallet-signed requests, and each
//! wallet's tokens used today. Written atomically (temporary file, then
//! rename), so a crash leaves the old state or the new one, never half.
//! A file that does not parse stops the gateway rather than being replaced.

use {
    anyhow::{bail, Context, Result},
    iogrid_sdk::gateway::{api_key_id, KeyRecord},
    serde::{Deserialize, Serialize},
    std::{
        collections::BTreeMap,
        io::Write,
        path::{Path, PathBuf},
        sync::{
            atomic::{AtomicBool, Ordering},
            Mutex, MutexGuard,
        },
    },
};

const FILE: &str = "gateway-state.json";
const SECS_PER_DAY: i64 = 86_400;

/// Why a presented key does not authenticate.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefused {
    #[error("Incorrect API key provided. Create one with `iogrid ai key create`.")]
    Unknown,
    #[error("This API key ({0}) was revoked.")]
    Revoked(String),
    #[error("This API key ({0}) expired at {1} (unix seconds).")]
    Expired(String, i64),
}

/// Tokens used on one UTC day, per wallet.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct DayUsage {
    /// Days since the Unix epoch (UTC).
    day: i64,
    tokens: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// SHA-256 (hex) of the key → its record.
    keys: BTreeMap<String, KeyRecord>,
    /// `signer/nonce` of wallet-signed requests → when it may be forgotten.
    nonces: BTreeMap<String, i64>,
    usage: DayUsage,
}

pub struct Store {
    path: PathBuf,
    state: Mutex<State>,
    /// Usage changed since the last write (usage is written by `flush`,
    /// keys and nonces at once).
    dirty: AtomicBool,
}

/// The UTC day `now` falls in, and when it ends.
pub fn utc_day(now: i64) -> (i64, i64) {
    let day = now.div_euclid(SECS_PER_DAY);
    (day, (day + 1) * SECS_PER_DAY)
}

impl Store {
    /// Opens the state in `dir`, creating the directory (mode 0700) and an
    /// empty state if there is none.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the state directory {}", dir.display()))?;
        restrict(dir, 0o700)?;
        let path = dir.join(FILE);
        let state = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not the gateway's state; move it away to start empty (its keys would be lost)",
                    path.display()
                )
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(err) => bail!("reading {}: {err}", path.display()),
        };
        Ok(Self {
            path,
            state: Mutex::new(state),
            dirty: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers a wallet-signed request's nonce until `forget_at`; false if
    /// it was already used (a replay).
    pub fn use_nonce(&self, signer: &str, nonce: &str, now: i64, forget_at: i64) -> Result<bool> {
        let mut state = self.lock();
        state.nonces.retain(|_, until| *until > now);
        let fresh = state
            .nonces
            .insert(format!("{signer}/{nonce}"), forget_at)
            .is_none();
        if fresh {
            self.write(&state)?;
        }
        Ok(fresh)
    }

    /// Stores a new key's record under its hash; returns its id.
    pub fn add_key(&self, hash: String, record: KeyRecord) -> Result<()> {
        let mut state = self.lock();
        state.keys.insert(hash, record);
        self.write(&state)
    }

    /// The record of the key whose hash is `hash`, if it authenticates at `now`.
    pub fn authenticate(&self, hash: &str, now: i64) -> Result<KeyRecord, KeyRefused> {
        let state = self.lock();
        let record = state.keys.get(hash).ok_or(KeyRefused::Unknown)?;
        if record.revoked_at.is_some() {
            return Err(KeyRefused::Revoked(record.id.clone()));
        }
        if now >= record.expires_at {
            return Err(KeyRefused::Expired(record.id.clone(), record.expires_at));
        }
        Ok(record.clone())
    }

    pub fn keys_of(&self, wallet: &str) -> Vec<KeyRecord> {
        let state = self.lock();
        let mut keys: Vec<_> = state
            .keys
            .values()
            .filter(|record| record.wallet == wallet)
            .cloned()
            .collect();
        keys.sort_by_key(|record| record.created_at);
        keys
    }

    pub fn live_keys_of(&self, wallet: &str, now: i64) -> usize {
        self.keys_of(wallet)
            .iter()
            .filter(|record| record.is_live(now))
            .count()
    }

    /// Revokes `wallet`'s key `id`; `Ok(None)` when the wallet has no such key.
    pub fn revoke(&self, wallet: &str, id: &str, now: i64) -> Result<Option<KeyRecord>> {
        let mut state = self.lock();
        let Some(record) = state
            .keys
            .iter_mut()
            .find(|(hash, record)| record.wallet == wallet && api_key_id(hash) == id)
            .map(|(_, record)| record)
        else {
            return Ok(None);
        };
        record.revoked_at.get_or_insert(now);
        let record = record.clone();
        self.write(&state)?;
        Ok(Some(record))
    }

    /// Tokens `wallet` used on the UTC day of `now`.
    pub fn used_today(&self, wallet: &str, now: i64) -> u64 {
        let state = self.lock();
        if state.usage.day != utc_day(now).0 {
            return 0;
        }
        state.usage.tokens.get(wallet).copied().unwrap_or(0)
    }

    /// Adds `tokens` to `wallet`'s usage today; written by the next `flush`.
    pub fn add_usage(&self, wallet: &str, tokens: u64, now: i64) {
        let mut state = self.lock();
        let day = utc_day(now).0;
        if state.usage.day != day {
            state.usage = DayUsage {
                day,
                tokens: BTreeMap::new(),
            };
        }
        let used = state.usage.tokens.entry(wallet.to_string()).or_default();
        *used = used.saturating_add(tokens);
        self.dirty.store(true, Ordering::Release);
    }

    /// Writes usage recorded since the last write.
    pub fn flush(&self) -> Result<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let state = self.lock();
        self.write(&state)
            .inspect_err(|_| self.dirty.store(true, Ordering::Release))
    }

    fn write(&self, state: &State) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(state)?;
        let tmp = self.path.with_extension("json.tmp");
        let mut file =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        restrict(&tmp, 0o600)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))?;
        // Usage is in what was just written.
        self.dirty.store(false, Ordering::Release);
        Ok(())
    }
}

fn restrict(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("restricting {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(wallet: &str, created_at: i64) -> KeyRecord {
        KeyRecord {
            id: api_key_id(&format!("{wallet}{created_at}hash")),
            wallet: wallet.into(),
            name: "laptop".into(),
            created_at,
            expires_at: created_at + 100,
            revoked_at: None,
        }
    }

    #[test]
    fn keys_authenticate_until_revoked_or_expired_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = record("alice", 1_000);
        let hash = "alice1000hash".to_string();
        store.add_key(hash.clone(), key.clone()).unwrap();
        assert_eq!(store.authenticate(&hash, 1_050), Ok(key.clone()));
        assert_eq!(store.authenticate("other", 1_050), Err(KeyRefused::Unknown));
        assert_eq!(
            store.authenticate(&hash, 1_100),
            Err(KeyRefused::Expired(key.id.clone(), 1_100))
        );
        assert_eq!(store.revoke("bob", &key.id, 1_060).unwrap(), None);
        assert!(store.revoke("alice", &key.id, 1_060).unwrap().is_some());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.authenticate(&hash, 1_070),
            Err(KeyRefused::Revoked(key.id.clone()))
        );
        assert_eq!(store.keys_of("alice")[0].revoked_at, Some(1_060));
        assert_eq!(store.live_keys_of("alice", 1_070), 0);
    }

    #[test]
    fn a_nonce_is_used_once_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.use_nonce("alice", "n1", 1_000, 1_120).unwrap());
        assert!(!store.use_nonce("alice", "n1", 1_010, 1_130).unwrap());
        assert!(store.use_nonce("bob", "n1", 1_010, 1_130).unwrap());
        // Remembered across a restart.
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.use_nonce("alice", "n1", 1_020, 1_140).unwrap());
        // Forgotten once past its time (the signature is stale by then).
        assert!(store.use_nonce("alice", "n1", 1_200, 1_320).unwrap());
    }

    #[test]
    fn usage_counts_per_utc_day_and_is_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let noon = 20_000 * SECS_PER_DAY + 43_200;
        store.add_usage("alice", 30, noon);
        store.add_usage("alice", 12, noon + 60);
        assert_eq!(store.used_today("alice", noon + 61), 42);
        assert_eq!(store.used_today("bob", noon), 0);
        store.flush().unwrap();
        let reopened = Store::open(dir.path()).unwrap();
        assert_eq!(reopened.used_today("alice", noon + 100), 42);
        // The next day starts at zero.
        assert_eq!(reopened.used_today("alice", noon + 43_200), 0);
        reopened.add_usage("alice", 5, noon + 43_200);
        assert_eq!(reopened.used_today("alice", noon + 43_201), 5);
        assert_eq!(utc_day(noon), (20_000, 20_001 * SECS_PER_DAY));
    }

    #[test]
    fn a_corrupt_state_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{ not json").unwrap();
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("is not the gateway's state"), "{err}");
        assert_eq!(std::fs::read(dir.path().join(FILE)).unwrap(), b"{ not json");
    }
}
