//! `oauth_cache_file`: the host-wide store, an LMDB file shared by every
//! process of a server (LMDB is made for that: readers never block, one
//! writer at a time under a robust lock, copy-on-write pages so a killed
//! process never leaves it half-written; OpenLDAP keeps its data in it).
//!
//! Opened at init, before a chroot or a privilege drop. LMDB forbids using a
//! handle opened before a fork in the child: a process that finds itself
//! with its parent's handle closes it and opens the file again; when it
//! cannot (the path is gone after a chroot), it works without the store,
//! logged once. The file is bounded (a fixed map); expired entries are swept
//! as writers pass, and when the map is full. The file's size is checked
//! before each use: a file truncated under running servers (which LMDB never
//! does) makes them stop using it, where reading it would crash them.

use super::entry::{self, TokenKey};
use super::file_check;
use super::{user_key, Store, StoreError};
use heed::types::Bytes;
use heed::{Database, Env, MdbError, RwTxn, WithoutTls};
use ring::rand::SecureRandom;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

/// The map: the most the file grows to (~300 000 entries).
pub const MAP_SIZE: usize = 64 << 20;
/// Concurrent read transactions over all processes.
const MAX_READERS: u32 = 1022;
/// A writer sweeps expired entries at most this often (per process).
pub const SWEEP_EVERY: i64 = 60;
/// Entries one sweep looks at, from a random place.
const SWEEP_VISIT: usize = 2000;
const META_KEY: &[u8] = b"hmac-key";

struct Opened {
    pid: u32,
    env: Env<WithoutTls>,
    entries: Database<Bytes, Bytes>,
    /// SHA-256(authid) ‖ token key → nothing: what purge --user removes.
    users: Database<Bytes, Bytes>,
    /// Nonce key → the end of its lifetime (i64 big-endian).
    nonces: Database<Bytes, Bytes>,
    meta: Database<Bytes, Bytes>,
    /// The data file, for its size (a second descriptor of it).
    file: std::fs::File,
    largest: AtomicU64,
    last_sweep: AtomicI64,
}

enum State {
    Open(Box<Opened>),
    /// Not usable in this process (say why once).
    Unusable(String),
}

/// One process's handle on one file.
pub struct Handle {
    path: PathBuf,
    describe: String,
    state: RwLock<State>,
    /// Whether this process has been told (logged) that the file is unusable.
    told: std::sync::atomic::AtomicBool,
}

/// The store: a handle shared by every runtime of the process that names the
/// same file (a second init, another option set), since LMDB allows one.
pub struct LmdbStore(Arc<Handle>);

impl std::ops::Deref for LmdbStore {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.0
    }
}

/// The handles of this process, by canonical path.
static HANDLES: Mutex<Vec<(PathBuf, Weak<Handle>)>> = Mutex::new(Vec::new());

/// The live handle on `path` in this process, if any.
fn existing(path: &Path) -> Option<Arc<Handle>> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let mut list = HANDLES.lock().ok()?;
    list.retain(|(_, w)| w.strong_count() > 0);
    list.iter()
        .find(|(p, _)| *p == canonical)
        .and_then(|(_, w)| w.upgrade())
}

fn register(handle: &Arc<Handle>) {
    if let (Ok(canonical), Ok(mut list)) = (std::fs::canonicalize(&handle.path), HANDLES.lock()) {
        list.push((canonical, Arc::downgrade(handle)));
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("{what}: {e}"))
}

/// Adds the expired entries among the first `limit` of `iter` to `dead`;
/// returns how many were looked at.
fn collect_expired<'t>(
    iter: impl Iterator<Item = heed::Result<(&'t [u8], &'t [u8])>>,
    now: i64,
    limit: usize,
    dead: &mut Vec<(Vec<u8>, Option<[u8; 32]>)>,
) -> heed::Result<usize> {
    let mut seen = 0;
    for item in iter.take(limit) {
        let (k, v) = item?;
        seen += 1;
        if entry::valid_until_unverified(v).is_none_or(|t| t <= now) {
            dead.push((k.to_vec(), entry::authid_unverified(v).map(user_key)));
        }
    }
    Ok(seen)
}

fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

/// How an environment is opened: heed's open is unsafe, so it lives in the
/// FFI layer, which hands it down here at plugin init (and the tool at its
/// start).
pub type Opener = fn(&Path, usize, u32) -> heed::Result<Env<WithoutTls>>;

static OPENER: OnceLock<Opener> = OnceLock::new();

/// Sets how environments are opened (the first call wins).
pub fn set_opener(opener: Opener) {
    let _ = OPENER.set(opener);
}

fn open_env(path: &Path) -> Result<Opened, StoreError> {
    let opener = OPENER
        .get()
        .ok_or_else(|| StoreError("LMDB is not set up in this program".into()))?;
    let env = opener(path, MAP_SIZE, MAX_READERS).map_err(|e| err("cannot open", e))?;
    // Reader slots of processes that died: freed at once.
    let _ = env.clear_stale_readers();
    let file = env
        .try_clone_inner_file()
        .map_err(|e| err("cannot inspect", e))?;
    let mut wtxn = env.write_txn().map_err(|e| err("cannot write", e))?;
    let db = |wtxn: &mut RwTxn, name| {
        env.create_database::<Bytes, Bytes>(wtxn, Some(name))
            .map_err(|e| err("cannot create its tables", e))
    };
    let entries = db(&mut wtxn, "entries")?;
    let users = db(&mut wtxn, "users")?;
    let nonces = db(&mut wtxn, "nonces")?;
    let meta = db(&mut wtxn, "meta")?;
    wtxn.commit().map_err(|e| err("cannot write", e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(Opened {
        pid: std::process::id(),
        env,
        entries,
        users,
        nonces,
        meta,
        file,
        largest: AtomicU64::new(size),
        last_sweep: AtomicI64::new(i64::MIN),
    })
}

impl Opened {
    /// The file is at least as large as every page LMDB may read: a file
    /// cut shorter (by someone else: LMDB never shrinks it) is not touched.
    fn check_size(&self) -> Result<(), StoreError> {
        // Each size is read after what it is compared with (the largest
        // size recorded, the pages in use), so that another thread growing
        // the file meanwhile is not taken for a truncation; and the map is
        // not touched (env.info reads its meta pages) before the file is
        // known to hold them: a page beyond the end is a SIGBUS.
        let largest = self.largest.load(Ordering::Acquire);
        let size = self.file_size()?;
        self.largest.fetch_max(size, Ordering::AcqRel);
        if size < largest || size < 2 * page_size() {
            return Err(StoreError(format!(
                "the file shrank to {size} bytes (was {largest}): truncated by someone else"
            )));
        }
        let need = (self.env.info().last_page_number as u64 + 1) * page_size();
        if size < need {
            let now = self.file_size()?;
            if now < need {
                return Err(StoreError(format!(
                    "the file holds {now} bytes, its pages need {need}: truncated by someone else"
                )));
            }
        }
        Ok(())
    }

    fn file_size(&self) -> Result<u64, StoreError> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| err("cannot inspect", e))?
            .len())
    }

    /// The key authenticating this file's entries (without
    /// oauth_cache_key_file): made once by the first process, kept inside.
    fn stored_key(&self) -> Result<[u8; 32], StoreError> {
        let mut fresh = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut fresh)
            .map_err(|_| StoreError("no random bytes for a key".into()))?;
        let mut wtxn = self.env.write_txn().map_err(|e| err("cannot write", e))?;
        let got = self
            .meta
            .get_or_put(&mut wtxn, META_KEY, &fresh)
            .map_err(|e| err("cannot write", e))?
            .map(<[u8]>::to_vec);
        wtxn.commit().map_err(|e| err("cannot write", e))?;
        match got {
            None => Ok(fresh),
            Some(k) if k.len() == 32 => {
                let mut out = [0u8; 32];
                out.copy_from_slice(&k);
                Ok(out)
            }
            Some(_) => Err(StoreError("its stored key is corrupt".into())),
        }
    }

    /// Removes expired entries (and their index rows) among up to
    /// SWEEP_VISIT from a random place; with `all`, every expired one.
    fn sweep(&self, wtxn: &mut RwTxn, now: i64, all: bool) -> heed::Result<usize> {
        let mut dead: Vec<(Vec<u8>, Option<[u8; 32]>)> = Vec::new();
        if all {
            collect_expired(self.entries.iter(wtxn)?, now, usize::MAX, &mut dead)?;
        } else {
            let mut start = [0u8; 32];
            let _ = ring::rand::SystemRandom::new().fill(&mut start);
            let from = (Bound::Included(&start[..]), Bound::Unbounded);
            let seen = collect_expired(
                self.entries.range(wtxn, &from)?,
                now,
                SWEEP_VISIT,
                &mut dead,
            )?;
            if seen < SWEEP_VISIT {
                collect_expired(self.entries.iter(wtxn)?, now, SWEEP_VISIT - seen, &mut dead)?;
            }
        }
        for (k, user) in &dead {
            self.entries.delete(wtxn, k)?;
            if let Some(u) = user {
                let mut row = u.to_vec();
                row.extend_from_slice(k);
                self.users.delete(wtxn, &row)?;
            }
        }
        // Nonces past their lifetime.
        let mut old = Vec::new();
        for item in self.nonces.iter(wtxn)? {
            let (k, v) = item?;
            if v.len() != 8 || i64::from_be_bytes(v.try_into().unwrap_or([0; 8])) <= now {
                old.push(k.to_vec());
            }
            if !all && old.len() >= SWEEP_VISIT {
                break;
            }
        }
        for k in &old {
            self.nonces.delete(wtxn, k)?;
        }
        Ok(dead.len())
    }

    fn sweep_due(&self, now: i64) -> bool {
        let last = self.last_sweep.load(Ordering::Relaxed);
        (last == i64::MIN || now.saturating_sub(last) >= SWEEP_EVERY)
            && self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// A write transaction that, when the map is full, sweeps every expired
/// entry (a transaction of its own: pages freed are reused only after a
/// commit) and tries once more, then empties the cache and tries a last time.
fn write_bounded<T>(
    o: &Opened,
    now: i64,
    f: impl Fn(&Opened, &mut RwTxn) -> heed::Result<T>,
) -> Result<T, StoreError> {
    let attempt = || -> heed::Result<T> {
        let mut wtxn = o.env.write_txn()?;
        if o.sweep_due(now) {
            o.sweep(&mut wtxn, now, false)?;
        }
        let out = f(o, &mut wtxn)?;
        wtxn.commit()?;
        Ok(out)
    };
    let make_room = |stage: u8| -> heed::Result<()> {
        let mut wtxn = o.env.write_txn()?;
        if stage == 0 {
            o.sweep(&mut wtxn, now, true)?;
        } else {
            o.entries.clear(&mut wtxn)?;
            o.users.clear(&mut wtxn)?;
        }
        wtxn.commit()
    };
    let mut stage = 0;
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(heed::Error::Mdb(MdbError::MapFull)) if stage < 2 => {
                make_room(stage).map_err(|e| err("cannot make room", e))?;
                stage += 1;
            }
            Err(e) => return Err(err("cannot write", e)),
        }
    }
}

impl LmdbStore {
    /// Opens (creating) the file at init, after checking who may write it;
    /// returns the store and the key kept in the file (used to authenticate
    /// entries when no oauth_cache_key_file is set).
    pub fn open(path: &Path) -> Result<(LmdbStore, [u8; 32]), String> {
        file_check::refuse_shared_db(path)?;
        if let Some(h) = existing(path) {
            let key = h
                .with(|o| o.stored_key())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok((LmdbStore(h), key));
        }
        let opened = open_env(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // What LMDB created is checked too (umask, an existing lock file).
        file_check::refuse_shared_db(path)?;
        let key = opened
            .stored_key()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let h = Arc::new(Handle::new(path, opened));
        register(&h);
        Ok((LmdbStore(h), key))
    }

    /// Opens an existing file for the administrator's tool (purge): it must
    /// exist with its lock file (so that nothing is created with the tool's
    /// owner), and nobody but its owner may write it.
    pub fn open_for_admin(path: &Path) -> Result<LmdbStore, String> {
        for p in [path.to_owned(), file_check::lock_path(path)] {
            let m = std::fs::symlink_metadata(&p)
                .map_err(|e| format!("{}: {e} (has a server opened it yet?)", p.display()))?;
            use std::os::unix::fs::PermissionsExt;
            if !m.file_type().is_file() || m.permissions().mode() & 0o022 != 0 {
                return Err(format!(
                    "{} is not a regular file writable by its owner only",
                    p.display()
                ));
            }
        }
        if let Some(h) = existing(path) {
            return Ok(LmdbStore(h));
        }
        let opened = open_env(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let h = Arc::new(Handle::new(path, opened));
        register(&h);
        Ok(LmdbStore(h))
    }
}

impl Handle {
    fn new(path: &Path, opened: Opened) -> Handle {
        Handle {
            path: path.to_owned(),
            describe: format!("oauth_cache_file {}", path.display()),
            state: RwLock::new(State::Open(Box::new(opened))),
            told: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `f` on this process's handle: reopened after a fork, refused
    /// once the file is found unusable here.
    fn with<T>(&self, f: impl FnOnce(&Opened) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pid = std::process::id();
        {
            let state = self
                .state
                .read()
                .map_err(|_| StoreError("poisoned".into()))?;
            match &*state {
                State::Open(o) if o.pid == pid => match o.check_size() {
                    Ok(()) => return f(o),
                    Err(e) => {
                        drop(state);
                        return Err(self.give_up(e.0));
                    }
                },
                State::Unusable(why) => return Err(self.unusable(why)),
                State::Open(_) => {}
            }
        }
        let mut state = self
            .state
            .write()
            .map_err(|_| StoreError("poisoned".into()))?;
        if let State::Open(o) = &*state {
            if o.pid != pid {
                // Close the parent's handle (in this process only) first:
                // LMDB allows one handle per file in a process.
                *state = State::Unusable(String::new());
                *state = match open_env(&self.path) {
                    Ok(o) => State::Open(Box::new(o)),
                    Err(e) => State::Unusable(format!(
                        "cannot reopen it after a fork, using the per-process cache: {e}"
                    )),
                };
            }
        }
        match &*state {
            State::Open(o) => {
                o.check_size()?;
                f(o)
            }
            State::Unusable(why) => Err(self.unusable(why)),
        }
    }

    /// Stops using the file in this process (its handle is leaked: closing
    /// it would touch the truncated map).
    fn give_up(&self, why: String) -> StoreError {
        if let Ok(mut state) = self.state.write() {
            let old = std::mem::replace(&mut *state, State::Unusable(why.clone()));
            std::mem::forget(old);
        }
        self.unusable(&why)
    }

    /// The error for an unusable file: its reason the first time, then short.
    fn unusable(&self, why: &str) -> StoreError {
        if self.told.swap(true, Ordering::Relaxed) {
            StoreError("not usable in this process (see the earlier line)".into())
        } else {
            StoreError(why.to_owned())
        }
    }
}

impl Store for LmdbStore {
    fn describe(&self) -> &str {
        &self.describe
    }

    fn get(&self, key: &TokenKey) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|o| {
            let rtxn = o.env.read_txn().map_err(|e| err("cannot read", e))?;
            let v = o
                .entries
                .get(&rtxn, key)
                .map_err(|e| err("cannot read", e))?;
            Ok(v.map(<[u8]>::to_vec))
        })
    }

    fn put(
        &self,
        key: &TokenKey,
        value: &[u8],
        authid: &str,
        _valid_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut row = user_key(authid).to_vec();
        row.extend_from_slice(key);
        self.with(|o| {
            write_bounded(o, now, |o, wtxn| {
                o.entries.put(wtxn, key, value)?;
                o.users.put(wtxn, &row, &[])
            })
        })
    }

    fn insert_nonce(&self, key: &TokenKey, lifetime: i64, now: i64) -> Result<bool, StoreError> {
        let until = now.saturating_add(lifetime).to_be_bytes();
        self.with(|o| {
            write_bounded(o, now, |o, wtxn| {
                let seen = o
                    .nonces
                    .get(wtxn, key)?
                    .and_then(|v| <[u8; 8]>::try_from(v).ok())
                    .is_some_and(|v| i64::from_be_bytes(v) > now);
                if !seen {
                    o.nonces.put(wtxn, key, &until)?;
                }
                Ok(!seen)
            })
        })
    }

    fn purge_user(&self, authid: &str) -> Result<usize, StoreError> {
        let prefix = user_key(authid);
        self.with(|o| {
            write_bounded(o, i64::MIN, |o, wtxn| {
                let rows: Vec<Vec<u8>> = o
                    .users
                    .prefix_iter(wtxn, &prefix)?
                    .map(|r| r.map(|(k, _)| k.to_vec()))
                    .collect::<heed::Result<_>>()?;
                let mut n = 0;
                for row in &rows {
                    if o.entries.delete(wtxn, &row[32..])? {
                        n += 1;
                    }
                    o.users.delete(wtxn, row)?;
                }
                Ok(n)
            })
        })
    }

    fn purge_all(&self) -> Result<usize, StoreError> {
        self.with(|o| {
            write_bounded(o, i64::MIN, |o, wtxn| {
                let n = o.entries.len(wtxn)? as usize;
                o.entries.clear(wtxn)?;
                o.users.clear(wtxn)?;
                Ok(n)
            })
        })
    }
}
