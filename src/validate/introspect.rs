//! OAuth 2.0 Token Introspection (RFC 7662) for opaque tokens: the identity
//! provider says whether the token is active and whose it is. `active` must be
//! true; `exp`, `nbf`, `iss` and `scope` are checked when present, and `aud`
//! must name one of our audiences (when we have any) unless the
//! configuration says an answer without `aud` will do.

use super::discovery::{Discovery, INTROSPECTION_ENDPOINT};
use super::policy::ClaimsPolicy;
use super::strict_json::Object;
use super::{claims, Identity, TokenValidator, Trace};
use crate::client_auth::{ClientAuth, ClientIdentity};
use crate::error::{printable, Error, ErrorKind};
use crate::http::HttpClient;
use crate::secret::Secret;
use std::sync::Arc;

pub enum Endpoint {
    Url(String),
    Discovered(Arc<Discovery>),
}

/// What an active token must satisfy.
#[derive(Debug, Clone)]
pub struct IntrospectionPolicy {
    pub claims: Arc<ClaimsPolicy>,
    /// oauth_introspection_audience: an answer without `aud` is refused.
    pub audience_required: bool,
}

pub struct IntrospectionValidator {
    pub endpoint: Endpoint,
    pub client_id: String,
    pub client_secret: Secret,
    pub auth: ClientAuth,
    pub policy: IntrospectionPolicy,
    pub http: Arc<HttpClient>,
}

/// `active` must be true.
fn check_active(r: &Object<'_>, trace: &mut dyn Trace) -> Result<(), Error> {
    match r.get::<bool>("active") {
        Some(Ok(true)) => trace.note(|| "ok  active: true".into()),
        Some(Ok(false)) => {
            return Err(Error::invalid_token(
                "token is not active (revoked, expired or unknown to the provider)",
            ))
        }
        _ => {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "introspection response has no boolean 'active'",
            ))
        }
    }
    Ok(())
}

/// `aud` names one of our audiences; an answer without it only when allowed.
fn check_audience(
    r: &Object<'_>,
    policy: &IntrospectionPolicy,
    trace: &mut dyn Trace,
) -> Result<(), Error> {
    let rules = &*policy.claims;
    if !rules.audiences.is_empty() {
        if r.contains_key("aud") {
            claims::check_audience(r, &rules.audiences)?;
            trace.note(|| format!("ok  aud names one of: {}", rules.audiences.join(" ")));
        } else if policy.audience_required {
            // Fail closed: an answer that names no audience may be for another service.
            return Err(Error::invalid_token(
                "introspection answer has no audience (aud); \
                 oauth_introspection_audience: optional accepts that",
            ));
        } else {
            trace.note(|| {
                "ok  no aud in the answer (oauth_introspection_audience: optional)".into()
            });
        }
    }
    Ok(())
}

/// Checks an introspection response (pure: for tests and fuzzing).
pub fn judge(
    body: &[u8],
    policy: &IntrospectionPolicy,
    now: i64,
    trace: &mut dyn Trace,
) -> Result<Identity, Error> {
    let rules = &*policy.claims;
    let r = Object::parse(body).ok_or_else(|| {
        Error::new(
            ErrorKind::Unavailable,
            "introspection response is not a JSON object with unique keys",
        )
    })?;
    check_active(&r, trace)?;
    let exp = claims::numeric_date(&r, "exp")?;
    if let Some(exp) = exp {
        if now > exp.saturating_add(rules.clock_skew) {
            return Err(Error::invalid_token(format!(
                "token expired {} s ago (exp {exp})",
                now - exp
            )));
        }
        trace.note(|| format!("ok  exp in {} s", exp - now));
    }
    if let Some(nbf) = claims::numeric_date(&r, "nbf")? {
        if now.saturating_add(rules.clock_skew) < nbf {
            return Err(Error::invalid_token(format!(
                "token not yet valid: nbf is {} s in the future",
                nbf - now
            )));
        }
    }
    if !rules.issuers.is_empty() && r.contains_key("iss") {
        let issuer = claims::check_issuer(&r, &rules.issuers)?;
        trace.note(|| format!("ok  iss is {issuer}"));
    }
    check_audience(&r, policy, trace)?;
    // Fail closed: a required scope, role or claim is missing unless the
    // provider's answer lists it.
    let authid = rules.authorize(&r, trace)?;
    Ok(Identity {
        authid,
        expires_at: exp,
    })
}

impl IntrospectionValidator {
    fn url(&self, now: i64) -> Result<String, Error> {
        match &self.endpoint {
            Endpoint::Url(u) => Ok(u.clone()),
            Endpoint::Discovered(d) => d.endpoint(now, INTROSPECTION_ENDPOINT),
        }
    }
}

impl TokenValidator for IntrospectionValidator {
    fn check(&self, token: &str, now: i64, trace: &mut dyn Trace) -> Result<Identity, Error> {
        let url = self.url(now)?;
        let mut form = vec![("token", token), ("token_type_hint", "access_token")];
        let client = ClientIdentity {
            id: &self.client_id,
            secret: Some(&self.client_secret),
            auth: self.auth,
        };
        let basic = client.authenticate(&mut form);
        let response = self
            .http
            .post_form(&url, &form, basic.as_ref().map(Secret::expose))?;
        match response.status {
            200 => {}
            401 | 403 => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "introspection endpoint refused our client credentials (HTTP {}): check oauth_client_id and the secret",
                        response.status
                    ),
                )
                .with_detail(printable(&url, 200)))
            }
            s => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("introspection endpoint answered HTTP {s}"),
                )
                .with_detail(printable(&url, 200)))
            }
        }
        trace.note(|| format!("ok  introspected at {url}"));
        judge(&response.body, &self.policy, now, trace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::NoTrace;

    fn policy() -> IntrospectionPolicy {
        IntrospectionPolicy {
            claims: Arc::new(ClaimsPolicy {
                issuers: vec!["https://id.test".into()],
                audiences: vec!["imap".into()],
                username: crate::validate::policy::UsernameRule::claim("username"),
                required_scopes: vec!["mail".into()],
                clock_skew: 60,
                ..Default::default()
            }),
            audience_required: true,
        }
    }

    fn j(body: &str) -> Result<Identity, Error> {
        judge(body.as_bytes(), &policy(), 1000, &mut NoTrace)
    }

    #[test]
    fn an_answer_without_aud_is_refused_when_audiences_are_set() {
        let e = j(r#"{"active":true,"username":"alice","scope":"mail"}"#).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Rejected(crate::error::OAuthStatus::InvalidToken)
        );
        assert!(e.reason.contains("no audience"), "{}", e.reason);
    }

    #[test]
    fn aud_may_be_a_string_or_an_array() {
        assert!(j(r#"{"active":true,"username":"a","scope":"mail","aud":"imap"}"#).is_ok());
        assert!(
            j(r#"{"active":true,"username":"a","scope":"mail","aud":["smtp","imap"]}"#).is_ok()
        );
        assert!(j(r#"{"active":true,"username":"a","scope":"mail","aud":["smtp"]}"#).is_err());
        assert!(j(r#"{"active":true,"username":"a","scope":"mail","aud":[]}"#).is_err());
    }

    #[test]
    fn optional_audience_accepts_an_answer_without_aud_but_checks_a_present_one() {
        let p = IntrospectionPolicy {
            audience_required: false,
            ..policy()
        };
        let judge_with = |body: &str| judge(body.as_bytes(), &p, 1000, &mut NoTrace);
        assert!(judge_with(r#"{"active":true,"username":"a","scope":"mail"}"#).is_ok());
        assert!(
            judge_with(r#"{"active":true,"username":"a","scope":"mail","aud":"smtp"}"#).is_err()
        );
    }

    #[test]
    fn without_configured_audiences_aud_is_not_needed() {
        let p = IntrospectionPolicy {
            claims: Arc::new(ClaimsPolicy {
                audiences: vec![],
                ..(*policy().claims).clone()
            }),
            ..policy()
        };
        assert!(judge(
            br#"{"active":true,"username":"a","scope":"mail"}"#,
            &p,
            1000,
            &mut NoTrace
        )
        .is_ok());
    }

    #[test]
    fn active_token_with_all_fields() {
        let id = j(r#"{"active":true,"username":"alice","scope":"openid mail","exp":2000,"iss":"https://id.test","aud":"imap"}"#).unwrap();
        assert_eq!(id.authid, "alice");
        assert_eq!(id.expires_at, Some(2000));
    }

    #[test]
    fn minimal_active_token() {
        assert!(j(r#"{"active":true,"username":"alice","scope":"mail","aud":"imap"}"#).is_ok());
    }

    #[test]
    fn inactive_token_is_refused() {
        let e = j(r#"{"active":false}"#).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Rejected(crate::error::OAuthStatus::InvalidToken)
        );
        assert!(e.reason.contains("not active"));
    }

    #[test]
    fn garbage_is_unavailable_not_acceptance() {
        for body in [
            "",
            "[]",
            "<html>",
            r#"{"active":"true","username":"a","scope":"mail"}"#,
            r#"{"username":"a"}"#,
        ] {
            assert_eq!(j(body).unwrap_err().kind, ErrorKind::Unavailable, "{body}");
        }
    }

    #[test]
    fn present_fields_are_checked() {
        assert!(
            j(r#"{"active":true,"username":"a","scope":"mail","exp":100}"#)
                .unwrap_err()
                .reason
                .contains("expired")
        );
        assert!(
            j(r#"{"active":true,"username":"a","scope":"mail","nbf":5000}"#)
                .unwrap_err()
                .reason
                .contains("not yet")
        );
        assert!(
            j(r#"{"active":true,"username":"a","scope":"mail","iss":"https://evil"}"#)
                .unwrap_err()
                .reason
                .contains("issuer")
        );
        assert!(
            j(r#"{"active":true,"username":"a","scope":"mail","aud":"smtp"}"#)
                .unwrap_err()
                .reason
                .contains("audience")
        );
    }

    #[test]
    fn missing_scope_and_identity_fail_closed() {
        assert!(j(r#"{"active":true,"username":"a","aud":"imap"}"#)
            .unwrap_err()
            .reason
            .contains("scope"));
        assert!(
            j(r#"{"active":true,"sub":"a","scope":"mail","aud":"imap"}"#)
                .unwrap_err()
                .reason
                .contains("username")
        );
    }

    #[test]
    fn duplicate_active_is_refused() {
        assert!(j(r#"{"active":false,"active":true,"username":"a","scope":"mail"}"#).is_err());
    }
}
