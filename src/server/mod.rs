//! The server side: one state machine for the four mechanisms, driven by the
//! FFI shim with the client's bytes, returning what to answer. No I/O of its
//! own: tokens are checked by the validators it is given.

pub mod config;
pub mod exchange;

use crate::error::Error;
use crate::http::HttpClient;
use crate::validate::cache::CachedValidator;
use crate::validate::discovery::{Discovery, AUTHORIZATION_ENDPOINT, TOKEN_ENDPOINT};
use crate::validate::introspect::{Endpoint, IntrospectionPolicy, IntrospectionValidator};
use crate::validate::jwt::JwtValidator;
use crate::validate::keys::{KeySource, KeyStore};
use crate::validate::nonce_dir::NonceDir;
use crate::validate::oauth10a::OAuth10aVerifier;
use crate::validate::router::Router;
use crate::validate::{unix_now, TokenValidator};
use config::{KeysFrom, ServerConfig, CACHE_ENTRIES};
use std::sync::Arc;

pub use crate::protocol::Mechanism;

/// What error challenges name: scope, discovery document, and for the draft
/// OAUTH mechanism the authorization and token endpoints.
#[derive(Default)]
pub struct ChallengeInfo {
    pub scope: Option<String>,
    pub openid_configuration: Option<String>,
    pub authorization_uri: Option<String>,
    pub token_uri: Option<String>,
    /// Where to find the endpoints that are not configured.
    pub discovery: Option<Arc<Discovery>>,
}

impl ChallengeInfo {
    /// (authorization_uri, token_uri): configured, else from discovery when it
    /// can be had now; a challenge without them is still a valid challenge.
    pub fn uris(&self, now: i64) -> (Option<String>, Option<String>) {
        // A discovered endpoint we may not use (plain http) is left out.
        let found = |pick| self.discovery.as_ref()?.endpoint(now, pick).ok();
        (
            self.authorization_uri
                .clone()
                .or_else(|| found(AUTHORIZATION_ENDPOINT)),
            self.token_uri.clone().or_else(|| found(TOKEN_ENDPOINT)),
        )
    }
}

/// Who logged in: the token's identity and the identity asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identities {
    pub authid: String,
    /// None when the client asked for none (then authzid = authid).
    pub authzid: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge and wait for the client (SASL_CONTINUE).
    Continue(Vec<u8>),
    Success(Identities),
    Failure(Error),
}

/// What the server needs at every handshake, built once at plugin init.
pub struct ServerRuntime {
    /// For the bearer-token mechanisms (OAUTHBEARER, XOAUTH2, OAUTH).
    pub validator: Option<Box<dyn TokenValidator>>,
    /// For OAUTH10A.
    pub oauth10a: Option<OAuth10aVerifier>,
    pub challenge: ChallengeInfo,
    pub accepted_hosts: Vec<String>,
}

impl ServerRuntime {
    /// Reads every file (key set, trust anchors, credentials) and builds the
    /// validators. Runs at init, before any chroot; the network is used only
    /// later, lazily.
    pub fn from_config(config: &ServerConfig) -> Result<ServerRuntime, Error> {
        let (router, discovery) = router(config, unix_now())?;
        let validator: Option<Box<dyn TokenValidator>> = match router {
            Some(r) => Some(Box::new(CachedValidator::new(
                r,
                CACHE_ENTRIES,
                config.cache_ttl,
            ))),
            None => None,
        };
        let oauth10a = match &config.oauth10a {
            Some((path, skew)) => {
                let v = OAuth10aVerifier::load(path, *skew).map_err(|e| {
                    Error::config(format!("oauth10a_credentials_file: {}", e.reason))
                })?;
                Some(match &config.oauth10a_nonce_dir {
                    Some(dir) => v.with_nonce_dir(NonceDir::open(dir)?),
                    None => v,
                })
            }
            None => None,
        };
        Ok(ServerRuntime {
            validator,
            oauth10a,
            challenge: ChallengeInfo {
                scope: config.challenge_scope.clone(),
                openid_configuration: config.openid_configuration.clone(),
                authorization_uri: config.authorization_endpoint.clone(),
                token_uri: config.token_endpoint.clone(),
                discovery,
            },
            accepted_hosts: config.accepted_hosts.clone(),
        })
    }

    /// Whether `mech` can be offered with this configuration.
    pub fn offers(&self, mech: Mechanism) -> bool {
        match mech {
            Mechanism::OAuth10a => self.oauth10a.is_some(),
            _ => self.validator.is_some(),
        }
    }
}

/// The bearer-token validators, and the discovery client they share.
type Built = (Option<Router>, Option<Arc<Discovery>>);

fn router(config: &ServerConfig, now: i64) -> Result<Built, Error> {
    if config.jwt.is_none() && config.introspection.is_none() {
        return Ok((None, None));
    }
    let http = match config.uses_network() {
        true => Some(Arc::new(HttpClient::new(
            config.ca_file.as_deref(),
            config.timeout,
        )?)),
        false => None,
    };
    let discovery = match (&config.issuer, &http) {
        (Some(issuer), Some(http)) => Some(Arc::new(Discovery::new(
            issuer,
            http.clone(),
            config.allow_http,
        ))),
        _ => None,
    };
    let needs =
        |what: &str| Error::internal(format!("{what} configured without its prerequisites"));
    let jwt = match &config.jwt {
        None => None,
        Some(j) => {
            let keys = match &j.keys {
                KeysFrom::File(path) => KeyStore::from_file(path.clone(), now)
                    .map_err(|e| Error::config(format!("oauth_jwks_file: {}", e.reason)))?,
                KeysFrom::Url(url) => KeyStore::remote(
                    KeySource::Url(url.clone()),
                    http.clone().ok_or_else(|| needs("oauth_jwks_url"))?,
                    config.jwks_freshness,
                ),
                KeysFrom::Discovery => KeyStore::remote(
                    KeySource::Discovered(discovery.clone().ok_or_else(|| needs("discovery"))?),
                    http.clone().ok_or_else(|| needs("discovery"))?,
                    config.jwks_freshness,
                ),
            };
            Some(JwtValidator::new(j.policy.clone(), keys))
        }
    };
    let introspection = match &config.introspection {
        None => None,
        Some(i) => Some(IntrospectionValidator {
            endpoint: match &i.url {
                Some(url) => Endpoint::Url(url.clone()),
                None => {
                    Endpoint::Discovered(discovery.clone().ok_or_else(|| needs("introspection"))?)
                }
            },
            client_id: i.client_id.clone(),
            client_secret: i.client_secret.clone(),
            auth: i.auth,
            policy: IntrospectionPolicy {
                issuer: config.issuer.clone(),
                audiences: config.audiences.clone(),
                username_claim: config.username_claim.clone(),
                required_scopes: config.required_scopes.clone(),
                clock_skew: config.clock_skew,
                audience_required: config.introspection_audience_required,
            },
            http: http.clone().ok_or_else(|| needs("introspection"))?,
        }),
    };
    Ok((Some(Router { jwt, introspection }), discovery))
}
