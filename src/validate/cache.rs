//! A bounded cache of positive validation results, keyed by the SHA-256 of the
//! token (the token itself is never stored). Each entry lives
//! min(`oauth_cache_ttl`, exp − now); the least recently used entry makes room
//! for a new one. Only successes are cached: a refusal is always recomputed.
//!
//! With a shared store (`oauth_cache_file`, `oauth_cache_url`; see
//! crate::validate::store) the store is the cache: every lookup asks it, so a
//! purge there takes effect at once. The in-memory LRU then serves only while
//! the store cannot be used (unreachable, slow, broken file).

use super::store::{Found, SharedCache};
use super::{Identity, TokenValidator, Trace};
use crate::error::Error;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

type Key = [u8; 32];

const NIL: usize = usize::MAX;

/// The map's hash of a key is 8 of its bytes: a key is a SHA-256 output,
/// uniform already, and only tokens that passed validation are inserted, so
/// no client can crowd a bucket. (SipHash over it again was a third of the
/// LRU's instructions on a cold login.)
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        // The array's length prefix comes first, then the key: the key's wins.
        if let Some(head) = bytes.first_chunk::<8>() {
            self.0 = u64::from_le_bytes(*head);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type KeyMap = HashMap<Key, usize, BuildHasherDefault<KeyHasher>>;

struct Slot {
    key: Key,
    identity: Identity,
    expires_at: i64,
    prev: usize,
    next: usize,
}

/// An LRU list threaded through a slab: O(1) lookup, touch, insert, evict.
struct Lru {
    map: KeyMap,
    slots: Vec<Slot>,
    /// Most recently used.
    head: usize,
    /// Least recently used: evicted first.
    tail: usize,
    capacity: usize,
}

impl Lru {
    fn new(capacity: usize) -> Self {
        Lru {
            map: KeyMap::with_capacity_and_hasher(capacity, Default::default()),
            slots: Vec::with_capacity(capacity),
            head: NIL,
            tail: NIL,
            capacity,
        }
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.slots[i].prev, self.slots[i].next);
        match prev {
            NIL => self.head = next,
            p => self.slots[p].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n].prev = prev,
        }
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].prev = NIL;
        self.slots[i].next = self.head;
        if self.head != NIL {
            self.slots[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    fn get(&mut self, key: &Key, now: i64) -> Option<Identity> {
        let i = *self.map.get(key)?;
        if self.slots[i].expires_at <= now {
            return None;
        }
        self.unlink(i);
        self.push_front(i);
        Some(self.slots[i].identity.clone())
    }

    fn insert(&mut self, key: Key, identity: Identity, expires_at: i64) {
        if let Some(&i) = self.map.get(&key) {
            self.slots[i].identity = identity;
            self.slots[i].expires_at = expires_at;
            self.unlink(i);
            self.push_front(i);
            return;
        }
        let slot = Slot {
            key,
            identity,
            expires_at,
            prev: NIL,
            next: NIL,
        };
        let i = if self.slots.len() < self.capacity {
            self.slots.push(slot);
            self.slots.len() - 1
        } else {
            let victim = self.tail;
            self.unlink(victim);
            self.map.remove(&self.slots[victim].key);
            self.slots[victim] = slot;
            victim
        };
        self.map.insert(key, i);
        self.push_front(i);
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// Wraps a validator with the positive-result cache.
pub struct CachedValidator<V> {
    inner: V,
    ttl: i64,
    enabled: bool,
    lru: Mutex<Lru>,
    shared: Option<Arc<SharedCache>>,
}

impl<V: TokenValidator> CachedValidator<V> {
    /// `capacity` 0 or `ttl` 0 disables caching.
    pub fn new(inner: V, capacity: usize, ttl: i64) -> Self {
        CachedValidator {
            inner,
            ttl,
            enabled: ttl > 0 && capacity > 0,
            lru: Mutex::new(Lru::new(capacity)),
            shared: None,
        }
    }

    /// Shares results through `shared` (the per-process LRU stays the fallback).
    pub fn with_shared(mut self, shared: Arc<SharedCache>) -> Self {
        self.shared = Some(shared);
        self
    }

    pub fn inner(&self) -> &V {
        &self.inner
    }

    pub fn len(&self) -> usize {
        self.lru.lock().map(|l| l.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn enabled(&self) -> bool {
        self.enabled
    }
}

fn key(token: &str) -> Key {
    super::store::token_key(token)
}

impl<V: TokenValidator> TokenValidator for CachedValidator<V> {
    fn check(&self, token: &str, now: i64, trace: &mut dyn Trace) -> Result<Identity, Error> {
        if !self.enabled() {
            return self.inner.check(token, now, trace);
        }
        let k = key(token);
        // Whether the shared store answered (then it is the cache).
        let mut shared_up = false;
        if let Some(shared) = &self.shared {
            match shared.lookup(&k, now) {
                Found::Hit(hit) => {
                    trace.note(|| {
                        format!(
                            "ok  cached result ({}): identity {}",
                            shared.store().describe(),
                            hit.authid
                        )
                    });
                    return Ok(hit);
                }
                Found::Miss => shared_up = true,
                Found::Down => {}
            }
        }
        // The lock is never held across the (slow) inner validation.
        if !shared_up {
            if let Some(hit) = self.lru.lock().ok().and_then(|mut l| l.get(&k, now)) {
                trace.note(|| format!("ok  cached result: identity {}", hit.authid));
                return Ok(hit);
            }
        }
        let identity = self.inner.check(token, now, trace)?;
        let expires_at = match identity.expires_at {
            Some(exp) => exp.min(now.saturating_add(self.ttl)),
            None => now.saturating_add(self.ttl),
        };
        if expires_at > now {
            let stored = shared_up
                && self
                    .shared
                    .as_ref()
                    .is_some_and(|s| s.remember(&k, &identity, expires_at, now));
            if !stored {
                if let Ok(mut l) = self.lru.lock() {
                    l.insert(k, identity.clone(), expires_at);
                }
            }
        }
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Accepts tokens starting with "ok", expiring at the number after the colon.
    struct Counting(AtomicUsize);
    impl TokenValidator for Counting {
        fn check(&self, token: &str, _now: i64, _t: &mut dyn Trace) -> Result<Identity, Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let exp = token.split(':').nth(1).and_then(|e| e.parse().ok());
            if token.starts_with("ok") {
                Ok(Identity {
                    authid: token.into(),
                    expires_at: exp,
                })
            } else {
                Err(Error::invalid_token("no"))
            }
        }
    }

    fn cache(capacity: usize, ttl: i64) -> CachedValidator<Counting> {
        CachedValidator::new(Counting(AtomicUsize::new(0)), capacity, ttl)
    }

    fn calls(c: &CachedValidator<Counting>) -> usize {
        c.inner().0.load(Ordering::SeqCst)
    }

    #[test]
    fn a_key_hashes_to_its_first_eight_bytes() {
        use std::hash::BuildHasher;
        let mut k: Key = [0xee; 32];
        k[..8].copy_from_slice(&7u64.to_le_bytes());
        assert_eq!(BuildHasherDefault::<KeyHasher>::default().hash_one(k), 7);
    }

    #[test]
    fn a_second_validation_is_a_hit() {
        let c = cache(10, 300);
        assert_eq!(c.validate("ok:5000", 100).unwrap().authid, "ok:5000");
        assert_eq!(c.validate("ok:5000", 101).unwrap().authid, "ok:5000");
        assert_eq!(calls(&c), 1);
    }

    #[test]
    fn failures_are_never_cached() {
        let c = cache(10, 300);
        assert!(c.validate("bad", 100).is_err());
        assert!(c.validate("bad", 100).is_err());
        assert_eq!(calls(&c), 2);
        assert!(c.is_empty());
    }

    #[test]
    fn entry_lives_at_most_ttl() {
        let c = cache(10, 300);
        c.validate("ok:99999", 100).unwrap();
        c.validate("ok:99999", 399).unwrap();
        assert_eq!(calls(&c), 1);
        c.validate("ok:99999", 400).unwrap();
        assert_eq!(calls(&c), 2);
    }

    #[test]
    fn entry_never_outlives_the_token() {
        let c = cache(10, 300);
        c.validate("ok:150", 100).unwrap();
        c.validate("ok:150", 149).unwrap();
        assert_eq!(calls(&c), 1);
        // At exp the inner validator decides (and here would accept: the stub ignores time).
        c.validate("ok:150", 150).unwrap();
        assert_eq!(calls(&c), 2);
    }

    #[test]
    fn least_recently_used_is_evicted() {
        let c = cache(2, 300);
        c.validate("ok-a:9999", 0).unwrap();
        c.validate("ok-b:9999", 0).unwrap();
        c.validate("ok-a:9999", 0).unwrap(); // a is now most recent
        c.validate("ok-c:9999", 0).unwrap(); // evicts b
        assert_eq!(calls(&c), 3);
        c.validate("ok-a:9999", 0).unwrap();
        assert_eq!(calls(&c), 3);
        c.validate("ok-b:9999", 0).unwrap();
        assert_eq!(calls(&c), 4);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn zero_ttl_disables_caching() {
        let c = cache(10, 0);
        c.validate("ok:9999", 0).unwrap();
        c.validate("ok:9999", 0).unwrap();
        assert_eq!(calls(&c), 2);
    }

    fn shared(store: &Arc<crate::validate::store::tests::MapStore>) -> Arc<SharedCache> {
        struct Shim(Arc<crate::validate::store::tests::MapStore>);
        impl crate::validate::store::Store for Shim {
            fn describe(&self) -> &str {
                "test store"
            }
            fn get(&self, k: &Key) -> Result<Option<Vec<u8>>, crate::validate::store::StoreError> {
                self.0.get(k)
            }
            fn put(
                &self,
                k: &Key,
                v: &[u8],
                a: &str,
                u: i64,
                n: i64,
            ) -> Result<(), crate::validate::store::StoreError> {
                self.0.put(k, v, a, u, n)
            }
            fn insert_nonce(
                &self,
                k: &Key,
                l: i64,
                n: i64,
            ) -> Result<bool, crate::validate::store::StoreError> {
                self.0.insert_nonce(k, l, n)
            }
            fn purge_user(&self, a: &str) -> Result<usize, crate::validate::store::StoreError> {
                self.0.purge_user(a)
            }
            fn purge_all(&self) -> Result<usize, crate::validate::store::StoreError> {
                self.0.purge_all()
            }
        }
        Arc::new(SharedCache::new(
            Box::new(Shim(store.clone())),
            &[5; 32],
            [0; 16],
        ))
    }

    /// Two processes' caches over one store: the second is a hit; with the
    /// store down, each validates and keeps its own copy; a refusal is never stored.
    #[test]
    fn a_shared_store_serves_every_process_and_its_outage_is_not_acceptance() {
        let store = Arc::new(crate::validate::store::tests::MapStore::default());
        let a = cache(10, 300).with_shared(shared(&store));
        let b = cache(10, 300).with_shared(shared(&store));
        a.validate("ok:5000", 100).unwrap();
        assert_eq!(b.validate("ok:5000", 101).unwrap().authid, "ok:5000");
        assert_eq!((calls(&a), calls(&b)), (1, 0));
        assert!(b.validate("bad", 101).is_err());
        assert_eq!(
            store.map.lock().unwrap().len(),
            1,
            "the refusal is not stored"
        );
        assert!(a.is_empty(), "with the store up, the LRU is not used");
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        b.validate("ok:5000", 102).unwrap();
        b.validate("ok:5000", 103).unwrap();
        assert_eq!(
            calls(&b),
            2,
            "validated once (after the refusal), then from its own memory"
        );
        assert!(b.validate("bad", 104).is_err());
        store.down.store(false, std::sync::atomic::Ordering::SeqCst);
        // A purge (here: the store emptied) is seen at once while it is up.
        store.map.lock().unwrap().clear();
        b.validate("ok:5000", 105).unwrap();
        assert_eq!(calls(&b), 4);
    }

    #[test]
    fn many_inserts_stay_bounded() {
        let c = cache(64, 300);
        for i in 0..10_000 {
            c.validate(&format!("ok{i}:9999"), 0).unwrap();
        }
        assert_eq!(c.len(), 64);
    }
}
