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
use std::borrow::Cow;
use zeroize::Zeroize;

/// What the application gave through its callbacks or prompts, borrowed from
/// it for the step: nothing of it is copied that need not be.
#[derive(Default)]
pub struct Credentials<'a> {
    pub authid: Option<Cow<'a, str>>,
    pub authzid: Option<Cow<'a, str>>,
    /// SASL_CB_PASS as given: the token itself, or `file:`/`cmd:` naming
    /// where it comes from (see [`crate::token::from_secret`]).
    pub secret: &'a [u8],
}

/// Where the client is connecting, when libsasl2 knows.
#[derive(Debug, Default, Clone, Copy)]
pub struct Target<'a> {
    pub host: Option<&'a str>,
    pub port: Option<u16>,
}

/// A message for the server, which may hold the token: built in a buffer of
/// its final size, and all of that buffer wiped when dropped.
#[derive(Default, PartialEq, Eq)]
pub struct Message(Vec<u8>);

impl Message {
    pub fn new(bytes: Vec<u8>) -> Message {
        Message(bytes)
    }
}

impl std::ops::Deref for Message {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Message {
    /// Zeroes the buffer, its spare capacity too. zeroize's slice impls are
    /// one memset, which its barrier keeps the compiler from removing; its
    /// Vec (and String) impl writes each byte apart, hundreds of
    /// instructions for a token.
    fn wipe(&mut self) {
        if !self.0.is_empty() {
            self.0.as_mut_slice().zeroize();
        }
        let spare = self.0.spare_capacity_mut();
        if !spare.is_empty() {
            spare.zeroize();
        }
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Never the bytes: they may hold the token.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Message({} bytes)", self.0.len())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ClientStep {
    /// Send these bytes and expect more (SASL_CONTINUE). `note` is the
    /// server's refusal to report in the error detail, if it sent one.
    Send {
        message: Message,
        note: Option<String>,
    },
    /// Send these bytes, the last ones from our side (SASL_OK with output):
    /// for protocols whose server outcome carries success data, see
    /// [`exchange::Ending`].
    SendLast {
        message: Message,
    },
    /// The exchange is complete from our side (SASL_OK, nothing to send).
    Done,
    /// The server refused the token and its source now has a new one: the
    /// application should log in again (SASL_TRYAGAIN); the text says so.
    Retry(String),
    Failure(crate::error::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_never_shows_its_bytes() {
        let m = Message::new(b"auth=Bearer secret-token".to_vec());
        assert_eq!(&m[..], b"auth=Bearer secret-token");
        assert_eq!(format!("{m:?}"), "Message(24 bytes)");
    }

    #[test]
    fn a_wiped_message_is_all_zeroes() {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(b"auth=Bearer secret-token");
        let mut m = Message::new(bytes);
        m.wipe();
        assert_eq!(m.len(), 24);
        assert!(m.iter().all(|&b| b == 0));
        // Nothing to wipe: no write through a dangling pointer.
        Message::default().wipe();
    }
}
