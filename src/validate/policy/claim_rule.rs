//! `oauth_required_claims` rules: `name=value`, where a dotted name reaches
//! into objects (`realm_access.roles=mail`). A string claim must equal the
//! value, an array must contain it, a boolean must be `true` or `false` as
//! written, a number must be written the same, an object must have it as a
//! key (Zitadel's role map). A missing claim fails the rule.

use crate::error::Error;
use crate::validate::strict_json::Object;
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRule {
    /// The claim's path: one name, or names into nested objects.
    pub path: Vec<String>,
    pub value: String,
    /// The option that asked for it, named in the refusal.
    pub option: &'static str,
}

impl fmt::Display for ClaimRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name(), self.value)
    }
}

/// Whether a claim's value satisfies `wanted`; why not otherwise.
fn matches(v: &Value, wanted: &str) -> Result<(), &'static str> {
    let ok = match v {
        Value::String(s) => s == wanted,
        Value::Bool(b) => wanted == if *b { "true" } else { "false" },
        Value::Number(n) => n.to_string() == wanted,
        Value::Array(items) => items
            .iter()
            .any(|i| !i.is_array() && matches(i, wanted).is_ok()),
        Value::Object(o) => o.contains_key(wanted),
        Value::Null => return Err("the claim is null"),
    };
    match ok {
        true => Ok(()),
        false => Err("the claim has another value"),
    }
}

impl ClaimRule {
    /// One rule as configured; the error says what is wrong with it.
    pub fn parse(rule: &str) -> Result<ClaimRule, String> {
        let (name, value) = rule
            .split_once('=')
            .filter(|(n, v)| !n.is_empty() && !v.is_empty())
            .ok_or_else(|| format!("'{rule}' is not name=value"))?;
        Self::new(name, value, "oauth_required_claims").map_err(|why| format!("'{rule}': {why}"))
    }

    /// `oauth_required_roles`: `role` must be in the claim `roles_claim`
    /// names (`oauth_roles_claim`), by the same matching as any rule.
    pub fn role(roles_claim: &str, role: &str) -> Result<ClaimRule, String> {
        Self::new(roles_claim, role, "oauth_required_roles")
    }

    fn new(name: &str, value: &str, option: &'static str) -> Result<ClaimRule, String> {
        let path: Vec<String> = name.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!("'{name}': empty name between dots"));
        }
        Ok(ClaimRule {
            path,
            value: value.to_owned(),
            option,
        })
    }

    pub fn name(&self) -> String {
        self.path.join(".")
    }

    /// The claim the path leads to, if every step is an object holding the next.
    fn find(&self, claims: &Object<'_>) -> Option<Value> {
        let (first, rest) = self.path.split_first()?;
        let top = claims.value(first)?;
        rest.iter()
            .try_fold(&top, |v, step| v.as_object()?.get(step))
            .cloned()
    }

    /// Holds, or the refusal: its reason names the claim, never the token's
    /// value (it may be personal data) nor the configured one (log only).
    pub fn check(&self, claims: &Object<'_>) -> Result<(), Error> {
        let why = match self.find(claims) {
            None => "the token has no such claim",
            Some(v) => match matches(&v, &self.value) {
                Ok(()) => return Ok(()),
                Err(why) => why,
            },
        };
        Err(Error::insufficient_scope(format!(
            "claim rule on '{}' not met ({})",
            self.name(),
            self.option
        ))
        .with_detail(format!("rule {self}: {why}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::strict_json::leaked;
    use serde_json::json;

    fn holds(rule: &str, claims: Value) -> bool {
        ClaimRule::parse(rule)
            .unwrap()
            .check(&leaked(&claims))
            .is_ok()
    }

    #[test]
    fn strings_equal_exactly() {
        assert!(holds("tid=contoso", json!({"tid": "contoso"})));
        assert!(!holds("tid=contoso", json!({"tid": "Contoso"})));
        assert!(!holds("tid=contoso", json!({"tid": "contoso-evil"})));
    }

    #[test]
    fn arrays_contain() {
        assert!(holds(
            "groups=mail-users",
            json!({"groups": ["staff", "mail-users"]})
        ));
        assert!(!holds("groups=mail-users", json!({"groups": ["staff"]})));
        assert!(!holds(
            "groups=mail-users",
            json!({"groups": [["mail-users"]]})
        ));
    }

    #[test]
    fn booleans_and_numbers_as_written() {
        assert!(holds(
            "email_verified=true",
            json!({"email_verified": true})
        ));
        assert!(!holds(
            "email_verified=true",
            json!({"email_verified": false})
        ));
        assert!(holds(
            "email_verified=false",
            json!({"email_verified": false})
        ));
        // Okta and Google spell it as a boolean; a string "true" is a string.
        assert!(holds(
            "email_verified=true",
            json!({"email_verified": "true"})
        ));
        assert!(!holds(
            "email_verified=yes",
            json!({"email_verified": true})
        ));
        assert!(holds("ver=2", json!({"ver": 2})));
    }

    #[test]
    fn dotted_names_reach_into_objects() {
        let kc = json!({"realm_access": {"roles": ["offline_access", "mail"]}});
        assert!(holds("realm_access.roles=mail", kc.clone()));
        assert!(!holds("realm_access.roles=admin", kc.clone()));
        assert!(!holds("realm_access.groups=mail", kc.clone()));
        assert!(!holds("realm_access.roles.x=mail", kc));
        // An object's keys: Zitadel's role map.
        let z = json!({"urn:zitadel:iam:org:project:roles": {"mail": {"123": "acme"}}});
        assert!(holds("urn:zitadel:iam:org:project:roles=mail", z.clone()));
        assert!(!holds("urn:zitadel:iam:org:project:roles=admin", z));
    }

    #[test]
    fn a_missing_or_null_claim_fails() {
        assert!(!holds("hd=example.com", json!({})));
        assert!(!holds("hd=example.com", json!({"hd": null})));
    }

    #[test]
    fn the_refusal_names_the_claim_but_no_value() {
        let r = ClaimRule::parse("groups=secret-group").unwrap();
        let e = r
            .check(&leaked(&json!({"groups": ["personal-data"]})))
            .unwrap_err();
        assert!(e.reason.contains("'groups'"), "{}", e.reason);
        assert!(!e.reason.contains("secret-group") && !e.log_text().contains("personal-data"));
        assert!(e.log_text().contains("groups=secret-group"));
    }

    /// Entra application tokens list app roles in `roles`
    /// (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
    #[test]
    fn roles_are_rules_on_the_roles_claim() {
        let r = ClaimRule::role("roles", "Mail.Send").unwrap();
        let c = json!({"roles": ["Mail.Read", "Mail.Send"], "scp": "Mail.Send"});
        assert!(r.check(&leaked(&c)).is_ok());
        let e = r.check(&leaked(&json!({"scp": "Mail.Send"}))).unwrap_err();
        assert!(e.reason.contains("oauth_required_roles"), "{}", e.reason);
        let kc = ClaimRule::role("realm_access.roles", "mail").unwrap();
        assert!(kc
            .check(&leaked(&json!({"realm_access": {"roles": ["mail"]}})))
            .is_ok());
        assert!(ClaimRule::role("a..b", "x").is_err());
    }

    #[test]
    fn bad_rules() {
        for r in ["groups", "=x", "groups=", "a..b=x", ".a=x"] {
            assert!(ClaimRule::parse(r).is_err(), "{r}");
        }
        // The value may itself hold '='.
        assert_eq!(ClaimRule::parse("k=a=b").unwrap().value, "a=b");
    }
}
