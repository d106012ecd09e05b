//! Nonces shared by every server process (Cyrus and Postfix run one process
//! per connection): one empty file per nonce, created with O_EXCL in a
//! directory opened at init, so a replay is refused whichever process gets
//! it, and the store keeps working after a chroot.
//!
//! Old entries are swept on time, not on a count of inserts: Cyrus and
//! Postfix processes each serve few logins, so a per-handle count would
//! never be reached. A handle sweeps at its first insert and again whenever
//! a window has passed since its last sweep, removing at most
//! `SWEEP_MAX` entries each time (a backlog goes at the next inserts).

use crate::error::{Error, ErrorKind};
use ring::digest::{digest, SHA256};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

/// Entries removed by one sweep at most, so that no login waits for a large
/// backlog.
const SWEEP_MAX: usize = 1000;

pub struct NonceDir {
    dir: OwnedFd,
    /// When this handle last swept (i64::MIN: never, or a backlog is left).
    last_sweep: AtomicI64,
}

fn unavailable(what: &str, e: Errno) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("OAUTH10A nonce store: {what}: {e}"),
    )
}

fn mtime(dir: &OwnedFd, name: &str) -> Option<i64> {
    rustix::fs::statat(dir, name, AtFlags::empty())
        .ok()
        .map(|s| s.st_mtime)
}

impl NonceDir {
    /// Opens the directory now (plugin init).
    pub fn open(path: &Path) -> Result<Self, Error> {
        let dir = rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            Error::config(format!(
                "oauth10a_nonce_dir: cannot open {}: {e}",
                path.display()
            ))
        })?;
        Ok(NonceDir {
            dir,
            last_sweep: AtomicI64::new(i64::MIN),
        })
    }

    /// Ok(true) when `key` is new (and now remembered), Ok(false) for a replay.
    /// Entries older than `window` seconds are forgotten.
    pub fn insert(&self, key: &str, now: i64, window: i64) -> Result<bool, Error> {
        let name: String = digest(&SHA256, key.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.sweep_if_due(now, window);
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
        for _ in 0..2 {
            match rustix::fs::openat(&self.dir, name.as_str(), flags, Mode::from_raw_mode(0o600)) {
                Ok(_) => return Ok(true),
                Err(Errno::EXIST) => match mtime(&self.dir, &name) {
                    // An entry from beyond the window: its timestamp can no longer pass.
                    Some(t) if now.saturating_sub(t) > window => {
                        let _ = rustix::fs::unlinkat(&self.dir, name.as_str(), AtFlags::empty());
                    }
                    _ => return Ok(false),
                },
                Err(e) => return Err(unavailable("cannot record a nonce", e)),
            }
        }
        Ok(false)
    }

    /// Sweeps when this handle never did, or did a window ago or more; one
    /// thread of the process does it, the others go on.
    pub fn sweep_if_due(&self, now: i64, window: i64) {
        let last = self.last_sweep.load(Ordering::Relaxed);
        if last != i64::MIN && now.saturating_sub(last) < window {
            return;
        }
        if self
            .last_sweep
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        if self.sweep(now, window) == SWEEP_MAX {
            // More may be left: the next insert sweeps again.
            self.last_sweep.store(i64::MIN, Ordering::Relaxed);
        }
    }

    /// Removes up to SWEEP_MAX entries older than the window; returns how many.
    fn sweep(&self, now: i64, window: i64) -> usize {
        let Ok(dir) = rustix::fs::Dir::read_from(&self.dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in dir.flatten() {
            if removed == SWEEP_MAX {
                break;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let old = mtime(&self.dir, &name).is_some_and(|t| now.saturating_sub(t) > window);
            if name.len() == 64
                && name.bytes().all(|b| b.is_ascii_hexdigit())
                && old
                && rustix::fs::unlinkat(&self.dir, name.as_str(), AtFlags::empty()).is_ok()
            {
                removed += 1;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("sasl-oauth-nonce-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn second_insert_is_a_replay_even_from_another_handle() {
        let d = dir("replay");
        let now = crate::validate::unix_now();
        let a = NonceDir::open(&d).unwrap();
        let b = NonceDir::open(&d).unwrap();
        assert!(a.insert("k1", now, 600).unwrap());
        assert!(!b.insert("k1", now, 600).unwrap());
        assert!(b.insert("k2", now, 600).unwrap());
    }

    #[test]
    fn entries_beyond_the_window_are_forgotten() {
        let d = dir("old");
        let now = crate::validate::unix_now();
        let s = NonceDir::open(&d).unwrap();
        assert!(s.insert("k", now, 600).unwrap());
        // Seen from a later time, the entry is older than the window.
        assert!(s.insert("k", now + 700, 600).unwrap());
    }

    fn entries(d: &Path) -> usize {
        std::fs::read_dir(d).unwrap().count()
    }

    /// One handle per process, each inserting one nonce (as Cyrus and
    /// Postfix processes do): a handle's first insert a window later sweeps
    /// the others' old entries.
    #[test]
    fn per_process_handles_sweep_old_entries() {
        let d = dir("sweep");
        let now = crate::validate::unix_now();
        for i in 0..300 {
            let process = NonceDir::open(&d).unwrap();
            assert!(process.insert(&format!("old-{i}"), now, 600).unwrap());
        }
        assert_eq!(entries(&d), 300);
        // Within the window nothing is removed.
        let soon = NonceDir::open(&d).unwrap();
        assert!(soon.insert("soon", now + 60, 600).unwrap());
        assert_eq!(entries(&d), 301);
        // A window later, a new process's first insert removes every old entry.
        let later = NonceDir::open(&d).unwrap();
        assert!(later.insert("later", now + 700, 600).unwrap());
        assert_eq!(entries(&d), 1);
    }

    /// A long-lived handle sweeps again once a window has passed since its
    /// last sweep, not only every N inserts.
    #[test]
    fn a_handle_sweeps_again_a_window_later() {
        let d = dir("again");
        let now = crate::validate::unix_now();
        let h = NonceDir::open(&d).unwrap();
        assert!(h.insert("a", now, 600).unwrap());
        NonceDir::open(&d).unwrap().insert("b", now, 600).unwrap();
        assert!(h.insert("c", now + 300, 600).unwrap());
        assert_eq!(entries(&d), 3, "no sweep within a window of the last");
        assert!(h.insert("d", now + 700, 600).unwrap());
        // a, b and c are older than the window: their files' time is now.
        assert_eq!(entries(&d), 1);
    }

    /// One sweep removes at most SWEEP_MAX entries; the backlog goes at the next insert.
    #[test]
    fn a_sweep_is_bounded() {
        let d = dir("bounded");
        let now = crate::validate::unix_now();
        let h = NonceDir::open(&d).unwrap();
        for i in 0..SWEEP_MAX + 5 {
            std::fs::File::create(d.join(format!("{:064x}", i))).unwrap();
        }
        assert!(h.insert("first", now + 700, 600).unwrap());
        assert_eq!(entries(&d), 5 + 1);
        // The rest of the backlog, and "first" (its file's time is now).
        assert!(h.insert("second", now + 701, 600).unwrap());
        assert_eq!(entries(&d), 1);
    }

    #[test]
    fn a_missing_directory_is_a_config_error() {
        assert!(NonceDir::open(Path::new("/nonexistent/nonces")).is_err());
    }
}
