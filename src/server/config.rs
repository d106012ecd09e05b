//! Server configuration, built once from a key lookup (libsasl2's getopt)
//! through the option table (crate::options), and validated as a whole: the
//! first bad key is reported by name. Files it names (client secret) are read
//! here, at plugin init.

use crate::client_auth::ClientAuth;
use crate::error::Error;
use crate::options::{bad, check_url, Lookup, Side};
use crate::secret::Secret;
use crate::validate::alg::{self, Algorithm};
use crate::validate::keys::Freshness;
use crate::validate::policy::{ClaimRule, ClaimsPolicy, UsernameFormat, UsernameRule};
use crate::validate::providers::{self, Profile};
use std::path::PathBuf;
use std::time::Duration;

/// Every key the server side reads, for diagnostics and change detection
/// (from the option table, crate::options).
pub const SERVER_KEYS: &[&str] = crate::options::SERVER_KEYS;

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

/// One accepted issuer and where its keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKeys {
    pub issuer: String,
    pub keys: KeysFrom,
}

impl IssuerKeys {
    /// Each issuer with its key source, in `oauth_issuer`'s order.
    fn pair(issuers: &[String], keys: Vec<KeysFrom>) -> Vec<IssuerKeys> {
        issuers
            .iter()
            .zip(keys)
            .map(|(issuer, keys)| IssuerKeys {
                issuer: issuer.clone(),
                keys,
            })
            .collect()
    }
}

/// JWTs verified locally (the claims rules are the shared `ServerConfig::claims`).
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// In the order of `oauth_issuer`; a token is checked with its issuer's keys only.
    pub issuers: Vec<IssuerKeys>,
    pub algorithms: Vec<Algorithm>,
    /// When a remote key set is fetched again, and how long a stale one may serve.
    pub freshness: Freshness,
}

/// Opaque tokens asked about at an introspection endpoint.
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// None: `introspection_endpoint` of the discovery document.
    pub url: Option<String>,
    pub client_id: String,
    pub client_secret: Secret,
    pub auth: ClientAuth,
    /// With oauth_audience set: an answer must name one in `aud`.
    pub audience_required: bool,
}

/// What error challenges name.
#[derive(Debug, Clone, Default)]
pub struct ChallengeConfig {
    pub scope: Option<String>,
    /// URL named in OAUTHBEARER error challenges.
    pub openid_configuration: Option<String>,
    /// Endpoints named in the draft OAUTH mechanism's challenge (else discovered).
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
}

/// Calls to the identity provider.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Bound of every call.
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    /// Plain http to non-loopback hosts, for URLs found by discovery too.
    pub allow_http: bool,
}

/// OAUTH10A signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth10aConfig {
    pub credentials_file: PathBuf,
    /// Seconds a timestamp may be off.
    pub max_skew: i64,
    /// Where nonces are shared between server processes.
    pub nonce_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The rules every token meets, however it is checked.
    pub claims: ClaimsPolicy,
    pub jwt: Option<JwtConfig>,
    pub introspection: Option<IntrospectionConfig>,
    pub challenge: ChallengeConfig,
    pub http: HttpConfig,
    pub oauth10a: Option<OAuth10aConfig>,
    /// When non-empty, a `host` the client sends must be one of these.
    pub accepted_hosts: Vec<String>,
    /// Seconds a positive result may be reused (never past the token's exp); 0 disables.
    pub cache_ttl: i64,
}

/// The server's keys, read through the table; values trimmed, empty is unset.
struct Keys<F>(Lookup<F>);

impl<F: Fn(&str) -> Option<String>> std::ops::Deref for Keys<F> {
    type Target = Lookup<F>;
    fn deref(&self) -> &Lookup<F> {
        &self.0
    }
}

/// What the first keys decide: how validation is reached at all.
struct Sources {
    /// One per issuer (or one, when no issuer is set: refused later).
    keys: Option<Vec<KeysFrom>>,
    introspection_url: Option<String>,
    client_id: Option<String>,
}

impl<F: Fn(&str) -> Option<String>> Keys<F> {
    fn claims(&self, allow_http: bool) -> Result<ClaimsPolicy, Error> {
        Ok(ClaimsPolicy {
            issuers: self.urls("oauth_issuer", allow_http)?,
            audiences: self.words("oauth_audience")?,
            username: self.username()?,
            required_scopes: self.words("oauth_required_scope")?,
            required_roles: self.roles()?,
            required_claims: self.claim_rules()?,
            clock_skew: self.number("oauth_clock_skew")?,
        })
    }

    fn username(&self) -> Result<UsernameRule, Error> {
        let mut claims = self.words("oauth_username_claim")?;
        if claims.is_empty() {
            claims.push(self.text_or_default("oauth_username_claim")?);
        }
        let format = self.text_or_default("oauth_username_format")?;
        Ok(UsernameRule {
            claims,
            format: UsernameFormat::parse(&format)
                .map_err(|why| bad("oauth_username_format", why))?,
            lowercase: self.yes_no("oauth_username_lowercase")?,
        })
    }

    /// The claim is read only when roles are required: unread, a key cannot
    /// tell two option sets apart (docs/architecture.md §4.4).
    fn roles(&self) -> Result<Vec<ClaimRule>, Error> {
        let roles = self.words("oauth_required_roles")?;
        if roles.is_empty() {
            return Ok(Vec::new());
        }
        let claim = self.text_or_default("oauth_roles_claim")?;
        roles
            .iter()
            .map(|r| ClaimRule::role(&claim, r).map_err(|why| bad("oauth_roles_claim", why)))
            .collect()
    }

    fn claim_rules(&self) -> Result<Vec<ClaimRule>, Error> {
        self.words("oauth_required_claims")?
            .iter()
            .map(|r| ClaimRule::parse(r).map_err(|why| bad("oauth_required_claims", why)))
            .collect()
    }

    fn sources(&self, claims: &ClaimsPolicy, allow_http: bool) -> Result<Sources, Error> {
        let keys = match claims.issuers.len() {
            0 | 1 => self.one_issuers_keys(claims, allow_http)?.map(|k| vec![k]),
            n => self.each_issuers_keys(n, claims, allow_http)?,
        };
        Ok(Sources {
            keys,
            introspection_url: self.url("oauth_introspection_url", allow_http)?,
            client_id: self.text("oauth_client_id")?,
        })
    }

    fn one_issuers_keys(
        &self,
        claims: &ClaimsPolicy,
        allow_http: bool,
    ) -> Result<Option<KeysFrom>, Error> {
        Ok(
            match (self.text("oauth_jwks_file")?, self.text("oauth_jwks_url")?) {
                (Some(_), Some(_)) => {
                    return Err(bad(
                        "oauth_jwks_url",
                        "set only one of oauth_jwks_file and oauth_jwks_url",
                    ))
                }
                (Some(f), None) => Some(KeysFrom::File(PathBuf::from(f))),
                (None, Some(_)) => self.url("oauth_jwks_url", allow_http)?.map(KeysFrom::Url),
                // Issuer and audience alone: JWTs with keys found by discovery.
                (None, None) if !claims.issuers.is_empty() && !claims.audiences.is_empty() => {
                    Some(KeysFrom::Discovery)
                }
                (None, None) => None,
            },
        )
    }

    /// Several issuers: `oauth_jwks_file` and `oauth_jwks_url`, when set,
    /// list one entry per issuer in `oauth_issuer`'s order, `-` where the
    /// other option (or discovery) gives that issuer's keys.
    fn each_issuers_keys(
        &self,
        n: usize,
        claims: &ClaimsPolicy,
        allow_http: bool,
    ) -> Result<Option<Vec<KeysFrom>>, Error> {
        let list = |name: &str| -> Result<Vec<Option<String>>, Error> {
            let words = self.words(name)?;
            match words.len() {
                0 => Ok(vec![None; n]),
                len if len == n => Ok(words.into_iter().map(|w| (w != "-").then_some(w)).collect()),
                len => Err(bad(
                    name,
                    format!(
                        "lists {len} entries for {n} issuers; give one per issuer of \
                         oauth_issuer, in its order, with - for an issuer whose keys come \
                         from elsewhere"
                    ),
                )),
            }
        };
        let (files, urls) = (list("oauth_jwks_file")?, list("oauth_jwks_url")?);
        let any_set = files.iter().chain(&urls).any(Option::is_some);
        if !any_set && claims.audiences.is_empty() {
            return Ok(None);
        }
        files
            .into_iter()
            .zip(urls)
            .zip(&claims.issuers)
            .map(|((file, url), issuer)| match (file, url) {
                (Some(_), Some(_)) => Err(bad(
                    "oauth_jwks_url",
                    format!("{issuer}: set only one of its oauth_jwks_file and oauth_jwks_url"),
                )),
                (Some(f), None) => Ok(KeysFrom::File(PathBuf::from(f))),
                (None, Some(u)) => check_url("oauth_jwks_url", u, allow_http).map(KeysFrom::Url),
                (None, None) => Ok(KeysFrom::Discovery),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn oauth10a(&self) -> Result<Option<OAuth10aConfig>, Error> {
        let Some(file) = self.path("oauth10a_credentials_file")? else {
            return Ok(None);
        };
        Ok(Some(OAuth10aConfig {
            credentials_file: file,
            max_skew: self.number("oauth10a_max_skew")?,
            nonce_dir: self.path("oauth10a_nonce_dir")?,
        }))
    }

    /// The JWT keys' own checks; the algorithms accepted.
    fn jwt(&self, claims: &ClaimsPolicy) -> Result<Vec<Algorithm>, Error> {
        if claims.issuers.is_empty() {
            return Err(bad("oauth_issuer", "not set (required for JWT validation)"));
        }
        if claims.audiences.is_empty() {
            return Err(bad(
                "oauth_audience",
                "not set (required for JWT validation)",
            ));
        }
        match self.text("oauth_algorithms")? {
            Some(v) => alg::parse_list(&v).map_err(|e| bad("oauth_algorithms", e.reason)),
            None => Ok(alg::ALL.to_vec()),
        }
    }

    fn introspection(
        &self,
        url: Option<String>,
        client_id: Option<String>,
        claims: &ClaimsPolicy,
    ) -> Result<Option<IntrospectionConfig>, Error> {
        let client_id = match (&url, client_id) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(bad(
                    "oauth_client_id",
                    "not set (required for introspection)",
                ))
            }
            (_, Some(id)) => id,
        };
        if url.is_none() && claims.issuers.is_empty() {
            return Err(bad(
                "oauth_introspection_url",
                "not set, and no oauth_issuer to discover it from",
            ));
        }
        let client_secret = self.client_secret()?;
        let auth = self.choice(
            "oauth_client_auth_method",
            &[
                ("client_secret_basic", ClientAuth::Basic),
                ("client_secret_post", ClientAuth::Post),
            ],
        )?;
        Ok(Some(IntrospectionConfig {
            url,
            client_id,
            client_secret,
            auth,
            audience_required: true,
        }))
    }

    /// The secret itself, or the file holding it (read now, at init).
    fn client_secret(&self) -> Result<Secret, Error> {
        match (
            self.text("oauth_client_secret")?,
            self.text("oauth_client_secret_file")?,
        ) {
            (Some(s), None) => Ok(Secret::new(s)),
            (None, Some(f)) => {
                let text = std::fs::read_to_string(&f).map_err(|e| {
                    bad("oauth_client_secret_file", format!("cannot read {f}: {e}"))
                })?;
                let secret = text.trim_end_matches(['\n', '\r']).to_owned();
                if secret.is_empty() {
                    return Err(bad("oauth_client_secret_file", format!("{f} is empty")));
                }
                Ok(Secret::new(secret))
            }
            (Some(_), Some(_)) => Err(bad(
                "oauth_client_secret_file",
                "set only one of oauth_client_secret and oauth_client_secret_file",
            )),
            (None, None) => Err(bad(
                "oauth_client_secret",
                "not set (required for introspection)",
            )),
        }
    }

    /// `oauth_introspection_audience`, checked whether or not introspection is used.
    fn introspection_audience(
        &self,
        introspection: Option<IntrospectionConfig>,
    ) -> Result<Option<IntrospectionConfig>, Error> {
        let audience_required = self.choice(
            "oauth_introspection_audience",
            &[("required", true), ("optional", false)],
        )?;
        Ok(introspection.map(|i| IntrospectionConfig {
            audience_required,
            ..i
        }))
    }

    fn freshness(&self) -> Result<Freshness, Error> {
        Ok(Freshness {
            max_age: self.number("oauth_jwks_max_age")?,
            max_stale: self.number("oauth_jwks_max_stale")?,
        })
    }

    fn challenge(&self, claims: &ClaimsPolicy, allow_http: bool) -> Result<ChallengeConfig, Error> {
        let required = &claims.required_scopes;
        Ok(ChallengeConfig {
            scope: self
                .text("oauth_scope")?
                .or_else(|| (!required.is_empty()).then(|| required.join(" "))),
            openid_configuration: self.url("oauth_openid_configuration", allow_http)?.or_else(
                || {
                    claims
                        .first_issuer()
                        .map(crate::validate::discovery::url_for)
                },
            ),
            authorization_endpoint: None,
            token_endpoint: None,
        })
    }
}

/// `oauth_provider`, and `oauth_tenant` only where the profile uses it
/// (`file` gives the keys as set).
fn chosen_profile(
    file: &impl Fn(&str) -> Option<String>,
) -> Result<Option<&'static Profile>, Error> {
    {
        let keys = Lookup::new(Side::Server, file);
        let profile = match keys.text("oauth_provider")? {
            None => None,
            Some(name) => Some(providers::find(&name).ok_or_else(|| {
                let names: Vec<&str> = providers::PROFILES.iter().map(|p| p.name).collect();
                bad("oauth_provider", format!("must be {}", names.join(", ")))
            })?),
        };
        let needs_tenant = profile.is_some_and(|p| p.needs_tenant());
        match (keys.text("oauth_tenant")?, needs_tenant) {
            (Some(_), false) => Err(bad(
                "oauth_tenant",
                "only with oauth_provider: entra (it would be ignored)",
            )),
            (Some(t), true) if !providers::is_tenant_id(&t) => Err(bad(
                "oauth_tenant",
                "must be the tenant id (a GUID, as Entra's tokens name it in iss), \
                 not a domain name, common or organizations",
            )),
            (None, true) if keys.text("oauth_issuer")?.is_none() => Err(bad(
                "oauth_tenant",
                "not set: the entra profile's issuer needs it (or set oauth_issuer)",
            )),
            _ => Ok(profile),
        }
    }
}

/// Where an effective value comes from, for `sasl-oauth check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    Profile,
    File,
}

/// Every server key with its effective value and origin (secrets as
/// `(set)`), as `from_lookup` reads them.
pub fn effective_values(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(&'static str, String, Origin)>, Error> {
    let file = |k: &str| {
        get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let profile = chosen_profile(&file)?;
    let tenant = file("oauth_tenant");
    Ok(crate::options::OPTIONS
        .iter()
        .filter(|o| o.side == Side::Server)
        .map(|o| {
            let (value, origin) = match (
                file(o.name),
                profile.and_then(|p| p.value(o.name, tenant.as_deref())),
            ) {
                (Some(v), _) => (v, Origin::File),
                (None, Some(v)) => (v, Origin::Profile),
                (None, None) => (o.default.to_owned(), Origin::Default),
            };
            let value = match (o.name, origin) {
                ("oauth_client_secret", Origin::File) => "(set)".to_owned(),
                _ => value,
            };
            (o.name, value, origin)
        })
        .collect())
}

/// Neither JWTs, introspection nor OAUTH10A: the key whose absence to name.
fn nothing_to_validate_with(claims: &ClaimsPolicy) -> Error {
    let missing = match claims.issuers.is_empty() {
        true => "oauth_issuer",
        false => "oauth_audience",
    };
    bad(
        missing,
        "not set: nothing to validate tokens with (set oauth_issuer and oauth_audience, \
         and oauth_jwks_file, oauth_jwks_url or discovery; or oauth_introspection_url \
         with oauth_client_id)",
    )
}

impl ServerConfig {
    /// Builds the configuration; `get` returns a key's value when it is set.
    /// Keys are read in a fixed order, so the first bad one is the one named.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ServerConfig, Error> {
        let file = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let profile = chosen_profile(&file)?;
        let tenant = file("oauth_tenant");
        let keys = Keys(Lookup::new(Side::Server, |k: &str| {
            file(k).or_else(|| profile.and_then(|p| p.value(k, tenant.as_deref())))
        }));
        let allow_http = keys.yes_no("oauth_allow_http")?;
        let claims = keys.claims(allow_http)?;
        if let (Some(p), true) = (profile, claims.issuers.is_empty()) {
            return Err(bad(
                "oauth_issuer",
                format!(
                    "not set: the {} profile needs it ({})",
                    p.name, p.issuer_form
                ),
            ));
        }
        let sources = keys.sources(&claims, allow_http)?;
        let oauth10a = keys.oauth10a()?;
        let nothing = sources.keys.is_none()
            && sources.introspection_url.is_none()
            && sources.client_id.is_none()
            && oauth10a.is_none();
        if nothing {
            return Err(nothing_to_validate_with(&claims));
        }
        let jwt = match sources.keys {
            Some(k) => Some((k, keys.jwt(&claims)?)),
            None => None,
        };
        let introspection =
            keys.introspection(sources.introspection_url, sources.client_id, &claims)?;
        let introspection = keys.introspection_audience(introspection)?;
        let freshness = keys.freshness()?;
        let jwt = jwt.map(|(keys, algorithms)| JwtConfig {
            issuers: IssuerKeys::pair(&claims.issuers, keys),
            algorithms,
            freshness,
        });
        let mut challenge = keys.challenge(&claims, allow_http)?;
        let cache_ttl = keys.number("oauth_cache_ttl")?;
        let timeout_ms = keys.number("oauth_timeout")?;
        let accepted_hosts = keys.words("oauth_accepted_hosts")?;
        let ca_file = keys.path("oauth_ca_file")?;
        challenge.authorization_endpoint = keys.url("oauth_authorization_endpoint", allow_http)?;
        challenge.token_endpoint = keys.url("oauth_token_endpoint", allow_http)?;
        Ok(ServerConfig {
            claims,
            jwt,
            introspection,
            challenge,
            http: HttpConfig {
                timeout: Duration::from_millis(timeout_ms as u64),
                ca_file,
                allow_http,
            },
            oauth10a,
            accepted_hosts,
            cache_ttl,
        })
    }

    /// Whether any source needs the network (so an HTTP client must be built).
    pub fn uses_network(&self) -> bool {
        let keys_by_network = self.jwt.as_ref().is_some_and(|j| {
            j.issuers
                .iter()
                .any(|i| !matches!(i.keys, KeysFrom::File(_)))
        });
        // The draft OAUTH challenge names endpoints found by discovery unless configured.
        let endpoints_by_discovery = !self.claims.issuers.is_empty()
            && (self.challenge.authorization_endpoint.is_none()
                || self.challenge.token_endpoint.is_none());
        self.introspection.is_some() || keys_by_network || endpoints_by_discovery
    }

    pub fn algorithm_names(&self) -> Vec<&'static str> {
        self.jwt
            .as_ref()
            .map(|j| j.algorithms.iter().map(|a| a.name()).collect())
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
        assert_eq!(c.claims.audiences, vec!["imap", "smtp"]);
        assert_eq!(c.claims.username, UsernameRule::claim("sub"));
        assert!(c.claims.required_claims.is_empty() && c.claims.required_roles.is_empty());
        assert_eq!(c.claims.clock_skew, 60);
        assert_eq!(jwt.algorithms.len(), 9);
        assert_eq!(jwt.issuers[0].keys, KeysFrom::File("/etc/jwks.json".into()));
        assert!(c.introspection.is_none());
        // Only the OAUTH challenge's endpoints would be discovered.
        assert!(c.uses_network());
        let c = cfg(&with(&[
            ("oauth_authorization_endpoint", "https://i/a"),
            ("oauth_token_endpoint", "https://i/t"),
        ]))
        .unwrap();
        assert!(!c.uses_network());
        assert_eq!(c.challenge.scope, None);
        assert_eq!(c.http.timeout, Duration::from_secs(3));
        assert_eq!(
            c.challenge.openid_configuration.as_deref(),
            Some("https://issuer.test/.well-known/openid-configuration")
        );
    }

    #[test]
    fn issuer_and_audience_alone_mean_discovery() {
        let c = cfg(&BASE[..2]).unwrap();
        assert_eq!(c.jwt.unwrap().issuers[0].keys, KeysFrom::Discovery);
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
        assert_eq!(
            c.jwt.unwrap().issuers[0].keys,
            KeysFrom::Url("https://i/jwks".into())
        );
        assert!(cfg(&with(&[("oauth_jwks_url", "https://i/jwks")]))
            .unwrap_err()
            .reason
            .starts_with("oauth_jwks_url"));
    }

    #[test]
    fn several_issuers_each_with_their_own_keys() {
        let c = cfg(&[
            (
                "oauth_issuer",
                "https://a.test/realms/mail https://b.test/v2.0 https://c.test",
            ),
            ("oauth_audience", "imap"),
            ("oauth_jwks_file", "/etc/a.json - -"),
            ("oauth_jwks_url", "- https://b.test/keys -"),
        ])
        .unwrap();
        let keys: Vec<(&str, &KeysFrom)> = c
            .jwt
            .as_ref()
            .unwrap()
            .issuers
            .iter()
            .map(|i| (i.issuer.as_str(), &i.keys))
            .collect();
        assert_eq!(
            keys,
            [
                (
                    "https://a.test/realms/mail",
                    &KeysFrom::File("/etc/a.json".into())
                ),
                (
                    "https://b.test/v2.0",
                    &KeysFrom::Url("https://b.test/keys".into())
                ),
                ("https://c.test", &KeysFrom::Discovery),
            ]
        );
        assert_eq!(c.claims.first_issuer(), Some("https://a.test/realms/mail"));
        assert_eq!(
            c.challenge.openid_configuration.as_deref(),
            Some("https://a.test/realms/mail/.well-known/openid-configuration")
        );
        // Issuers alone (with an audience): each by its own discovery.
        let c = cfg(&[
            ("oauth_issuer", "https://a.test https://b.test"),
            ("oauth_audience", "imap"),
        ])
        .unwrap();
        assert!(c
            .jwt
            .unwrap()
            .issuers
            .iter()
            .all(|i| i.keys == KeysFrom::Discovery));
    }

    #[test]
    fn several_issuers_with_misaligned_or_double_keys_are_refused() {
        let two = ("oauth_issuer", "https://a.test https://b.test");
        for (extra, key) in [
            (vec![("oauth_jwks_file", "/etc/a.json")], "oauth_jwks_file"),
            (
                vec![(
                    "oauth_jwks_url",
                    "https://a.test/k https://b.test/k https://c.test/k",
                )],
                "oauth_jwks_url",
            ),
            (
                vec![
                    ("oauth_jwks_file", "/a -"),
                    ("oauth_jwks_url", "https://a.test/k -"),
                ],
                "oauth_jwks_url",
            ),
            (
                vec![("oauth_jwks_url", "- http://b.invalid/k")],
                "oauth_jwks_url",
            ),
        ] {
            let mut p = vec![two, ("oauth_audience", "imap")];
            p.extend(extra);
            let e = cfg(&p).unwrap_err();
            assert!(e.reason.starts_with(key), "{key}: {}", e.reason);
        }
        let e = cfg(&[
            ("oauth_issuer", "https://a.test http://b.invalid"),
            ("oauth_audience", "imap"),
        ])
        .unwrap_err();
        assert!(e.reason.starts_with("oauth_issuer"), "{}", e.reason);
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
        assert_eq!(
            c.oauth10a,
            Some(OAuth10aConfig {
                credentials_file: "/etc/creds.json".into(),
                max_skew: 120,
                nonce_dir: None,
            })
        );
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
                .challenge
                .scope
                .as_deref(),
            Some("mail imap")
        );
        assert_eq!(
            cfg(&with(&[
                ("oauth_required_scope", "mail"),
                ("oauth_scope", "https://mail.example/")
            ]))
            .unwrap()
            .challenge
            .scope
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
            ("oauth_username_claim", "preferred_username sub".into()),
            ("oauth_username_format", "%n".into()),
            ("oauth_username_lowercase", "yes".into()),
            ("oauth_required_claims", "groups=mail".into()),
            ("oauth_required_roles", "Mail.Send".into()),
            ("oauth_roles_claim", "realm_access.roles".into()),
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
        // The other branch of each either-or pair; a profile and its tenant.
        let other: Vec<(&str, String)> = vec![
            ("oauth_provider", "entra".into()),
            (
                "oauth_tenant",
                "9188040d-6c67-4c5b-b112-36a304b66dad".into(),
            ),
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
        let intro = [("oauth_client_id", "c"), ("oauth_client_secret", "s")];
        let c = cfg(&with(&intro)).unwrap();
        assert!(!c.http.allow_http);
        assert_eq!(
            c.jwt.unwrap().freshness,
            Freshness {
                max_age: 3600,
                max_stale: 86_400
            }
        );
        assert!(c.introspection.unwrap().audience_required);
        let c = cfg(&with(&[
            ("oauth_allow_http", "no"),
            ("oauth_jwks_max_age", "5"),
            ("oauth_jwks_max_stale", "0"),
            ("oauth_introspection_audience", "optional"),
            intro[0],
            intro[1],
        ]))
        .unwrap();
        assert_eq!(
            c.jwt.unwrap().freshness,
            Freshness {
                max_age: 5,
                max_stale: 0
            }
        );
        assert!(!c.introspection.unwrap().audience_required);
    }

    #[test]
    fn claim_rules_and_username_mapping() {
        let c = cfg(&with(&[
            (
                "oauth_required_claims",
                "realm_access.roles=mail email_verified=true",
            ),
            ("oauth_required_roles", "Mail.Send"),
            ("oauth_username_claim", "preferred_username upn email"),
            ("oauth_username_format", "%n"),
            ("oauth_username_lowercase", "yes"),
        ]))
        .unwrap();
        let rules: Vec<String> = c
            .claims
            .required_claims
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(rules, ["realm_access.roles=mail", "email_verified=true"]);
        let roles: Vec<String> = c
            .claims
            .required_roles
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(roles, ["roles=Mail.Send"]);
        assert_eq!(
            c.claims.username.claims,
            ["preferred_username", "upn", "email"]
        );
        assert!(c.claims.username.lowercase && !c.claims.username.format.is_identity());
    }

    const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

    /// The entra profile: issuer from the tenant, preferred_username then
    /// upn, roles in `roles`
    /// (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
    #[test]
    fn a_profile_fills_defaults_and_the_file_overrides_each() {
        let c = cfg(&[
            ("oauth_provider", "entra"),
            ("oauth_tenant", TENANT),
            ("oauth_audience", "api://mail"),
            ("oauth_required_roles", "Mail.Send"),
        ])
        .unwrap();
        assert_eq!(
            c.claims.issuers,
            [format!("https://login.microsoftonline.com/{TENANT}/v2.0")]
        );
        assert_eq!(c.claims.username.claims, ["preferred_username", "upn"]);
        assert_eq!(c.claims.required_roles[0].to_string(), "roles=Mail.Send");
        assert_eq!(c.jwt.unwrap().issuers[0].keys, KeysFrom::Discovery);
        let c = cfg(&[
            ("oauth_provider", "keycloak"),
            ("oauth_issuer", "https://kc.test/realms/mail"),
            ("oauth_audience", "imap"),
            ("oauth_required_roles", "mail"),
            ("oauth_username_claim", "email"),
        ])
        .unwrap();
        assert_eq!(
            c.claims.required_roles[0].to_string(),
            "realm_access.roles=mail"
        );
        assert_eq!(c.claims.username.claims, ["email"]);
        let c = cfg(&[
            ("oauth_provider", "google"),
            ("oauth_audience", "123.apps.googleusercontent.com"),
        ])
        .unwrap();
        assert_eq!(c.claims.issuers, ["https://accounts.google.com"]);
        assert_eq!(c.claims.username.claims, ["email"]);
    }

    #[test]
    fn profiles_refuse_what_would_be_ignored_or_never_match() {
        for (pairs, key) in [
            (vec![("oauth_provider", "auth0")], "oauth_provider"),
            (vec![("oauth_provider", "entra")], "oauth_tenant"),
            (
                vec![("oauth_provider", "entra"), ("oauth_tenant", "common")],
                "oauth_tenant",
            ),
            (
                vec![
                    ("oauth_provider", "entra"),
                    ("oauth_tenant", "contoso.onmicrosoft.com"),
                ],
                "oauth_tenant",
            ),
            (
                vec![("oauth_provider", "keycloak"), ("oauth_tenant", TENANT)],
                "oauth_tenant",
            ),
            (vec![("oauth_tenant", TENANT)], "oauth_tenant"),
            (vec![("oauth_provider", "keycloak")], "oauth_issuer"),
        ] {
            let mut p = pairs.clone();
            p.push(("oauth_audience", "imap"));
            let e = cfg(&p).unwrap_err();
            assert!(e.reason.starts_with(key), "{pairs:?}: {}", e.reason);
        }
        let e = cfg(&[("oauth_provider", "keycloak"), ("oauth_audience", "imap")]).unwrap_err();
        assert!(
            e.reason.contains("https://<host>/realms/<realm>"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn effective_values_name_their_origin() {
        let map: HashMap<&str, &str> = [
            ("oauth_provider", "entra"),
            ("oauth_tenant", TENANT),
            ("oauth_username_claim", "upn"),
            ("oauth_client_secret", "s3cret"),
        ]
        .into();
        let v = effective_values(|k| map.get(k).map(|v| v.to_string())).unwrap();
        let of = |key: &str| {
            v.iter()
                .find(|(k, _, _)| *k == key)
                .map(|(_, v, o)| (v.clone(), *o))
                .unwrap()
        };
        assert_eq!(of("oauth_issuer").1, Origin::Profile);
        assert_eq!(of("oauth_username_claim"), ("upn".into(), Origin::File));
        assert_eq!(of("oauth_roles_claim"), ("roles".into(), Origin::Profile));
        assert_eq!(of("oauth_clock_skew"), ("60".into(), Origin::Default));
        assert_eq!(of("oauth_client_secret"), ("(set)".into(), Origin::File));
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
            ("oauth_required_claims", "groups"),
            ("oauth_required_claims", "a=b c."),
            ("oauth_username_format", "%x"),
            ("oauth_username_lowercase", "sometimes"),
        ] {
            let mut p = with(&[(k, v)]);
            if k == "oauth_client_auth_method" {
                p.extend_from_slice(&[("oauth_client_id", "c"), ("oauth_client_secret", "s")]);
            }
            assert!(cfg(&p).unwrap_err().reason.starts_with(k), "{k}={v}");
        }
    }
}
