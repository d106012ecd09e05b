//! The server side: one state machine for the four mechanisms, driven by the
//! FFI shim with the client's bytes, returning what to answer. No I/O of its
//! own: tokens are checked by the validators it is given, and endpoints are
//! found by the `EndpointFinder` it is given; both are built from the
//! configuration by the composition root, crate::runtime
//! (`ServerRuntime::from_config`).

pub mod config;
pub mod exchange;

use crate::error::Error;
use crate::validate::discovery::{Pick, AUTHORIZATION_ENDPOINT, TOKEN_ENDPOINT};
use crate::validate::oauth10a::OAuth10aVerifier;
use crate::validate::TokenValidator;
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
    pub discovery: Option<Arc<dyn EndpointFinder>>,
}

/// Finds an endpoint the configuration does not name (the issuer's discovery
/// document, fetched and cached by whoever implements it).
pub trait EndpointFinder: Send + Sync {
    /// The endpoint `pick` names, when it can be had at `now`.
    fn endpoint(&self, now: i64, pick: Pick) -> Result<String, Error>;
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
    /// Whether `mech` can be offered with this configuration.
    pub fn offers(&self, mech: Mechanism) -> bool {
        match mech {
            Mechanism::OAuth10a => self.oauth10a.is_some(),
            _ => self.validator.is_some(),
        }
    }
}
