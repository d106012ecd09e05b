//! JWS algorithms we verify (RFC 7518 §3, RFC 8037). `none` and the HMAC
//! family are never accepted (RFC 8725 §3.1, §3.2): a server holding only
//! public keys must not let a token choose a shared-secret check.

use crate::error::Error;
use ring::signature::{self, VerificationAlgorithm};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// The family decides which JWK key type may verify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

pub const ALL: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a JWS `alg` name; the reason says why a known-bad one is refused.
    pub fn from_name(name: &str) -> Result<Algorithm, Error> {
        if let Some(a) = ALL.iter().find(|a| a.name() == name) {
            return Ok(*a);
        }
        let reason = if name.eq_ignore_ascii_case("none") {
            "algorithm 'none' is never accepted".to_owned()
        } else if name.starts_with("HS") {
            format!(
                "algorithm {} (HMAC) is never accepted",
                crate::error::printable(name, 16)
            )
        } else {
            format!(
                "algorithm '{}' is not supported",
                crate::error::printable(name, 16)
            )
        };
        Err(Error::invalid_token(reason))
    }

    pub fn family(self) -> Family {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Family::Rsa,
            Algorithm::ES256 => Family::EcP256,
            Algorithm::ES384 => Family::EcP384,
            Algorithm::EdDSA => Family::Ed25519,
        }
    }

    /// ring's parameters for the RSA algorithms (keys under 2048 bits are refused by ring).
    pub fn rsa_params(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    /// ring's verifier for the elliptic-curve algorithms.
    pub fn curve_verifier(self) -> Option<&'static dyn VerificationAlgorithm> {
        Some(match self {
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
            _ => return None,
        })
    }
}

/// Parses `oauth_algorithms` (space- or comma-separated).
pub fn parse_list(value: &str) -> Result<Vec<Algorithm>, Error> {
    let mut out = Vec::new();
    for name in value.split([' ', ',', '\t']).filter(|s| !s.is_empty()) {
        let a = Algorithm::from_name(name).map_err(|e| Error::config(e.reason))?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(Error::config("no algorithm listed"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in ALL {
            assert_eq!(Algorithm::from_name(a.name()).unwrap(), a);
        }
    }

    #[test]
    fn none_and_hmac_are_refused_with_a_reason() {
        assert!(Algorithm::from_name("none")
            .unwrap_err()
            .reason
            .contains("'none'"));
        assert!(Algorithm::from_name("HS256")
            .unwrap_err()
            .reason
            .contains("HMAC"));
        assert!(Algorithm::from_name("rs256").is_err());
    }

    #[test]
    fn list_parsing() {
        assert_eq!(
            parse_list("RS256 ES256,RS256").unwrap(),
            vec![Algorithm::RS256, Algorithm::ES256]
        );
        assert!(parse_list("RS256 HS256").is_err());
        assert!(parse_list("  ").is_err());
    }
}
