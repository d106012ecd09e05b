//! The server's options as a value, and the runtimes built from them.
//!
//! libsasl2 hands a plugin getopt(name), never the list of keys that are set,
//! and some applications give options only through each connection's own
//! getopt. So every connection reads every key into one compact byte string,
//! the option set, without allocating; the runtime is built once per distinct
//! set and then found by comparing bytes, so no file is read on the handshake
//! path once a set was seen. The near misses of the keys (hundreds of names)
//! are probed when a set is first seen, not on every connection.

use crate::server::config;
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::sync::{Arc, LazyLock, RwLock};

/// Every key the configuration reads, in a fixed order: an index names one.
static NAMES: LazyLock<Vec<CString>> = LazyLock::new(|| {
    config::SERVER_KEYS
        .iter()
        .filter_map(|k| CString::new(*k).ok())
        .collect()
});

/// The option set: for each name that is set, in the order of `NAMES`, its
/// index (u16), the value's length (u32) and the value's bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OptionSet(Vec<u8>);

const HEADER: usize = 6;

impl OptionSet {
    /// Reads every name through `read`, which appends the value's bytes to
    /// the buffer and returns true, or returns false when the name is unset.
    /// Runs `f` on the set, built in a buffer this thread reuses.
    pub fn read_with<R>(
        mut read: impl FnMut(&CStr, &mut Vec<u8>) -> bool,
        f: impl FnOnce(&OptionSet) -> R,
    ) -> R {
        thread_local! {
            static BUF: RefCell<OptionSet> = RefCell::default();
        }
        BUF.with(|buf| {
            // A reentrant call (impossible from libsasl2) gets a fresh buffer.
            let mut fresh = OptionSet::default();
            let mut guard = buf.try_borrow_mut();
            let set = match guard.as_deref_mut() {
                Ok(set) => set,
                Err(_) => &mut fresh,
            };
            set.0.clear();
            for (i, name) in NAMES.iter().enumerate() {
                let start = set.0.len();
                set.0.extend_from_slice(&(i as u16).to_le_bytes());
                set.0.extend_from_slice(&[0; 4]);
                if read(name, &mut set.0) {
                    let len = (set.0.len() - start - HEADER) as u32;
                    set.0[start + 2..start + HEADER].copy_from_slice(&len.to_le_bytes());
                } else {
                    set.0.truncate(start);
                }
            }
            f(set)
        })
    }

    /// Nothing set at all: a server that does not use us.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (index, value) of each name that is set.
    fn entries(&self) -> impl Iterator<Item = (usize, &[u8])> {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            let (head, tail) = rest.split_at_checked(HEADER)?;
            let index = u16::from_le_bytes([head[0], head[1]]) as usize;
            let len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
            let (value, tail) = tail.split_at_checked(len)?;
            rest = tail;
            Some((index, value))
        })
    }

    /// The value of one of the configuration's keys.
    pub fn get(&self, key: &str) -> Option<String> {
        let i = config::SERVER_KEYS.iter().position(|k| *k == key)?;
        self.entries()
            .find(|(index, _)| *index == i)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// How many distinct option sets are remembered; an application with more
/// (options that change per connection) rebuilds the oldest again.
const CAPACITY: usize = 16;

/// What each option set built (None: invalid, already logged).
type Built<T> = (OptionSet, Option<Arc<T>>);

pub struct RuntimeCache<T> {
    entries: RwLock<Vec<Built<T>>>,
}

impl<T> RuntimeCache<T> {
    pub const fn new() -> Self {
        RuntimeCache {
            entries: RwLock::new(Vec::new()),
        }
    }

    /// What `set` built, building it with `build` the first time it is seen.
    pub fn get_or_build(
        &self,
        set: &OptionSet,
        build: impl FnOnce(&OptionSet) -> Option<Arc<T>>,
    ) -> Option<Arc<T>> {
        let find = |entries: &[Built<T>]| {
            entries
                .iter()
                .find(|(seen, _)| seen == set)
                .map(|(_, rt)| rt.clone())
        };
        {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            if let Some(rt) = find(&entries) {
                return rt;
            }
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Another thread may have built it while we waited.
        if let Some(rt) = find(&entries) {
            return rt;
        }
        let rt = build(set);
        if entries.len() == CAPACITY {
            entries.remove(0);
        }
        entries.push((set.clone(), rt.clone()));
        rt
    }

    /// Forgets every set: files may have changed since they were built.
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn set_of(pairs: &[(&str, &str)]) -> OptionSet {
        OptionSet::read_with(
            |name, buf| match pairs.iter().find(|(k, _)| name.to_bytes() == k.as_bytes()) {
                Some((_, v)) => {
                    buf.extend_from_slice(v.as_bytes());
                    true
                }
                None => false,
            },
            OptionSet::clone,
        )
    }

    #[test]
    fn the_set_holds_the_values_and_the_near_misses() {
        let set = set_of(&[("oauth_issuer", "https://i/"), ("oauth_audience", "")]);
        assert_eq!(set.get("oauth_issuer").as_deref(), Some("https://i/"));
        assert_eq!(set.get("oauth_audience").as_deref(), Some(""));
        assert_eq!(set.get("oauth_jwks_file"), None);
        assert!(!set.is_empty());
        // Only the keys are read; a near miss is probed when a set is built.
        assert!(set_of(&[("oauth_required_scopes", "admin")]).is_empty());
        assert!(set_of(&[]).is_empty());
        // A value differs from its neighbour's: the encoding keeps them apart.
        assert_ne!(
            set_of(&[("oauth_issuer", "ab"), ("oauth_audience", "c")]),
            set_of(&[("oauth_issuer", "a"), ("oauth_audience", "bc")])
        );
    }

    #[test]
    fn each_set_is_built_once_and_the_cache_is_bounded() {
        let cache = RuntimeCache::<String>::new();
        let builds = Cell::new(0);
        let build = |s: &OptionSet| {
            builds.set(builds.get() + 1);
            s.get("oauth_issuer").map(Arc::new)
        };
        let a = set_of(&[("oauth_issuer", "a")]);
        let bad = set_of(&[("oauth_audience", "a")]);
        for _ in 0..3 {
            assert_eq!(
                cache.get_or_build(&a, build).as_deref().map(String::as_str),
                Some("a")
            );
            assert_eq!(cache.get_or_build(&bad, build), None);
        }
        assert_eq!(
            builds.get(),
            2,
            "one build per distinct set, a failed one included"
        );
        for i in 0..CAPACITY {
            cache.get_or_build(&set_of(&[("oauth_issuer", &i.to_string())]), build);
        }
        assert!(cache.entries.read().unwrap().len() <= CAPACITY);
        cache.get_or_build(&a, build);
        assert_eq!(builds.get(), 3 + CAPACITY, "the oldest set was evicted");
        cache.clear();
        cache.get_or_build(&a, build);
        assert_eq!(builds.get(), 4 + CAPACITY);
    }
}
