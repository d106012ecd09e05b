//! Who may change the files of a shared cache. Whoever can write the LMDB
//! file or the cache key can create logins, so both are refused at init
//! (the mechanisms are then not offered, with one log line) unless only the
//! server's own user can write them.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The LMDB lock file beside `path` (LMDB's name for it with NO_SUB_DIR).
pub fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push("-lock");
    PathBuf::from(p)
}

fn check_owned_private(path: &Path) -> Result<(), String> {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot inspect {}: {e}", path.display())),
    };
    if !m.file_type().is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if m.uid() != euid() {
        return Err(format!(
            "{} is owned by uid {}, not by the server's user (uid {})",
            path.display(),
            m.uid(),
            euid()
        ));
    }
    if m.permissions().mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by group or others (mode {:o}; it must be 0600)",
            path.display(),
            m.permissions().mode() & 0o7777
        ));
    }
    Ok(())
}

/// Refuses an LMDB file (or its lock file) that someone else could write:
/// not the server's user's, group- or world-writable, a symlink, or in a
/// directory others may write without the sticky bit. Missing files are
/// fine: they are created with mode 0600.
pub fn refuse_shared_db(path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => return Err(format!("{} must be an absolute path", path.display())),
    };
    if !path.is_absolute() {
        return Err(format!("{} must be an absolute path", path.display()));
    }
    let d = std::fs::metadata(dir)
        .map_err(|e| format!("cannot use directory {}: {e}", dir.display()))?;
    let mode = d.permissions().mode();
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Err(format!(
            "directory {} is writable by others (mode {:o})",
            dir.display(),
            mode & 0o7777
        ));
    }
    check_owned_private(path)?;
    check_owned_private(&lock_path(path))
}

/// Refuses a key file that others may write or read (its owner may be the
/// server's user or root).
pub fn refuse_shared_secret(path: &Path) -> Result<(), String> {
    let m = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if m.uid() != euid() && m.uid() != 0 {
        return Err(format!(
            "{} is owned by uid {}, neither the server's user nor root",
            path.display(),
            m.uid()
        ));
    }
    let mode = m.permissions().mode();
    if mode & 0o026 != 0 {
        return Err(format!(
            "{} may be written by group or others, or read by others (mode {:o})",
            path.display(),
            mode & 0o7777
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sasl-oauth-fc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    #[test]
    fn private_files_pass_and_shared_ones_are_refused() {
        let d = dir("db");
        let f = d.join("cache.mdb");
        assert_eq!(refuse_shared_db(&f), Ok(()), "missing is fine");
        std::fs::write(&f, b"").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(refuse_shared_db(&f), Ok(()));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(refuse_shared_db(&f)
            .unwrap_err()
            .contains("writable by group or others"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(lock_path(&f), b"").unwrap();
        std::fs::set_permissions(lock_path(&f), std::fs::Permissions::from_mode(0o620)).unwrap();
        assert!(refuse_shared_db(&f).unwrap_err().contains("-lock"));
        std::fs::remove_file(lock_path(&f)).unwrap();
        std::os::unix::fs::symlink(&f, d.join("link.mdb")).unwrap();
        assert!(refuse_shared_db(&d.join("link.mdb"))
            .unwrap_err()
            .contains("not a regular file"));
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(refuse_shared_db(&f).unwrap_err().contains("directory"));
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(refuse_shared_db(&f), Ok(()), "sticky like /tmp");
        assert!(refuse_shared_db(Path::new("cache.mdb")).is_err());
    }
}
