//! `--apply` (and `token init --postfix`): put a token file where the smtp
//! client opens it, its directory and lock file owned by the smtp user,
//! the file mode 0600 and the directory 0700. Owners and modes are changed
//! on descriptors opened without following links: the queue directory is
//! partly the smtp user's, who must not steer root's chown elsewhere.

use super::checks::{SmtpUser, TokenPlace};
use super::report::Report;
use sasloauth::token::file::{self, TokenFile};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Opens `path` itself (never a link's target), to change its owner and mode.
fn open_own(path: &Path, dir: bool) -> std::io::Result<File> {
    let mut flags = libc::O_NOFOLLOW | libc::O_CLOEXEC;
    if dir {
        flags |= libc::O_DIRECTORY;
    }
    OpenOptions::new().read(true).custom_flags(flags).open(path)
}

/// Gives `path` to the smtp user with `mode`; Ok(true) when something changed.
fn own(path: &Path, dir: bool, user: &SmtpUser, mode: u32) -> Result<bool, String> {
    let f = open_own(path, dir).map_err(|e| format!("{}: {e}", path.display()))?;
    let m = f
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if m.uid() == user.uid && m.gid() == user.gid && m.mode() & 0o7777 == mode {
        return Ok(false);
    }
    std::os::unix::fs::fchown(&f, Some(user.uid), Some(user.gid))
        .map_err(|e| format!("chown {}: {e}", path.display()))?;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    Ok(true)
}

/// Whether root may create and chown below `dir`: no directory on the way
/// (below the chroot, or from / without one) is a link, or another user's,
/// or writable by others (a sticky one such as /tmp aside): else another
/// user could point root's writes elsewhere.
fn safe_path(place: &TokenPlace) -> Result<(), String> {
    let dir = place.host_dir();
    let top = place.chroot.clone().unwrap_or_else(|| "/".into());
    let mut at = top.clone();
    let rest = dir
        .strip_prefix(&top)
        .map_err(|_| format!("{} is not below {}", dir.display(), top.display()))?;
    for part in rest.components() {
        at.push(part);
        let m = match fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(_) => return Ok(()), // created by us from here on
        };
        if m.file_type().is_symlink() {
            return Err(format!(
                "{} is a symbolic link: refusing to install below it",
                at.display()
            ));
        }
        let last = at == dir;
        let shared = m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0;
        let me = rustix::process::geteuid().as_raw();
        if !last && ((m.uid() != 0 && m.uid() != me) || shared) {
            return Err(format!(
                "{} is not root's alone (owner uid {}, mode {:04o}): refusing to install below it",
                at.display(),
                m.uid(),
                m.mode() & 0o7777
            ));
        }
    }
    Ok(())
}

/// The token file's directory: created (parents root's, 0755; the last one
/// the smtp user's, 0700), or given to the smtp user when it holds nothing else.
fn prepare_dir(place: &TokenPlace, user: &SmtpUser, r: &mut Report) -> Result<(), String> {
    safe_path(place)?;
    let dir = place.host_dir();
    if !dir.exists() {
        if let Some(parent) = dir.parent() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        own(&dir, true, user, 0o700)?;
        r.info(
            "apply",
            format!("created {} (owner {}, mode 0700)", dir.display(), user.name),
        );
        return Ok(());
    }
    if !place.dedicated_dir {
        r.info(
            "apply",
            format!(
                "{} holds other files: its owner and mode are left alone",
                dir.display()
            ),
        );
        return Ok(());
    }
    if own(&dir, true, user, 0o700)? {
        r.info(
            "apply",
            format!("gave {} to {} (mode 0700)", dir.display(), user.name),
        );
    }
    Ok(())
}

/// Writes `bytes` as the token file of `place` (dir prepared first), mode
/// 0600, owned by the smtp user; an existing file only when `replace`.
pub fn install(
    place: &TokenPlace,
    bytes: &[u8],
    replace: bool,
    user: &SmtpUser,
    r: &mut Report,
) -> Result<(), String> {
    prepare_dir(place, user, r)?;
    let host = place.host_path();
    if fs::symlink_metadata(&host).is_ok() && !replace {
        return Err(format!(
            "{} exists: use --force to replace it",
            host.display()
        ));
    }
    file::write_new(&host, bytes).map_err(|e| e.reason.into_owned())?;
    own(&host, false, user, 0o600)?;
    Ok(())
}

/// `--apply` for one token file named in a map.
pub fn apply(place: &TokenPlace, source: Option<&Path>, user: &SmtpUser, r: &mut Report) {
    if let Err(e) = apply_one(place, source, user, r) {
        r.fail("apply", e, vec![]);
    }
}

fn apply_one(
    place: &TokenPlace,
    source: Option<&Path>,
    user: &SmtpUser,
    r: &mut Report,
) -> Result<(), String> {
    let host = place.host_path();
    let outside = (place.chroot.is_some() && place.exists_outside).then(|| Path::new(&place.path));
    let exists = fs::symlink_metadata(&host).is_ok();
    // An explicit --token-file replaces the file; a copy outside the chroot
    // only fills a missing one.
    let src = source.or(if exists { None } else { outside });
    if let Some(src) = src {
        let bytes = zeroize::Zeroizing::new(
            fs::read(src).map_err(|e| format!("cannot read {}: {e}", src.display()))?,
        );
        TokenFile::parse(&bytes).map_err(|e| format!("{}: {}", src.display(), e.reason))?;
        install(place, &bytes, true, user, r)?;
        r.info(
            "apply",
            format!(
                "installed {} as {} (owner {}, mode 0600)",
                src.display(),
                host.display(),
                user.name
            ),
        );
        if source.is_none() {
            r.info(
                "apply",
                format!("{} is no longer used (the smtp client refreshes the copy inside the chroot): remove it", src.display()),
            );
        }
    } else if !exists {
        r.info(
            "apply",
            format!(
                "nothing to install as {}: give --token-file FILE",
                host.display()
            ),
        );
        return Ok(());
    } else {
        prepare_dir(place, user, r)?;
        if own(&host, false, user, 0o600)? {
            r.info(
                "apply",
                format!("gave {} to {} (mode 0600)", host.display(), user.name),
            );
        }
    }
    // A lock file left by root (`sasl-oauth token refresh` as root) locks
    // the smtp user out.
    let lock = format!("{}.lock", host.display());
    let lock = Path::new(&lock);
    if let Ok(m) = fs::symlink_metadata(lock) {
        if m.is_file() && m.uid() != user.uid && own(lock, false, user, 0o600)? {
            r.info("apply", format!("gave {} to {}", lock.display(), user.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup_postfix::maps::Table;
    use std::os::unix::fs::symlink;

    fn place(chroot: &Path, path: &str) -> TokenPlace {
        TokenPlace {
            path: path.into(),
            table: Table::parse("static:a:file:/x").unwrap(),
            key: "*".into(),
            chroot: Some(chroot.to_owned()),
            exists_outside: false,
            dedicated_dir: true,
        }
    }

    #[test]
    fn no_install_through_a_link_or_below_another_users_directory() {
        let q = std::env::temp_dir().join(format!("sasl-oauth-apply-{}", std::process::id()));
        let _ = fs::remove_dir_all(&q);
        fs::create_dir_all(q.join("etc")).unwrap();
        assert!(safe_path(&place(&q, "/etc/sasl-oauth/token.json")).is_ok());
        assert!(safe_path(&place(&q, "/new/dirs/token.json")).is_ok());
        symlink("/etc", q.join("link")).unwrap();
        let e = safe_path(&place(&q, "/link/sasl-oauth/token.json")).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        fs::create_dir(q.join("open")).unwrap();
        fs::set_permissions(q.join("open"), fs::Permissions::from_mode(0o777)).unwrap();
        let e = safe_path(&place(&q, "/open/sasl-oauth/token.json")).unwrap_err();
        assert!(e.contains("not root's alone"), "{e}");
        // The token file's own directory may be the smtp user's.
        assert!(safe_path(&place(&q, "/open/token.json")).is_ok());
        fs::remove_dir_all(&q).unwrap();
    }
}
