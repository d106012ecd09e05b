//! The `auth` value of OAUTHBEARER and XOAUTH2: an RFC 6750 §2.1 credential.
//!
//! ```text
//! auth-value = "Bearer" 1*SP b64token     ; scheme name case-insensitive
//! b64token   = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//! An empty value is a discovery request (RFC 7628 §3.2.2: the client asks
//! for the server's error challenge to learn where to get a token).

use crate::error::Error;

#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    Bearer(&'a str),
    Discovery,
}

pub fn parse_auth(value: &str) -> Result<Credential<'_>, Error> {
    if value.is_empty() {
        return Ok(Credential::Discovery);
    }
    let scheme_end = value.find([' ', '\t']).unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(Error::protocol("auth value does not use the Bearer scheme"));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Ok(Credential::Discovery);
    }
    if !is_b64token(token) {
        return Err(Error::protocol(
            "auth value: token has characters outside RFC 6750 b64token",
        ));
    }
    Ok(Credential::Bearer(token))
}

/// What ends a bearer message: `auth=Bearer <token>` and the two kvseps.
const AUTH: &[u8] = b"auth=Bearer ";

/// The length of what [`write_final_auth`] appends.
pub fn final_auth_len(token: &[u8]) -> usize {
    AUTH.len() + token.len() + 2
}

/// Appends `auth=Bearer <token>\x01\x01`, the end of a client message.
pub fn write_final_auth(out: &mut Vec<u8>, token: &[u8]) {
    out.extend_from_slice(AUTH);
    out.extend_from_slice(token);
    out.extend_from_slice(b"\x01\x01");
}

/// ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", by comparisons (not a
/// table), so that the loop over a token vectorizes.
fn is_b64token_byte(b: u8) -> bool {
    // ASCII letters are the bytes whose lowercase form (bit 5 set) is a..z.
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty() && body.bytes().fold(true, |ok, b| ok & is_b64token_byte(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64token_bytes_are_exactly_rfc_6750s() {
        for b in 0..=255u8 {
            let spec = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_b64token_byte(b), spec, "byte {b:#04x}");
        }
    }

    #[test]
    fn bearer_token() {
        assert_eq!(
            parse_auth("Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==").unwrap(),
            Credential::Bearer("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")
        );
    }

    #[test]
    fn scheme_is_case_insensitive_and_spaces_repeat() {
        assert_eq!(
            parse_auth("bearer   a.b.c").unwrap(),
            Credential::Bearer("a.b.c")
        );
        assert_eq!(parse_auth("BEARER a").unwrap(), Credential::Bearer("a"));
    }

    #[test]
    fn empty_value_is_discovery() {
        assert_eq!(parse_auth("").unwrap(), Credential::Discovery);
        assert_eq!(parse_auth("Bearer ").unwrap(), Credential::Discovery);
    }

    #[test]
    fn other_schemes_and_bad_tokens() {
        assert!(parse_auth("Basic abc").is_err());
        assert!(parse_auth("Bearerx abc").is_err());
        assert!(parse_auth("Bearer a b").is_err());
        assert!(parse_auth("Bearer ===").is_err());
        assert!(parse_auth("Bearer a\"b").is_err());
    }
}
