//! Checks on a JWT claims set (RFC 7519 §4.1, RFC 9068 §4). Each function
//! returns the reason an administrator reads when the check fails.

use super::strict_json::{Object, Strings};
use crate::error::{printable, Error};
use serde_json::Number;
use std::borrow::Cow;

/// The largest NumericDate we take (year 5138): beyond it the value is garbage.
const MAX_NUMERIC_DATE: f64 = 1e11;

/// A NumericDate claim: absent is `Ok(None)`; anything but a sane number is an error.
pub fn numeric_date(claims: &Object<'_>, name: &str) -> Result<Option<i64>, Error> {
    match claims.get::<Number>(name) {
        None => Ok(None),
        Some(Ok(n)) => match n.as_f64() {
            Some(f) if f.is_finite() && (0.0..MAX_NUMERIC_DATE).contains(&f) => Ok(Some(f as i64)),
            _ => Err(Error::invalid_token(format!(
                "claim '{name}' is out of range"
            ))),
        },
        Some(Err(())) => Err(Error::invalid_token(format!(
            "claim '{name}' is not a number"
        ))),
    }
}

/// `exp` (required by RFC 9068), `nbf`, `iat`, each with `skew` seconds of
/// leeway; returns `exp`.
pub fn check_times(claims: &Object<'_>, now: i64, skew: i64) -> Result<i64, Error> {
    let exp = numeric_date(claims, "exp")?
        .ok_or_else(|| Error::invalid_token("token has no 'exp' claim"))?;
    if now > exp.saturating_add(skew) {
        return Err(
            Error::invalid_token(format!("token expired {} s ago (exp {exp})", now - exp))
                .with_detail(format!("clock skew {skew} s")),
        );
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now.saturating_add(skew) < nbf {
            return Err(Error::invalid_token(format!(
                "token not yet valid: nbf is {} s in the future",
                nbf - now
            ))
            .with_detail(format!("clock skew {skew} s")));
        }
    }
    if let Some(iat) = numeric_date(claims, "iat")? {
        if now.saturating_add(skew) < iat {
            return Err(Error::invalid_token(format!(
                "token not yet valid: issued {} s in the future",
                iat - now
            ))
            .with_detail(format!("clock skew {skew} s")));
        }
    }
    Ok(exp)
}

/// `iss` is exactly one of the configured issuers; returns which.
pub fn check_issuer<'a>(claims: &Object<'_>, expected: &'a [String]) -> Result<&'a str, Error> {
    match claims.text("iss") {
        Some(Ok(iss)) => match expected.iter().find(|e| **e == iss) {
            Some(e) => Ok(e),
            None => Err(Error::invalid_token(format!(
                "issuer mismatch: token has '{}'",
                printable(&iss, 100)
            ))
            .with_detail(format!("expected '{}'", expected.join("' or '")))),
        },
        _ => Err(Error::invalid_token(
            "issuer mismatch: token has no 'iss' string",
        )),
    }
}

/// `aud` is a string or an array of strings; one must be ours.
pub fn check_audience(claims: &Object<'_>, accepted: &[String]) -> Result<(), Error> {
    let ours = |a: &str| accepted.iter().any(|x| x == a);
    // A single string (the usual form) is read without collecting a list.
    let ok = match claims.text("aud") {
        Some(Ok(a)) => ours(&a),
        Some(Err(())) => match claims.get::<Strings>("aud") {
            Some(Ok(Strings(list))) => list.iter().any(|a| ours(a)),
            _ => false,
        },
        None => {
            return Err(Error::invalid_token(
                "audience mismatch: token has no 'aud' claim",
            ))
        }
    };
    if ok {
        Ok(())
    } else {
        let shown = printable(claims.raw("aud").unwrap_or_default(), 100);
        Err(
            Error::invalid_token(format!("audience mismatch: token is for {shown}"))
                .with_detail(format!("accepted: {}", accepted.join(" "))),
        )
    }
}

/// The granted scopes: `scope` (RFC 9068, space-separated) or `scp`
/// (Microsoft Entra: a space-separated string or an array of scopes).
pub fn scopes<'a>(claims: &Object<'a>) -> Vec<Cow<'a, str>> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.text(name) {
            Some(Ok(Cow::Borrowed(s))) => out.extend(words(s).map(Cow::Borrowed)),
            Some(Ok(Cow::Owned(s))) => out.extend(words(&s).map(|w| Cow::Owned(w.into()))),
            Some(Err(())) => {
                if let Some(Ok(Strings(list))) = claims.get::<Strings>(name) {
                    out.extend(list);
                }
            }
            None => {}
        }
    }
    out
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|w| !w.is_empty())
}

/// The `required` names not among `granted`.
fn missing<'a>(required: &'a [String], granted: &[Cow<'_, str>]) -> Vec<&'a str> {
    required
        .iter()
        .map(String::as_str)
        .filter(|r| !granted.iter().any(|g| g == r))
        .collect()
}

/// Whether every required scope is in `granted`, a space-separated string.
fn all_in_words(required: &[String], granted: &str) -> bool {
    required.iter().all(|r| words(granted).any(|w| w == r))
}

pub fn check_scopes(claims: &Object<'_>, required: &[String]) -> Result<(), Error> {
    // The usual form, one `scope` string, is checked without collecting a list.
    if !claims.contains_key("scp") {
        if let Some(Ok(granted)) = claims.text("scope") {
            if all_in_words(required, &granted) {
                return Ok(());
            }
        }
    }
    let missing = missing(required, &scopes(claims));
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::insufficient_scope("missing a required scope")
            .with_detail(format!("missing: {}", missing.join(" "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The claims set of `v`'s JSON text (leaked: tests only).
    fn obj(v: Value) -> Object<'static> {
        Object::parse(Box::leak(v.to_string().into_bytes().into_boxed_slice())).unwrap()
    }

    #[test]
    fn valid_times() {
        assert!(check_times(&obj(json!({"exp": 1000, "nbf": 900, "iat": 900})), 950, 0).is_ok());
    }

    #[test]
    fn expired_beyond_skew() {
        let e = check_times(&obj(json!({"exp": 1000})), 1061, 60).unwrap_err();
        assert!(e.reason.contains("expired"));
        assert!(check_times(&obj(json!({"exp": 1000})), 1060, 60).is_ok());
    }

    #[test]
    fn not_yet_valid() {
        let e = check_times(&obj(json!({"exp": 5000, "nbf": 2000})), 1000, 60).unwrap_err();
        assert!(e.reason.contains("not yet valid"));
        let e = check_times(&obj(json!({"exp": 5000, "iat": 2000})), 1000, 60).unwrap_err();
        assert!(e.reason.contains("not yet valid"));
    }

    #[test]
    fn missing_or_bad_exp() {
        assert!(check_times(&obj(json!({})), 1, 0).is_err());
        assert!(check_times(&obj(json!({"exp": "9999999999"})), 1, 0).is_err());
        assert!(check_times(&obj(json!({"exp": 1e300})), 1, 0).is_err());
        assert!(check_times(&obj(json!({"exp": -5})), 1, 0).is_err());
        assert!(check_times(&obj(json!({"exp": 18446744073709551615u64})), 1, 0).is_err());
    }

    #[test]
    fn issuer() {
        let a = ["https://a".to_owned()];
        assert!(check_issuer(&obj(json!({"iss": "https://a"})), &a).is_ok());
        assert!(check_issuer(&obj(json!({"iss": "https://a/"})), &a)
            .unwrap_err()
            .reason
            .contains("issuer"));
        assert!(check_issuer(&obj(json!({"iss": 1})), &a).is_err());
        let two = ["https://a".to_owned(), "https://b".to_owned()];
        assert_eq!(
            check_issuer(&obj(json!({"iss": "https://b"})), &two).unwrap(),
            "https://b"
        );
        assert!(check_issuer(&obj(json!({"iss": "https://c"})), &two).is_err());
        assert!(check_issuer(&obj(json!({"iss": "https://a"})), &[]).is_err());
    }

    #[test]
    fn audience_string_or_array() {
        let acc = vec!["imap".to_owned(), "smtp".to_owned()];
        assert!(check_audience(&obj(json!({"aud": "smtp"})), &acc).is_ok());
        assert!(check_audience(&obj(json!({"aud": ["x", "imap"]})), &acc).is_ok());
        assert!(check_audience(&obj(json!({"aud": ["x"]})), &acc)
            .unwrap_err()
            .reason
            .contains("audience"));
        assert!(check_audience(&obj(json!({})), &acc).is_err());
    }

    #[test]
    fn scopes_from_scope_and_scp() {
        let req = vec!["mail".to_owned()];
        assert!(check_scopes(&obj(json!({"scope": "openid mail"})), &req).is_ok());
        assert!(check_scopes(&obj(json!({"scp": ["mail"]})), &req).is_ok());
        assert!(check_scopes(&obj(json!({"scp": "mail other"})), &req).is_ok());
        let e = check_scopes(&obj(json!({"scope": "openid"})), &req).unwrap_err();
        assert!(e.reason.contains("scope"));
        assert!(check_scopes(&obj(json!({"scope": "mailx"})), &req).is_err());
    }

    /// The reason may reach the client (errdetail): it names the failed check
    /// but no configured value; the log line (log_text) keeps them.
    #[test]
    fn configured_values_reach_only_the_log() {
        let now = 1_000_000;
        let cases = [
            (
                check_issuer(
                    &obj(json!({"iss": "https://evil"})),
                    &["https://conf-iss".into()],
                )
                .map(|_| ()),
                "https://conf-iss",
            ),
            (
                check_audience(&obj(json!({"aud": "web"})), &["conf-aud".into()]),
                "conf-aud",
            ),
            (
                check_scopes(&obj(json!({"scope": "a"})), &["conf-scope".into()]),
                "conf-scope",
            ),
            (
                check_times(&obj(json!({"exp": now - 500})), now, 123).map(|_| ()),
                "123 s",
            ),
            (
                check_times(&obj(json!({"exp": now + 9, "nbf": now + 500})), now, 123).map(|_| ()),
                "123 s",
            ),
            (
                check_times(&obj(json!({"exp": now + 9, "iat": now + 500})), now, 123).map(|_| ()),
                "123 s",
            ),
        ];
        for (result, configured) in cases {
            let e = result.unwrap_err();
            assert!(!e.reason.contains(configured), "{e:?}");
            assert!(e.log_text().contains(configured), "{e:?}");
        }
    }
}
