//! Server configuration (SPEC §3), built once from a key lookup (libsasl2's
//! getopt) and validated as a whole: the first bad key is reported by name.
//! Files it names (client secret) are read here, at plugin init.

use crate::client_auth::ClientAuth;
use crate::error::Error;
use crate::secret::Secret;
use crate::validate::alg::{self, Algorithm};
use crate::validate::jwt::JwtPolicy;
use crate::validate::keys::Freshness;
use std::path::PathBuf;
use std::time::Duration;

/// Every key the server side reads, for diagnostics and change detection
/// (from the option table, crate::options).
pub const SERVER_KEYS: &[&str] = crate::options::SERVER_KEYS;

pub const DEFAULT_CLOCK_SKEW: i64 = 60;
pub const DEFAULT_CACHE_TTL: i64 = 300;
pub const DEFAULT_TIMEOUT_MS: i64 = 3000;
pub const DEFAULT_JWKS_MAX_AGE: i64 = 3600;
pub const MIN_JWKS_MAX_AGE: i64 = 5;
pub const DEFAULT_JWKS_MAX_STALE: i64 = 86_400;
/// Entries in the positive-result cache; at ~150 bytes each, about 1.5 MB at most.
pub const CACHE_ENTRIES: usize = 10_000;

/// Where JWT signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysFrom {
    File(PathBuf),
    Url(String),
    /// `jwks_uri` of the issuer's discovery document.
    Discovery,
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub policy: JwtPolicy,
    pub keys: KeysFrom,
}

#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// None: `introspection_endpoint` of the discovery document.
    pub url: Option<String>,
    pub client_id: String,
    pub client_secret: Secret,
    pub auth: ClientAuth,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    pub username_claim: String,
    pub required_scopes: Vec<String>,
    pub clock_skew: i64,
    pub jwt: Option<JwtConfig>,
    pub introspection: Option<IntrospectionConfig>,
    /// Scope named in error challenges.
    pub challenge_scope: Option<String>,
    /// URL named in OAUTHBEARER error challenges.
    pub openid_configuration: Option<String>,
    /// When non-empty, a `host` the client sends must be one of these.
    pub accepted_hosts: Vec<String>,
    /// Seconds a positive result may be reused (never past the token's exp); 0 disables.
    pub cache_ttl: i64,
    /// Bound of every HTTP call to the identity provider.
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    /// Endpoints named in the draft OAUTH mechanism's challenge (else discovered).
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    /// OAUTH10A: credentials file and timestamp window (seconds).
    pub oauth10a: Option<(PathBuf, i64)>,
    /// OAUTH10A: where nonces are shared between server processes.
    pub oauth10a_nonce_dir: Option<PathBuf>,
    /// Plain http to non-loopback hosts, for URLs found by discovery too.
    pub allow_http: bool,
    /// When a remote key set is fetched again, and how long a stale one may serve.
    pub jwks_freshness: Freshness,
    /// With oauth_audience set: an introspection answer must name one in `aud`.
    pub introspection_audience_required: bool,
}

fn words(v: &str) -> Vec<String> {
    v.split([' ', ',', '\t'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An error naming the key, as the single log line of a disabled server.
fn bad(key: &str, why: impl std::fmt::Display) -> Error {
    Error::config(format!("{key}: {why}"))
}

/// A number from 0 to `max`, or the default when unset.
fn number(
    value: Option<String>,
    key: &str,
    default: i64,
    max: i64,
    unit: &str,
) -> Result<i64, Error> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|s| (0..=max).contains(s))
            .ok_or_else(|| bad(key, format!("must be a number of {unit} from 0 to {max}"))),
    }
}

/// yes/no (true/false, on/off, 1/0 too), or the default when unset.
fn yes_no(value: Option<String>, key: &str, default: bool) -> Result<bool, Error> {
    match value.map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("yes" | "true" | "on" | "1") => Ok(true),
        Some("no" | "false" | "off" | "0") => Ok(false),
        Some(_) => Err(bad(key, "must be yes or no")),
    }
}

/// An http(s) URL; plain http only to loopback unless `allow_http`.
fn url(value: String, key: &str, allow_http: bool) -> Result<String, Error> {
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err(bad(key, "must be an http(s) URL"));
    }
    crate::url_policy::check(&value, allow_http).map_err(|why| bad(key, why))?;
    Ok(value)
}

impl ServerConfig {
    /// Builds the configuration; `get` returns a key's value when it is set.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ServerConfig, Error> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let allow_http = yes_no(get("oauth_allow_http"), "oauth_allow_http", false)?;
        let url = |v: String, key: &str| url(v, key, allow_http);
        let issuer = get("oauth_issuer")
            .map(|v| url(v, "oauth_issuer"))
            .transpose()?;
        let audiences = get("oauth_audience").map(|v| words(&v)).unwrap_or_default();
        let username_claim = get("oauth_username_claim").unwrap_or_else(|| "sub".to_owned());
        let required_scopes = get("oauth_required_scope")
            .map(|v| words(&v))
            .unwrap_or_default();
        let clock_skew = number(
            get("oauth_clock_skew"),
            "oauth_clock_skew",
            DEFAULT_CLOCK_SKEW,
            3600,
            "seconds",
        )?;

        let keys = match (get("oauth_jwks_file"), get("oauth_jwks_url")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "oauth_jwks_url",
                    "set only one of oauth_jwks_file and oauth_jwks_url",
                ))
            }
            (Some(f), None) => Some(KeysFrom::File(PathBuf::from(f))),
            (None, Some(u)) => Some(KeysFrom::Url(url(u, "oauth_jwks_url")?)),
            // Issuer and audience alone: JWTs with keys found by discovery.
            (None, None) if issuer.is_some() && !audiences.is_empty() => Some(KeysFrom::Discovery),
            (None, None) => None,
        };
        let introspection_url = get("oauth_introspection_url")
            .map(|v| url(v, "oauth_introspection_url"))
            .transpose()?;
        let client_id = get("oauth_client_id");
        let oauth10a = match get("oauth10a_credentials_file") {
            None => None,
            Some(f) => Some((
                PathBuf::from(f),
                number(
                    get("oauth10a_max_skew"),
                    "oauth10a_max_skew",
                    crate::validate::oauth10a::DEFAULT_MAX_SKEW,
                    3600,
                    "seconds",
                )?,
            )),
        };
        let nothing = keys.is_none()
            && introspection_url.is_none()
            && client_id.is_none()
            && oauth10a.is_none();
        if nothing {
            let missing = if issuer.is_none() {
                "oauth_issuer"
            } else {
                "oauth_audience"
            };
            return Err(bad(
                missing,
                "not set: nothing to validate tokens with (set oauth_issuer and oauth_audience, \
                 and oauth_jwks_file, oauth_jwks_url or discovery; or oauth_introspection_url \
                 with oauth_client_id)",
            ));
        }

        let jwt = match keys {
            None => None,
            Some(keys) => {
                let issuer = issuer
                    .clone()
                    .ok_or_else(|| bad("oauth_issuer", "not set (required for JWT validation)"))?;
                if audiences.is_empty() {
                    return Err(bad(
                        "oauth_audience",
                        "not set (required for JWT validation)",
                    ));
                }
                let algorithms = match get("oauth_algorithms") {
                    Some(v) => {
                        alg::parse_list(&v).map_err(|e| bad("oauth_algorithms", e.reason))?
                    }
                    None => alg::ALL.to_vec(),
                };
                Some(JwtConfig {
                    policy: JwtPolicy {
                        issuer,
                        audiences: audiences.clone(),
                        algorithms,
                        username_claim: username_claim.clone(),
                        required_scopes: required_scopes.clone(),
                        clock_skew,
                    },
                    keys,
                })
            }
        };

        let introspection =
            match (introspection_url, client_id) {
                (None, None) => None,
                (Some(_), None) => {
                    return Err(bad(
                        "oauth_client_id",
                        "not set (required for introspection)",
                    ))
                }
                (url, Some(client_id)) => {
                    if url.is_none() && issuer.is_none() {
                        return Err(bad(
                            "oauth_introspection_url",
                            "not set, and no oauth_issuer to discover it from",
                        ));
                    }
                    let client_secret =
                        match (get("oauth_client_secret"), get("oauth_client_secret_file")) {
                            (Some(s), None) => Secret::new(s),
                            (None, Some(f)) => {
                                let text = std::fs::read_to_string(&f).map_err(|e| {
                                    bad("oauth_client_secret_file", format!("cannot read {f}: {e}"))
                                })?;
                                let secret = text.trim_end_matches(['\n', '\r']).to_owned();
                                if secret.is_empty() {
                                    return Err(bad(
                                        "oauth_client_secret_file",
                                        format!("{f} is empty"),
                                    ));
                                }
                                Secret::new(secret)
                            }
                            (Some(_), Some(_)) => return Err(bad(
                                "oauth_client_secret_file",
                                "set only one of oauth_client_secret and oauth_client_secret_file",
                            )),
                            (None, None) => {
                                return Err(bad(
                                    "oauth_client_secret",
                                    "not set (required for introspection)",
                                ))
                            }
                        };
                    let auth = match get("oauth_client_auth_method").as_deref() {
                        None | Some("client_secret_basic") => ClientAuth::Basic,
                        Some("client_secret_post") => ClientAuth::Post,
                        Some(_) => {
                            return Err(bad(
                                "oauth_client_auth_method",
                                "must be client_secret_basic or client_secret_post",
                            ))
                        }
                    };
                    Some(IntrospectionConfig {
                        url,
                        client_id,
                        client_secret,
                        auth,
                    })
                }
            };

        let introspection_audience_required = match get("oauth_introspection_audience").as_deref() {
            None | Some("required") => true,
            Some("optional") => false,
            Some(_) => {
                return Err(bad(
                    "oauth_introspection_audience",
                    "must be required or optional",
                ))
            }
        };
        let max_age = number(
            get("oauth_jwks_max_age"),
            "oauth_jwks_max_age",
            DEFAULT_JWKS_MAX_AGE,
            604_800,
            "seconds",
        )?;
        if max_age < MIN_JWKS_MAX_AGE {
            return Err(bad(
                "oauth_jwks_max_age",
                format!("must be at least {MIN_JWKS_MAX_AGE} seconds"),
            ));
        }
        let jwks_freshness = Freshness {
            max_age,
            max_stale: number(
                get("oauth_jwks_max_stale"),
                "oauth_jwks_max_stale",
                DEFAULT_JWKS_MAX_STALE,
                2_592_000,
                "seconds",
            )?,
        };

        let challenge_scope = get("oauth_scope")
            .or_else(|| (!required_scopes.is_empty()).then(|| required_scopes.join(" ")));
        let openid_configuration = get("oauth_openid_configuration")
            .map(|v| url(v, "oauth_openid_configuration"))
            .transpose()?
            .or_else(|| issuer.as_deref().map(crate::validate::discovery::url_for));
        let cache_ttl = number(
            get("oauth_cache_ttl"),
            "oauth_cache_ttl",
            DEFAULT_CACHE_TTL,
            86_400,
            "seconds",
        )?;
        let timeout_ms = number(
            get("oauth_timeout"),
            "oauth_timeout",
            DEFAULT_TIMEOUT_MS,
            60_000,
            "milliseconds",
        )?;
        if timeout_ms < 100 {
            return Err(bad("oauth_timeout", "must be at least 100 milliseconds"));
        }
        Ok(ServerConfig {
            issuer,
            audiences,
            username_claim,
            required_scopes,
            clock_skew,
            jwt,
            introspection,
            challenge_scope,
            openid_configuration,
            accepted_hosts: get("oauth_accepted_hosts")
                .map(|v| words(&v))
                .unwrap_or_default(),
            cache_ttl,
            timeout: Duration::from_millis(timeout_ms as u64),
            ca_file: get("oauth_ca_file").map(PathBuf::from),
            authorization_endpoint: get("oauth_authorization_endpoint")
                .map(|v| url(v, "oauth_authorization_endpoint"))
                .transpose()?,
            token_endpoint: get("oauth_token_endpoint")
                .map(|v| url(v, "oauth_token_endpoint"))
                .transpose()?,
            oauth10a,
            oauth10a_nonce_dir: get("oauth10a_nonce_dir").map(PathBuf::from),
            allow_http,
            jwks_freshness,
            introspection_audience_required,
        })
    }

    /// Whether any source needs the network (so an HTTP client must be built).
    pub fn uses_network(&self) -> bool {
        let keys_by_network = self
            .jwt
            .as_ref()
            .is_some_and(|j| !matches!(j.keys, KeysFrom::File(_)));
        // The draft OAUTH challenge names endpoints found by discovery unless configured.
        let endpoints_by_discovery = self.issuer.is_some()
            && (self.authorization_endpoint.is_none() || self.token_endpoint.is_none());
        self.introspection.is_some() || keys_by_network || endpoints_by_discovery
    }

    pub fn algorithm_names(&self) -> Vec<&'static str> {
        self.jwt
            .as_ref()
            .map(|j| {
                j.policy
                    .algorithms
                    .iter()
                    .map(|a: &Algorithm| a.name())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

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

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut p: Vec<_> = BASE
            .iter()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .cloned()
            .collect();
        p.extend_from_slice(extra);
        p
    }

    #[test]
    fn minimal_configuration_and_defaults() {
        let c = cfg(BASE).unwrap();
        let jwt = c.jwt.as_ref().unwrap();
        assert_eq!(jwt.policy.audiences, vec!["imap", "smtp"]);
        assert_eq!(jwt.policy.username_claim, "sub");
        assert_eq!(jwt.policy.clock_skew, 60);
        assert_eq!(jwt.policy.algorithms.len(), 9);
        assert_eq!(jwt.keys, KeysFrom::File("/etc/jwks.json".into()));
        assert!(c.introspection.is_none());
        // Only the OAUTH challenge's endpoints would be discovered.
        assert!(c.uses_network());
        let c = cfg(&with(&[
            ("oauth_authorization_endpoint", "https://i/a"),
            ("oauth_token_endpoint", "https://i/t"),
        ]))
        .unwrap();
        assert!(!c.uses_network());
        assert_eq!(c.challenge_scope, None);
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(
            c.openid_configuration.as_deref(),
            Some("https://issuer.test/.well-known/openid-configuration")
        );
    }

    #[test]
    fn issuer_and_audience_alone_mean_discovery() {
        let c = cfg(&BASE[..2]).unwrap();
        assert_eq!(c.jwt.unwrap().keys, KeysFrom::Discovery);
        assert!(
            cfg(&[("oauth_issuer", "https://i"), ("oauth_audience", "a")])
                .unwrap()
                .uses_network()
        );
    }

    #[test]
    fn jwks_url() {
        let c = cfg(&[
            ("oauth_issuer", "https://i"),
            ("oauth_audience", "a"),
            ("oauth_jwks_url", "https://i/jwks"),
        ])
        .unwrap();
        assert_eq!(c.jwt.unwrap().keys, KeysFrom::Url("https://i/jwks".into()));
        assert!(cfg(&with(&[("oauth_jwks_url", "https://i/jwks")]))
            .unwrap_err()
            .reason
            .starts_with("oauth_jwks_url"));
    }

    #[test]
    fn introspection_alone_with_explicit_url() {
        let c = cfg(&[
            ("oauth_introspection_url", "https://i/introspect"),
            ("oauth_client_id", "rs"),
            ("oauth_client_secret", "s"),
        ])
        .unwrap();
        assert!(c.jwt.is_none());
        let i = c.introspection.unwrap();
        assert_eq!(i.url.as_deref(), Some("https://i/introspect"));
        assert_eq!(i.auth, ClientAuth::Basic);
    }

    #[test]
    fn introspection_by_discovery_with_jwt() {
        let c = cfg(&[
            ("oauth_issuer", "https://i"),
            ("oauth_audience", "a"),
            ("oauth_client_id", "rs"),
            ("oauth_client_secret", "s"),
            ("oauth_client_auth_method", "client_secret_post"),
        ])
        .unwrap();
        assert!(c.jwt.is_some());
        let i = c.introspection.unwrap();
        assert_eq!(i.url, None);
        assert_eq!(i.auth, ClientAuth::Post);
    }

    #[test]
    fn oauth10a_alone() {
        let c = cfg(&[
            ("oauth10a_credentials_file", "/etc/creds.json"),
            ("oauth10a_max_skew", "120"),
        ])
        .unwrap();
        assert!(c.jwt.is_none() && c.introspection.is_none());
        assert_eq!(c.oauth10a, Some(("/etc/creds.json".into(), 120)));
        assert!(cfg(&[
            ("oauth10a_credentials_file", "/x"),
            ("oauth10a_max_skew", "-3")
        ])
        .unwrap_err()
        .reason
        .starts_with("oauth10a_max_skew"));
    }

    #[test]
    fn client_secret_file_is_read_at_once() {
        let dir = std::env::temp_dir().join(format!("sasl-oauth-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("secret");
        std::fs::write(&f, "s3cret\n").unwrap();
        let path = f.to_str().unwrap().to_owned();
        let map: HashMap<&str, String> = [
            ("oauth_introspection_url", "https://i/x".to_owned()),
            ("oauth_client_id", "rs".into()),
            ("oauth_client_secret_file", path),
        ]
        .into();
        let c = ServerConfig::from_lookup(|k| map.get(k).cloned()).unwrap();
        assert_eq!(c.introspection.unwrap().client_secret.expose(), "s3cret");
    }

    #[test]
    fn challenge_scope_defaults_to_required_scope() {
        assert_eq!(
            cfg(&with(&[("oauth_required_scope", "mail imap")]))
                .unwrap()
                .challenge_scope
                .as_deref(),
            Some("mail imap")
        );
        assert_eq!(
            cfg(&with(&[
                ("oauth_required_scope", "mail"),
                ("oauth_scope", "https://mail.example/")
            ]))
            .unwrap()
            .challenge_scope
            .as_deref(),
            Some("https://mail.example/")
        );
    }

    #[test]
    fn missing_keys_are_named() {
        assert!(cfg(&[]).unwrap_err().reason.starts_with("oauth_issuer"));
        assert!(cfg(&BASE[..1])
            .unwrap_err()
            .reason
            .starts_with("oauth_audience"));
        assert!(cfg(&[("oauth_jwks_file", "/x")])
            .unwrap_err()
            .reason
            .starts_with("oauth_issuer"));
        assert!(
            cfg(&[("oauth_issuer", "https://i"), ("oauth_jwks_file", "/x")])
                .unwrap_err()
                .reason
                .starts_with("oauth_audience")
        );
        assert!(cfg(&[("oauth_introspection_url", "https://i/x")])
            .unwrap_err()
            .reason
            .starts_with("oauth_client_id"));
        assert!(cfg(&[
            ("oauth_introspection_url", "https://i/x"),
            ("oauth_client_id", "c")
        ])
        .unwrap_err()
        .reason
        .starts_with("oauth_client_secret"));
        assert!(
            cfg(&[("oauth_client_id", "c"), ("oauth_client_secret", "s")])
                .unwrap_err()
                .reason
                .starts_with("oauth_introspection_url")
        );
    }

    /// The names from_lookup asks for, over configurations that together
    /// take every branch.
    #[test]
    fn every_key_read_is_in_the_table_and_every_table_key_is_read() {
        use std::cell::RefCell;
        let dir = std::env::temp_dir().join(format!("sasl-oauth-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("secret");
        std::fs::write(&secret, "s\n").unwrap();
        let secret = secret.to_str().unwrap().to_owned();
        let full: Vec<(&str, String)> = vec![
            ("oauth_issuer", "https://i/".into()),
            ("oauth_audience", "a".into()),
            ("oauth_jwks_file", "/etc/jwks.json".into()),
            ("oauth_algorithms", "RS256".into()),
            ("oauth_introspection_url", "https://i/x".into()),
            ("oauth_client_id", "c".into()),
            ("oauth_client_secret_file", secret),
            ("oauth_client_auth_method", "client_secret_post".into()),
            ("oauth_username_claim", "sub".into()),
            ("oauth_required_scope", "mail".into()),
            ("oauth_scope", "mail".into()),
            (
                "oauth_openid_configuration",
                "https://i/.well-known/x".into(),
            ),
            ("oauth_accepted_hosts", "h".into()),
            ("oauth_clock_skew", "1".into()),
            ("oauth_cache_ttl", "1".into()),
            ("oauth_timeout", "1000".into()),
            ("oauth_ca_file", "/etc/ca.pem".into()),
            ("oauth_authorization_endpoint", "https://i/a".into()),
            ("oauth_token_endpoint", "https://i/t".into()),
            ("oauth10a_credentials_file", "/etc/c.json".into()),
            ("oauth10a_max_skew", "1".into()),
            ("oauth10a_nonce_dir", "/var/n".into()),
        ];
        // The other branch of each either-or pair.
        let other: Vec<(&str, String)> = vec![
            ("oauth_issuer", "https://i/".into()),
            ("oauth_audience", "a".into()),
            ("oauth_jwks_url", "https://i/jwks".into()),
            ("oauth_client_id", "c".into()),
            ("oauth_client_secret", "s".into()),
        ];
        let asked = RefCell::new(HashSet::new());
        for conf in [&full, &other] {
            let map: HashMap<&str, String> = conf.iter().cloned().collect();
            ServerConfig::from_lookup(|k| {
                asked.borrow_mut().insert(k.to_owned());
                map.get(k).cloned()
            })
            .unwrap();
        }
        let asked = asked.into_inner();
        for k in &asked {
            assert!(
                SERVER_KEYS.contains(&k.as_str()),
                "{k} is read but not in the table"
            );
        }
        for k in SERVER_KEYS {
            assert!(asked.contains(*k), "{k} is in the table but never read");
        }
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused_naming_the_key() {
        let jwt = [("oauth_issuer", "https://i"), ("oauth_audience", "a")];
        let intro = [("oauth_client_id", "c"), ("oauth_client_secret", "s")];
        for (key, extra) in [
            ("oauth_issuer", &[][..]),
            ("oauth_jwks_url", &[][..]),
            ("oauth_introspection_url", &intro[..]),
            ("oauth_authorization_endpoint", &[][..]),
            ("oauth_token_endpoint", &[][..]),
            ("oauth_openid_configuration", &[][..]),
        ] {
            let mut p: Vec<(&str, &str)> = jwt.iter().filter(|(k, _)| *k != key).cloned().collect();
            p.extend_from_slice(extra);
            p.push((key, "http://id.invalid/x"));
            assert_eq!(
                cfg(&p).unwrap_err().reason,
                format!(
                    "{key}: plain http to a non-loopback host; set oauth_allow_http: yes to allow"
                ),
                "{key}"
            );
            p.push(("oauth_allow_http", "yes"));
            assert!(cfg(&p).is_ok(), "{key} with oauth_allow_http");
            p.pop();
            // Loopback (the tests' provider) needs no option.
            p.pop();
            p.push((key, "http://127.0.0.1:8080/x"));
            assert!(cfg(&p).is_ok(), "{key} on loopback");
        }
    }

    #[test]
    fn new_trust_keys_have_their_defaults() {
        let c = cfg(BASE).unwrap();
        assert!(!c.allow_http);
        assert_eq!(
            c.jwks_freshness,
            Freshness {
                max_age: 3600,
                max_stale: 86_400
            }
        );
        assert!(c.introspection_audience_required);
        let c = cfg(&with(&[
            ("oauth_allow_http", "no"),
            ("oauth_jwks_max_age", "5"),
            ("oauth_jwks_max_stale", "0"),
            ("oauth_introspection_audience", "optional"),
        ]))
        .unwrap();
        assert_eq!(
            c.jwks_freshness,
            Freshness {
                max_age: 5,
                max_stale: 0
            }
        );
        assert!(!c.introspection_audience_required);
    }

    #[test]
    fn bad_values_are_named() {
        for (k, v) in [
            ("oauth_algorithms", "HS256"),
            ("oauth_clock_skew", "-1"),
            ("oauth_clock_skew", "soon"),
            ("oauth_cache_ttl", "999999"),
            ("oauth_timeout", "5"),
            ("oauth_issuer", "issuer.test"),
            ("oauth_client_auth_method", "private_key_jwt"),
            ("oauth_allow_http", "maybe"),
            ("oauth_jwks_max_age", "4"),
            ("oauth_jwks_max_age", "forever"),
            ("oauth_jwks_max_stale", "-1"),
            ("oauth_introspection_audience", "sometimes"),
            ("oauth_openid_configuration", "id.test/config"),
        ] {
            let mut p = with(&[(k, v)]);
            if k == "oauth_client_auth_method" {
                p.extend_from_slice(&[("oauth_client_id", "c"), ("oauth_client_secret", "s")]);
            }
            assert!(cfg(&p).unwrap_err().reason.starts_with(k), "{k}={v}");
        }
    }
}
