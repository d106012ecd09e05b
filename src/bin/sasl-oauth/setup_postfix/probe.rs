//! The check "as user postfix, from inside the chroot": the tool runs itself
//! again as a hidden probe (`sasl-oauth __probe-postfix`) with the smtp
//! client's uid and gid (std's `CommandExt`, which also drops supplementary
//! groups, as Postfix does). The probe resolves every path as the chroot
//! would (`openat2` with `RESOLVE_IN_ROOT` on the queue directory: `..` and
//! absolute links stay inside), then does what the plugin does with a token
//! file (src/token/file.rs): open and read it, create and rename a file
//! beside it, open and lock `<file>.lock`. It prints what it found as JSON;
//! never a token or a secret.

use rustix::fs::{self as rfs, FlockOperation, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use sasloauth::token::file::TokenFile;
use sasloauth::token::providers;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The word main.rs dispatches on; not in the usage text.
pub const COMMAND: &str = "__probe-postfix";

/// A token file larger than this is not one (as the plugin says).
const MAX_FILE: u64 = 256 * 1024;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatInfo {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// What a token file says, without its secrets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenFacts {
    pub expires_at: Option<i64>,
    pub refreshable: bool,
    pub client_credentials: bool,
    pub has_client_secret: bool,
    pub provider: Option<String>,
    /// The token endpoint's host (file or provider preset), for the DNS check.
    pub endpoint_host: Option<String>,
    pub user: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum LockState {
    /// Not there yet: the first refresh creates it.
    Absent,
    /// Opened and locked (and released at once).
    Locked { owner: u32 },
    /// Another process holds it now (a refresh is running).
    Held { owner: u32 },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenProbe {
    pub path: String,
    /// Opening and reading it; the error as the plugin would meet it.
    pub read: Result<StatInfo, String>,
    pub parsed: Option<Result<TokenFacts, String>>,
    pub dir: Result<StatInfo, String>,
    /// Creating, renaming and removing a file beside it.
    pub write: Result<(), String>,
    pub lock: Result<LockState, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReadProbe {
    pub path: String,
    pub read: Result<(), String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Answer {
    pub uid: u32,
    pub gid: u32,
    pub tokens: Vec<TokenProbe>,
    pub reads: Vec<ReadProbe>,
}

/// Runs the probe as `uid`:`gid` with `root` as its root. Ok(None) when
/// this process can become neither (not root, not that user).
pub fn run_as(
    root: &Path,
    uid: u32,
    gid: u32,
    tokens: &[String],
    reads: &[String],
) -> Result<Answer, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut cmd = Command::new(&exe);
    cmd.arg(COMMAND).arg(root);
    for t in tokens {
        cmd.arg(format!("token:{t}"));
    }
    for r in reads {
        cmd.arg(format!("read:{r}"));
    }
    cmd.env_clear();
    let me = rustix::process::geteuid().as_raw();
    let my_gid = rustix::process::getegid().as_raw();
    if me == 0 {
        cmd.uid(uid).gid(gid);
    } else if me != uid || my_gid != gid {
        return Err(format!(
            "run as root to check as the smtp client's user (uid {uid}, gid {gid}); this is uid {me}"
        ));
    }
    let out = cmd.output().map_err(|e| {
        format!(
            "cannot run {} as uid {uid} (it must be readable and executable by that user): {e}",
            exe.display()
        )
    })?;
    if !out.status.success() {
        return Err(format!(
            "the probe as uid {uid} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the probe's answer: {e}"))
}

/// The probe itself: `__probe-postfix ROOT token:PATH… read:PATH…`.
pub fn main(args: &[String]) -> crate::Outcome {
    let [root, items @ ..] = args else {
        return Err("usage: sasl-oauth __probe-postfix ROOT [token:PATH | read:PATH]...".into());
    };
    let root = rfs::open(
        root.as_str(),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open {root}: {e}"))?;
    let mut answer = Answer {
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        tokens: Vec::new(),
        reads: Vec::new(),
    };
    for item in items {
        if let Some(p) = item.strip_prefix("token:") {
            answer.tokens.push(token(&root, p, answer.uid));
        } else if let Some(p) = item.strip_prefix("read:") {
            answer.reads.push(ReadProbe {
                path: p.to_owned(),
                read: open_in_root(&root, p, OFlags::RDONLY)
                    .map(|_| ())
                    .map_err(describe),
            });
        }
    }
    println!(
        "{}",
        serde_json::to_string(&answer).map_err(|e| e.to_string())?
    );
    Ok(true)
}

fn describe(e: Errno) -> String {
    std::io::Error::from(e).to_string()
}

/// Opens `path` as the chroot at `root` would see it.
fn open_in_root(root: &OwnedFd, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    rfs::openat2(
        root,
        rel,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )
}

fn stat_of(fd: &OwnedFd) -> Result<StatInfo, String> {
    let s = rfs::fstat(fd).map_err(describe)?;
    Ok(StatInfo {
        uid: s.st_uid,
        gid: s.st_gid,
        mode: s.st_mode & 0o7777,
    })
}

/// The checks of one token file, in the order the plugin meets them.
fn token(root: &OwnedFd, path: &str, me: u32) -> TokenProbe {
    let (dir_path, name) = match path.rsplit_once('/') {
        Some((d, n)) => (if d.is_empty() { "/" } else { d }, n),
        None => ("/", path),
    };
    let mut probe = TokenProbe {
        path: path.to_owned(),
        read: Err(String::new()),
        parsed: None,
        dir: Err(String::new()),
        write: Err("not tried: the directory cannot be opened".into()),
        lock: Err("not tried: the directory cannot be opened".into()),
    };
    match open_in_root(root, path, OFlags::RDONLY) {
        Err(e) => probe.read = Err(describe(e)),
        Ok(fd) => {
            probe.read = stat_of(&fd);
            probe.parsed = Some(read_token(fd));
        }
    }
    let dir = match open_in_root(root, dir_path, OFlags::PATH | OFlags::DIRECTORY) {
        Err(e) => {
            probe.dir = Err(describe(e));
            return probe;
        }
        Ok(d) => d,
    };
    probe.dir = stat_of(&dir);
    probe.write = try_write(&dir);
    probe.lock = try_lock(&dir, &format!("{name}.lock"), me, probe.read.as_ref().ok());
    probe
}

fn read_token(fd: OwnedFd) -> Result<TokenFacts, String> {
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    File::from(fd)
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE {
        return Err("too large for a token file".into());
    }
    let t = TokenFile::parse(&bytes).map_err(|e| e.reason.into_owned())?;
    let endpoint = t.token_endpoint.clone().or_else(|| {
        t.provider
            .as_deref()
            .and_then(|p| providers::preset(p, t.tenant.as_deref()))
            .map(|p| p.token_endpoint)
    });
    let endpoint_host = endpoint
        .and_then(|e| url::Url::parse(&e).ok())
        .and_then(|u| u.host_str().map(str::to_owned));
    Ok(TokenFacts {
        expires_at: t.expires_at,
        refreshable: t.refreshable(),
        client_credentials: t.grant() == sasloauth::token::file::Grant::ClientCredentials,
        has_client_secret: t.client_secret.is_some(),
        provider: t.provider.clone(),
        endpoint_host,
        user: t.user.clone(),
    })
}

/// What a refresh does in the directory: create a temporary file (mode
/// 0600, never through a link), write and sync it, rename it; then remove
/// it. The names are not the plugin's temporary names, which it would adopt.
fn try_write(dir: &OwnedFd) -> Result<(), String> {
    let pid = std::process::id();
    let a = format!(".sasl-oauth-setup-probe.{pid}");
    let b = format!(".sasl-oauth-setup-probe.{pid}.renamed");
    let fd = rfs::openat(
        dir,
        a.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| format!("cannot create a file in the directory: {}", describe(e)))?;
    let mut f = File::from(fd);
    let result = f
        .write_all(b"probe\n")
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write a file in the directory: {e}"))
        .and_then(|_| {
            rfs::renameat(dir, a.as_str(), dir, b.as_str())
                .map_err(|e| format!("cannot rename a file in the directory: {}", describe(e)))
        });
    let _ = rfs::unlinkat(dir, a.as_str(), rfs::AtFlags::empty());
    let _ = rfs::unlinkat(dir, b.as_str(), rfs::AtFlags::empty());
    result
}

/// The plugin's lock: `<file>.lock`, opened for writing without following
/// a link, owned by root, this user or the token file's owner, then flock.
fn try_lock(
    dir: &OwnedFd,
    name: &str,
    me: u32,
    token: Option<&StatInfo>,
) -> Result<LockState, String> {
    let fd = match rfs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Err(Errno::NOENT) => return Ok(LockState::Absent),
        Err(e) => return Err(format!("cannot open the lock file {name}: {}", describe(e))),
        Ok(fd) => fd,
    };
    let st = rfs::fstat(&fd).map_err(describe)?;
    let owner = st.st_uid;
    let regular = st.st_mode & 0o170000 == 0o100000;
    let trusted = owner == 0 || owner == me || token.is_some_and(|t| t.uid == owner);
    if !regular || !trusted {
        return Err(format!(
            "the lock file {name} is not a regular file owned by root, uid {me} or the token file's owner (uid {owner}): the plugin refuses it"
        ));
    }
    match rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(LockState::Locked { owner }),
        Err(Errno::WOULDBLOCK) => Ok(LockState::Held { owner }),
        Err(e) => Err(format!("cannot lock {name}: {}", describe(e))),
    }
}
