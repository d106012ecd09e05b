//! The login name a token maps to: the first of `oauth_username_claim`'s
//! claims that is a non-empty string, put into `oauth_username_format`
//! (`%u` whole, `%n` before the last `@`, `%d` after it, `%%` a percent sign),
//! then lowercased when `oauth_username_lowercase` says so. The result is
//! what canon_user gets.

use crate::error::Error;
use crate::validate::strict_json::Object;

/// The longest user name handed to the application.
const MAX_NAME: usize = 255;

/// One piece of `oauth_username_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Whole,
    Local,
    Domain,
}

/// `oauth_username_format`, parsed at init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameFormat(Vec<Piece>);

impl Default for UsernameFormat {
    fn default() -> Self {
        UsernameFormat(vec![Piece::Whole])
    }
}

impl UsernameFormat {
    pub fn parse(format: &str) -> Result<UsernameFormat, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                text.push(c);
                continue;
            }
            let piece = match chars.next() {
                Some('%') => {
                    text.push('%');
                    continue;
                }
                Some('u') => Piece::Whole,
                Some('n') => Piece::Local,
                Some('d') => Piece::Domain,
                other => {
                    let got = other.map(|c| format!("%{c}")).unwrap_or_else(|| "%".into());
                    return Err(format!("{got} is not %u, %n, %d or %%"));
                }
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(piece);
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        if !pieces.iter().any(|p| !matches!(p, Piece::Text(_))) {
            return Err("names none of %u, %n, %d".into());
        }
        Ok(UsernameFormat(pieces))
    }

    pub fn apply(&self, name: &str) -> String {
        let (local, domain) = name.rsplit_once('@').unwrap_or((name, ""));
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Whole => name,
                Piece::Local => local,
                Piece::Domain => domain,
            })
            .collect()
    }

    pub fn is_identity(&self) -> bool {
        self.0 == [Piece::Whole]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameRule {
    /// Tried in order.
    pub claims: Vec<String>,
    pub format: UsernameFormat,
    pub lowercase: bool,
}

impl Default for UsernameRule {
    fn default() -> Self {
        UsernameRule::claim("sub")
    }
}

fn usable(s: &str) -> bool {
    s.len() <= MAX_NAME && !s.chars().any(char::is_control)
}

impl UsernameRule {
    /// One claim, taken as is.
    pub fn claim(name: &str) -> UsernameRule {
        UsernameRule {
            claims: vec![name.to_owned()],
            format: UsernameFormat::default(),
            lowercase: false,
        }
    }

    /// The mapped name and the claim it came from. The claim's original
    /// value goes nowhere else: it may be personal data.
    pub fn map<'a>(&'a self, c: &Object<'_>) -> Result<(String, &'a str), Error> {
        let found = self.claims.iter().find_map(|name| match c.str(name) {
            Some(s) if !s.is_empty() => Some((name.as_str(), s)),
            _ => None,
        });
        let names = || {
            let quoted: Vec<String> = self.claims.iter().map(|n| format!("'{n}'")).collect();
            quoted.join(", ")
        };
        // The claim names are what the client's token lacks, not a secret of
        // the configuration: the client is told them.
        let Some((claim, original)) = found else {
            return Err(Error::invalid_token(format!(
                "token has no string claim {} for the user name (oauth_username_claim)",
                names()
            )));
        };
        if !usable(&original) {
            return Err(Error::invalid_token(format!(
                "the user name claim '{claim}' is too long or has control characters"
            )));
        }
        let mut name = self.format.apply(&original);
        if self.lowercase {
            name = name.to_lowercase();
        }
        if name.is_empty() || !usable(&name) {
            return Err(Error::invalid_token(format!(
                "the user name from claim '{claim}' is empty or too long after oauth_username_format"
            )));
        }
        Ok((name, claim))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(claims: &[&str], format: &str, lowercase: bool) -> UsernameRule {
        UsernameRule {
            claims: claims.iter().map(|s| s.to_string()).collect(),
            format: UsernameFormat::parse(format).unwrap(),
            lowercase,
        }
    }

    fn map(r: &UsernameRule, v: serde_json::Value) -> Result<String, Error> {
        r.map(&crate::validate::strict_json::leaked(&v))
            .map(|(n, _)| n)
    }

    #[test]
    fn first_present_non_empty_string_wins() {
        let r = rule(&["preferred_username", "upn", "email", "sub"], "%u", false);
        assert_eq!(
            map(&r, json!({"upn": "u@x", "email": "e@x", "sub": "s"})).unwrap(),
            "u@x"
        );
        assert_eq!(
            map(
                &r,
                json!({"preferred_username": "", "upn": 5, "email": "e@x"})
            )
            .unwrap(),
            "e@x"
        );
        assert_eq!(map(&r, json!({"sub": "s"})).unwrap(), "s");
        let e = map(&r, json!({"oid": "o"})).unwrap_err();
        assert!(
            e.reason.contains("'upn'") && e.reason.contains("oauth_username_claim"),
            "{e:?}"
        );
    }

    #[test]
    fn a_winning_claim_that_is_unusable_fails_closed() {
        let r = rule(&["email", "sub"], "%u", false);
        assert!(map(&r, json!({"email": "a\nb", "sub": "s"})).is_err());
        assert!(map(&r, json!({"email": "x".repeat(256), "sub": "s"})).is_err());
    }

    #[test]
    fn format_parts_and_lowercase() {
        let v = json!({"email": "Alice.Smith@Example.COM"});
        assert_eq!(
            map(&rule(&["email"], "%n", false), v.clone()).unwrap(),
            "Alice.Smith"
        );
        assert_eq!(
            map(&rule(&["email"], "%d", false), v.clone()).unwrap(),
            "Example.COM"
        );
        assert_eq!(
            map(&rule(&["email"], "%n@mail.test", true), v.clone()).unwrap(),
            "alice.smith@mail.test"
        );
        assert_eq!(
            map(&rule(&["email"], "%u", true), v).unwrap(),
            "alice.smith@example.com"
        );
        assert_eq!(
            map(&rule(&["sub"], "%n", false), json!({"sub": "bob"})).unwrap(),
            "bob"
        );
        assert_eq!(
            map(&rule(&["sub"], "100%%-%u", false), json!({"sub": "b"})).unwrap(),
            "100%-b"
        );
        // No domain to take: an empty name is refused, never passed on.
        assert!(map(&rule(&["sub"], "%d", false), json!({"sub": "bob"})).is_err());
    }

    #[test]
    fn bad_formats() {
        for f in ["%x", "%", "plain", "", "a%"] {
            assert!(UsernameFormat::parse(f).is_err(), "{f}");
        }
        assert!(UsernameFormat::parse("%u").unwrap().is_identity());
    }
}
