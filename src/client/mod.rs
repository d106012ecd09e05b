//! The client side: builds the first message from the application's
//! credentials, answers the server's error challenge as the RFC requires, and
//! reports the server's reason. No I/O of its own.

pub mod config;
pub mod exchange;
pub mod providers;
pub mod session;

use crate::secret::Secret;
pub use crate::server::Mechanism;

/// What the application gave through its callbacks or prompts.
#[derive(Debug, Default)]
pub struct Credentials {
    pub authid: Option<String>,
    pub authzid: Option<String>,
    pub token: Secret,
    /// OAUTH10A signing credentials, from a token file.
    pub oauth1: Option<OAuth1Credentials>,
}

/// OAuth 1.0a credentials (RFC 5849 §1.1) for OAUTH10A.
#[derive(Debug, Clone)]
pub struct OAuth1Credentials {
    pub consumer_key: String,
    pub consumer_secret: Secret,
    pub token: String,
    pub token_secret: Secret,
    pub method: crate::validate::oauth10a::SignatureMethod,
}

/// Where the client is connecting, when libsasl2 knows.
#[derive(Debug, Default, Clone)]
pub struct Target {
    pub host: Option<String>,
    pub port: Option<u16>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ClientStep {
    /// Send these bytes and expect more (SASL_CONTINUE). `note` is the
    /// server's refusal to report in the error detail, if it sent one.
    Send {
        message: zeroize::Zeroizing<Vec<u8>>,
        note: Option<String>,
    },
    /// The exchange is complete from our side (SASL_OK, nothing to send).
    Done,
    /// The server refused the token and its source now has a new one: the
    /// application should log in again (SASL_TRYAGAIN); the text says so.
    Retry(String),
    Failure(crate::error::Error),
}
