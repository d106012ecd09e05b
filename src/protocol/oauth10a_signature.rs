//! OAuth 1.0a signing (RFC 5849 §3.4): the HMAC signatures a client makes
//! and a server checks, the client's credentials and its nonces. Pure
//! computation, apart from the system's random number generator for nonces.

use super::oauth10a::{encode, SignedRequest};
use crate::error::{printable, Error};
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::hmac;

/// OAuth 1.0a credentials (RFC 5849 §1.1) a client signs OAUTH10A with.
#[derive(Debug, Clone)]
pub struct OAuth1Credentials {
    pub consumer_key: String,
    pub consumer_secret: Secret,
    pub token: String,
    pub token_secret: Secret,
    pub method: SignatureMethod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureMethod {
    HmacSha1,
    HmacSha256,
    RsaSha1,
}

impl SignatureMethod {
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            "HMAC-SHA1" => Ok(SignatureMethod::HmacSha1),
            "HMAC-SHA256" => Ok(SignatureMethod::HmacSha256),
            "RSA-SHA1" => Ok(SignatureMethod::RsaSha1),
            "PLAINTEXT" => Err(Error::invalid_token(
                "oauth_signature_method PLAINTEXT is never accepted",
            )),
            other => Err(Error::invalid_token(format!(
                "oauth_signature_method '{}' is not supported",
                printable(other, 20)
            ))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha1 => "HMAC-SHA1",
            SignatureMethod::HmacSha256 => "HMAC-SHA256",
            SignatureMethod::RsaSha1 => "RSA-SHA1",
        }
    }
    fn hmac(self) -> Option<hmac::Algorithm> {
        match self {
            SignatureMethod::HmacSha1 => Some(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            SignatureMethod::HmacSha256 => Some(hmac::HMAC_SHA256),
            SignatureMethod::RsaSha1 => None,
        }
    }
}

/// The HMAC key of RFC 5849 §3.4.2: encoded consumer secret & encoded token secret.
fn hmac_key(
    method: SignatureMethod,
    consumer_secret: &str,
    token_secret: &str,
) -> Option<hmac::Key> {
    let key = Secret::new(format!(
        "{}&{}",
        encode(consumer_secret),
        encode(token_secret)
    ));
    Some(hmac::Key::new(method.hmac()?, key.expose().as_bytes()))
}

/// Signs `base` (client side; HMAC methods only). Returns the base64 signature.
pub fn sign(
    method: SignatureMethod,
    base: &str,
    consumer_secret: &str,
    token_secret: &str,
) -> Result<String, Error> {
    let key = hmac_key(method, consumer_secret, token_secret)
        .ok_or_else(|| Error::param("the client can sign with HMAC-SHA1 or HMAC-SHA256 only"))?;
    Ok(STANDARD.encode(hmac::sign(&key, base.as_bytes()).as_ref()))
}

/// Checks an HMAC signature in constant time.
pub fn verify_hmac(
    method: SignatureMethod,
    base: &str,
    consumer_secret: &str,
    token_secret: &str,
    signature_b64: &str,
) -> bool {
    let (Some(key), Ok(sig)) = (
        hmac_key(method, consumer_secret, token_secret),
        STANDARD.decode(signature_b64),
    ) else {
        return false;
    };
    hmac::verify(&key, base.as_bytes(), &sig).is_ok()
}

/// Builds and signs a request as the client does (HMAC methods).
pub struct ClientSigner<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: &'a str,
    pub token_secret: &'a str,
    pub method: SignatureMethod,
}

impl ClientSigner<'_> {
    pub fn sign(
        &self,
        host: &str,
        port: u16,
        timestamp: i64,
        nonce: &str,
    ) -> Result<SignedRequest, Error> {
        let mut r = SignedRequest {
            method: "POST".into(),
            host: host.into(),
            port,
            path: "/".into(),
            params: vec![
                ("oauth_consumer_key".into(), self.consumer_key.into()),
                ("oauth_token".into(), self.token.into()),
                ("oauth_signature_method".into(), self.method.name().into()),
                ("oauth_timestamp".into(), timestamp.to_string()),
                ("oauth_nonce".into(), nonce.into()),
                ("oauth_version".into(), "1.0".into()),
            ],
            ..Default::default()
        };
        let signature = sign(
            self.method,
            &r.base_string()?,
            self.consumer_secret,
            self.token_secret,
        )?;
        r.params.push(("oauth_signature".into(), signature));
        Ok(r)
    }
}

/// A random nonce (128 bits, hex). Fails closed when the system's random
/// number generator fails: a predictable nonce is never sent.
pub fn new_nonce() -> Result<String, Error> {
    nonce_from(|b| ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), b))
}

fn nonce_from(
    fill: impl FnOnce(&mut [u8]) -> Result<(), ring::error::Unspecified>,
) -> Result<String, Error> {
    let mut b = [0u8; 16];
    fill(&mut b).map_err(|_| {
        Error::internal("the system's random number generator failed: no OAuth nonce")
    })?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_random_generator_gives_no_nonce() {
        let e = nonce_from(|_| Err(ring::error::Unspecified)).unwrap_err();
        assert!(e.reason.contains("random"));
        let n = nonce_from(|b| {
            b.fill(0xab);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, "ab".repeat(16));
        assert_eq!(new_nonce().unwrap().len(), 32);
    }
}
