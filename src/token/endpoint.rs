//! Requests to an OAuth 2.0 token endpoint (RFC 6749 §4.4, §6): the
//! refresh_token and client_credentials grants, and their answers. Parsing
//! is pure, for tests and fuzzing; errors name the HTTP status and the
//! OAuth `error`/`error_description`, never a secret.

use crate::error::{printable, Error, ErrorKind, OAuthStatus};
use crate::http::HttpClient;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

pub use crate::client_auth::{ClientAuth, ClientIdentity};

/// The grant a token is renewed with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    #[default]
    RefreshToken,
    ClientCredentials,
}

/// Everything a grant request needs.
pub struct GrantRequest<'a> {
    pub endpoint: &'a str,
    pub grant: Grant,
    pub refresh_token: Option<&'a Secret>,
    pub client_id: &'a str,
    pub client_secret: Option<&'a Secret>,
    pub auth: ClientAuth,
    pub scope: Option<&'a str>,
    /// RFC 8707 resource indicator, for providers that mint JWTs per resource.
    pub resource: Option<&'a str>,
}

/// A successful answer.
#[derive(Debug)]
pub struct Granted {
    pub access_token: Secret,
    pub expires_at: i64,
    /// A rotated refresh token, when the provider sent one.
    pub refresh_token: Option<Secret>,
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct RawGranted {
    access_token: Secret,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Without `expires_in` a token is assumed to live an hour (RFC 6749 leaves it open).
const DEFAULT_LIFETIME: i64 = 3600;

/// A token endpoint's verdict: tokens, or an OAuth error (RFC 6749 §5.2).
#[derive(Debug)]
pub enum Answer {
    Granted(Granted),
    Refused {
        status: u16,
        error: String,
        description: Option<String>,
    },
}

impl Answer {
    /// Tokens, or an error naming the HTTP status, `error` and `error_description`.
    pub fn into_result(self, endpoint: &str) -> Result<Granted, Error> {
        match self {
            Answer::Granted(g) => Ok(g),
            Answer::Refused {
                status,
                error,
                description,
            } => {
                let what = match description {
                    Some(d) => format!("{} ({})", printable(&error, 60), printable(&d, 200)),
                    None => printable(&error, 60),
                };
                let reason = format!(
                    "token endpoint {} answered HTTP {status}: {what}",
                    printable(endpoint, 200)
                );
                // A 400/401 with an OAuth error is a verdict on our grant
                // (revoked, expired): retrying will not help. Anything else may pass.
                let kind = match status {
                    400 | 401 => ErrorKind::Rejected(OAuthStatus::InvalidToken),
                    _ => ErrorKind::Unavailable,
                };
                Err(Error::new(kind, reason))
            }
        }
    }
}

/// Reads a token endpoint's answer (pure, for tests and fuzzing).
pub fn parse_answer(endpoint: &str, status: u16, body: &[u8], now: i64) -> Result<Answer, Error> {
    if status == 200 {
        let raw: RawGranted = serde_json::from_slice(body).map_err(|_| {
            Error::new(
                ErrorKind::Unavailable,
                format!(
                    "token endpoint {} sent an answer without access_token",
                    printable(endpoint, 200)
                ),
            )
        })?;
        if raw.access_token.is_empty() {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "token endpoint sent an empty access_token",
            ));
        }
        // Some providers (Microsoft v1) send expires_in as a string.
        let lifetime = match raw.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .filter(|l| (1..=10 * 365 * 86_400).contains(l))
        .unwrap_or(DEFAULT_LIFETIME);
        return Ok(Answer::Granted(Granted {
            access_token: raw.access_token,
            expires_at: now + lifetime,
            refresh_token: raw.refresh_token.filter(|r| !r.is_empty()),
            scope: raw.scope,
        }));
    }
    match serde_json::from_slice::<RawError>(body) {
        Ok(e) => Ok(Answer::Refused {
            status,
            error: e.error,
            description: e.error_description,
        }),
        Err(_) => Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "token endpoint {} answered HTTP {status}: no OAuth error in the answer",
                printable(endpoint, 200)
            ),
        )),
    }
}

/// POSTs a grant form to a token endpoint, authenticating as `client`.
pub fn post<'a>(
    http: &HttpClient,
    endpoint: &str,
    mut form: Vec<(&'a str, &'a str)>,
    client: &'a ClientIdentity<'a>,
    now: i64,
) -> Result<Answer, Error> {
    let basic = client.authenticate(&mut form);
    let answer = http.post_form(endpoint, &form, basic.as_ref().map(Secret::expose))?;
    parse_answer(endpoint, answer.status, &answer.body, now)
}

/// Runs a refresh_token or client_credentials grant.
pub fn request(http: &HttpClient, req: &GrantRequest<'_>, now: i64) -> Result<Granted, Error> {
    let mut form: Vec<(&str, &str)> = Vec::with_capacity(8);
    match req.grant {
        Grant::RefreshToken => {
            let rt = req.refresh_token.filter(|r| !r.is_empty()).ok_or_else(|| {
                Error::param("the token file has no refresh_token to refresh with")
            })?;
            form.push(("grant_type", "refresh_token"));
            form.push(("refresh_token", rt.expose()));
        }
        Grant::ClientCredentials => form.push(("grant_type", "client_credentials")),
    }
    if let Some(s) = req.scope.filter(|s| !s.is_empty()) {
        form.push(("scope", s));
    }
    if let Some(r) = req.resource.filter(|r| !r.is_empty()) {
        form.push(("resource", r));
    }
    let client = ClientIdentity {
        id: req.client_id,
        secret: req.client_secret,
        auth: req.auth,
    };
    post(http, req.endpoint, form, &client, now)?.into_result(req.endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_with_rotation() {
        let g = parse_answer("https://t", 200, br#"{"access_token":"new","token_type":"Bearer","expires_in":3599,"refresh_token":"rt2","scope":"mail"}"#, 1000).unwrap().into_result("t").unwrap();
        assert_eq!(g.access_token.expose(), "new");
        assert_eq!(g.expires_at, 4599);
        assert_eq!(g.refresh_token.unwrap().expose(), "rt2");
    }

    #[test]
    fn expires_in_as_string_or_missing() {
        assert_eq!(
            parse_answer("t", 200, br#"{"access_token":"a","expires_in":"60"}"#, 0)
                .unwrap()
                .into_result("t")
                .unwrap()
                .expires_at,
            60
        );
        assert_eq!(
            parse_answer("t", 200, br#"{"access_token":"a"}"#, 0)
                .unwrap()
                .into_result("t")
                .unwrap()
                .expires_at,
            3600
        );
        assert_eq!(
            parse_answer("t", 200, br#"{"access_token":"a","expires_in":-5}"#, 0)
                .unwrap()
                .into_result("t")
                .unwrap()
                .expires_at,
            3600
        );
    }

    #[test]
    fn oauth_error_is_reported_with_status_and_description() {
        let e = parse_answer(
            "https://t/token",
            400,
            br#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
            0,
        )
        .unwrap()
        .into_result("https://t/token")
        .unwrap_err();
        assert_eq!(e.reason, "token endpoint https://t/token answered HTTP 400: invalid_grant (grant request is invalid)");
        assert!(matches!(e.kind, ErrorKind::Rejected(_)));
    }

    #[test]
    fn garbage_is_unavailable() {
        assert_eq!(
            parse_answer("t", 200, b"<html>", 0).unwrap_err().kind,
            ErrorKind::Unavailable
        );
        assert_eq!(
            parse_answer("t", 502, b"", 0).unwrap_err().kind,
            ErrorKind::Unavailable
        );
        assert!(parse_answer("t", 400, b"nope", 0)
            .unwrap_err()
            .reason
            .contains("no OAuth error"));
    }
}
