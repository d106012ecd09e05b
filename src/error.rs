//! One error type for the whole crate. The kind decides the SASL result code
//! (in `ffi::guard`); the reason is the one line an administrator reads.

use std::borrow::Cow;
use std::fmt;

/// OAuth error status sent in a server's error challenge (RFC 6750 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuthStatus {
    InvalidToken,
    InsufficientScope,
    InvalidRequest,
}

impl OAuthStatus {
    /// RFC 7628 / RFC 6750 error code.
    pub fn code(self) -> &'static str {
        match self {
            OAuthStatus::InvalidToken => "invalid_token",
            OAuthStatus::InsufficientScope => "insufficient_scope",
            OAuthStatus::InvalidRequest => "invalid_request",
        }
    }

    /// The HTTP status code that XOAUTH2 servers (Google) send as a string.
    pub fn http_code(self) -> &'static str {
        match self {
            OAuthStatus::InvalidToken => "401",
            OAuthStatus::InsufficientScope => "403",
            OAuthStatus::InvalidRequest => "400",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed client or server message (SASL_BADPROT).
    Protocol,
    /// Well-formed, but the credentials were refused (SASL_BADAUTH).
    Rejected(OAuthStatus),
    /// A dependency (identity provider, file) is temporarily unavailable (SASL_TRYAGAIN).
    Unavailable,
    /// The plugin is not configured, or configured wrongly (SASL_UNAVAIL / mech not offered).
    Config,
    /// The application gave us something unusable (SASL_BADPARAM).
    Param,
    /// A bug or a panic (SASL_FAIL).
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// What the client may be told (errdetail): names the failed check, never
    /// a configuration value, a token or a secret.
    pub reason: Cow<'static, str>,
    /// What only the server's log gets besides the reason (configured values,
    /// which of several indistinguishable refusals it was).
    pub detail: Option<Cow<'static, str>>,
}

impl Error {
    pub fn new(kind: ErrorKind, reason: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            reason: reason.into(),
            detail: None,
        }
    }
    /// Adds text for the server's log only.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    /// The server's log line: the reason and, when there is one, the detail.
    pub fn log_text(&self) -> Cow<'_, str> {
        match &self.detail {
            None => Cow::Borrowed(&self.reason),
            Some(d) => Cow::Owned(format!("{} ({d})", self.reason)),
        }
    }
    pub fn protocol(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Protocol, reason)
    }
    pub fn invalid_token(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Rejected(OAuthStatus::InvalidToken), reason)
    }
    pub fn insufficient_scope(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Rejected(OAuthStatus::InsufficientScope), reason)
    }
    pub fn invalid_request(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Rejected(OAuthStatus::InvalidRequest), reason)
    }
    pub fn config(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Config, reason)
    }
    pub fn param(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Param, reason)
    }
    pub fn internal(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Internal, reason)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Error {}

/// Makes client-controlled text safe for a one-line log or errdetail:
/// control bytes become `?`, and the text is cut to `max` characters.
pub fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_replaces_control_bytes() {
        assert_eq!(printable("a\x01b\nc", 10), "a?b?c");
    }

    #[test]
    fn printable_cuts_long_text() {
        assert_eq!(printable("abcdef", 3), "abc…");
    }

    #[test]
    fn detail_reaches_the_log_text_only() {
        let e = Error::invalid_token("audience not accepted").with_detail("accepted: imap");
        assert_eq!(e.reason, "audience not accepted");
        assert_eq!(e.log_text(), "audience not accepted (accepted: imap)");
        assert_eq!(Error::protocol("x").log_text(), "x");
    }

    #[test]
    fn status_codes_match_rfc_and_google() {
        assert_eq!(OAuthStatus::InvalidToken.code(), "invalid_token");
        assert_eq!(OAuthStatus::InsufficientScope.http_code(), "403");
    }
}
