//! A private temporary directory, as mkdtemp(3) makes one: a random name,
//! created with mode 0700 (an existing path is never reused), its files
//! created with O_EXCL|O_NOFOLLOW and mode 0600; removed when dropped.

use crate::random;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// `$TMPDIR/PREFIX-RANDOM`.
    pub fn new(prefix: &str) -> Result<PrivateDir, String> {
        let base = std::env::temp_dir();
        // A clash with 96 random bits is a planted path, not bad luck: a few tries only.
        for _ in 0..4 {
            let path = base.join(format!("{prefix}-{}", random::url_safe(12)?));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(PrivateDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(format!(
                        "cannot create a directory in {}: {e}",
                        base.display()
                    ))
                }
            }
        }
        Err(format!(
            "cannot create a private directory in {}: the names are taken",
            base.display()
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates NAME (never an existing file, never through a symlink), mode 0600.
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<PathBuf, String> {
        let path = self.path.join(name);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .and_then(|mut f| f.write_all(contents))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn private_modes_no_reuse_no_symlinks_and_removed_after() {
        let a = PrivateDir::new("sasl-oauth-test").unwrap();
        let b = PrivateDir::new("sasl-oauth-test").unwrap();
        assert_ne!(a.path(), b.path());
        assert_eq!(mode(a.path()) & 0o077, 0, "group/other may not enter");
        let f = a.write("x.conf", b"k: v\n").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert!(
            a.write("x.conf", b"again").is_err(),
            "an existing file is reused"
        );
        assert_eq!(std::fs::read(&f).unwrap(), b"k: v\n");

        let target = b.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, a.path().join("link.conf")).unwrap();
        assert!(
            a.write("link.conf", b"secret").is_err(),
            "a symlink is followed"
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");

        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists());
    }
}
