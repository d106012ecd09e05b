//! A JWK's public key in its ready-to-verify form, built once when the key
//! set is loaded, so that a login (a cold one: a token never seen before)
//! pays for the signature check and not for parsing the key again.
//!
//! Two back ends, one chosen at build time:
//! - `aws-lc` (the default feature): aws-lc-rs `ParsedPublicKey`s, one per
//!   algorithm the key may serve (a JWK naming no `alg` serves every algorithm
//!   of its type), RSA keys with their Montgomery constants computed at load.
//! - without it, ring, whose 0.17 API has no parsed public key for
//!   verification: the key is checked at load but parsed again at every call.
//!
//! docs/benchmarks.md has the measurements behind the default.

use super::alg::Algorithm;
use super::jwks::PublicKey;

/// Which library verifies JWS signatures in this build.
pub const BACKEND: &str = if cfg!(feature = "aws-lc") {
    "aws-lc-rs"
} else {
    "ring"
};

/// A key ready to verify; [`VerifyingKey::verify`] is false on any mismatch.
#[derive(Clone)]
pub struct VerifyingKey {
    #[cfg(feature = "aws-lc")]
    parsed: Vec<(Algorithm, aws_lc_rs::signature::ParsedPublicKey)>,
    #[cfg(not(feature = "aws-lc"))]
    key: PublicKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("backend", &BACKEND)
            .field("algorithms", &self.algorithms())
            .finish()
    }
}

impl VerifyingKey {
    /// The ready form of `key` for `algs` (the algorithms of the key's family
    /// it may serve). A key the library rejects verifies nothing: `Err` says why.
    pub fn new(key: &PublicKey, algs: &[Algorithm]) -> Result<VerifyingKey, &'static str> {
        let algs: Vec<Algorithm> = algs
            .iter()
            .copied()
            .filter(|a| key.family_matches(a.family()))
            .collect();
        backend::build(key, &algs)
    }

    /// The algorithms this key verifies.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        backend::algorithms(self)
    }

    /// Whether `signature` is this key's, with `alg`, over `message`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        backend::verify(self, alg, message, signature)
    }
}

#[cfg(feature = "aws-lc")]
mod backend {
    use super::{Algorithm, PublicKey, VerifyingKey};
    use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};

    fn rsa_params(alg: Algorithm) -> Option<&'static sig::RsaParameters> {
        Some(match alg {
            Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    fn curve(alg: Algorithm) -> Option<&'static dyn sig::VerificationAlgorithm> {
        Some(match alg {
            Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &sig::ED25519,
            _ => return None,
        })
    }

    pub fn build(key: &PublicKey, algs: &[Algorithm]) -> Result<VerifyingKey, &'static str> {
        let mut parsed = Vec::with_capacity(algs.len());
        for &alg in algs {
            let p = match (key, rsa_params(alg), curve(alg)) {
                (PublicKey::Rsa { n, e }, Some(params), _) => {
                    let p = RsaPublicKeyComponents { n, e }
                        .to_parsed_public_key(params)
                        .map_err(|_| "RSA key rejected by the verifier")?;
                    // The first verification computes the modulus's Montgomery
                    // constants and keeps them in the key: do it now (at init,
                    // before a server forks), with a signature of zeros.
                    let _ = p.verify_sig(b"", &vec![0u8; n.len()]);
                    p
                }
                (PublicKey::Ec { point, .. }, _, Some(v)) => ParsedPublicKey::new(v, point)
                    .map_err(|_| "EC point rejected by the verifier")?,
                (PublicKey::Ed25519(x), _, Some(v)) => ParsedPublicKey::new(v, x)
                    .map_err(|_| "Ed25519 key rejected by the verifier")?,
                _ => continue,
            };
            parsed.push((alg, p));
        }
        Ok(VerifyingKey { parsed })
    }

    pub fn algorithms(k: &VerifyingKey) -> Vec<Algorithm> {
        k.parsed.iter().map(|(a, _)| *a).collect()
    }

    pub fn verify(k: &VerifyingKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        k.parsed
            .iter()
            .find(|(a, _)| *a == alg)
            .is_some_and(|(_, p)| p.verify_sig(message, signature).is_ok())
    }
}

#[cfg(not(feature = "aws-lc"))]
mod backend {
    use super::{Algorithm, PublicKey, VerifyingKey};

    pub fn build(key: &PublicKey, _algs: &[Algorithm]) -> Result<VerifyingKey, &'static str> {
        Ok(VerifyingKey { key: key.clone() })
    }

    pub fn algorithms(k: &VerifyingKey) -> Vec<Algorithm> {
        super::super::alg::ALL
            .iter()
            .copied()
            .filter(|a| k.key.family_matches(a.family()))
            .collect()
    }

    pub fn verify(k: &VerifyingKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature::{RsaPublicKeyComponents, UnparsedPublicKey};
        if !k.key.family_matches(alg.family()) {
            return false;
        }
        match (&k.key, alg.rsa_params(), alg.curve_verifier()) {
            (PublicKey::Rsa { n, e }, Some(params), _) => RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok(),
            (PublicKey::Ec { point: key, .. } | PublicKey::Ed25519(key), _, Some(verifier)) => {
                UnparsedPublicKey::new(verifier, key)
                    .verify(message, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::alg::{Family, ALL};
    use ring::rand::SystemRandom;
    use ring::signature::{
        EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
        ECDSA_P384_SHA384_FIXED_SIGNING,
    };

    fn ec(
        alg: &'static ring::signature::EcdsaSigningAlgorithm,
        family: Family,
    ) -> (PublicKey, Vec<u8>) {
        let rng = SystemRandom::new();
        let pk8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(alg, pk8.as_ref(), &rng).unwrap();
        let sig = kp.sign(&rng, b"message").unwrap().as_ref().to_vec();
        (
            PublicKey::Ec {
                family,
                point: kp.public_key().as_ref().to_vec(),
            },
            sig,
        )
    }

    #[test]
    fn ecdsa_and_eddsa_verify_only_their_own_signature_and_algorithm() {
        let (p256, s256) = ec(&ECDSA_P256_SHA256_FIXED_SIGNING, Family::EcP256);
        let (p384, s384) = ec(&ECDSA_P384_SHA384_FIXED_SIGNING, Family::EcP384);
        let pk8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(pk8.as_ref()).unwrap();
        let sed = ed.sign(b"message").as_ref().to_vec();
        let ped = PublicKey::Ed25519(ed.public_key().as_ref().to_vec());
        for (key, alg, sig) in [
            (&p256, Algorithm::ES256, &s256),
            (&p384, Algorithm::ES384, &s384),
            (&ped, Algorithm::EdDSA, &sed),
        ] {
            let k = VerifyingKey::new(key, &ALL).unwrap();
            assert_eq!(k.algorithms(), [alg]);
            assert!(k.verify(alg, b"message", sig), "{alg:?}");
            assert!(!k.verify(alg, b"messagE", sig), "{alg:?}");
            let mut bad = sig.clone();
            bad[5] ^= 1;
            assert!(!k.verify(alg, b"message", &bad), "{alg:?}");
            for other in ALL.iter().filter(|a| **a != alg) {
                assert!(!k.verify(*other, b"message", sig), "{alg:?} as {other:?}");
            }
        }
    }

    /// The signing input and signature of a testkit JWT signed with `alg`.
    fn rsa_signed(keys: &testkit::Keys, alg: &str) -> (Vec<u8>, Vec<u8>) {
        let jwt = keys
            .sign(&testkit::header(alg), &testkit::default_claims("alice"))
            .unwrap();
        let (signed, sig) = jwt.rsplit_once('.').unwrap();
        (
            signed.as_bytes().to_vec(),
            testkit::b64_decode(sig).unwrap(),
        )
    }

    #[test]
    fn an_rsa_key_serves_the_algorithms_it_was_built_for() {
        let dir = std::env::temp_dir().join(format!("sasl-oauth-verifier-{}", std::process::id()));
        testkit::Keys::generate(&dir).unwrap();
        let keys = testkit::Keys::load(&dir).unwrap();
        let jwk = keys.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == "RSA")
            .unwrap()
            .clone();
        let field = |f: &str| testkit::b64_decode(jwk[f].as_str().unwrap()).unwrap();
        let key = PublicKey::Rsa {
            n: field("n"),
            e: field("e"),
        };
        let (msg, sig) = rsa_signed(&keys, "RS256");
        let (pmsg, pss) = rsa_signed(&keys, "PS256");
        let any = VerifyingKey::new(&key, &ALL).unwrap();
        assert_eq!(any.algorithms().len(), 6);
        assert!(any.verify(Algorithm::RS256, &msg, &sig));
        assert!(any.verify(Algorithm::PS256, &pmsg, &pss));
        assert!(!any.verify(Algorithm::PS256, &msg, &sig));
        assert!(!any.verify(Algorithm::RS384, &msg, &sig));
        assert!(!any.verify(Algorithm::RS256, &pmsg, &sig));
        assert!(!any.verify(Algorithm::ES256, &msg, &sig));
        // Bound to RS256 by the JWK's alg: PS256 is never tried.
        let rs_only = VerifyingKey::new(&key, &[Algorithm::RS256]).unwrap();
        assert!(rs_only.verify(Algorithm::RS256, &msg, &sig));
        if cfg!(feature = "aws-lc") {
            assert!(!rs_only.verify(Algorithm::PS256, &pmsg, &pss));
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_small_rsa_modulus_verifies_nothing() {
        // 65537 as modulus: loaded, but no signature can verify with it.
        let key = PublicKey::Rsa {
            n: vec![1, 0, 1],
            e: vec![1, 0, 1],
        };
        if let Ok(k) = VerifyingKey::new(&key, &ALL) {
            assert!(!k.verify(Algorithm::RS256, b"m", &[0, 0, 1]));
        }
    }
}
