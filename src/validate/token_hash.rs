//! A token's hashes from one pass over its bytes: its cache key (the SHA-256
//! of the whole token) and, for a token shaped like a compact JWS, the SHA-256
//! of its signing input (`header.payload`), which RS256, PS256 and ES256
//! verify. A cold login then hashes the signing input once, not once for the
//! key and again inside the verifier.
//!
//! Only with aws-lc-rs, whose parsed keys verify a digest; ring's API takes
//! the message only, so a ring build hashes the key alone.

use super::store::entry::TokenKey;
use super::store::token_key;

/// The SHA-256 of a token's bytes up to its last '.'; `covers` borrows them.
pub struct SigningDigest<'t> {
    covers: &'t [u8],
    #[cfg(feature = "aws-lc")]
    digest: aws_lc_rs::digest::Digest,
}

impl<'t> SigningDigest<'t> {
    /// A digest of `of` that claims to cover `covers`: for tests showing that
    /// the digest, not the bytes, is what a verifier checks.
    #[cfg(all(test, feature = "aws-lc"))]
    pub fn claiming(covers: &'t [u8], of: &[u8]) -> Self {
        SigningDigest {
            covers,
            digest: aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, of),
        }
    }
}

/// The bytes a JWS signature covers, with their SHA-256 when already known.
#[derive(Clone, Copy)]
pub struct SigningInput<'a> {
    pub bytes: &'a [u8],
    #[cfg_attr(not(feature = "aws-lc"), allow(dead_code))]
    known: Option<&'a SigningDigest<'a>>,
}

impl<'a> SigningInput<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        SigningInput { bytes, known: None }
    }

    /// `bytes` with `digest` if it was computed over these very bytes (the
    /// same address and length, borrowed for as long: the same bytes).
    pub fn with(bytes: &'a [u8], digest: Option<&'a SigningDigest<'a>>) -> Self {
        SigningInput {
            bytes,
            known: digest.filter(|d| std::ptr::eq(d.covers, bytes)),
        }
    }

    /// The SHA-256 of `bytes`, if known.
    #[cfg(feature = "aws-lc")]
    pub fn sha256(&self) -> Option<&'a aws_lc_rs::digest::Digest> {
        self.known.map(|d| &d.digest)
    }
}

/// The cache key of `token` and, if it has a '.', the SHA-256 of what comes
/// before the last one (a compact JWS's signing input when it is one).
#[cfg(feature = "aws-lc")]
pub fn hash(token: &str) -> (TokenKey, Option<SigningDigest<'_>>) {
    use aws_lc_rs::digest::{Context, SHA256};
    let Some(dot) = token.rfind('.') else {
        return (token_key(token), None);
    };
    let covers = &token.as_bytes()[..dot];
    let mut ctx = Context::new(&SHA256);
    ctx.update(covers);
    let signing = SigningDigest {
        covers,
        digest: ctx.clone().finish(),
    };
    ctx.update(&token.as_bytes()[dot..]);
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    (key, Some(signing))
}

#[cfg(not(feature = "aws-lc"))]
pub fn hash(token: &str) -> (TokenKey, Option<SigningDigest<'_>>) {
    (token_key(token), None)
}

#[cfg(all(test, feature = "aws-lc"))]
mod tests {
    use super::*;
    use aws_lc_rs::digest::{digest, SHA256};

    #[test]
    fn the_key_is_the_whole_tokens_sha256_and_the_digest_its_signing_inputs() {
        for token in ["a.b.c", "h.p.", ".", "x.y", "a.b.c.d", "eyJ0.eyJz.c2ln"] {
            let (key, signing) = hash(token);
            assert_eq!(key, token_key(token), "{token}");
            let signing = signing.unwrap();
            let dot = token.rfind('.').unwrap();
            let input = &token.as_bytes()[..dot];
            assert_eq!(
                signing.digest.as_ref(),
                digest(&SHA256, input).as_ref(),
                "{token}"
            );
            let known = SigningInput::with(input, Some(&signing));
            assert!(known.sha256().is_some());
            // Any other span of the token (a JWT split elsewhere) gets no digest,
            let other =
                SigningInput::with(&token.as_bytes()[..dot.saturating_sub(1)], Some(&signing));
            assert!(dot == 0 || other.sha256().is_none());
            // nor do the same bytes elsewhere (another token's).
            let copy = input.to_vec();
            assert!(SigningInput::with(&copy, Some(&signing)).sha256().is_none());
        }
        let (key, signing) = hash("opaque-token");
        assert_eq!(key, token_key("opaque-token"));
        assert!(signing.is_none());
    }
}
