//! JWT access tokens (RFC 9068) verified against a local key set, following
//! RFC 8725: the algorithm must be on our list and match the key; the
//! signature is checked before any claim is believed. With several issuers,
//! the `iss` a token names (exactly one of ours, else it is refused) only
//! chooses whose keys verify it: never a key of another issuer.

use super::alg::Algorithm;
use super::jwks::JwkSet;
use super::keys::KeyStore;
use super::policy::ClaimsPolicy;
use super::strict_json::Object;
use super::{claims, Identity, TokenValidator, Trace};
use crate::error::{printable, Error};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::borrow::Cow;
use std::sync::Arc;

/// Keys tried for a token that names no `kid`.
const MAX_KEYS_WITHOUT_KID: usize = 8;

/// What a token must satisfy, from the server configuration.
#[derive(Debug, Clone)]
pub struct JwtPolicy {
    pub claims: Arc<ClaimsPolicy>,
    pub algorithms: Vec<Algorithm>,
}

pub struct JwtValidator {
    policy: JwtPolicy,
    /// Each configured issuer with its own keys.
    keys: Vec<(String, KeyStore)>,
}

/// What a signature must be checked against.
struct Signed<'a> {
    message: &'a [u8],
    signature: &'a [u8],
    alg: Algorithm,
    kid: Option<&'a str>,
}

/// The three parts of a compact JWS, still encoded.
struct Compact<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`: the bytes the signature covers.
    signed: &'a str,
}

fn split(token: &str) -> Result<Compact<'_>, Error> {
    let mut parts = token.splitn(4, '.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::invalid_token(
            "token is not a JWT (expected three dot-separated parts)",
        ));
    };
    Ok(Compact {
        header,
        payload,
        signature,
        signed: &token[..header.len() + 1 + payload.len()],
    })
}

/// The header, claims and signature, decoded into one buffer (one allocation
/// for the three).
struct Decoded {
    bytes: Vec<u8>,
    /// Where the claims and the signature begin; the header is first.
    payload_at: usize,
    signature_at: usize,
}

impl Decoded {
    fn new(jws: &Compact<'_>) -> Result<Decoded, Error> {
        let parts = [
            (jws.header, "header"),
            (jws.payload, "payload"),
            (jws.signature, "signature"),
        ];
        let room = parts
            .iter()
            .map(|(p, _)| base64::decoded_len_estimate(p.len()))
            .sum();
        let mut bytes = vec![0u8; room];
        let mut ends = [0usize; 3];
        let mut at = 0;
        for (i, (part, what)) in parts.iter().enumerate() {
            at += URL_SAFE_NO_PAD
                .decode_slice(part, &mut bytes[at..])
                .map_err(|_| Error::invalid_token(format!("JWT {what} is not base64url")))?;
            ends[i] = at;
        }
        bytes.truncate(at);
        Ok(Decoded {
            bytes,
            payload_at: ends[0],
            signature_at: ends[1],
        })
    }

    fn header(&self) -> &[u8] {
        &self.bytes[..self.payload_at]
    }

    fn payload(&self) -> &[u8] {
        &self.bytes[self.payload_at..self.signature_at]
    }

    fn signature(&self) -> &[u8] {
        &self.bytes[self.signature_at..]
    }
}

/// `typ`, when present, must say this is an access token (RFC 9068 §2.1) or a plain JWT.
fn check_typ(header: &Object<'_>) -> Result<(), Error> {
    match header.text("typ") {
        None => Ok(()),
        Some(Ok(t)) => {
            let media = match t.get(..12) {
                Some(p) if p.eq_ignore_ascii_case("application/") => &t[12..],
                _ => &t[..],
            };
            if media.eq_ignore_ascii_case("at+jwt") || media.eq_ignore_ascii_case("jwt") {
                Ok(())
            } else {
                Err(Error::invalid_token(format!(
                    "JWT typ '{}' is not at+jwt or JWT",
                    printable(&media.to_ascii_lowercase(), 40)
                )))
            }
        }
        Some(Err(())) => Err(Error::invalid_token("JWT typ is not a string")),
    }
}

/// The `iss` of a token that parses as a JWT, without verifying anything: used
/// only to choose between local verification and introspection.
pub fn unverified_issuer(token: &str) -> Option<String> {
    let jws = split(token).ok()?;
    let payload = URL_SAFE_NO_PAD.decode(jws.payload).ok()?;
    let claims = Object::parse(&payload)?;
    claims.str("iss").map(Cow::into_owned)
}

impl JwtValidator {
    /// `keys`: each issuer of `policy.claims` with its key store.
    pub fn new(policy: JwtPolicy, keys: Vec<(String, KeyStore)>) -> Self {
        JwtValidator { policy, keys }
    }

    pub fn policy(&self) -> &JwtPolicy {
        &self.policy
    }

    /// Whether `iss` is exactly one of the issuers we hold keys for.
    pub fn knows_issuer(&self, iss: &str) -> bool {
        self.keys.iter().any(|(i, _)| i == iss)
    }

    /// Header checks, the issuer the token names, and the signature with
    /// that issuer's keys; returns the verified claims set and the issuer.
    fn verify<'d>(
        &self,
        jws: &Compact<'_>,
        decoded: &'d Decoded,
        now: i64,
        trace: &mut dyn Trace,
    ) -> Result<(Object<'d>, &str), Error> {
        let header = Object::parse(decoded.header()).ok_or_else(|| {
            Error::invalid_token("JWT header is not a JSON object with unique keys")
        })?;
        let (alg, kid) = self.check_header(&header)?;
        trace.note(|| {
            let typ = header.str("typ").unwrap_or(Cow::Borrowed("(none)"));
            format!(
                "ok  header: alg {} allowed, typ {typ}, kid {}",
                alg.name(),
                kid.as_deref().unwrap_or("(none)")
            )
        });
        // Read before the signature is checked, only to choose whose keys check it.
        let claims = Object::parse(decoded.payload()).ok_or_else(|| {
            Error::invalid_token("JWT claims are not a JSON object with unique keys")
        })?;
        let issuer = claims::check_issuer(&claims, &self.policy.claims.issuers)?;
        let keys = self
            .keys
            .iter()
            .find(|(i, _)| i == issuer)
            .map(|(_, k)| k)
            .ok_or_else(|| Error::internal("an issuer without a key store"))?;
        let signed = Signed {
            message: jws.signed.as_bytes(),
            signature: decoded.signature(),
            alg,
            kid: kid.as_deref(),
        };
        self.check_signature(keys, &signed, now)?;
        trace.note(|| format!("ok  signature verified with a key from {}", keys.describe()));
        Ok((claims, issuer))
    }

    /// The algorithm (one of ours) and the kid, if the header is acceptable.
    fn check_header<'h>(
        &self,
        header: &Object<'h>,
    ) -> Result<(Algorithm, Option<Cow<'h, str>>), Error> {
        let alg_name = header
            .str("alg")
            .ok_or_else(|| Error::invalid_token("JWT header has no 'alg'"))?;
        let alg = Algorithm::from_name(&alg_name)?;
        if !self.policy.algorithms.contains(&alg) {
            return Err(Error::invalid_token(format!(
                "algorithm {} is not in oauth_algorithms",
                alg.name()
            )));
        }
        // We implement no JWS extension, so any critical one is unknown to us (RFC 7515 §4.1.11).
        if header.contains_key("crit") {
            return Err(Error::invalid_token(
                "JWT header has 'crit' extensions we do not implement",
            ));
        }
        check_typ(header)?;
        // jku, x5u, jwk and x5c are never followed: keys come only from our JWKS.
        let kid = match header.text("kid") {
            None => None,
            Some(Ok(k)) => Some(k),
            Some(Err(())) => return Err(Error::invalid_token("JWT kid is not a string")),
        };
        Ok((alg, kid))
    }

    /// The signature verifies with one of our keys for `kid` and `alg`.
    fn check_signature(
        &self,
        store: &KeyStore,
        signed: &Signed<'_>,
        now: i64,
    ) -> Result<(), Error> {
        let (alg, kid) = (signed.alg, signed.kid);
        let mut keys = store.keys(now)?;
        let unknown = |set: &JwkSet| kid.is_some_and(|k| !set.has_kid(k));
        if unknown(&keys) {
            // Perhaps the provider rotated its keys: look again, within limits.
            if let Some(newer) = store.refresh_for_unknown_kid(now) {
                keys = newer;
            }
        }
        let mut candidates = keys.candidates(kid, alg).peekable();
        if candidates.peek().is_none() {
            return Err(Error::invalid_token(match kid {
                Some(k) if unknown(&keys) => {
                    format!("unknown kid '{}': not in the JWKS", printable(k, 64))
                }
                Some(k) => format!(
                    "key kid '{}' cannot verify algorithm {}",
                    printable(k, 64),
                    alg.name()
                ),
                None => format!("no key in the JWKS for algorithm {}", alg.name()),
            }));
        }
        // Without a kid, each key of the right type is tried, but only a few: a
        // token must not make us try thousands. With a kid, only its keys.
        if kid.is_none()
            && keys
                .candidates(None, alg)
                .nth(MAX_KEYS_WITHOUT_KID)
                .is_some()
        {
            return Err(Error::invalid_token(format!(
                "token has no kid and the JWKS has more than {MAX_KEYS_WITHOUT_KID} keys for {}",
                alg.name()
            )));
        }
        if !candidates.any(|k| k.verify(alg, signed.message, signed.signature)) {
            return Err(Error::invalid_token(format!(
                "bad signature ({}, kid {})",
                alg.name(),
                kid.map(|k| printable(k, 64))
                    .unwrap_or_else(|| "none".into())
            )));
        }
        Ok(())
    }
}

impl TokenValidator for JwtValidator {
    fn check(&self, token: &str, now: i64, trace: &mut dyn Trace) -> Result<Identity, Error> {
        // Without a configured issuer no token names one of ours: nothing passes.
        let jws = split(token)?;
        let decoded = Decoded::new(&jws)?;
        let (c, issuer) = self.verify(&jws, &decoded, now, trace)?;
        let p = &*self.policy.claims;
        trace.note(|| format!("ok  iss is {issuer}"));
        claims::check_audience(&c, &p.audiences)?;
        trace.note(|| format!("ok  aud names one of: {}", p.audiences.join(" ")));
        let exp = claims::check_times(&c, now, p.clock_skew)?;
        trace.note(|| {
            format!(
                "ok  valid now: exp in {} s (clock skew {} s)",
                exp - now,
                p.clock_skew
            )
        });
        let authid = p.authorize(&c, trace)?;
        Ok(Identity {
            authid,
            expires_at: Some(exp),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use serde_json::{json, Value};

    const NOW: i64 = 1_800_000_000;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    struct Keys {
        ec: EcdsaKeyPair,
        ed: Ed25519KeyPair,
        jwks_json: String,
    }

    fn keys() -> Keys {
        let rng = SystemRandom::new();
        let ec_pk8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_pk8.as_ref(), &rng)
            .unwrap();
        let ed_pk8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(ed_pk8.as_ref()).unwrap();
        let point = ec.public_key().as_ref();
        let jwks = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec-1", "x": b64(&point[1..33]), "y": b64(&point[33..])},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64(ed.public_key().as_ref())},
        ]});
        Keys {
            ec,
            ed,
            jwks_json: jwks.to_string(),
        }
    }

    fn claims() -> Value {
        json!({"iss": "https://issuer.test", "aud": "imap", "sub": "alice", "exp": NOW + 600,
               "iat": NOW - 10, "scope": "openid mail"})
    }

    fn sign(k: &Keys, header: Value, claims: Value) -> String {
        let signed = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = match header["alg"].as_str() {
            Some("ES256") => {
                k.ec.sign(&SystemRandom::new(), signed.as_bytes())
                    .unwrap()
                    .as_ref()
                    .to_vec()
            }
            Some("EdDSA") => k.ed.sign(signed.as_bytes()).as_ref().to_vec(),
            _ => b"junk".to_vec(),
        };
        format!("{signed}.{}", b64(&sig))
    }

    fn validator(k: &Keys) -> JwtValidator {
        let dir = std::env::temp_dir().join(format!(
            "sasl-oauth-jwt-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jwks.json");
        std::fs::write(&path, k.jwks_json.as_bytes()).unwrap();
        JwtValidator::new(
            JwtPolicy {
                claims: Arc::new(ClaimsPolicy {
                    issuers: vec!["https://issuer.test".into()],
                    audiences: vec!["imap".into()],
                    required_scopes: vec!["mail".into()],
                    clock_skew: 60,
                    ..Default::default()
                }),
                algorithms: super::super::alg::ALL.to_vec(),
            },
            vec![(
                "https://issuer.test".into(),
                KeyStore::from_file(path, NOW).unwrap(),
            )],
        )
    }

    fn check(k: &Keys, header: Value, claims: Value) -> Result<Identity, Error> {
        validator(k).validate(&sign(k, header, claims), NOW)
    }

    fn reason(r: Result<Identity, Error>) -> String {
        r.unwrap_err().reason.into_owned()
    }

    #[test]
    fn es256_token_is_accepted() {
        let k = keys();
        let id = check(
            &k,
            json!({"alg": "ES256", "kid": "ec-1", "typ": "at+jwt"}),
            claims(),
        )
        .unwrap();
        assert_eq!(id.authid, "alice");
    }

    #[test]
    fn eddsa_token_without_kid_is_accepted() {
        let k = keys();
        assert!(check(&k, json!({"alg": "EdDSA"}), claims()).is_ok());
    }

    #[test]
    fn alg_none_is_refused() {
        let k = keys();
        let t = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(claims().to_string().as_bytes())
        );
        assert!(reason(validator(&k).validate(&t, NOW)).contains("algorithm"));
    }

    #[test]
    fn hs256_is_refused() {
        let k = keys();
        assert!(
            reason(check(&k, json!({"alg": "HS256", "kid": "ec-1"}), claims())).contains("HMAC")
        );
    }

    #[test]
    fn algorithm_not_in_allowlist() {
        let k = keys();
        let mut v = validator(&k);
        v.policy.algorithms = vec![Algorithm::RS256];
        let t = sign(&k, json!({"alg": "ES256", "kid": "ec-1"}), claims());
        assert!(reason(v.validate(&t, NOW)).contains("oauth_algorithms"));
    }

    #[test]
    fn algorithm_must_match_key_type() {
        let k = keys();
        assert!(
            reason(check(&k, json!({"alg": "RS256", "kid": "ec-1"}), claims()))
                .contains("cannot verify")
        );
    }

    #[test]
    fn unknown_kid() {
        let k = keys();
        assert!(reason(check(
            &k,
            json!({"alg": "ES256", "kid": "../../etc/passwd"}),
            claims()
        ))
        .contains("unknown kid"));
    }

    #[test]
    fn flipped_signature_byte() {
        let k = keys();
        let t = sign(&k, json!({"alg": "ES256", "kid": "ec-1"}), claims());
        let (signed, sig) = t.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        sig[10] ^= 1;
        let t = format!("{signed}.{}", b64(&sig));
        assert!(reason(validator(&k).validate(&t, NOW)).contains("signature"));
    }

    #[test]
    fn payload_swapped_after_signing() {
        let k = keys();
        let t = sign(&k, json!({"alg": "EdDSA", "kid": "ed-1"}), claims());
        let parts: Vec<&str> = t.split('.').collect();
        let mut evil = claims();
        evil["sub"] = json!("root");
        let t = format!(
            "{}.{}.{}",
            parts[0],
            b64(evil.to_string().as_bytes()),
            parts[2]
        );
        assert!(reason(validator(&k).validate(&t, NOW)).contains("signature"));
    }

    #[test]
    fn wrong_typ() {
        let k = keys();
        assert!(reason(check(
            &k,
            json!({"alg": "ES256", "kid": "ec-1", "typ": "secevent+jwt"}),
            claims()
        ))
        .contains("typ"));
        assert!(check(
            &k,
            json!({"alg": "ES256", "kid": "ec-1", "typ": "application/at+jwt"}),
            claims()
        )
        .is_ok());
        assert!(check(
            &k,
            json!({"alg": "ES256", "kid": "ec-1", "typ": "JWT"}),
            claims()
        )
        .is_ok());
    }

    #[test]
    fn crit_header_is_refused() {
        let k = keys();
        assert!(reason(check(
            &k,
            json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"]}),
            claims()
        ))
        .contains("crit"));
    }

    #[test]
    fn jku_is_not_followed() {
        let k = keys();
        // The token names a foreign key set; it is still checked against ours only.
        assert!(check(
            &k,
            json!({"alg": "ES256", "kid": "ec-1", "jku": "https://evil/jwks"}),
            claims()
        )
        .is_ok());
        assert!(reason(check(
            &k,
            json!({"alg": "ES256", "kid": "evil", "jku": "https://evil/jwks"}),
            claims()
        ))
        .contains("unknown kid"));
    }

    #[test]
    fn expired_wrong_iss_wrong_aud_missing_scope() {
        let k = keys();
        let h = json!({"alg": "ES256", "kid": "ec-1"});
        let mut c = claims();
        c["exp"] = json!(NOW - 3600);
        assert!(reason(check(&k, h.clone(), c)).contains("expired"));
        let mut c = claims();
        c["iss"] = json!("https://evil.test");
        assert!(reason(check(&k, h.clone(), c)).contains("issuer"));
        let mut c = claims();
        c["aud"] = json!("other");
        assert!(reason(check(&k, h.clone(), c)).contains("audience"));
        let mut c = claims();
        c["scope"] = json!("openid");
        let e = check(&k, h.clone(), c).unwrap_err();
        assert_eq!(
            e.kind,
            crate::error::ErrorKind::Rejected(crate::error::OAuthStatus::InsufficientScope)
        );
    }

    #[test]
    fn duplicate_claim_is_refused() {
        let k = keys();
        let payload = format!(
            r#"{{"iss":"https://issuer.test","aud":"imap","sub":"alice","exp":{},"exp":{},"scope":"mail"}}"#,
            NOW - 10_000,
            NOW + 600
        );
        let header = br#"{"alg":"EdDSA","kid":"ed-1"}"#;
        let signed = format!("{}.{}", b64(header), b64(payload.as_bytes()));
        let t = format!("{signed}.{}", b64(k.ed.sign(signed.as_bytes()).as_ref()));
        assert!(reason(validator(&k).validate(&t, NOW)).contains("unique keys"));
    }

    #[test]
    fn malformed_tokens() {
        let k = keys();
        let v = validator(&k);
        for t in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "!!.b.c",
            "e30.e30.",
            "e30.e30.e30",
        ] {
            assert!(v.validate(t, NOW).is_err(), "{t:?}");
        }
    }

    /// Two issuers publish a key under the same kid: a token is verified with
    /// the keys of the issuer it names only, so issuer A's key never makes a
    /// token naming issuer B valid, and an issuer we do not have is refused
    /// before any key is looked at.
    #[test]
    fn a_token_is_checked_with_its_own_issuers_keys_only() {
        let rng = SystemRandom::new();
        let pair = || {
            Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref())
                .unwrap()
        };
        let (a, b) = (pair(), pair());
        let dir = std::env::temp_dir().join(format!("sasl-oauth-jwt-two-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = |name: &str, k: &Ed25519KeyPair| {
            let path = dir.join(name);
            let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
                                        "x": b64(k.public_key().as_ref())}]});
            std::fs::write(&path, jwks.to_string()).unwrap();
            KeyStore::from_file(path, NOW).unwrap()
        };
        let (iss_a, iss_b) = ("https://a.test/realms/mail", "https://b.test/v2.0");
        let v = JwtValidator::new(
            JwtPolicy {
                claims: Arc::new(ClaimsPolicy {
                    issuers: vec![iss_a.into(), iss_b.into()],
                    audiences: vec!["imap".into()],
                    clock_skew: 60,
                    ..Default::default()
                }),
                algorithms: super::super::alg::ALL.to_vec(),
            },
            vec![
                (iss_a.into(), store("a.json", &a)),
                (iss_b.into(), store("b.json", &b)),
            ],
        );
        let token = |iss: &str, key: &Ed25519KeyPair| {
            let mut c = claims();
            c["iss"] = json!(iss);
            let signed = format!(
                "{}.{}",
                b64(json!({"alg": "EdDSA", "kid": "k1"}).to_string().as_bytes()),
                b64(c.to_string().as_bytes())
            );
            format!("{signed}.{}", b64(key.sign(signed.as_bytes()).as_ref()))
        };
        assert!(v.validate(&token(iss_a, &a), NOW).is_ok());
        assert!(v.validate(&token(iss_b, &b), NOW).is_ok());
        assert!(reason(v.validate(&token(iss_b, &a), NOW)).contains("bad signature"));
        assert!(reason(v.validate(&token(iss_a, &b), NOW)).contains("bad signature"));
        assert!(reason(v.validate(&token("https://c.test", &a), NOW)).contains("issuer"));
        assert!(v.knows_issuer(iss_b) && !v.knows_issuer("https://b.test/v2.0/"));
    }

    #[test]
    fn errors_never_contain_the_token() {
        let k = keys();
        let mut c = claims();
        c["exp"] = json!(NOW - 3600);
        let t = sign(&k, json!({"alg": "ES256", "kid": "ec-1"}), c);
        let r = validator(&k).validate(&t, NOW).unwrap_err().reason;
        assert!(!r.contains(&t) && !r.contains(t.split('.').nth(2).unwrap()));
    }
}
