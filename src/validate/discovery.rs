//! OpenID Provider discovery (OpenID Connect Discovery 1.0 §4, RFC 8414):
//! `<issuer>/.well-known/openid-configuration`, fetched on first need and
//! kept for the life of the process. Its `issuer` must equal ours exactly
//! (§4.3), or an attacker-controlled document could redirect key lookups.

use super::strict_json::parse_object;
use crate::error::{printable, Error, ErrorKind};
use crate::http::HttpClient;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// After a failed fetch, logins fail fast for this long instead of each
/// waiting for the timeout again.
pub const RETRY_AFTER_FAILURE: i64 = 5;

/// The endpoints we use from the document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub jwks_uri: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
}

/// `<issuer>/.well-known/openid-configuration`, for an issuer with or without a trailing slash.
pub fn url_for(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Parses a discovery document and checks its issuer. Pure, for tests and fuzzing.
pub fn parse(doc: &[u8], issuer: &str) -> Result<Endpoints, Error> {
    let unavailable = |r: String| Error::new(ErrorKind::Unavailable, r);
    let obj = parse_object(doc)
        .ok_or_else(|| unavailable("discovery document is not a JSON object".into()))?;
    match obj.get("issuer").and_then(Value::as_str) {
        Some(i) if i == issuer => {}
        Some(i) => {
            return Err(unavailable(format!(
                "discovery document names issuer '{}'",
                printable(i, 100)
            ))
            .with_detail(format!("expected '{issuer}'")))
        }
        None => return Err(unavailable("discovery document has no issuer".into())),
    }
    let url = |k: &str| -> Option<String> {
        obj.get(k)
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .map(str::to_owned)
    };
    Ok(Endpoints {
        jwks_uri: url("jwks_uri"),
        introspection_endpoint: url("introspection_endpoint"),
        authorization_endpoint: url("authorization_endpoint"),
        token_endpoint: url("token_endpoint"),
        device_authorization_endpoint: url("device_authorization_endpoint"),
    })
}

#[derive(Default)]
struct State {
    endpoints: Option<Arc<Endpoints>>,
    failure: Option<(i64, Error)>,
}

pub struct Discovery {
    issuer: String,
    url: String,
    http: Arc<HttpClient>,
    state: Mutex<State>,
}

impl Discovery {
    pub fn new(issuer: &str, http: Arc<HttpClient>) -> Self {
        Discovery {
            issuer: issuer.to_owned(),
            url: url_for(issuer),
            http,
            state: Mutex::new(State::default()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The endpoints, fetching the document on first use. Threads wait for
    /// one fetch rather than each making their own.
    pub fn endpoints(&self, now: i64) -> Result<Arc<Endpoints>, Error> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = &state.endpoints {
            return Ok(e.clone());
        }
        if let Some((at, e)) = &state.failure {
            if now - at < RETRY_AFTER_FAILURE {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("discovery failed {} s ago: {}", now - at, e.reason),
                ));
            }
        }
        let fetched = self
            .http
            .get(&self.url)
            .and_then(|doc| parse(&doc, &self.issuer));
        match fetched {
            Ok(e) => {
                let e = Arc::new(e);
                state.endpoints = Some(e.clone());
                state.failure = None;
                Ok(e)
            }
            Err(e) => {
                let e = Error::new(ErrorKind::Unavailable, format!("discovery: {}", e.reason))
                    .with_detail(super::with_inner(self.url.clone(), &e));
                state.failure = Some((now, e.clone()));
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_with_and_without_trailing_slash() {
        assert_eq!(
            url_for("https://id.test/realms/x/"),
            "https://id.test/realms/x/.well-known/openid-configuration"
        );
        assert_eq!(
            url_for("https://id.test"),
            "https://id.test/.well-known/openid-configuration"
        );
    }

    #[test]
    fn endpoints_are_taken() {
        let e = parse(br#"{"issuer":"https://id.test","jwks_uri":"https://id.test/jwks","introspection_endpoint":"https://id.test/i","token_endpoint":"https://id.test/t"}"#, "https://id.test").unwrap();
        assert_eq!(e.jwks_uri.as_deref(), Some("https://id.test/jwks"));
        assert_eq!(
            e.introspection_endpoint.as_deref(),
            Some("https://id.test/i")
        );
        assert_eq!(e.authorization_endpoint, None);
    }

    #[test]
    fn issuer_must_match_exactly() {
        let e = parse(
            br#"{"issuer":"https://evil.test","jwks_uri":"https://evil.test/jwks"}"#,
            "https://id.test",
        )
        .unwrap_err();
        assert!(e.reason.contains("evil.test"));
        assert!(parse(br#"{"issuer":"https://id.test/"}"#, "https://id.test").is_err());
        assert!(parse(br#"{"jwks_uri":"https://id.test/jwks"}"#, "https://id.test").is_err());
    }

    #[test]
    fn garbage_is_unavailable_not_a_panic() {
        for doc in [&b"<html>"[..], b"[]", b"", b"{\"issuer\":1}"] {
            assert_eq!(
                parse(doc, "https://id.test").unwrap_err().kind,
                ErrorKind::Unavailable
            );
        }
    }

    #[test]
    fn non_http_endpoints_are_ignored() {
        let e = parse(
            br#"{"issuer":"https://id.test","jwks_uri":"file:///etc/passwd"}"#,
            "https://id.test",
        )
        .unwrap();
        assert_eq!(e.jwks_uri, None);
    }
}
