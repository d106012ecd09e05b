//! OAUTHBEARER messages (RFC 7628 §3).
//!
//! ```text
//! client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep
//! kvpair      = "auth=" auth-value / "host=" host / "port=" 1*DIGIT / key "=" value
//! ```
//! Server error challenge: `{"status":…,"scope":…,"openid-configuration":…}`.

use super::bearer::{self, Credential};
use super::{framing, gs2, kv};
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

#[derive(Debug, PartialEq, Eq)]
pub struct ClientFirst<'a> {
    pub gs2: gs2::Gs2Header<'a>,
    pub host: Option<&'a str>,
    pub port: Option<u16>,
    pub credential: Credential<'a>,
}

impl ClientFirst<'_> {
    pub fn authzid(&self) -> Option<&str> {
        self.gs2.authzid.as_deref()
    }
}

/// Parses the client's first message (already checked by `protocol::check_message`).
pub fn parse_client_first(msg: &str) -> Result<ClientFirst<'_>, Error> {
    let f = framing::parse(msg)?;
    let port = f.pairs.get("port").map(framing::port).transpose()?;
    Ok(ClientFirst {
        gs2: f.gs2,
        host: f.pairs.get("host"),
        port,
        credential: bearer::parse_auth(f.auth)?,
    })
}

/// Builds the client's first message, in one allocation of its final size:
/// a buffer that grew would free copies of the token that nobody wipes. The
/// result holds the token: callers keep it in storage they wipe.
pub fn build_client_first(
    authzid: Option<&str>,
    host: Option<&str>,
    port: Option<u16>,
    token: &[u8],
) -> Vec<u8> {
    let mut digits = [0; 5];
    let port = port.map(|p| framing::port_digits(p, &mut digits));
    let size = gs2::header_len(authzid)
        + 1
        + host.map_or(0, |h| kv::pair_len("host", h.as_bytes()))
        + port.map_or(0, |p| kv::pair_len("port", p))
        + bearer::final_auth_len(token);
    let mut out = Vec::with_capacity(size);
    gs2::write_header(&mut out, authzid);
    out.push(kv::KVSEP as u8);
    if let Some(h) = host {
        kv::write(&mut out, "host", h.as_bytes());
    }
    if let Some(p) = port {
        kv::write(&mut out, "port", p);
    }
    bearer::write_final_auth(&mut out, token);
    debug_assert_eq!(out.len(), size);
    out
}

/// The client's answer to an error challenge.
pub const ERROR_ACK: &[u8] = b"\x01";

/// The server's error challenge (RFC 7628 §3.2.2).
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorChallenge<'a> {
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Cow<'a, str>>,
    #[serde(
        rename = "openid-configuration",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub openid_configuration: Option<Cow<'a, str>>,
}

pub fn build_error(challenge: &ErrorChallenge<'_>) -> Vec<u8> {
    // Serializing a struct of strings cannot fail.
    serde_json::to_vec(challenge).unwrap_or_default()
}

pub fn parse_error(msg: &[u8]) -> Result<ErrorChallenge<'_>, Error> {
    serde_json::from_slice(msg)
        .map_err(|_| Error::protocol("server challenge is not RFC 7628 error JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_TOKEN: &str = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";

    #[test]
    fn rfc7628_section_4_1_example() {
        let msg = format!("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer {RFC_TOKEN}\x01\x01");
        let m = parse_client_first(&msg).unwrap();
        assert_eq!(m.authzid(), Some("user@example.com"));
        assert_eq!(m.host, Some("server.example.com"));
        assert_eq!(m.port, Some(143));
        assert_eq!(m.credential, Credential::Bearer(RFC_TOKEN));
    }

    #[test]
    fn curl_and_mutt_form_unescaped_authzid_with_host_and_port() {
        let msg =
            "n,a=alice@example.com,\x01host=127.0.0.1\x01port=1143\x01auth=Bearer abc\x01\x01";
        let m = parse_client_first(msg).unwrap();
        assert_eq!(m.authzid(), Some("alice@example.com"));
        assert_eq!(m.port, Some(1143));
    }

    #[test]
    fn imapclient_form_without_host_and_port() {
        let m = parse_client_first("n,,\x01auth=Bearer abc\x01\x01").unwrap();
        assert_eq!(m.host, None);
        assert_eq!(m.port, None);
        assert_eq!(m.authzid(), None);
    }

    #[test]
    fn kafka_form_with_extension_keys() {
        let m = parse_client_first(
            "n,,\x01auth=Bearer abc\x01traceId=123\x01logicalCluster=lkc-1\x01\x01",
        )
        .unwrap();
        assert_eq!(m.credential, Credential::Bearer("abc"));
    }

    #[test]
    fn lower_case_bearer() {
        let m = parse_client_first("n,,\x01auth=bearer abc\x01\x01").unwrap();
        assert_eq!(m.credential, Credential::Bearer("abc"));
    }

    #[test]
    fn escaped_authzid() {
        let m = parse_client_first("n,a=al=2Cice,\x01auth=Bearer abc\x01\x01").unwrap();
        assert_eq!(m.authzid(), Some("al,ice"));
    }

    #[test]
    fn empty_auth_is_discovery() {
        let m = parse_client_first("n,,\x01auth=\x01\x01").unwrap();
        assert_eq!(m.credential, Credential::Discovery);
    }

    #[test]
    fn missing_auth() {
        let e = parse_client_first("n,,\x01host=a\x01\x01").unwrap_err();
        assert!(e.reason.contains("auth"));
    }

    #[test]
    fn missing_final_kvsep() {
        assert!(parse_client_first("n,,\x01auth=Bearer abc\x01").is_err());
    }

    #[test]
    fn missing_kvsep_after_header() {
        assert!(parse_client_first("n,,auth=Bearer abc\x01\x01").is_err());
    }

    #[test]
    fn lone_kvsep_is_not_a_first_message() {
        assert!(parse_client_first("\x01").is_err());
    }

    #[test]
    fn bad_ports() {
        for p in ["", "0143", "65536", "-1", "1a"] {
            let msg = format!("n,,\x01port={p}\x01auth=Bearer a\x01\x01");
            assert!(parse_client_first(&msg).is_err(), "port {p:?}");
        }
    }

    #[test]
    fn build_then_parse_round_trips() {
        let msg = build_client_first(Some("a,b"), Some("imap.example.com"), Some(993), b"tok");
        assert_eq!(
            msg,
            b"n,a=a=2Cb,\x01host=imap.example.com\x01port=993\x01auth=Bearer tok\x01\x01"
        );
        let m = parse_client_first(std::str::from_utf8(&msg).unwrap()).unwrap();
        assert_eq!(m.authzid(), Some("a,b"));
        assert_eq!(m.port, Some(993));
        assert_eq!(
            build_client_first(None, None, None, b"t"),
            b"n,,\x01auth=Bearer t\x01\x01"
        );
        assert_eq!(
            build_client_first(Some(""), None, Some(0), b"t"),
            b"n,,\x01port=0\x01auth=Bearer t\x01\x01"
        );
    }

    #[test]
    fn the_message_is_built_without_reallocating() {
        let token = "t".repeat(2000);
        for (a, h, p) in [
            (Some("a,b=c"), Some("imap.example.com"), Some(993)),
            (Some("=,=,"), None, Some(65535)),
            (None, Some("h"), None),
        ] {
            let msg = build_client_first(a, h, p, token.as_bytes());
            assert_eq!(msg.capacity(), msg.len(), "{a:?} {h:?} {p:?}");
        }
    }

    #[test]
    fn error_challenge_json() {
        let c = ErrorChallenge {
            status: "invalid_token".into(),
            scope: Some("mail".into()),
            openid_configuration: Some("https://i/.well-known/openid-configuration".into()),
        };
        let json = String::from_utf8(build_error(&c)).unwrap();
        assert_eq!(
            json,
            r#"{"status":"invalid_token","scope":"mail","openid-configuration":"https://i/.well-known/openid-configuration"}"#
        );
        assert_eq!(parse_error(json.as_bytes()).unwrap(), c);
    }

    #[test]
    fn error_challenge_minimal_and_bad() {
        let c = parse_error(br#"{"status":"invalid_token"}"#).unwrap();
        assert_eq!(c.scope, None);
        assert!(parse_error(b"not json").is_err());
        assert!(parse_error(br#"{"scope":"x"}"#).is_err());
    }
}
