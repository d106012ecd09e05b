//! OpenID Provider discovery (OpenID Connect Discovery 1.0 §4, RFC 8414):
//! `<issuer>/.well-known/openid-configuration`, fetched on first need and
//! kept for the life of the process. Its `issuer` must equal ours exactly
//! (§4.3), or an attacker-controlled document could redirect key lookups.
//! An endpoint it names in plain http to a non-loopback host is refused
//! (unless `oauth_allow_http`): a temporary failure, never a request.

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
    allow_http: bool,
    state: Mutex<State>,
}

/// Which endpoint of the document to use, and its name for messages.
pub type Pick = (&'static str, fn(&Endpoints) -> &Option<String>);
pub const JWKS_URI: Pick = ("jwks_uri", |e| &e.jwks_uri);
pub const INTROSPECTION_ENDPOINT: Pick = ("introspection_endpoint", |e| &e.introspection_endpoint);
pub const AUTHORIZATION_ENDPOINT: Pick = ("authorization_endpoint", |e| &e.authorization_endpoint);
pub const TOKEN_ENDPOINT: Pick = ("token_endpoint", |e| &e.token_endpoint);

impl Discovery {
    /// `allow_http`: oauth_allow_http, for the endpoints the document names.
    pub fn new(issuer: &str, http: Arc<HttpClient>, allow_http: bool) -> Self {
        Discovery {
            issuer: issuer.to_owned(),
            url: url_for(issuer),
            http,
            allow_http,
            state: Mutex::new(State::default()),
        }
    }

    /// One endpoint of the document, when it names one we may use.
    pub fn endpoint(&self, now: i64, (name, pick): Pick) -> Result<String, Error> {
        let endpoints = self.endpoints(now)?;
        let url = pick(&endpoints).as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                format!("the discovery document has no {name}"),
            )
        })?;
        crate::url_policy::check(url, self.allow_http).map_err(|why| {
            Error::new(
                ErrorKind::Unavailable,
                format!(
                    "refused the discovery document's {name} {}: {why}",
                    printable(url, 200)
                ),
            )
        })?;
        Ok(url.to_owned())
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
    fn discovered_plain_http_endpoints_are_a_temporary_refusal() {
        use crate::http::test_server::TestServer;
        let idp = TestServer::start("");
        let issuer = idp.base.clone();
        idp.answer(
            "HTTP/1.1 200 OK",
            &format!(
                r#"{{"issuer":"{issuer}","jwks_uri":"http://keys.invalid/jwks",
                "introspection_endpoint":"http://id.invalid/introspect",
                "token_endpoint":"{issuer}/token","authorization_endpoint":"https://id.invalid/auth"}}"#
            ),
        );
        let http = Arc::new(HttpClient::new(None, std::time::Duration::from_secs(2)).unwrap());
        let d = Discovery::new(&issuer, http.clone(), false);
        for (pick, url) in [
            (JWKS_URI, "http://keys.invalid/jwks"),
            (INTROSPECTION_ENDPOINT, "http://id.invalid/introspect"),
        ] {
            let e = d.endpoint(100, pick).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Unavailable);
            assert_eq!(
                e.reason,
                format!(
                    "refused the discovery document's {} {url}: plain http to a non-loopback \
                     host; set oauth_allow_http: yes to allow",
                    pick.0
                )
            );
        }
        // Loopback http and https are fine.
        assert_eq!(
            d.endpoint(100, TOKEN_ENDPOINT).unwrap(),
            format!("{issuer}/token")
        );
        assert!(d.endpoint(100, AUTHORIZATION_ENDPOINT).is_ok());
        let allowed = Discovery::new(&issuer, http, true);
        assert_eq!(
            allowed.endpoint(100, JWKS_URI).unwrap(),
            "http://keys.invalid/jwks"
        );
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
