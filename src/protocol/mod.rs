//! Wire formats of the SASL mechanisms (docs/protocol.md §2). Pure functions over bytes:
//! no I/O, no panics on any input, parsed fields borrow the input.

pub mod bearer;
pub mod framing;
pub mod gs2;
pub mod http_oauth;
pub mod kv;
pub mod mechanism;
pub mod oauth10a;
pub mod oauth10a_signature;
pub mod oauthbearer;
pub mod xoauth2;

use crate::error::Error;
pub use mechanism::Mechanism;

/// Largest message a server accepts (docs/protocol.md §6.1).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// An authorization identity the client asks for (GS2 `a=`, XOAUTH2 `user=`,
/// OAUTH `User:`): it becomes the application's SASL_USERNAME, so no control
/// characters (C0, DEL, C1: CR LF would inject lines into every log it reaches).
pub fn check_authzid(authzid: &str) -> Result<(), Error> {
    if authzid.chars().any(char::is_control) {
        return Err(Error::protocol("authzid contains a control character"));
    }
    Ok(())
}

/// The checks every client message gets before it is parsed: size, NUL bytes, UTF-8.
pub fn check_message(msg: &[u8]) -> Result<&str, Error> {
    if msg.len() > MAX_MESSAGE {
        return Err(Error::protocol(format!(
            "message too long ({} bytes, limit {MAX_MESSAGE})",
            msg.len()
        )));
    }
    if msg.contains(&0) {
        return Err(Error::protocol("message contains a NUL byte"));
    }
    std::str::from_utf8(msg).map_err(|_| Error::protocol("message is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_over_64_kib_is_too_long() {
        let big = vec![b'a'; MAX_MESSAGE + 1];
        assert!(check_message(&big).unwrap_err().reason.contains("too long"));
    }

    #[test]
    fn message_with_nul_is_refused() {
        assert!(check_message(b"n,,\x01auth=\0\x01\x01")
            .unwrap_err()
            .reason
            .contains("NUL"));
    }

    #[test]
    fn message_with_bad_utf8_is_refused() {
        assert!(check_message(b"n,,\x01auth=\xff\x01\x01")
            .unwrap_err()
            .reason
            .contains("UTF-8"));
    }
}
