//! Token validation: the only part of the server that reads files and talks to
//! the identity provider. Every validator fails closed: an `Ok` means every
//! check passed.

pub mod alg;
pub mod cache;
pub mod claims;
pub mod discovery;
pub mod flat_json;
pub mod introspect;
pub mod jwks;
pub mod jwt;
pub mod keys;
pub mod nonce_dir;
pub mod notice;
pub mod oauth10a;
pub mod policy;
pub mod providers;
pub mod router;
pub mod store;
pub mod strict_json;
pub mod verifier;

use crate::error::Error;

/// Where a validator notes each check passed, for `sasl-oauth check` (which
/// prints them). The handshake path gives `NoTrace`, and nothing is formatted.
pub trait Trace {
    /// Whether notes are kept; when not, `note` formats nothing.
    fn is_on(&self) -> bool {
        true
    }
    fn push(&mut self, line: String);
}

impl dyn Trace + '_ {
    /// Records a line; `line` runs only when the trace is on.
    pub fn note(&mut self, line: impl FnOnce() -> String) {
        if self.is_on() {
            let line = line();
            self.push(line);
        }
    }
}

/// The handshake path's trace: keeps nothing.
pub struct NoTrace;

impl Trace for NoTrace {
    fn is_on(&self) -> bool {
        false
    }
    fn push(&mut self, _line: String) {}
}

/// What a valid token proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The authentication identity (from `oauth_username_claim`).
    pub authid: String,
    /// When the token stops being valid (Unix seconds), if it says.
    pub expires_at: Option<i64>,
}

pub trait TokenValidator: Send + Sync {
    /// Checks `token` at time `now` (Unix seconds), noting each check in
    /// `trace` when it is on (for `sasl-oauth check`).
    fn check(&self, token: &str, now: i64, trace: &mut dyn Trace) -> Result<Identity, Error>;

    /// The handshake path: no trace.
    fn validate(&self, token: &str, now: i64) -> Result<Identity, Error> {
        self.check(token, now, &mut NoTrace)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The log-only detail of a wrapping error: what was being fetched (a
/// configured URL or file), then the inner error's own detail.
pub(crate) fn with_inner(what: String, inner: &Error) -> String {
    match &inner.detail {
        Some(d) => format!("{what}; {d}"),
        None => what,
    }
}
