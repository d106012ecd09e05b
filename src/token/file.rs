//! Token files (`file:/path/token.json`): an access token the plugin keeps
//! fresh for many processes at once (Postfix runs one smtp client per
//! delivery).
//!
//! A refresh takes an exclusive lock on `<file>.lock`, reads the file again
//! (another process may have refreshed meanwhile), refreshes only if still
//! needed, and replaces the file atomically: a temporary file in the same
//! directory with the same mode and owner, fsync, rename, fsync of the
//! directory. A crash at any point leaves the old or the new file, whole.
//! A failed refresh leaves the file untouched.

pub use super::endpoint::Grant;
use super::endpoint::{self, ClientAuth, GrantRequest};
use super::providers;
use super::{ClientRuntime, TokenSource};
use crate::error::{printable, Error, ErrorKind};
use crate::protocol::oauth10a_signature::{OAuth1Credentials, SignatureMethod};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A token file larger than this is not a token file.
const MAX_FILE: u64 = 256 * 1024;
/// A token the server refuses within this many seconds of being obtained is
/// not refreshed again: the problem is not its age, and we must not loop.
const FRESH: i64 = 60;

/// Every field of a token file with its meaning, for sasl-oauth.conf(5); a
/// test keeps it equal to [`TokenFile`]'s fields.
pub const FIELDS: &[(&str, &str)] = &[
    ("access_token", "the access token the plugin sends"),
    ("expires_at", "when the access token expires, in Unix seconds; the plugin refreshes it refresh_window seconds before"),
    ("refresh_token", "the refresh token of the refresh_token grant; a rotated one is saved"),
    ("token_endpoint", "the token endpoint, for a file that names no provider"),
    ("client_id", "the OAuth client that refreshes the token"),
    ("client_secret", "its secret, for a confidential client"),
    ("scope", "the scopes asked for at each refresh"),
    ("grant", "refresh_token (the default) or client_credentials"),
    ("provider", "google, microsoft, microsoft-usgov or microsoft-china: the token endpoint of that provider"),
    ("tenant", "Microsoft's tenant (id or domain)"),
    ("user", "the user the token is for"),
    ("resource", "the RFC 8707 resource indicator sent with each grant"),
    ("token_auth_method", "client_secret_basic (the default) or client_secret_post"),
    ("obtained_at", "when the access token was obtained, in Unix seconds (written by the plugin)"),
    ("oauth_consumer_key", "OAUTH10A: the consumer key"),
    ("oauth_consumer_secret", "OAUTH10A: the consumer secret"),
    ("oauth_token", "OAUTH10A: the token"),
    ("oauth_token_secret", "OAUTH10A: the token secret"),
    ("oauth_signature_method", "OAUTH10A: HMAC-SHA256 (the default) or HMAC-SHA1"),
    ("allow_http", "\"yes\" or true: this file's token endpoint may be plain http to a host that is not loopback"),
];

/// The file format (README, "Client side"). Unknown fields are kept when the file is rewritten.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenFile {
    #[serde(default)]
    pub access_token: Secret,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Grant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// RFC 8707 resource indicator sent with each grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// `client_secret_basic` (default) or `client_secret_post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_auth_method: Option<String>,
    /// When the current access token was obtained (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obtained_at: Option<i64>,
    /// OAUTH10A: OAuth 1.0a consumer and token credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_consumer_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_consumer_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_token_secret: Option<Secret>,
    /// HMAC-SHA1 or HMAC-SHA256 (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_signature_method: Option<String>,
    /// `"yes"` or `true`: the token endpoint may be plain http to a non-loopback host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_http: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TokenFile {
    /// Parses a token file (pure, for tests and fuzzing).
    pub fn parse(bytes: &[u8]) -> Result<TokenFile, Error> {
        serde_json::from_slice(bytes).map_err(|e| {
            Error::param(format!(
                "not a token file: {}",
                printable(&e.to_string(), 120)
            ))
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Whether the access token must be refreshed before use.
    /// `window` is capped at half the token's lifetime: a provider issuing
    /// 5-minute tokens with the default 5-minute window would otherwise have
    /// every use refresh.
    pub fn needs_refresh(&self, now: i64, window: i64) -> bool {
        let window = match (self.obtained_at, self.expires_at) {
            // Saturating: the numbers come from a file, possibly hostile.
            (Some(o), Some(e)) if e > o => window.min(e.saturating_sub(o) / 2),
            _ => window,
        };
        self.access_token.is_empty()
            || self
                .expires_at
                .is_some_and(|e| e.saturating_sub(now) <= window)
    }

    /// Whether the file allows plain http to a non-loopback token endpoint.
    pub fn allows_http(&self) -> Result<bool, Error> {
        match &self.allow_http {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => crate::options::parse_yes_no(s)
                .ok_or_else(|| Error::param("token file: allow_http must be yes or no")),
            Some(_) => Err(Error::param("token file: allow_http must be yes or no")),
        }
    }

    pub fn grant(&self) -> Grant {
        self.grant.unwrap_or_default()
    }

    /// Whether this file can ever be refreshed.
    pub fn refreshable(&self) -> bool {
        match self.grant() {
            Grant::RefreshToken => self.refresh_token.as_ref().is_some_and(|r| !r.is_empty()),
            Grant::ClientCredentials => true,
        }
    }
}

pub fn read(path: &Path) -> Result<TokenFile, Error> {
    let file = File::open(path).map_err(|e| {
        Error::param(format!(
            "cannot read token file {}: {e} (in a chroot such as Postfix's, the path is inside the chroot)",
            path.display()
        ))
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::param(format!("cannot read token file {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Error::param(format!(
            "token file {} is not a regular file",
            path.display()
        )));
    }
    refuse_shared("token file", path, &meta)?;
    let dir = parent_dir(path);
    if let Ok(m) = fs::metadata(dir) {
        refuse_shared("the directory of token file", dir, &m)?;
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::param(format!("cannot read token file {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Error::param(format!(
            "token file {} is too large",
            path.display()
        )));
    }
    TokenFile::parse(&bytes).map_err(|e| Error::param(format!("{}: {}", path.display(), e.reason)))
}

/// The directory holding `path` ("." for a bare name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The user this process acts as (files it creates are theirs).
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// As ssh does for keys: a file or directory that another user could write
/// (group or others may write, and it is not ours) could have been planted.
fn refuse_shared(what: &str, path: &Path, meta: &fs::Metadata) -> Result<(), Error> {
    if meta.mode() & 0o022 != 0 && meta.uid() != euid() {
        return Err(Error::param(format!(
            "{what} {} is writable by group or others and not owned by uid {}: refusing it",
            path.display(),
            euid()
        )));
    }
    Ok(())
}

/// Opens `path` without following a symbolic link there; returns its fstat too.
fn open_nofollow(path: &Path, opts: &mut OpenOptions) -> std::io::Result<(File, fs::Metadata)> {
    let f = opts
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let meta = f.metadata()?;
    Ok((f, meta))
}

/// Replaces `path` with `data`: temp file, same mode and owner, fsync, rename, fsync dir.
/// A symbolic link or anything but a regular file at `path` is refused.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    replace(path, data, true)
}

/// As `write_atomic` for a new token file: mode 0600 and the caller's owner,
/// whatever the file it replaces had.
pub fn write_new(path: &Path, data: &[u8]) -> Result<(), Error> {
    replace(path, data, false)
}

fn replace(path: &Path, data: &[u8], keep_mode_and_owner: bool) -> Result<(), Error> {
    let fail = |what: &str, e: std::io::Error| {
        Error::new(
            ErrorKind::Unavailable,
            format!("{what} {}: {e}", path.display()),
        )
    };
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("token.json");
    // lstat: the mode and owner of a link's target must never be copied.
    let old = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(Error::param(format!(
                "{} is a symbolic link: refusing to replace it",
                path.display()
            )))
        }
        Ok(m) if !m.is_file() => {
            return Err(Error::param(format!(
                "{} is not a regular file: refusing to replace it",
                path.display()
            )))
        }
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(fail("cannot inspect", e)),
    }
    .filter(|_| keep_mode_and_owner);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    // Created 0600: never readable by more than the old file was.
    let (mut f, _) = open_nofollow(
        &tmp,
        OpenOptions::new().write(true).create_new(true).mode(0o600),
    )
    .map_err(|e| fail("cannot create a temporary file beside", e))?;
    let result = (|| {
        f.write_all(data)?;
        if let Some(m) = &old {
            // Owner first, then the mode: the old file's group bits must
            // not apply to our own group. Keeping the owner needs privileges
            // we may not have: then the group gets no access at all.
            let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
            let mut mode = m.mode() & 0o7777;
            if f.metadata()?.gid() != m.gid() {
                mode &= !0o070;
            }
            f.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        f.sync_all()?;
        #[cfg(feature = "test-hooks")]
        if crate::secure_env::var_os("SASL_OAUTH_TEST_CRASH_BEFORE_RENAME").is_some() {
            std::process::abort();
        }
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(fail("cannot replace", e));
    }
    Ok(())
}

pub struct FileSource {
    path: PathBuf,
    rt: Arc<ClientRuntime>,
    /// Lines for the SASL log (temporary files removed), taken by the caller.
    notes: Mutex<Vec<String>>,
}

impl FileSource {
    pub fn new(path: PathBuf, rt: Arc<ClientRuntime>) -> Self {
        FileSource {
            path,
            rt,
            notes: Mutex::new(Vec::new()),
        }
    }

    fn note(&self, line: String) {
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }

    /// The file's token endpoint, else the configuration's, else the preset's;
    /// plain http only where allowed.
    fn endpoint(
        &self,
        f: &TokenFile,
        preset: Option<&providers::Provider>,
    ) -> Result<String, Error> {
        let cfg = &self.rt.config;
        let endpoint = f
            .token_endpoint
            .clone()
            .or_else(|| {
                cfg.get(f.provider.as_deref(), "token_endpoint")
                    .map(str::to_owned)
            })
            .or_else(|| preset.map(|p| p.token_endpoint.clone()))
            .ok_or_else(|| {
                Error::param(format!(
                    "token file {}: no token_endpoint and no known provider",
                    self.path.display()
                ))
            })?;
        crate::http::check_plain_http(
            "token_endpoint",
            &endpoint,
            cfg.allow_http || f.allows_http()?,
        )
        .map_err(|e| {
            Error::new(
                e.kind,
                format!("token file {}: {}", self.path.display(), e.reason),
            )
        })?;
        Ok(endpoint)
    }

    /// The grant request for `f`, with defaults from the client configuration and presets.
    fn refresh(&self, mut f: TokenFile, now: i64) -> Result<TokenFile, Error> {
        let cfg = &self.rt.config;
        let provider = f.provider.as_deref();
        let tenant = f
            .tenant
            .clone()
            .or_else(|| cfg.get(provider, "tenant").map(str::to_owned));
        let preset = provider.and_then(|p| providers::preset(p, tenant.as_deref()));
        let endpoint = self.endpoint(&f, preset.as_ref())?;
        let client_id = f
            .client_id
            .clone()
            .or_else(|| cfg.get(provider, "client_id").map(str::to_owned))
            .ok_or_else(|| {
                Error::param(format!("token file {}: no client_id", self.path.display()))
            })?;
        let client_secret = match &f.client_secret {
            Some(s) => Some(s.clone()),
            None => cfg.client_secret(provider)?,
        };
        let auth = f
            .token_auth_method
            .as_deref()
            .or_else(|| cfg.get(provider, "token_auth_method"))
            .and_then(ClientAuth::from_method)
            .unwrap_or_default();
        let scope = match f.grant() {
            Grant::RefreshToken => f.scope.clone(),
            Grant::ClientCredentials => f
                .scope
                .clone()
                .or_else(|| preset.as_ref().and_then(|p| p.app_scope.map(str::to_owned))),
        };
        let request = GrantRequest {
            endpoint: &endpoint,
            grant: f.grant(),
            refresh_token: f.refresh_token.as_ref(),
            client_id: &client_id,
            client_secret: client_secret.as_ref(),
            auth,
            scope: scope.as_deref(),
            resource: f.resource.as_deref(),
        };
        let granted = endpoint::request(&self.rt.http, &request, now).map_err(|e| {
            Error::new(
                e.kind,
                format!(
                    "refreshing token file {} failed: {}",
                    self.path.display(),
                    e.reason
                ),
            )
        })?;
        f.access_token = granted.access_token;
        f.expires_at = Some(granted.expires_at);
        f.obtained_at = Some(now);
        if let Some(rt) = granted.refresh_token {
            f.refresh_token = Some(rt);
        }
        if granted.scope.is_some() && f.scope.is_none() {
            f.scope = granted.scope;
        }
        Ok(f)
    }

    /// Under the lock: read again, and refresh and save only if `needed` still says so.
    fn locked_refresh(
        &self,
        now: i64,
        needed: impl Fn(&TokenFile) -> bool,
    ) -> Result<TokenFile, Error> {
        let lock_path = PathBuf::from(format!("{}.lock", self.path.display()));
        // No link is followed: a planted link must not make us create or
        // lock a file elsewhere.
        let (lock, meta) = open_nofollow(
            &lock_path,
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600),
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot open lock file {}: {e}", lock_path.display()),
            )
        })?;
        let owner = fs::metadata(&self.path).map(|m| m.uid()).ok();
        let trusted = meta.uid() == 0 || meta.uid() == euid() || Some(meta.uid()) == owner;
        if !meta.is_file() || !trusted {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "lock file {} is not a regular file owned by the token file's owner or root: refusing it",
                    lock_path.display()
                ),
            ));
        }
        lock.lock().map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot lock {}: {e}", lock_path.display()),
            )
        })?;
        let current = self.recover_crashed_write(read(&self.path)?);
        if !needed(&current) {
            return Ok(current);
        }
        let fresh = self.refresh(current, now)?;
        write_atomic(&self.path, &fresh.to_json())?;
        Ok(fresh)
        // The lock is released when `lock` is dropped, after the rename.
    }
}

impl FileSource {
    /// Under the lock, no other writer is active: a temporary file left beside
    /// ours was left by a crash. One that is complete and newer (it may hold a
    /// rotated refresh token the provider already switched to) replaces the
    /// file, when it is the token file owner's, not writable by others, and
    /// for the same endpoint, provider and client id; any other is removed
    /// (it may hold secrets, or be planted) and the removal logged.
    fn recover_crashed_write(&self, current: TokenFile) -> TokenFile {
        let Some(name) = self.path.file_name().and_then(|n| n.to_str()) else {
            return current;
        };
        let dir = parent_dir(&self.path);
        let prefix = format!(".{name}.");
        let Ok(entries) = fs::read_dir(dir) else {
            return current;
        };
        let owner = fs::metadata(&self.path).map(|m| m.uid()).ok();
        let mut best = current;
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(n) = file_name.to_str() else {
                continue;
            };
            if !(n.starts_with(&prefix) && n.ends_with(".tmp")) {
                continue;
            }
            let tmp = entry.path();
            let verdict = adoptable(&tmp, owner, &best);
            let why = match verdict {
                Ok(t) => match fs::rename(&tmp, &self.path) {
                    Ok(()) => {
                        best = t;
                        continue;
                    }
                    Err(e) => format!("cannot rename it: {e}"),
                },
                Err(why) => why,
            };
            let _ = fs::remove_file(&tmp);
            self.note(format!(
                "removed the temporary file {} left beside token file {}: {why}",
                printable(n, 120),
                self.path.display()
            ));
        }
        best
    }

    /// Refreshes now, whatever the expiry (`sasl-oauth token refresh`), with
    /// the same lock and atomic replace as the plugin.
    pub fn refresh_now(&self, now: i64) -> Result<TokenFile, Error> {
        let f = read(&self.path)?;
        if !f.refreshable() {
            return Err(Error::param(format!(
                "token file {}: nothing to refresh with (no refresh_token)",
                self.path.display()
            )));
        }
        self.locked_refresh(now, |_| true)
    }
}

/// The crash-left temporary file `tmp`, when it may replace `current`; else
/// why not (no secret in it).
fn adoptable(tmp: &Path, owner: Option<u32>, current: &TokenFile) -> Result<TokenFile, String> {
    let (f, meta) = open_nofollow(tmp, OpenOptions::new().read(true))
        .map_err(|e| format!("cannot open it without following links: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if Some(meta.uid()) != owner {
        return Err("not owned by the token file's owner".into());
    }
    if meta.mode() & 0o022 != 0 {
        return Err("writable by group or others".into());
    }
    let mut bytes = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    let t = zeroize::Zeroizing::new(bytes);
    let t = TokenFile::parse(&t).map_err(|_| "incomplete".to_string())?;
    if t.token_endpoint != current.token_endpoint
        || t.provider != current.provider
        || t.client_id != current.client_id
    {
        return Err("another token_endpoint, provider or client_id".into());
    }
    if t.obtained_at.unwrap_or(0) <= current.obtained_at.unwrap_or(0) {
        return Err("not newer than the token file".into());
    }
    Ok(t)
}

impl TokenSource for FileSource {
    fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn token(&mut self, now: i64) -> Result<Secret, Error> {
        let window = self.rt.config.refresh_window;
        let f = read(&self.path)?;
        if !f.needs_refresh(now, window) {
            return Ok(f.access_token);
        }
        if !f.refreshable() {
            return Err(Error::param(format!(
                "token file {}: the access token expired and there is no refresh_token",
                self.path.display()
            )));
        }
        Ok(self
            .locked_refresh(now, |f| f.needs_refresh(now, window))?
            .access_token)
    }

    fn oauth1(&mut self) -> Result<OAuth1Credentials, Error> {
        let f = read(&self.path)?;
        let missing = |k: &str| {
            Error::param(format!(
                "token file {}: no {k} (needed for OAUTH10A)",
                self.path.display()
            ))
        };
        let method = match f.oauth_signature_method.as_deref() {
            None => SignatureMethod::HmacSha256,
            Some(m) => SignatureMethod::from_name(m).map_err(|e| Error::param(e.reason))?,
        };
        Ok(OAuth1Credentials {
            consumer_key: f
                .oauth_consumer_key
                .ok_or_else(|| missing("oauth_consumer_key"))?,
            consumer_secret: f
                .oauth_consumer_secret
                .ok_or_else(|| missing("oauth_consumer_secret"))?,
            token: f.oauth_token.ok_or_else(|| missing("oauth_token"))?,
            token_secret: f
                .oauth_token_secret
                .ok_or_else(|| missing("oauth_token_secret"))?,
            method,
        })
    }

    fn after_rejection(&mut self, used: &Secret, now: i64) -> Result<bool, Error> {
        let f = read(&self.path)?;
        if f.access_token != *used {
            return Ok(true); // another process refreshed already
        }
        if !f.refreshable() || f.obtained_at.is_some_and(|t| now.saturating_sub(t) < FRESH) {
            return Ok(false);
        }
        let f = self.locked_refresh(now, |f| f.access_token == *used)?;
        Ok(f.access_token != *used)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_table_names_every_field_of_the_file() {
        let s = |v: &str| Some(v.to_owned());
        let secret = || Some(crate::secret::Secret::from("x"));
        let full = super::TokenFile {
            access_token: crate::secret::Secret::from("x"),
            expires_at: Some(1),
            refresh_token: secret(),
            token_endpoint: s("x"),
            client_id: s("x"),
            client_secret: secret(),
            scope: s("x"),
            grant: Some(super::Grant::RefreshToken),
            provider: s("x"),
            tenant: s("x"),
            user: s("x"),
            resource: s("x"),
            token_auth_method: s("x"),
            obtained_at: Some(1),
            oauth_consumer_key: s("x"),
            oauth_consumer_secret: secret(),
            oauth_token: s("x"),
            oauth_token_secret: secret(),
            oauth_signature_method: s("x"),
            allow_http: Some(serde_json::Value::Bool(true)),
            extra: Default::default(),
        };
        let json = serde_json::to_value(&full).unwrap();
        let mut written: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut tabled: Vec<&str> = super::FIELDS.iter().map(|(n, _)| *n).collect();
        written.sort_unstable();
        tabled.sort_unstable();
        assert_eq!(written, tabled);
    }

    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sasl-oauth-tf-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join("token.json")
    }

    #[test]
    fn parses_the_spec_fields_and_keeps_unknown_ones() {
        let f = TokenFile::parse(br#"{"access_token":"at","expires_at":100,"refresh_token":"rt","token_endpoint":"https://t","client_id":"c","grant":"client_credentials","provider":"microsoft","user":"a@b","x-note":"kept"}"#).unwrap();
        assert_eq!(f.grant(), Grant::ClientCredentials);
        assert_eq!(f.extra.get("x-note"), Some(&Value::from("kept")));
        let again = TokenFile::parse(&f.to_json()).unwrap();
        assert_eq!(again.extra.get("x-note"), Some(&Value::from("kept")));
        assert_eq!(again.refresh_token.unwrap().expose(), "rt");
    }

    #[test]
    fn refresh_window() {
        let f = TokenFile {
            access_token: Secret::from("a"),
            expires_at: Some(1000),
            ..Default::default()
        };
        assert!(!f.needs_refresh(600, 300));
        assert!(f.needs_refresh(700, 300));
        assert!(TokenFile::default().needs_refresh(0, 0));
        let no_exp = TokenFile {
            access_token: Secret::from("a"),
            ..Default::default()
        };
        assert!(!no_exp.needs_refresh(i64::MAX / 2, 300));
        // Extreme numbers from a hostile file: no overflow, a sane answer.
        let wild = TokenFile {
            access_token: "a".into(),
            obtained_at: Some(i64::MIN),
            expires_at: Some(i64::MAX),
            ..Default::default()
        };
        assert!(!wild.needs_refresh(i64::MIN, 300));
        let past = TokenFile {
            access_token: "a".into(),
            expires_at: Some(i64::MIN),
            ..Default::default()
        };
        assert!(past.needs_refresh(i64::MAX, 300));
    }

    #[test]
    fn short_lived_tokens_are_not_refreshed_at_every_use() {
        // A 300 s token with the default 300 s window: refreshed at half its life.
        let f = TokenFile {
            access_token: Secret::from("a"),
            obtained_at: Some(1000),
            expires_at: Some(1300),
            ..Default::default()
        };
        assert!(!f.needs_refresh(1000, 300));
        assert!(!f.needs_refresh(1149, 300));
        assert!(f.needs_refresh(1150, 300));
    }

    #[test]
    fn refreshable_needs_a_refresh_token_or_client_credentials() {
        assert!(!TokenFile::default().refreshable());
        assert!(TokenFile {
            refresh_token: Some(Secret::from("r")),
            ..Default::default()
        }
        .refreshable());
        assert!(TokenFile {
            grant: Some(Grant::ClientCredentials),
            ..Default::default()
        }
        .refreshable());
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(TokenFile::parse(b"[]").is_err());
        assert!(TokenFile::parse(br#"{"access_token":5}"#).is_err());
        assert!(TokenFile::parse(br#"{"grant":"password"}"#).is_err());
    }

    fn temp_files(dir: &Path) -> usize {
        let names = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name());
        names
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .count()
    }

    #[test]
    fn atomic_write_keeps_the_mode() {
        let p = temp("mode");
        fs::write(&p, "{}").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"{\"access_token\":\"x\"}").unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o640);
        assert_eq!(read(&p).unwrap().access_token.expose(), "x");
        let leftovers = temp_files(p.parent().unwrap());
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn a_crashed_complete_write_is_adopted_and_partial_ones_removed() {
        let p = temp("crash");
        fs::write(&p, br#"{"access_token":"old","obtained_at":1}"#).unwrap();
        let dir = p.parent().unwrap();
        fs::write(
            dir.join(".token.json.999.tmp"),
            br#"{"access_token":"new","obtained_at":2,"refresh_token":"rotated"}"#,
        )
        .unwrap();
        fs::write(dir.join(".token.json.998.tmp"), b"{\"access_tok").unwrap();
        let rt =
            Arc::new(ClientRuntime::new(crate::token::config::ClientConfig::defaults()).unwrap());
        let src = FileSource::new(p.clone(), rt);
        let f = src.recover_crashed_write(read(&p).unwrap());
        assert_eq!(f.access_token.expose(), "new");
        assert_eq!(read(&p).unwrap().refresh_token.unwrap().expose(), "rotated");
        let left = temp_files(dir);
        assert_eq!(left, 0);
    }

    /// The per-provider client keys a refresh reads are the option table's
    /// (the refresh itself fails: nothing listens on port 1).
    #[test]
    fn the_provider_keys_read_are_the_tables() {
        use crate::token::config::{tests::assert_reads_match_table, ClientConfig, ASKED};
        let f = TokenFile {
            access_token: Secret::from("a"),
            refresh_token: Some(Secret::from("r")),
            provider: Some("google".into()),
            ..Default::default()
        };
        ASKED.with(|a| a.borrow_mut().clear());
        for secret in ["google_client_secret", "google_client_secret_file"] {
            let values = [
                ("google_token_endpoint", "http://127.0.0.1:1/token"),
                ("google_client_id", "c"),
                (secret, "/nonexistent/secret"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let config = ClientConfig::from_values(values, None).unwrap();
            let src = FileSource::new(temp("keys"), Arc::new(ClientRuntime::new(config).unwrap()));
            assert!(src.refresh(f.clone(), 0).is_err());
        }
        let asked = ASKED.with(|a| a.borrow().clone());
        let provider_keys: Vec<&str> = crate::options::OPTIONS
            .iter()
            .filter(|o| o.per_provider)
            .map(|o| o.name)
            .collect();
        assert_reads_match_table(&asked, &provider_keys);
    }

    #[test]
    fn allow_http_in_a_token_file() {
        let f = |j: &str| TokenFile::parse(j.as_bytes()).unwrap().allows_http();
        assert!(!f("{}").unwrap());
        assert!(f(r#"{"allow_http":"yes"}"#).unwrap());
        assert!(f(r#"{"allow_http":true}"#).unwrap());
        assert!(!f(r#"{"allow_http":"no"}"#).unwrap());
        assert!(f(r#"{"allow_http":"maybe"}"#).is_err());
        assert!(f(r#"{"allow_http":1}"#).is_err());
    }

    fn runtime(conf: &str) -> Arc<ClientRuntime> {
        let values = crate::config_file::parse(conf);
        let c = crate::token::config::ClientConfig::from_values(values, None).unwrap();
        Arc::new(ClientRuntime::new(c).unwrap())
    }

    #[test]
    fn a_plain_http_token_endpoint_off_loopback_is_refused() {
        let p = temp("plainhttp");
        let expired = r#"{"access_token":"old","expires_at":1,"refresh_token":"rt","client_id":"c","token_endpoint":"http://idp.invalid/token"}"#;
        fs::write(&p, expired).unwrap();
        let e = FileSource::new(p.clone(), runtime(""))
            .token(1000)
            .unwrap_err();
        assert!(
            e.reason.contains(
                "token_endpoint: plain http to a non-loopback host; set allow_http: yes to allow"
            ),
            "{}",
            e.reason
        );
        // From the client configuration too.
        fs::write(
            &p,
            r#"{"access_token":"old","expires_at":1,"refresh_token":"rt","client_id":"c"}"#,
        )
        .unwrap();
        let e = FileSource::new(p.clone(), runtime("token_endpoint: http://idp.invalid/t\n"))
            .token(1000)
            .unwrap_err();
        assert!(
            e.reason.contains("token_endpoint: plain http"),
            "{}",
            e.reason
        );
        assert!(fs::read_to_string(&p).unwrap().contains("old"));
    }

    const NOBODY: u32 = 65534;

    fn chown(p: &Path, uid: u32, gid: u32) {
        std::os::unix::fs::chown(p, Some(uid), Some(gid))
            .expect("these tests run as root (CI does): chown to nobody");
    }

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    fn expired(p: &Path) {
        let f = r#"{"access_token":"old","expires_at":1,"refresh_token":"rt","client_id":"c","token_endpoint":"http://127.0.0.1:9/token"}"#;
        fs::write(p, f).unwrap();
        fs::set_permissions(p, fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn a_planted_lock_symlink_is_refused_and_creates_nothing() {
        let p = temp("locklink");
        expired(&p);
        let dir = p.parent().unwrap();
        let target = dir.join("victim");
        let _ = fs::remove_file(&target);
        let lock = dir.join("token.json.lock");
        let _ = fs::remove_file(&lock);
        std::os::unix::fs::symlink(&target, &lock).unwrap();
        let e = FileSource::new(p.clone(), runtime(""))
            .token(1000)
            .unwrap_err();
        assert!(e.reason.contains("lock file"), "{}", e.reason);
        assert!(!target.exists(), "the lock followed a link");
        assert!(read(&p).unwrap().access_token.expose() == "old");
    }

    #[test]
    fn a_lock_owned_by_another_user_is_refused() {
        let p = temp("lockowner");
        expired(&p);
        let lock = p.parent().unwrap().join("token.json.lock");
        let _ = fs::remove_file(&lock);
        fs::write(&lock, "").unwrap();
        chown(&lock, NOBODY, NOBODY);
        let e = FileSource::new(p.clone(), runtime(""))
            .token(1000)
            .unwrap_err();
        assert!(
            e.reason
                .contains("not a regular file owned by the token file's owner or root"),
            "{}",
            e.reason
        );
    }

    /// A crash-left temp file that would be adopted, but for `spoil`.
    fn hostile_temp(name: &str, spoil: impl Fn(&Path)) -> (PathBuf, FileSource) {
        let p = temp(name);
        fs::write(
            &p,
            br#"{"access_token":"old","obtained_at":1,"token_endpoint":"https://idp.invalid/t","client_id":"c"}"#,
        )
        .unwrap();
        let tmp = p.parent().unwrap().join(".token.json.4242.tmp");
        fs::write(
            &tmp,
            br#"{"access_token":"planted","obtained_at":2,"token_endpoint":"https://idp.invalid/t","client_id":"c"}"#,
        )
        .unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600)).unwrap();
        spoil(&tmp);
        (p.clone(), FileSource::new(p, runtime("")))
    }

    #[test]
    fn an_unspoilt_temp_file_is_adopted() {
        let (p, mut src) = hostile_temp("tmpok", |_| {});
        let f = src.recover_crashed_write(read(&p).unwrap());
        assert_eq!(f.access_token.expose(), "planted");
        assert!(src.take_notes().is_empty());
    }

    #[test]
    fn temp_files_of_another_owner_or_endpoint_or_writable_are_not_adopted() {
        type Spoil = Box<dyn Fn(&Path)>;
        let spoils: [(&str, &str, Spoil); 5] = [
            (
                "tmpowner",
                "not owned by the token file's owner",
                Box::new(|t| chown(t, NOBODY, NOBODY)),
            ),
            (
                "tmpmode",
                "writable by group or others",
                Box::new(|t| fs::set_permissions(t, fs::Permissions::from_mode(0o620)).unwrap()),
            ),
            (
                "tmpendpoint",
                "another token_endpoint",
                Box::new(|t| {
                    fs::write(t, br#"{"access_token":"planted","obtained_at":2,"token_endpoint":"https://evil.invalid/t","client_id":"c"}"#).unwrap()
                }),
            ),
            (
                "tmpclient",
                "another token_endpoint, provider or client_id",
                Box::new(|t| {
                    fs::write(t, br#"{"access_token":"planted","obtained_at":2,"token_endpoint":"https://idp.invalid/t","client_id":"evil"}"#).unwrap()
                }),
            ),
            (
                "tmplink",
                "without following links",
                Box::new(|t| {
                    let real = t.with_extension("real");
                    fs::rename(t, &real).unwrap();
                    std::os::unix::fs::symlink(&real, t).unwrap();
                }),
            ),
        ];
        for (name, why, spoil) in spoils {
            let (p, mut src) = hostile_temp(name, spoil);
            let f = src.recover_crashed_write(read(&p).unwrap());
            assert_eq!(f.access_token.expose(), "old", "{name}");
            assert_eq!(read(&p).unwrap().access_token.expose(), "old", "{name}");
            let notes = src.take_notes();
            assert!(
                notes.len() == 1 && notes[0].contains(why),
                "{name}: {notes:?}"
            );
            assert!(!notes[0].contains("planted"));
            assert!(
                !p.parent().unwrap().join(".token.json.4242.tmp").exists(),
                "{name}"
            );
        }
    }

    #[test]
    fn a_group_writable_token_file_or_directory_of_another_owner_is_refused() {
        let p = temp("shared");
        fs::write(&p, br#"{"access_token":"a"}"#).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o660)).unwrap();
        // Ours: fine.
        assert!(read(&p).is_ok());
        chown(&p, NOBODY, NOBODY);
        let e = read(&p).unwrap_err();
        assert!(
            e.reason.contains("token file") && e.reason.contains("writable by group or others"),
            "{}",
            e.reason
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(read(&p).is_ok());
        let dir = p.parent().unwrap();
        chown(dir, NOBODY, NOBODY);
        fs::set_permissions(dir, fs::Permissions::from_mode(0o775)).unwrap();
        let e = read(&p).unwrap_err();
        assert!(
            e.reason.contains("the directory of token file"),
            "{}",
            e.reason
        );
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(read(&p).is_ok());
    }

    #[test]
    fn a_symlink_at_the_destination_is_refused_and_its_target_untouched() {
        let p = temp("destlink");
        let target = p.parent().unwrap().join("victim");
        fs::write(&target, "victim").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
        chown(&target, NOBODY, NOBODY);
        let _ = fs::remove_file(&p);
        std::os::unix::fs::symlink(&target, &p).unwrap();
        for write in [write_atomic, write_new] {
            let e = write(&p, b"{}").unwrap_err();
            assert!(e.reason.contains("symbolic link"), "{}", e.reason);
            assert!(fs::symlink_metadata(&p).unwrap().file_type().is_symlink());
            assert_eq!(fs::read_to_string(&target).unwrap(), "victim");
            assert_eq!(mode(&target), 0o644);
            assert_eq!(temp_files(p.parent().unwrap()), 0);
        }
    }

    #[test]
    fn mode_and_owner_are_kept_and_never_wider() {
        let p = temp("owner");
        fs::write(&p, "{}").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        chown(&p, NOBODY, NOBODY);
        write_atomic(&p, b"{\"access_token\":\"x\"}").unwrap();
        let m = fs::metadata(&p).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (NOBODY, NOBODY, 0o640)
        );
        // A new file, or one replaced by write_new, is 0600 and ours.
        write_new(&p, b"{}").unwrap();
        let m = fs::metadata(&p).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o7777), (euid(), 0o600));
        let fresh = p.with_file_name("fresh.json");
        let _ = fs::remove_file(&fresh);
        write_atomic(&fresh, b"{}").unwrap();
        assert_eq!(mode(&fresh), 0o600);
    }

    #[test]
    fn missing_file_error_mentions_chroot() {
        let e = read(Path::new("/nonexistent/token.json")).unwrap_err();
        assert!(e.reason.contains("chroot"));
    }
}
