//! The server side: one state machine per mechanism family, driven by the FFI
//! shim with the client's bytes, returning what to answer. No I/O of its own:
//! tokens are checked by the `TokenValidator` it is given.

pub mod bearer;

use crate::config::{ServerConfig, CACHE_ENTRIES};
use crate::error::Error;
use crate::validate::cache::CachedValidator;
use crate::validate::jwks::JwkSet;
use crate::validate::jwt::JwtValidator;
use crate::validate::TokenValidator;

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
    /// Reads the key set and builds the validator. Runs at init, before any chroot.
    pub fn from_config(config: &ServerConfig) -> Result<ServerRuntime, Error> {
        let keys = JwkSet::load(&config.jwks_file)
            .map_err(|e| Error::config(format!("oauth_jwks_file: {}", e.reason)))?;
        Ok(ServerRuntime {
            validator: Box::new(CachedValidator::new(
                JwtValidator::new(config.jwt.clone(), keys),
                CACHE_ENTRIES,
                config.cache_ttl,
            )),
            challenge_scope: config.challenge_scope.clone(),
            openid_configuration: config.openid_configuration.clone(),
            accepted_hosts: config.accepted_hosts.clone(),
        })
    }
}
