//! Validation results shared beyond one process: the host-wide store
//! (`oauth_cache_file`, LMDB) and the fleet-wide one (`oauth_cache_url`,
//! Redis or Valkey). Both hold entries made by `entry` (keyed by the SHA-256
//! of the token, authenticated by HMAC-SHA256) and OAUTH10A nonces.
//!
//! Failure is never acceptance: a store that cannot be reached makes the
//! process use its own in-memory cache and validate as without a shared one
//! (logged at most once a minute); an entry that does not verify is ignored
//! (logged) and the token validated again.

pub mod entry;
pub mod file_check;
pub mod lmdb;
pub mod redis;
pub mod resp;

use super::notice;
use super::Identity;
use crate::error::{Error, ErrorKind};
use entry::{Fingerprint, Lookup, TokenKey};
use ring::hmac;
use std::sync::atomic::{AtomicI64, Ordering};

/// A store could not be used now (unreachable, slow, broken file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One shared store: bytes by token key, the purge index, nonces.
pub trait Store: Send + Sync {
    /// What log lines name: the option and where it points (never a password).
    fn describe(&self) -> &str;
    fn get(&self, key: &TokenKey) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` until `valid_until`, indexed under `authid` for purges.
    fn put(
        &self,
        key: &TokenKey,
        value: &[u8],
        authid: &str,
        valid_until: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Ok(true) when `key` is new (now remembered for `lifetime` seconds),
    /// Ok(false) when it was seen within its lifetime (a replay).
    fn insert_nonce(&self, key: &TokenKey, lifetime: i64, now: i64) -> Result<bool, StoreError>;
    /// Removes the cached results of `authid`; returns how many.
    fn purge_user(&self, authid: &str) -> Result<usize, StoreError>;
    /// Removes every cached result (nonces stay); returns how many.
    fn purge_all(&self) -> Result<usize, StoreError>;
}

/// The SHA-256 of a token: its key in every cache.
pub fn token_key(token: &str) -> TokenKey {
    let mut k = [0u8; 32];
    k.copy_from_slice(sha256(token.as_bytes()).as_ref());
    k
}

/// With aws-lc-rs linked for the signatures, its SHA-256 hashes the cache
/// key too: 0.25 against ring's 0.29 µs for a 400-byte token (benches/verify.rs).
#[cfg(feature = "aws-lc")]
fn sha256(bytes: &[u8]) -> impl AsRef<[u8]> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
}

#[cfg(not(feature = "aws-lc"))]
fn sha256(bytes: &[u8]) -> impl AsRef<[u8]> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
}

/// The SHA-256 of an authid: its key in the purge index.
pub fn user_key(authid: &str) -> [u8; 32] {
    token_key(authid)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a lookup in the shared store found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    Hit(Identity),
    /// Not there, expired, made under other rules, or ignored as corrupt.
    Miss,
    /// The store cannot be used now: the caller uses its own memory.
    Down,
}

/// Seconds between two log lines about the same kind of trouble.
const LOG_EVERY: i64 = 60;

/// Rate limit for one kind of log line: true when it may be logged at `now`.
struct Every(AtomicI64);

impl Every {
    const fn new() -> Self {
        Every(AtomicI64::new(i64::MIN))
    }
    fn due(&self, now: i64) -> bool {
        let last = self.0.load(Ordering::Relaxed);
        if last != i64::MIN && now.saturating_sub(last) < LOG_EVERY {
            return false;
        }
        self.0
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// A store with the key that authenticates its entries and the fingerprint
/// of the rules this server validates with.
pub struct SharedCache {
    store: Box<dyn Store>,
    mac: hmac::Key,
    fingerprint: Fingerprint,
    outage: Every,
    corrupt: Every,
}

impl SharedCache {
    pub fn new(store: Box<dyn Store>, mac_key: &[u8], fingerprint: Fingerprint) -> Self {
        SharedCache {
            store,
            mac: hmac::Key::new(hmac::HMAC_SHA256, mac_key),
            fingerprint,
            outage: Every::new(),
            corrupt: Every::new(),
        }
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    fn down(&self, e: &StoreError, now: i64) {
        if self.outage.due(now) {
            notice::warn(format!(
                "{} unusable, validating without it (per-process cache): {e}",
                self.store.describe()
            ));
        }
    }

    pub fn lookup(&self, key: &TokenKey, now: i64) -> Found {
        let bytes = match self.store.get(key) {
            Ok(Some(b)) => b,
            Ok(None) => return Found::Miss,
            Err(e) => {
                self.down(&e, now);
                return Found::Down;
            }
        };
        match entry::decode(&self.mac, key, &self.fingerprint, &bytes, now) {
            Ok(Lookup::Hit(identity)) => Found::Hit(identity),
            Ok(Lookup::Expired | Lookup::OtherRules) => Found::Miss,
            Err(c) => {
                if self.corrupt.due(now) {
                    notice::warn(format!(
                        "{}: ignored a cached entry: {}",
                        self.store.describe(),
                        c.reason()
                    ));
                }
                Found::Miss
            }
        }
    }

    /// Stores a positive result; false when the store cannot be used now.
    pub fn remember(
        &self,
        key: &TokenKey,
        identity: &Identity,
        valid_until: i64,
        now: i64,
    ) -> bool {
        let Some(bytes) = entry::encode(&self.mac, key, &self.fingerprint, identity, valid_until)
        else {
            return true;
        };
        match self
            .store
            .put(key, &bytes, &identity.authid, valid_until, now)
        {
            Ok(()) => true,
            Err(e) => {
                self.down(&e, now);
                false
            }
        }
    }

    /// An OAUTH10A nonce: a store that cannot be used is a temporary failure.
    pub fn nonce(&self, key: &str, lifetime: i64, now: i64) -> Result<bool, Error> {
        let k = token_key(&format!("oauth10a nonce\0{key}"));
        self.store.insert_nonce(&k, lifetime, now).map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                "OAUTH10A nonce store unreachable: temporary failure",
            )
            .with_detail(format!("{}: {e}", self.store.describe()))
        })
    }
}

/// The cache key from `oauth_cache_key_file`: at least 32 bytes (trailing
/// white space dropped), in a file nobody else may write or read.
pub fn read_key_file(path: &std::path::Path) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    let what = |m: String| Error::config(format!("oauth_cache_key_file: {m}"));
    file_check::refuse_shared_secret(path).map_err(what)?;
    let mut bytes = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| what(format!("cannot read {}: {e}", path.display())))?,
    );
    while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
        bytes.pop();
    }
    if bytes.len() < 32 {
        return Err(what(format!(
            "{} holds {} bytes; at least 32 are needed (e.g. head -c 32 /dev/urandom | base64)",
            path.display(),
            bytes.len()
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// A store in memory, for the cache's own rules (the real stores have
    /// their own tests against LMDB and redis-server).
    #[derive(Default)]
    pub struct MapStore {
        pub map: Mutex<HashMap<TokenKey, Vec<u8>>>,
        pub down: std::sync::atomic::AtomicBool,
    }
    impl Store for MapStore {
        fn describe(&self) -> &str {
            "test store"
        }
        fn get(&self, key: &TokenKey) -> Result<Option<Vec<u8>>, StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError("down".into()));
            }
            Ok(self.map.lock().unwrap().get(key).cloned())
        }
        fn put(&self, key: &TokenKey, v: &[u8], _: &str, _: i64, _: i64) -> Result<(), StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError("down".into()));
            }
            self.map.lock().unwrap().insert(*key, v.to_vec());
            Ok(())
        }
        fn insert_nonce(&self, key: &TokenKey, _: i64, _: i64) -> Result<bool, StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError("down".into()));
            }
            Ok(self.map.lock().unwrap().insert(*key, vec![]).is_none())
        }
        fn purge_user(&self, _: &str) -> Result<usize, StoreError> {
            Ok(0)
        }
        fn purge_all(&self) -> Result<usize, StoreError> {
            Ok(0)
        }
    }

    #[test]
    fn a_remembered_result_is_found_and_a_forged_one_is_not() {
        let c = SharedCache::new(Box::new(MapStore::default()), &[1; 32], [0; 16]);
        let k = token_key("tok");
        let id = Identity {
            authid: "alice".into(),
            expires_at: None,
        };
        assert_eq!(c.lookup(&k, 100), Found::Miss);
        assert!(c.remember(&k, &id, 200, 100));
        assert_eq!(c.lookup(&k, 150), Found::Hit(id.clone()));
        assert_eq!(c.lookup(&k, 200), Found::Miss);
        // Someone without the key writes an entry.
        let forged = entry::encode(
            &hmac::Key::new(hmac::HMAC_SHA256, &[2; 32]),
            &k,
            &[0; 16],
            &id,
            900,
        )
        .unwrap();
        c.store.put(&k, &forged, "alice", 900, 100).unwrap();
        notice::take();
        assert_eq!(c.lookup(&k, 150), Found::Miss);
        assert!(notice::take()
            .iter()
            .any(|l| l.contains("not authenticated")));
    }

    #[test]
    fn a_store_down_is_down_and_logged_once_a_minute() {
        let s = MapStore::default();
        s.down.store(true, Ordering::SeqCst);
        let c = SharedCache::new(Box::new(s), &[1; 32], [0; 16]);
        notice::take();
        assert_eq!(c.lookup(&token_key("t"), 100), Found::Down);
        assert_eq!(c.lookup(&token_key("t"), 130), Found::Down);
        assert_eq!(notice::take().len(), 1);
        assert_eq!(c.lookup(&token_key("t"), 161), Found::Down);
        assert_eq!(notice::take().len(), 1);
        assert_eq!(
            c.nonce("n", 600, 100).unwrap_err().kind,
            ErrorKind::Unavailable
        );
    }

    #[test]
    fn key_files() {
        let d = std::env::temp_dir().join(format!("sasl-oauth-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let short = d.join("short");
        std::fs::write(&short, "abc\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_key_file(&short)
            .unwrap_err()
            .reason
            .contains("at least 32"));
        let good = d.join("good");
        std::fs::write(&good, format!("{}\n", "k".repeat(44))).unwrap();
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_key_file(&good).unwrap().len(), 44);
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_key_file(&good).is_err());
        assert!(read_key_file(&d.join("missing")).is_err());
    }
}
