//! The client side: builds the first message from the application's
//! credentials, answers the server's error challenge as the RFC requires, and
//! reports the server's reason. No I/O of its own.

pub mod exchange;
pub mod session;

/// The client's configuration file and provider presets live with the token
/// sources that use them.
pub use crate::token::{config, providers};

pub use crate::protocol::oauth10a_signature::OAuth1Credentials;
pub use crate::protocol::Mechanism;
use crate::secret::Secret;

/// What the application gave through its callbacks or prompts.
#[derive(Debug, Default)]
pub struct Credentials {
    pub authid: Option<String>,
    pub authzid: Option<String>,
    pub token: Secret,
    /// OAUTH10A signing credentials, from a token file.
    pub oauth1: Option<OAuth1Credentials>,
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
    /// Send these bytes, the last ones from our side (SASL_OK with output):
    /// for protocols whose server outcome carries success data, see
    /// [`exchange::Ending`].
    SendLast {
        message: zeroize::Zeroizing<Vec<u8>>,
    },
    /// The exchange is complete from our side (SASL_OK, nothing to send).
    Done,
    /// The server refused the token and its source now has a new one: the
    /// application should log in again (SASL_TRYAGAIN); the text says so.
    Retry(String),
    Failure(crate::error::Error),
}
