//! JSON Web Key Sets (RFC 7517) holding the identity provider's public keys.
//! Keys we cannot use (symmetric, encryption-only by `use` or `key_ops`,
//! unknown types or curves, malformed members) are skipped rather than
//! failing the whole set, as providers publish mixed sets: Keycloak lists its
//! RSA-OAEP encryption key beside the signing key, Entra's keys carry `x5c`
//! and `x5t` and no `alg`. A key's material is only ever `n`/`e` or `x`/`y`:
//! certificates (`x5c`) are never read, so they cannot stand in for it.

use super::alg::{Algorithm, Family, ALL};
use super::verifier::VerifyingKey;
use crate::error::Error;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// A JWKS larger than this is not a key set but an attack or a mistake.
pub const MAX_JWKS_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Modulus and exponent, big-endian, without leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed SEC1 point (0x04 || x || y).
    Ec {
        family: Family,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

impl PublicKey {
    pub fn family_matches(&self, family: Family) -> bool {
        match self {
            PublicKey::Rsa { .. } => family == Family::Rsa,
            PublicKey::Ec { family: f, .. } => *f == family,
            PublicKey::Ed25519(_) => family == Family::Ed25519,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Jwk {
    pub kid: Option<String>,
    /// When the JWK names an algorithm, only that algorithm may use it.
    pub alg: Option<Algorithm>,
    pub key: PublicKey,
    /// The key parsed for verification when the set was loaded.
    pub verifier: VerifyingKey,
}

impl Jwk {
    /// Verifies `signature` over `message` with `alg`; false on any mismatch.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.alg.is_none_or(|a| a == alg) && self.verifier.verify(alg, message, signature)
    }
}

#[derive(Debug, Default, Clone)]
pub struct JwkSet {
    keys: Vec<Jwk>,
    by_kid: HashMap<String, Vec<usize>>,
    /// How many entries were skipped as unusable (for a log line).
    pub skipped: usize,
    /// Why, for the first few (kid and reason), for `sasl-oauth doctor`.
    pub skip_reasons: Vec<String>,
}

/// Skip reasons kept per set.
const MAX_SKIP_REASONS: usize = 16;

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

impl JwkSet {
    pub fn parse(json: &[u8]) -> Result<JwkSet, Error> {
        let raw: RawSet = serde_json::from_slice(json).map_err(|e| {
            Error::config(format!(
                "JWKS is not a JSON object with a 'keys' array: {e}"
            ))
        })?;
        let mut set = JwkSet::default();
        for value in raw.keys {
            let kid = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
            let key = serde_json::from_value::<RawKey>(value)
                .map_err(|_| "a member has the wrong type")
                .and_then(|k| convert(&k));
            match key {
                Ok(jwk) => set.push(jwk),
                Err(why) => set.skip(kid, why),
            }
        }
        if set.keys.is_empty() {
            return Err(Error::config("JWKS holds no usable signature key"));
        }
        Ok(set)
    }

    pub fn load(path: &Path) -> Result<JwkSet, Error> {
        use std::io::Read;
        let file = std::fs::File::open(path)
            .map_err(|e| Error::config(format!("cannot open {}: {e}", path.display())))?;
        let mut bytes = Vec::new();
        file.take(MAX_JWKS_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?;
        if bytes.len() as u64 > MAX_JWKS_BYTES {
            return Err(Error::config(format!(
                "{} is larger than 1 MiB",
                path.display()
            )));
        }
        JwkSet::parse(&bytes)
            .map_err(|e| Error::config(format!("{}: {}", path.display(), e.reason)))
    }

    fn skip(&mut self, kid: Option<String>, why: &str) {
        self.skipped += 1;
        if self.skip_reasons.len() < MAX_SKIP_REASONS {
            let kid = crate::error::printable(kid.as_deref().unwrap_or("(none)"), 64);
            self.skip_reasons.push(format!("kid {kid}: {why}"));
        }
    }

    fn push(&mut self, jwk: Jwk) {
        if let Some(kid) = &jwk.kid {
            self.by_kid
                .entry(kid.clone())
                .or_default()
                .push(self.keys.len());
        }
        self.keys.push(jwk);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that may verify a token with this `kid` and `alg`.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a Jwk> + 'a {
        let indexes: &[usize] = match kid {
            Some(k) => self.by_kid.get(k).map(Vec::as_slice).unwrap_or(&[]),
            None => &[],
        };
        let by_kid = indexes.iter().map(|&i| &self.keys[i]);
        let all = self.keys.iter().filter(move |_| kid.is_none());
        by_kid
            .chain(all)
            .filter(move |k| k.key.family_matches(alg.family()) && k.alg.is_none_or(|a| a == alg))
    }

    pub fn first_key(&self) -> Option<&PublicKey> {
        self.keys.first().map(|k| &k.key)
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }
}

fn b64(field: &Option<String>) -> Result<Vec<u8>, &'static str> {
    let text = field
        .as_deref()
        .ok_or("key material (n/e or x/y) missing")?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| "key material is not base64url")
}

/// Whether the JWK may verify signatures at all (RFC 7517 §4.2, §4.3).
fn for_verifying(k: &RawKey) -> Result<(), &'static str> {
    if k.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("not a signature key (use)");
    }
    if k.key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return Err("key_ops has no verify");
    }
    Ok(())
}

fn convert(k: &RawKey) -> Result<Jwk, &'static str> {
    for_verifying(k)?;
    // A JWK bound to an algorithm we never accept (HS256, RSA-OAEP…) is unusable.
    let alg = match &k.alg {
        None => None,
        Some(name) => Some(Algorithm::from_name(name).map_err(|_| "alg is not one we verify")?),
    };
    let key = match k.kty.as_str() {
        "RSA" => {
            let n = strip_zeros(b64(&k.n)?);
            let e = strip_zeros(b64(&k.e)?);
            if n.is_empty() || e.is_empty() {
                return Err("RSA n or e is zero");
            }
            PublicKey::Rsa { n, e }
        }
        "EC" => {
            let (family, len) = match k.crv.as_deref() {
                Some("P-256") => (Family::EcP256, 32),
                Some("P-384") => (Family::EcP384, 48),
                _ => return Err("unknown EC curve"),
            };
            let (x, y) = (b64(&k.x)?, b64(&k.y)?);
            if x.len() != len || y.len() != len {
                return Err("EC x or y has the wrong length");
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            PublicKey::Ec { family, point }
        }
        "OKP" if k.crv.as_deref() == Some("Ed25519") => {
            let x = b64(&k.x)?;
            if x.len() != 32 {
                return Err("Ed25519 x has the wrong length");
            }
            PublicKey::Ed25519(x)
        }
        "OKP" => return Err("unknown OKP curve"),
        _ => return Err("unknown key type"),
    };
    if alg.is_some_and(|a| !key.family_matches(a.family())) {
        return Err("alg does not match the key type");
    }
    let verifier = match alg {
        Some(a) => VerifyingKey::new(&key, &[a]),
        None => VerifyingKey::new(&key, &ALL),
    }?;
    Ok(Jwk {
        kid: k.kid.clone(),
        alg,
        key,
        verifier,
    })
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    v.drain(..first);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_JWK: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec-1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    const ED_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"ed-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    const RSA_JWK: &str = r#"{"kty":"RSA","kid":"rsa-1","alg":"RS256","n":"AQAB","e":"AQAB"}"#;

    fn set(keys: &[&str]) -> Result<JwkSet, Error> {
        JwkSet::parse(format!(r#"{{"keys":[{}]}}"#, keys.join(",")).as_bytes())
    }

    #[test]
    fn parses_ec_ed_and_rsa_keys() {
        let s = set(&[EC_JWK, ED_JWK, RSA_JWK]).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.candidates(Some("ec-1"), Algorithm::ES256).count(), 1);
        assert_eq!(s.candidates(Some("ed-1"), Algorithm::EdDSA).count(), 1);
        assert_eq!(s.candidates(Some("rsa-1"), Algorithm::RS256).count(), 1);
    }

    #[test]
    fn key_bound_to_an_algorithm_does_not_serve_another() {
        let s = set(&[RSA_JWK]).unwrap();
        assert_eq!(s.candidates(Some("rsa-1"), Algorithm::PS256).count(), 0);
    }

    #[test]
    fn family_must_match() {
        let s = set(&[EC_JWK]).unwrap();
        assert_eq!(s.candidates(Some("ec-1"), Algorithm::RS256).count(), 0);
        assert_eq!(s.candidates(Some("ec-1"), Algorithm::ES384).count(), 0);
    }

    #[test]
    fn unknown_kid_has_no_candidates() {
        let s = set(&[EC_JWK]).unwrap();
        assert_eq!(s.candidates(Some("nope"), Algorithm::ES256).count(), 0);
        assert_eq!(s.candidates(None, Algorithm::ES256).count(), 1);
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let s = set(&[EC_JWK, r#"{"kty":"oct","k":"c2VjcmV0"}"#, r#"{"kty":"RSA","alg":"HS256","n":"AQAB","e":"AQAB"}"#, r#"{"kty":"EC","crv":"P-256","use":"enc","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#]).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.skipped, 3);
    }

    /// Keycloak's realm keys (`/realms/<realm>/protocol/openid-connect/certs`,
    /// described at https://documentation.cloud-iam.com/resources/configure-remote-jwks.html
    /// and the Keycloak server admin guide, "Realm keys"): an RS256 signing key
    /// and an RSA-OAEP encryption key, both RSA, both with x5c and x5t.
    #[test]
    fn keycloak_encryption_key_is_skipped_and_the_signing_key_kept() {
        let s = set(&[
            r#"{"kid":"kc-sig","kty":"RSA","alg":"RS256","use":"sig","n":"AQAB","e":"AQAB","x5c":["MIIC"],"x5t":"abc","x5t#S256":"def"}"#,
            r#"{"kid":"kc-enc","kty":"RSA","alg":"RSA-OAEP","use":"enc","n":"AQAB","e":"AQAB","x5c":["MIIC"],"x5t":"abc"}"#,
        ])
        .unwrap();
        assert_eq!(s.len(), 1);
        assert!(s.has_kid("kc-sig") && !s.has_kid("kc-enc"));
        assert_eq!(s.skip_reasons, ["kid kc-enc: not a signature key (use)"]);
        // Without `use`, RSA-OAEP as alg alone rules it out too.
        let s = set(&[
            RSA_JWK,
            r#"{"kid":"e2","kty":"RSA","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"}"#,
        ])
        .unwrap();
        assert!(!s.has_kid("e2"));
    }

    /// Entra's keys (https://login.microsoftonline.com/common/discovery/v2.0/keys,
    /// per https://learn.microsoft.com/entra/identity-platform/access-tokens,
    /// "Validate the signature"): RSA with kid, x5t, n, e, x5c, and no alg.
    #[test]
    fn a_key_without_alg_serves_every_algorithm_of_its_type() {
        let s = set(&[r#"{"kty":"RSA","use":"sig","kid":"entra-1","x5t":"entra-1","n":"AQAB","e":"AQAB","x5c":["MIIC"],"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0"}"#]).unwrap();
        for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::PS256] {
            assert_eq!(s.candidates(Some("entra-1"), alg).count(), 1, "{alg:?}");
        }
        assert_eq!(s.candidates(Some("entra-1"), Algorithm::ES256).count(), 0);
    }

    #[test]
    fn a_certificate_never_stands_in_for_the_key() {
        // x5c only, no n/e: unusable, whatever the certificate holds.
        let only_cert = r#"{"kty":"RSA","kid":"c","x5c":["MIIC"],"x5t":"t"}"#;
        assert!(set(&[only_cert]).is_err());
        let s = set(&[EC_JWK, only_cert]).unwrap();
        assert_eq!(s.skip_reasons, ["kid c: key material (n/e or x/y) missing"]);
    }

    #[test]
    fn key_ops_without_verify_and_malformed_members_are_skipped_not_fatal() {
        let s = set(&[
            EC_JWK,
            r#"{"kty":"EC","crv":"P-256","kid":"ops","key_ops":["encrypt"],"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
            r#"{"kty":"RSA","kid":7,"n":"AQAB","e":"AQAB"}"#,
            r#"{"kty":"RSA","kid":"badb64","n":"!!","e":"AQAB"}"#,
            r#"{"kty":"EC","crv":"P-521","kid":"p521","x":"AA","y":"AA"}"#,
            r#"{"kty":"OKP","crv":"X25519","kid":"x25519","x":"AA"}"#,
            r#"{"kty":"AKP","kid":"pq","pub":"AA"}"#,
            r#"{"kty":"RSA","kid":"ops-str","key_ops":"verify","n":"AQAB","e":"AQAB"}"#,
            r#"[1,2]"#,
        ])
        .unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.skipped, 8);
        assert!(s
            .skip_reasons
            .iter()
            .any(|r| r == "kid ops: key_ops has no verify"));
        // key_ops naming verify is kept.
        let s = set(&[r#"{"kty":"RSA","kid":"v","key_ops":["verify"],"n":"AQAB","e":"AQAB"}"#])
            .unwrap();
        assert!(s.has_kid("v"));
    }

    #[test]
    fn empty_or_bad_sets_are_config_errors() {
        assert!(set(&[]).is_err());
        assert!(JwkSet::parse(b"{}").is_err());
        assert!(JwkSet::parse(b"not json").is_err());
        assert!(set(&[r#"{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#]).is_err());
    }
}
