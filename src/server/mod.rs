//! The server side: one state machine per mechanism family, driven by the FFI
//! shim with the client's bytes, returning what to answer. No I/O of its own:
//! tokens are checked by the `TokenValidator` it is given.

pub mod bearer;

use crate::config::{KeysFrom, ServerConfig, CACHE_ENTRIES};
use crate::error::Error;
use crate::http::HttpClient;
use crate::validate::cache::CachedValidator;
use crate::validate::discovery::Discovery;
use crate::validate::introspect::{Endpoint, IntrospectionPolicy, IntrospectionValidator};
use crate::validate::jwt::JwtValidator;
use crate::validate::keys::{KeySource, KeyStore};
use crate::validate::router::Router;
use crate::validate::{unix_now, TokenValidator};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    OAuthBearer,
    XOAuth2,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
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
    pub validator: Box<dyn TokenValidator>,
    pub challenge_scope: Option<String>,
    pub openid_configuration: Option<String>,
    pub accepted_hosts: Vec<String>,
}

impl ServerRuntime {
    /// Reads every file (key set, trust anchors) and builds the validators.
    /// Runs at init, before any chroot; the network is used only later, lazily.
    pub fn from_config(config: &ServerConfig) -> Result<ServerRuntime, Error> {
        Ok(ServerRuntime {
            validator: Box::new(CachedValidator::new(
                router(config, unix_now())?,
                CACHE_ENTRIES,
                config.cache_ttl,
            )),
            challenge_scope: config.challenge_scope.clone(),
            openid_configuration: config.openid_configuration.clone(),
            accepted_hosts: config.accepted_hosts.clone(),
        })
    }
}

fn router(config: &ServerConfig, now: i64) -> Result<Router, Error> {
    let http = match config.uses_network() {
        true => Some(Arc::new(HttpClient::new(
            config.ca_file.as_deref(),
            config.timeout,
        )?)),
        false => None,
    };
    let discovery = match (&config.issuer, &http) {
        (Some(issuer), Some(http)) => Some(Arc::new(Discovery::new(issuer, http.clone()))),
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
                ),
                KeysFrom::Discovery => KeyStore::remote(
                    KeySource::Discovered(discovery.clone().ok_or_else(|| needs("discovery"))?),
                    http.clone().ok_or_else(|| needs("discovery"))?,
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
            },
            http: http.clone().ok_or_else(|| needs("introspection"))?,
        }),
    };
    Ok(Router { jwt, introspection })
}
