//! Opening an LMDB environment (oauth_cache_file), the one call of heed that
//! is unsafe: LMDB forbids two handles on one file in one process, and its
//! memory map must not be changed behind its back. The store
//! (crate::validate::store::lmdb) keeps one handle per process (closing the
//! inherited one before a child reopens) and checks the file's size before
//! each use, so that a truncated file is noticed instead of read. `install`
//! hands `open` down to it (plugin init; the tool's start). The store's tests
//! live here, where the opener is.

use heed::{Env, EnvFlags, EnvOpenOptions, WithoutTls};
use std::path::Path;

/// Lets the store open files (idempotent).
pub fn install() {
    crate::validate::store::lmdb::set_opener(open);
}

/// Opens `path` (a file, not a directory) with a map of `map_size` bytes.
fn open(path: &Path, map_size: usize, max_readers: u32) -> heed::Result<Env<WithoutTls>> {
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options
        .map_size(map_size)
        .max_dbs(4)
        .max_readers(max_readers);
    // SAFETY: NO_SUB_DIR only changes how the path is read (a file and its
    // "-lock" sibling); it does not enable any of LMDB's unsafe modes.
    unsafe {
        options.flags(EnvFlags::NO_SUB_DIR);
    }
    // SAFETY: the only caller (LmdbStore) opens a path once per process: it
    // holds the handle for the process's life and drops the parent's handle
    // before a forked child opens again; heed refuses a second open of one
    // path besides. The map is not modified by this process outside LMDB.
    unsafe { options.open(path) }
}

#[cfg(test)]
mod tests {
    use super::install;
    use crate::validate::store::entry::{self, TokenKey};
    use crate::validate::store::lmdb::{LmdbStore, MAP_SIZE, SWEEP_EVERY};
    use crate::validate::store::Store;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn path(name: &str) -> PathBuf {
        install();
        let d = std::env::temp_dir().join(format!("sasl-oauth-lmdb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        d.join("cache.mdb")
    }

    fn tk(i: u32) -> TokenKey {
        crate::validate::store::token_key(&format!("token-{i}"))
    }

    #[test]
    fn threads_growing_the_file_are_not_taken_for_a_truncation() {
        // One store, four threads writing and reading at once (slapd's
        // worker threads): the file grows under the size check of the others.
        // On tmpfs (no fsync per commit) the threads overlap the most.
        let p = if std::path::Path::new("/dev/shm").is_dir() {
            let d = std::path::Path::new("/dev/shm")
                .join(format!("sasl-oauth-lmdb-threads-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
            install();
            d.join("cache.mdb")
        } else {
            path("threads")
        };
        let (s, _) = LmdbStore::open(&p).unwrap();
        std::thread::scope(|scope| {
            for t in 0..4u32 {
                let s = &s;
                scope.spawn(move || {
                    for i in 0..400u32 {
                        let k = tk(t * 1000 + i);
                        s.put(&k, &[7u8; 600], "alice", 1000, 100).unwrap();
                        assert!(s.get(&k).unwrap().is_some());
                    }
                });
            }
        });
        drop(s);
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }

    #[test]
    fn put_get_purge_and_the_file_is_private() {
        let p = path("basic");
        let (s, key) = LmdbStore::open(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        assert_eq!(s.get(&tk(1)).unwrap(), None);
        s.put(&tk(1), b"one", "alice", 1000, 100).unwrap();
        s.put(&tk(2), b"two", "alice", 1000, 100).unwrap();
        s.put(&tk(3), b"three", "bob", 1000, 100).unwrap();
        assert_eq!(s.get(&tk(1)).unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(s.purge_user("alice").unwrap(), 2);
        assert_eq!(s.get(&tk(1)).unwrap(), None);
        assert_eq!(s.get(&tk(3)).unwrap().as_deref(), Some(&b"three"[..]));
        assert_eq!(s.purge_all().unwrap(), 1);
        assert_eq!(s.get(&tk(3)).unwrap(), None);
        drop(s);
        // The key made at the first open is the one found again.
        let (_s, again) = LmdbStore::open(&p).unwrap();
        assert_eq!(key, again);
    }

    /// A second init (or another option set) naming the same file shares
    /// the process's one handle instead of failing.
    #[test]
    fn the_same_file_twice_in_one_process_shares_one_handle() {
        let p = path("twice");
        let (a, ka) = LmdbStore::open(&p).unwrap();
        let (b, kb) = LmdbStore::open(&p).unwrap();
        assert_eq!(ka, kb);
        a.put(&tk(1), b"one", "alice", 1000, 100).unwrap();
        assert!(b.get(&tk(1)).unwrap().is_some());
        assert!(LmdbStore::open_for_admin(&p).is_ok());
        drop((a, b));
        assert!(LmdbStore::open(&p).is_ok(), "closed, then opened again");
    }

    #[test]
    fn nonces_are_single_use_within_their_lifetime() {
        let p = path("nonce");
        let (s, _) = LmdbStore::open(&p).unwrap();
        assert!(s.insert_nonce(&tk(1), 600, 100).unwrap());
        assert!(!s.insert_nonce(&tk(1), 600, 200).unwrap());
        assert!(s.insert_nonce(&tk(2), 600, 200).unwrap());
        assert!(s.insert_nonce(&tk(1), 600, 701).unwrap(), "lifetime over");
    }

    #[test]
    fn expired_entries_are_swept() {
        let p = path("sweep");
        let (s, _) = LmdbStore::open(&p).unwrap();
        let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[1; 32]);
        let id = crate::validate::Identity {
            authid: "alice".into(),
            expires_at: None,
        };
        for i in 0..50 {
            let e = entry::encode(&mac, &tk(i), &[0; 16], &id, 150).unwrap();
            s.put(&tk(i), &e, "alice", 150, 100).unwrap();
        }
        // A writer after SWEEP_EVERY removes what expired.
        let e = entry::encode(&mac, &tk(99), &[0; 16], &id, 1000).unwrap();
        s.put(&tk(99), &e, "alice", 1000, 100 + SWEEP_EVERY)
            .unwrap();
        assert_eq!(s.get(&tk(1)).unwrap(), None);
        assert!(s.get(&tk(99)).unwrap().is_some());
        assert_eq!(
            s.purge_user("alice").unwrap(),
            1,
            "index rows went with them"
        );
    }

    #[test]
    fn a_full_map_evicts_instead_of_failing() {
        let p = path("full");
        let (s, _) = LmdbStore::open(&p).unwrap();
        let big = vec![7u8; 200_000];
        // Far more than the map holds: every put still succeeds.
        let n = (MAP_SIZE / 200_000) as u32 * 2;
        for i in 0..n {
            s.put(&tk(i), &big, "alice", i64::MAX, 100).unwrap();
        }
        assert!(std::fs::metadata(&p).unwrap().len() <= MAP_SIZE as u64);
        assert!(s.get(&tk(n - 1)).unwrap().is_some());
    }

    #[test]
    fn a_truncated_file_is_refused_not_read() {
        let p = path("trunc");
        let (s, _) = LmdbStore::open(&p).unwrap();
        for i in 0..200 {
            s.put(&tk(i), &[1u8; 300], "alice", i64::MAX, 100).unwrap();
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(4096)
            .unwrap();
        let e = s.get(&tk(1)).unwrap_err();
        assert!(e.0.contains("truncated"), "{e}");
        assert!(s.get(&tk(1)).is_err(), "stays unusable");
        assert!(s.put(&tk(1), b"x", "a", 1, 1).is_err());
    }

    #[test]
    fn a_file_others_may_write_is_refused() {
        let p = path("mode");
        drop(LmdbStore::open(&p).unwrap());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = LmdbStore::open(&p).err().unwrap();
        assert!(e.contains("writable by group or others"), "{e}");
    }
}
