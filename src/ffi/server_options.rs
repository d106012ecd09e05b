//! The server's options as the configuration reads them, and the runtimes
//! built from them.
//!
//! libsasl2 hands a plugin getopt(name), never the list of keys that are set,
//! and some applications give options only through each connection's own
//! getopt. The configuration reads keys one by one, and which key it reads
//! next depends only on the values it has read so far (no client id: it never
//! asks for the client secret). So a runtime is remembered with its *trace*:
//! the keys its build read, in order, each with its value or "unset". A
//! connection's options match a runtime when every key of the trace has the
//! same value through the connection's getopt: a build from them would read
//! the same keys, see the same values and decide the same, so the keys it
//! skips cannot matter, and a different option set never finds another's
//! runtime. A login reads each key of the trace once, without allocating; a
//! runtime is built once per distinct trace, so no file is read on the
//! handshake path once a set was seen. The near misses of the keys (hundreds
//! of names) are probed when a set is built, not on every connection.

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

/// Where the values come from: a connection's (or init's) getopt.
pub trait Getopt {
    /// Appends the value of `name` to `buf` and returns true, or returns
    /// false when `name` is unset.
    fn read(&mut self, name: &CStr, buf: &mut Vec<u8>) -> bool;
}

/// A key's value as the options gave it: not read yet, unset, or the
/// `len` bytes at `start` of the values read.
#[derive(Clone, Copy)]
enum Slot {
    Unread,
    Unset,
    Set { start: u32, len: u32 },
}

/// The values read so far for one connection (or init), and the keys a
/// build in progress read. Kept per thread and reused, so a login
/// allocates nothing here once the buffers have grown.
#[derive(Default)]
struct Memo {
    slots: Vec<Slot>,
    values: Vec<u8>,
    /// While a build runs: each key it read, in order, at most once.
    tracing: bool,
    traced: Vec<usize>,
}

/// The options of one connection (or of init): each key is read at most
/// once, when it is first asked for.
pub struct Options<'m, G> {
    memo: &'m mut Memo,
    getopt: G,
}

impl<G: Getopt> Options<'_, G> {
    /// Runs `f` on the options `getopt` gives, with buffers this thread reuses.
    pub fn with<T>(getopt: G, f: impl FnOnce(&mut Options<'_, G>) -> T) -> T {
        thread_local! {
            static MEMO: RefCell<Memo> = RefCell::default();
        }
        MEMO.with(|memo| {
            // A reentrant call (impossible from libsasl2) gets fresh buffers.
            let mut fresh = Memo::default();
            let mut guard = memo.try_borrow_mut();
            let memo = match guard.as_deref_mut() {
                Ok(memo) => memo,
                Err(_) => &mut fresh,
            };
            memo.slots.clear();
            memo.slots.resize(NAMES.len(), Slot::Unread);
            memo.values.clear();
            memo.tracing = false;
            memo.traced.clear();
            f(&mut Options { memo, getopt })
        })
    }

    /// The value of the key at `index` (None: unset), read the first time.
    fn read(&mut self, index: usize) -> Option<&[u8]> {
        let memo = &mut *self.memo;
        let slot = memo.slots.get_mut(index)?;
        if let Slot::Unread = slot {
            let start = memo.values.len();
            *slot = match self.getopt.read(&NAMES[index], &mut memo.values) {
                true => Slot::Set {
                    start: start as u32,
                    len: (memo.values.len() - start) as u32,
                },
                false => {
                    memo.values.truncate(start);
                    Slot::Unset
                }
            };
        }
        match *slot {
            Slot::Set { start, len } => memo.values.get(start as usize..(start + len) as usize),
            _ => None,
        }
    }

    /// What a build reads: the key at `index`, recorded in the trace.
    fn traced_read(&mut self, index: usize) -> Option<&[u8]> {
        if self.memo.tracing && !self.memo.traced.contains(&index) {
            self.memo.traced.push(index);
        }
        self.read(index)
    }

    /// The value of one of the configuration's keys (another name: unset).
    pub fn get(&mut self, key: &str) -> Option<String> {
        let i = config::SERVER_KEYS.iter().position(|k| *k == key)?;
        self.traced_read(i)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Nothing set at all (keys are read up to the first that is set): a
    /// server that does not use us.
    pub fn is_empty(&mut self) -> bool {
        (0..NAMES.len()).all(|i| self.traced_read(i).is_none())
    }

    /// Whether every key of `trace` has the value the trace says.
    fn matches(&mut self, trace: &Trace) -> bool {
        trace
            .iter()
            .all(|(index, want)| self.read(*index) == want.as_deref())
    }

    /// Runs `build`, recording the keys it reads; returns its result and
    /// the trace.
    fn traced<T>(&mut self, build: impl FnOnce(&mut Self) -> T) -> (T, Trace) {
        self.memo.tracing = true;
        self.memo.traced.clear();
        let built = build(self);
        self.memo.tracing = false;
        let keys = std::mem::take(&mut self.memo.traced);
        let trace = keys
            .iter()
            .map(|&index| (index, self.read(index).map(Box::from)))
            .collect();
        self.memo.traced = keys;
        (built, trace)
    }
}

/// The keys a build read, in order, each with its value (None: unset).
type Trace = Vec<(usize, Option<Box<[u8]>>)>;

/// How many distinct option sets are remembered; an application with more
/// (options that change per connection) rebuilds the oldest again.
const CAPACITY: usize = 16;

/// What a trace built (None: invalid, already logged).
type Built<T> = (Trace, Option<Arc<T>>);

/// The remembered runtimes, replaced whole when one is added: a login takes
/// the current list (one reference count) and reads its options with no lock
/// held, so the application's getopt never runs under our lock.
pub struct RuntimeCache<T> {
    entries: RwLock<Arc<Vec<Built<T>>>>,
}

impl<T> RuntimeCache<T> {
    pub fn new() -> Self {
        RuntimeCache {
            entries: RwLock::new(Arc::new(Vec::new())),
        }
    }

    /// What `options` built, building it with `build` the first time a set
    /// with the same trace is seen.
    pub fn get_or_build<G: Getopt>(
        &self,
        options: &mut Options<'_, G>,
        build: impl FnOnce(&mut Options<'_, G>) -> Option<Arc<T>>,
    ) -> Option<Arc<T>> {
        let mut find = |entries: &[Built<T>]| {
            entries
                .iter()
                .find(|(trace, _)| options.matches(trace))
                .map(|(_, rt)| rt.clone())
        };
        let seen = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(rt) = find(&seen) {
            return rt;
        }
        // One build at a time, so a set is built once; the values read so
        // far are kept, so trying the list again costs no getopt call.
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if !Arc::ptr_eq(&seen, &entries) {
            if let Some(rt) = find(&entries) {
                return rt;
            }
        }
        let (rt, trace) = options.traced(build);
        let mut next: Vec<Built<T>> = entries.iter().cloned().collect();
        if next.len() == CAPACITY {
            next.remove(0);
        }
        next.push((trace, rt.clone()));
        *entries = Arc::new(next);
        rt
    }

    /// Forgets every set: files may have changed since they were built.
    pub fn clear(&self) {
        *self.entries.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    type Pairs<'a> = &'a [(&'a str, &'a str)];

    /// A getopt answering from `pairs`, counting its calls in `calls`.
    struct Reader<'a>(Pairs<'a>, &'a Cell<usize>);

    impl Getopt for Reader<'_> {
        fn read(&mut self, name: &CStr, buf: &mut Vec<u8>) -> bool {
            self.1.set(self.1.get() + 1);
            match self.0.iter().find(|(k, _)| name.to_bytes() == k.as_bytes()) {
                Some((_, v)) => {
                    buf.extend_from_slice(v.as_bytes());
                    true
                }
                None => false,
            }
        }
    }

    fn reader<'a>(pairs: Pairs<'a>, calls: &'a Cell<usize>) -> Reader<'a> {
        Reader(pairs, calls)
    }

    #[test]
    fn each_key_is_read_once_and_only_when_asked_for() {
        let calls = Cell::new(0);
        let pairs = [("oauth_issuer", "https://i/"), ("oauth_audience", "")];
        Options::with(reader(&pairs, &calls), |o| {
            assert_eq!(o.get("oauth_issuer").as_deref(), Some("https://i/"));
            assert_eq!(o.get("oauth_issuer").as_deref(), Some("https://i/"));
            assert_eq!(o.get("oauth_audience").as_deref(), Some(""));
            assert_eq!(o.get("oauth_jwks_file"), None);
            assert_eq!(o.get("not_a_key"), None);
            assert_eq!(calls.get(), 3);
            // The first key is set: nothing more to read.
            assert!(!o.is_empty());
            assert_eq!(calls.get(), 3);
        });
        // Only the keys are read; a near miss is probed when a set is built.
        let near_miss = [("oauth_required_scopes", "admin")];
        calls.set(0);
        assert!(Options::with(reader(&near_miss, &calls), |o| o.is_empty()));
        assert_eq!(calls.get(), NAMES.len());
        let last = [(*config::SERVER_KEYS.last().unwrap(), "x")];
        assert!(!Options::with(reader(&last, &calls), |o| o.is_empty()));
    }

    /// Reads oauth_issuer, then oauth_audience only when the issuer is set,
    /// as the configuration skips keys that cannot matter.
    fn build<G: Getopt>(o: &mut Options<'_, G>, builds: &Cell<usize>) -> Option<Arc<String>> {
        builds.set(builds.get() + 1);
        let issuer = o.get("oauth_issuer")?;
        let audience = o.get("oauth_audience").unwrap_or_default();
        Some(Arc::new(format!("{issuer}|{audience}")))
    }

    /// A login's runtime and the getopt calls it made.
    fn login(
        cache: &RuntimeCache<String>,
        pairs: Pairs,
        builds: &Cell<usize>,
    ) -> (Option<String>, usize) {
        let calls = Cell::new(0);
        let rt = Options::with(reader(pairs, &calls), |o| {
            cache.get_or_build(o, |o| build(o, builds))
        });
        (rt.map(|rt| rt.to_string()), calls.get())
    }

    #[test]
    fn a_set_matches_a_runtime_only_when_every_key_its_build_read_is_the_same() {
        let cache = RuntimeCache::<String>::new();
        let builds = Cell::new(0);
        let a = [("oauth_issuer", "a"), ("oauth_audience", "x")];
        assert_eq!(login(&cache, &a, &builds), (Some("a|x".into()), 2));
        // Seen: the two keys of its trace read again, nothing built.
        assert_eq!(login(&cache, &a, &builds), (Some("a|x".into()), 2));
        assert_eq!(builds.get(), 1);
        // A value differs from its neighbour's: the encoding keeps them apart.
        let b = [("oauth_issuer", "ax"), ("oauth_audience", "")];
        assert_eq!(login(&cache, &b, &builds).0.as_deref(), Some("ax|"));
        // Another value of a key the build read: another runtime.
        let c = [("oauth_issuer", "a"), ("oauth_audience", "y")];
        assert_eq!(login(&cache, &c, &builds).0.as_deref(), Some("a|y"));
        // Unset and set to nothing differ.
        let d = [("oauth_issuer", "a")];
        assert_eq!(login(&cache, &d, &builds).0.as_deref(), Some("a|"));
        assert_eq!(builds.get(), 4);
        // Each key is read once however many traces are tried.
        assert_eq!(login(&cache, &d, &builds), (Some("a|".into()), 2));
        // No issuer: the build never asked for the audience, so another
        // audience finds the same (failed) build, reading the issuer only.
        let none = [("oauth_audience", "x")];
        assert_eq!(login(&cache, &none, &builds).0, None);
        assert_eq!(builds.get(), 5);
        let other = [("oauth_audience", "z")];
        assert_eq!(login(&cache, &other, &builds), (None, 1));
        assert_eq!(builds.get(), 5);
    }

    #[test]
    fn the_cache_is_bounded_and_cleared() {
        let cache = RuntimeCache::<String>::new();
        let builds = Cell::new(0);
        let a = [("oauth_issuer", "a")];
        login(&cache, &a, &builds);
        for i in 0..CAPACITY {
            login(&cache, &[("oauth_issuer", &i.to_string())], &builds);
        }
        assert!(cache.entries.read().unwrap().len() <= CAPACITY);
        login(&cache, &a, &builds);
        assert_eq!(builds.get(), 2 + CAPACITY, "the oldest set was evicted");
        cache.clear();
        login(&cache, &a, &builds);
        assert_eq!(builds.get(), 3 + CAPACITY);
    }

    #[test]
    fn threads_share_the_runtimes_and_each_set_is_built_once() {
        let cache = RuntimeCache::<String>::new();
        let builds = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (cache, builds) = (&cache, &builds);
                scope.spawn(move || {
                    for i in 0..200 {
                        let issuer = if (i + t) % 2 == 0 { "a" } else { "b" };
                        let pairs = [("oauth_issuer", issuer)];
                        let calls = Cell::new(0);
                        let rt = Options::with(reader(&pairs, &calls), |o| {
                            cache.get_or_build(o, |o| {
                                builds.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                o.get("oauth_issuer").map(Arc::new)
                            })
                        });
                        assert_eq!(rt.as_deref().map(String::as_str), Some(issuer));
                    }
                });
            }
        });
        assert_eq!(builds.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
