//! Server configuration (SPEC §3), built once from a key lookup (libsasl2's
//! getopt) and validated as a whole: the first bad key is reported by name.

use crate::error::Error;
use crate::validate::alg::{self, Algorithm};
use crate::validate::jwt::JwtPolicy;
use std::path::PathBuf;

/// Every key the server side reads, for diagnostics.
pub const SERVER_KEYS: &[&str] = &[
    "oauth_issuer",
    "oauth_audience",
    "oauth_jwks_file",
    "oauth_algorithms",
    "oauth_username_claim",
    "oauth_required_scope",
    "oauth_scope",
    "oauth_openid_configuration",
    "oauth_accepted_hosts",
    "oauth_clock_skew",
    "oauth_cache_ttl",
];

/// Keys of the specification that this build does not implement yet: setting
/// one must not silently be ignored.
pub const NOT_YET: &[&str] = &[
    "oauth_jwks_url",
    "oauth_introspection_url",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_client_secret_file",
];

pub const DEFAULT_CLOCK_SKEW: i64 = 60;
pub const DEFAULT_CACHE_TTL: i64 = 300;
/// Entries in the positive-result cache; at ~150 bytes each, about 1.5 MB at most.
pub const CACHE_ENTRIES: usize = 10_000;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub jwt: JwtPolicy,
    pub jwks_file: PathBuf,
    /// Scope named in error challenges.
    pub challenge_scope: Option<String>,
    /// URL named in OAUTHBEARER error challenges.
    pub openid_configuration: Option<String>,
    /// When non-empty, a `host` the client sends must be one of these.
    pub accepted_hosts: Vec<String>,
    /// Seconds a positive result may be reused (never past the token's exp); 0 disables.
    pub cache_ttl: i64,
}

fn words(v: &str) -> Vec<String> {
    v.split([' ', ',', '\t'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A number of seconds from 0 to `max`, or the default when unset.
fn seconds(value: Option<String>, key: &str, default: i64, max: i64) -> Result<i64, Error> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|s| (0..=max).contains(s))
            .ok_or_else(|| bad(key, format!("must be a number of seconds from 0 to {max}"))),
    }
}

/// An error naming the key, as the single log line of a disabled server.
fn bad(key: &str, why: impl std::fmt::Display) -> Error {
    Error::config(format!("{key}: {why}"))
}

impl ServerConfig {
    /// Builds the configuration; `get` returns a key's value when it is set.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ServerConfig, Error> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        for key in NOT_YET {
            if get(key).is_some() {
                return Err(bad(
                    key,
                    "not supported by this version; use oauth_jwks_file",
                ));
            }
        }
        let require =
            |k: &str| get(k).ok_or_else(|| bad(k, "not set (required for JWT validation)"));
        let issuer = require("oauth_issuer")?;
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(bad("oauth_issuer", "must be an http(s) URL"));
        }
        let audiences = words(&require("oauth_audience")?);
        let jwks_file = PathBuf::from(require("oauth_jwks_file")?);
        let algorithms = match get("oauth_algorithms") {
            Some(v) => alg::parse_list(&v).map_err(|e| bad("oauth_algorithms", e.reason))?,
            None => alg::ALL.to_vec(),
        };
        let username_claim = get("oauth_username_claim").unwrap_or_else(|| "sub".to_owned());
        let required_scopes = get("oauth_required_scope")
            .map(|v| words(&v))
            .unwrap_or_default();
        let challenge_scope = get("oauth_scope")
            .or_else(|| (!required_scopes.is_empty()).then(|| required_scopes.join(" ")));
        let openid_configuration = get("oauth_openid_configuration").or_else(|| {
            Some(format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ))
        });
        let clock_skew = seconds(
            get("oauth_clock_skew"),
            "oauth_clock_skew",
            DEFAULT_CLOCK_SKEW,
            3600,
        )?;
        let cache_ttl = seconds(
            get("oauth_cache_ttl"),
            "oauth_cache_ttl",
            DEFAULT_CACHE_TTL,
            86_400,
        )?;
        let accepted_hosts = get("oauth_accepted_hosts")
            .map(|v| words(&v))
            .unwrap_or_default();
        Ok(ServerConfig {
            jwt: JwtPolicy {
                issuer,
                audiences,
                algorithms,
                username_claim,
                required_scopes,
                clock_skew,
            },
            jwks_file,
            challenge_scope,
            openid_configuration,
            accepted_hosts,
            cache_ttl,
        })
    }

    pub fn algorithm_names(&self) -> Vec<&'static str> {
        self.jwt
            .algorithms
            .iter()
            .map(|a: &Algorithm| a.name())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ServerConfig, Error> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ServerConfig::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("oauth_issuer", "https://issuer.test/"),
        ("oauth_audience", "imap smtp"),
        ("oauth_jwks_file", "/etc/jwks.json"),
    ];

    #[test]
    fn minimal_configuration_and_defaults() {
        let c = cfg(BASE).unwrap();
        assert_eq!(c.jwt.audiences, vec!["imap", "smtp"]);
        assert_eq!(c.jwt.username_claim, "sub");
        assert_eq!(c.jwt.clock_skew, 60);
        assert_eq!(c.jwt.algorithms.len(), 9);
        assert_eq!(c.challenge_scope, None);
        assert_eq!(
            c.openid_configuration.as_deref(),
            Some("https://issuer.test/.well-known/openid-configuration")
        );
    }

    #[test]
    fn challenge_scope_defaults_to_required_scope() {
        let mut p = BASE.to_vec();
        p.push(("oauth_required_scope", "mail imap"));
        assert_eq!(
            cfg(&p).unwrap().challenge_scope.as_deref(),
            Some("mail imap")
        );
        p.push(("oauth_scope", "https://mail.example/"));
        assert_eq!(
            cfg(&p).unwrap().challenge_scope.as_deref(),
            Some("https://mail.example/")
        );
    }

    #[test]
    fn missing_keys_are_named() {
        assert!(cfg(&[]).unwrap_err().reason.contains("oauth_issuer"));
        assert!(cfg(&BASE[..1])
            .unwrap_err()
            .reason
            .contains("oauth_audience"));
        assert!(cfg(&BASE[..2])
            .unwrap_err()
            .reason
            .contains("oauth_jwks_file"));
    }

    #[test]
    fn bad_values_are_named() {
        for (k, v) in [
            ("oauth_algorithms", "HS256"),
            ("oauth_clock_skew", "-1"),
            ("oauth_clock_skew", "soon"),
            ("oauth_cache_ttl", "999999"),
            ("oauth_issuer", "issuer.test"),
            ("oauth_jwks_url", "https://x"),
        ] {
            let mut p: Vec<(&str, &str)> =
                BASE.iter().filter(|(key, _)| *key != k).cloned().collect();
            p.push((k, v));
            assert!(cfg(&p).unwrap_err().reason.starts_with(k), "{k}={v}");
        }
    }
}
