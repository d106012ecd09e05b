//! Nonces shared by every server process (Cyrus and Postfix run one process
//! per connection): one empty file per nonce, created with O_EXCL in a
//! directory opened at init, so a replay is refused whichever process gets
//! it, and the store keeps working after a chroot.

use crate::error::{Error, ErrorKind};
use ring::digest::{digest, SHA256};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct NonceDir {
    dir: OwnedFd,
    inserts: AtomicU32,
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
            inserts: AtomicU32::new(0),
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
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
        for _ in 0..2 {
            match rustix::fs::openat(&self.dir, name.as_str(), flags, Mode::from_raw_mode(0o600)) {
                Ok(_) => {
                    if self.inserts.fetch_add(1, Ordering::Relaxed) % 256 == 255 {
                        self.sweep(now, window);
                    }
                    return Ok(true);
                }
                Err(Errno::EXIST) => match mtime(&self.dir, &name) {
                    // An entry from beyond the window: its timestamp can no longer pass.
                    Some(t) if now - t > window => {
                        let _ = rustix::fs::unlinkat(&self.dir, name.as_str(), AtFlags::empty());
                    }
                    _ => return Ok(false),
                },
                Err(e) => return Err(unavailable("cannot record a nonce", e)),
            }
        }
        Ok(false)
    }

    /// Removes entries older than the window.
    fn sweep(&self, now: i64, window: i64) {
        let Ok(dir) = rustix::fs::Dir::read_from(&self.dir) else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == 64 && mtime(&self.dir, &name).is_some_and(|t| now - t > window) {
                let _ = rustix::fs::unlinkat(&self.dir, name.as_str(), AtFlags::empty());
            }
        }
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

    #[test]
    fn a_missing_directory_is_a_config_error() {
        assert!(NonceDir::open(Path::new("/nonexistent/nonces")).is_err());
    }
}
