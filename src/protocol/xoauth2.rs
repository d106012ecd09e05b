//! XOAUTH2 (Google, Microsoft): `user=<name>\x01auth=Bearer <token>\x01\x01`.
//! No GS2 header, no host/port; other keys (`vendor=…`) are ignored.
//! Server error challenge: `{"status":"401","schemes":"bearer","scope":…}`.

use super::bearer::{self, Credential};
use super::kv;
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

#[derive(Debug, PartialEq, Eq)]
pub struct ClientMessage<'a> {
    pub user: Option<&'a str>,
    pub credential: Credential<'a>,
}

pub fn parse_client(msg: &str) -> Result<ClientMessage<'_>, Error> {
    let pairs = kv::parse(msg)?;
    let auth = pairs
        .get("auth")
        .ok_or_else(|| Error::protocol("the required auth key is missing"))?;
    if let Some(u) = pairs.get("user") {
        super::check_authzid(u)?;
    }
    Ok(ClientMessage {
        user: pairs.get("user").filter(|u| !u.is_empty()),
        credential: bearer::parse_auth(auth)?,
    })
}

/// Builds the client's message in one allocation of its final size (see
/// `oauthbearer::build_client_first`); it holds the token.
pub fn build_client(user: &str, token: &[u8]) -> Vec<u8> {
    let size = kv::pair_len("user", user.as_bytes()) + bearer::final_auth_len(token);
    let mut out = Vec::with_capacity(size);
    kv::write(&mut out, "user", user.as_bytes());
    bearer::write_final_auth(&mut out, token);
    debug_assert_eq!(out.len(), size);
    out
}

#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorChallenge<'a> {
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub schemes: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Cow<'a, str>>,
}

pub fn build_error(challenge: &ErrorChallenge<'_>) -> Vec<u8> {
    serde_json::to_vec(challenge).unwrap_or_default()
}

pub fn parse_error(msg: &[u8]) -> Result<ErrorChallenge<'_>, Error> {
    serde_json::from_slice(msg)
        .map_err(|_| Error::protocol("server challenge is not XOAUTH2 error JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_form() {
        let m = parse_client("user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg\x01\x01").unwrap();
        assert_eq!(m.user, Some("someuser@example.com"));
        assert_eq!(
            m.credential,
            Credential::Bearer("ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg")
        );
    }

    #[test]
    fn vendor_key_is_ignored() {
        let m = parse_client("user=a\x01vendor=Microsoft\x01auth=Bearer t\x01\x01").unwrap();
        assert_eq!(m.credential, Credential::Bearer("t"));
    }

    #[test]
    fn missing_user_is_allowed_missing_auth_is_not() {
        assert_eq!(parse_client("auth=Bearer t\x01\x01").unwrap().user, None);
        assert!(parse_client("user=a\x01\x01")
            .unwrap_err()
            .reason
            .contains("auth"));
    }

    #[test]
    fn control_characters_in_user_are_refused() {
        assert!(parse_client("user=bob\r\nX: 1\x01auth=Bearer t\x01\x01").is_err());
    }

    #[test]
    fn duplicate_user() {
        assert!(parse_client("user=a\x01user=b\x01auth=Bearer t\x01\x01").is_err());
    }

    #[test]
    fn build_round_trips() {
        let msg = build_client("alice", b"tok");
        assert_eq!(msg, b"user=alice\x01auth=Bearer tok\x01\x01");
        assert_eq!(msg.capacity(), msg.len());
        let msg = std::str::from_utf8(&msg).unwrap();
        assert_eq!(parse_client(msg).unwrap().user, Some("alice"));
    }

    #[test]
    fn error_challenge_json() {
        let c = ErrorChallenge {
            status: "401".into(),
            schemes: Some("bearer".into()),
            scope: Some("mail".into()),
        };
        let json = build_error(&c);
        assert_eq!(
            json,
            br#"{"status":"401","schemes":"bearer","scope":"mail"}"#
        );
        assert_eq!(parse_error(&json).unwrap(), c);
    }
}
