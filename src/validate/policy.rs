//! The claims rules every accepted token must meet, whichever way it was
//! checked (a JWT verified locally, or an introspection answer): one policy,
//! shared by the validators of one configuration. What the token must grant
//! (scopes, roles, claim rules) and which name it logs in as are decided here.

mod claim_rule;
mod username;

pub use claim_rule::ClaimRule;
pub use username::{UsernameFormat, UsernameRule};

use super::strict_json::Object;
use super::{claims, Trace};
use crate::error::Error;

/// What the configuration asks of every token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimsPolicy {
    /// The accepted `iss` values, each exactly; at least one for JWTs.
    pub issuers: Vec<String>,
    /// A token's `aud` must name one of these (when any are set).
    pub audiences: Vec<String>,
    /// Which claim gives the login name, and how it is rewritten.
    pub username: UsernameRule,
    /// Scopes that must all be granted (`scope` or `scp`).
    pub required_scopes: Vec<String>,
    /// Roles that must all be in the roles claim (`oauth_roles_claim`:
    /// `roles` for Entra application tokens, `realm_access.roles` for Keycloak).
    pub required_roles: Vec<ClaimRule>,
    /// `name=value` rules that must all hold.
    pub required_claims: Vec<ClaimRule>,
    /// Seconds of leeway for exp, nbf and iat.
    pub clock_skew: i64,
}

impl ClaimsPolicy {
    /// The first configured issuer: the one error challenges name, and
    /// whose discovery document gives the introspection endpoint.
    pub fn first_issuer(&self) -> Option<&str> {
        self.issuers.first().map(String::as_str)
    }

    /// What a token's claims (or an introspection answer) must grant, then
    /// the login name they map to. Fails closed: every rule must hold.
    pub fn authorize(&self, c: &Object<'_>, trace: &mut dyn Trace) -> Result<String, Error> {
        // A login stops at the first refusal; with a trace (`sasl-oauth
        // check`) every rule is tried, so each outcome gets its line, and the
        // first refusal is still the verdict.
        let mut refusal: Option<Error> = None;
        let mut outcome = |r: Result<(), Error>, ok: &dyn Fn() -> String| match r {
            Ok(()) => {
                trace.note(ok);
                Ok(())
            }
            Err(e) if !trace.is_on() => Err(e),
            Err(e) => {
                trace.note(|| format!("NO  {}", e.log_text()));
                refusal.get_or_insert(e);
                Ok(())
            }
        };
        if !self.required_scopes.is_empty() {
            outcome(claims::check_scopes(c, &self.required_scopes), &|| {
                format!("ok  scope includes: {}", self.required_scopes.join(" "))
            })?;
        }
        for rule in self.required_roles.iter().chain(&self.required_claims) {
            outcome(rule.check(c), &|| format!("ok  claim rule {rule} holds"))?;
        }
        if let Some(e) = refusal {
            return Err(e);
        }
        let (authid, claim) = self.username.map(c)?;
        trace.note(|| format!("ok  identity from claim '{claim}': {authid}"));
        Ok(authid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, OAuthStatus};
    use crate::validate::strict_json::leaked;
    use crate::validate::NoTrace;
    use serde_json::{json, Value};

    fn obj(v: Value) -> Object<'static> {
        leaked(&v)
    }

    #[test]
    fn every_rule_must_hold_and_the_name_comes_last() {
        let p = ClaimsPolicy {
            username: UsernameRule::claim("email"),
            required_scopes: vec!["mail".into()],
            required_roles: vec![ClaimRule::role("roles", "Mail.Send").unwrap()],
            required_claims: vec![ClaimRule::parse("email_verified=true").unwrap()],
            ..Default::default()
        };
        let good = json!({"scp": "mail", "roles": ["Mail.Send"], "email_verified": true,
                          "email": "a@x.test"});
        assert_eq!(
            p.authorize(&obj(good.clone()), &mut NoTrace).unwrap(),
            "a@x.test"
        );
        for (k, v) in [
            ("scp", json!("other")),
            ("roles", json!([])),
            ("email_verified", json!(false)),
        ] {
            let mut bad = good.clone();
            bad[k] = v;
            let e = p.authorize(&obj(bad), &mut NoTrace).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::Rejected(OAuthStatus::InsufficientScope),
                "{k}"
            );
        }
        let mut no_name = good;
        no_name.as_object_mut().unwrap().remove("email");
        assert!(p.authorize(&obj(no_name), &mut NoTrace).is_err());
    }
}
