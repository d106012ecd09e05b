//! The composition root: from a validated configuration, read every file
//! (key set, trust anchors, OAUTH10A credentials), build the HTTP client and
//! wire the validators and discovery into what the server side runs with.
//! Runs at init, before any chroot; the network is used only later, lazily.

use crate::error::Error;
use crate::http::HttpClient;
use crate::server::config::{
    JwtConfig, KeysFrom, OAuth10aConfig, ServerConfig, SharedStore, CACHE_ENTRIES,
};
use crate::server::{ChallengeInfo, EndpointFinder, ServerRuntime};
use crate::validate::cache::CachedValidator;
use crate::validate::discovery::{Discovery, Pick};
use crate::validate::introspect::{Endpoint, IntrospectionPolicy, IntrospectionValidator};
use crate::validate::jwt::{JwtPolicy, JwtValidator};
use crate::validate::keys::{KeySource, KeyStore};
use crate::validate::nonce_dir::NonceDir;
use crate::validate::oauth10a::OAuth10aVerifier;
use crate::validate::router::Router;
use crate::validate::store::lmdb::LmdbStore;
use crate::validate::store::redis::{RedisStore, RedisTarget};
use crate::validate::store::{read_key_file, SharedCache, Store};
use crate::validate::{unix_now, TokenValidator};
use std::sync::Arc;

impl EndpointFinder for Discovery {
    fn endpoint(&self, now: i64, pick: Pick) -> Result<String, Error> {
        Discovery::endpoint(self, now, pick)
    }
}

impl ServerRuntime {
    /// Reads every file and builds the validators (see the module).
    pub fn from_config(config: &ServerConfig) -> Result<ServerRuntime, Error> {
        let wired = Wiring::new(config)?;
        let shared = shared_cache(config)?;
        let validator: Option<Box<dyn TokenValidator>> = match wired.router(config, unix_now())? {
            Some(r) => {
                let cached = CachedValidator::new(r, CACHE_ENTRIES, config.cache_ttl);
                Some(Box::new(match &shared {
                    Some(s) => cached.with_shared(s.clone()),
                    None => cached,
                }))
            }
            None => None,
        };
        let oauth10a = config
            .oauth10a
            .as_ref()
            .map(|c| oauth10a(c, shared.clone()))
            .transpose()?;
        let c = &config.challenge;
        Ok(ServerRuntime {
            validator,
            oauth10a,
            challenge: ChallengeInfo {
                scope: c.scope.clone(),
                openid_configuration: c.openid_configuration.clone(),
                authorization_uri: c.authorization_endpoint.clone(),
                token_uri: c.token_endpoint.clone(),
                discovery: wired
                    .discoveries
                    .first()
                    .map(|d| d.clone() as Arc<dyn EndpointFinder>),
            },
            accepted_hosts: config.accepted_hosts.clone(),
        })
    }
}

fn oauth10a(
    c: &OAuth10aConfig,
    shared: Option<Arc<SharedCache>>,
) -> Result<OAuth10aVerifier, Error> {
    let v = OAuth10aVerifier::load(&c.credentials_file, c.max_skew)
        .map_err(|e| Error::config(format!("oauth10a_credentials_file: {}", e.reason)))?;
    let v = match &c.nonce_dir {
        Some(dir) => v.with_nonce_dir(NonceDir::open(dir)?),
        None => v,
    };
    Ok(match shared {
        Some(s) => v.with_shared_nonces(s),
        None => v,
    })
}

/// What binds a shared entry to the rules this server validates with: two
/// servers with other rules sharing a store never take each other's results.
pub fn rules_fingerprint(config: &ServerConfig) -> [u8; 16] {
    let jwt = config
        .jwt
        .as_ref()
        .map(|j| format!("{:?} {:?}", j.issuers, j.algorithms));
    let introspection = config
        .introspection
        .as_ref()
        .map(|i| format!("{:?} {} {}", i.url, i.client_id, i.audience_required));
    let text = format!("{:?}\0{jwt:?}\0{introspection:?}", config.claims);
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d.as_ref()[..16]);
    out
}

/// The host- or fleet-wide cache, opened (LMDB) or set up (Redis: nothing
/// connects before the first login) now, with the key of its entries.
fn shared_cache(config: &ServerConfig) -> Result<Option<Arc<SharedCache>>, Error> {
    let Some(c) = &config.shared_cache else {
        return Ok(None);
    };
    let key_file = c.key_file.as_deref().map(read_key_file).transpose()?;
    let (store, key): (Box<dyn Store>, Vec<u8>) = match &c.store {
        SharedStore::File(path) => {
            let (s, kept) = LmdbStore::open(path)
                .map_err(|m| Error::config(format!("oauth_cache_file: {m}")))?;
            let key = key_file.as_ref().map_or(kept.to_vec(), |k| k.to_vec());
            (Box::new(s), key)
        }
        SharedStore::Url(url) => {
            let target = RedisTarget::parse(url)
                .map_err(|m| Error::config(format!("oauth_cache_url: {m}")))?;
            let tls = match target.tls {
                true => Some(crate::http::tls_config(config.http.ca_file.as_deref())?),
                false => None,
            };
            let key = key_file.as_ref().map(|k| k.to_vec()).ok_or_else(|| {
                Error::config("oauth_cache_key_file: required with oauth_cache_url")
            })?;
            (
                Box::new(RedisStore::new(target, config.http.timeout, tls)),
                key,
            )
        }
    };
    let key = zeroize::Zeroizing::new(key);
    Ok(Some(Arc::new(SharedCache::new(
        store,
        &key,
        rules_fingerprint(config),
    ))))
}

/// The HTTP client and the discovery clients the validators share.
struct Wiring {
    http: Option<Arc<HttpClient>>,
    /// One per issuer, in `oauth_issuer`'s order (none without the network).
    discoveries: Vec<Arc<Discovery>>,
}

/// A source configured without what it needs (the configuration rules this out).
fn needs(what: &str) -> Error {
    Error::internal(format!("{what} configured without its prerequisites"))
}

impl Wiring {
    fn new(config: &ServerConfig) -> Result<Wiring, Error> {
        let validates = config.jwt.is_some() || config.introspection.is_some();
        let http = match validates && config.uses_network() {
            true => Some(Arc::new(HttpClient::new(
                config.http.ca_file.as_deref(),
                config.http.timeout,
            )?)),
            false => None,
        };
        let discoveries = match &http {
            Some(http) => config
                .claims
                .issuers
                .iter()
                .map(|issuer| {
                    Arc::new(Discovery::new(issuer, http.clone(), config.http.allow_http))
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Wiring { http, discoveries })
    }

    fn http(&self, what: &str) -> Result<Arc<HttpClient>, Error> {
        self.http.clone().ok_or_else(|| needs(what))
    }

    /// The discovery client of the issuer at `index` of `oauth_issuer`.
    fn discovery(&self, index: usize, what: &str) -> Result<Arc<Discovery>, Error> {
        self.discoveries
            .get(index)
            .cloned()
            .ok_or_else(|| needs(what))
    }

    /// An issuer's key store, from its file (read now), URL or discovery.
    fn key_store(
        &self,
        index: usize,
        keys: &KeysFrom,
        j: &JwtConfig,
        now: i64,
    ) -> Result<KeyStore, Error> {
        Ok(match keys {
            KeysFrom::File(path) => KeyStore::from_file(path.clone(), now)
                .map_err(|e| Error::config(format!("oauth_jwks_file: {}", e.reason)))?,
            KeysFrom::Url(url) => KeyStore::remote(
                KeySource::Url(url.clone()),
                self.http("oauth_jwks_url")?,
                j.freshness,
            ),
            KeysFrom::Discovery => KeyStore::remote(
                KeySource::Discovered(self.discovery(index, "discovery")?),
                self.http("discovery")?,
                j.freshness,
            ),
        })
    }

    /// The bearer-token validators, sharing one claims policy.
    fn router(&self, config: &ServerConfig, now: i64) -> Result<Option<Router>, Error> {
        if config.jwt.is_none() && config.introspection.is_none() {
            return Ok(None);
        }
        let claims = Arc::new(config.claims.clone());
        let jwt = match &config.jwt {
            None => None,
            Some(j) => {
                let keys = j
                    .issuers
                    .iter()
                    .enumerate()
                    .map(|(index, i)| {
                        Ok((i.issuer.clone(), self.key_store(index, &i.keys, j, now)?))
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                let policy = JwtPolicy {
                    claims: claims.clone(),
                    algorithms: j.algorithms.clone(),
                };
                Some(JwtValidator::new(policy, keys))
            }
        };
        let introspection = match &config.introspection {
            None => None,
            Some(i) => Some(IntrospectionValidator {
                endpoint: match &i.url {
                    Some(url) => Endpoint::Url(url.clone()),
                    None => Endpoint::Discovered(self.discovery(0, "introspection")?),
                },
                client_id: i.client_id.clone(),
                client_secret: i.client_secret.clone(),
                auth: i.auth,
                policy: IntrospectionPolicy {
                    claims,
                    audience_required: i.audience_required,
                },
                http: self.http("introspection")?,
            }),
        };
        Ok(Some(Router { jwt, introspection }))
    }
}
