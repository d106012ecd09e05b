//! OAuth 1.0a signatures for OAUTH10A (RFC 5849 §3.4): HMAC-SHA1,
//! HMAC-SHA256 and, for consumers registered with a public key, RSA-SHA1.
//! The server knows consumers and tokens from `oauth10a_credentials_file`
//! (read at init), accepts a timestamp within `oauth10a_max_skew` seconds and
//! refuses a nonce seen before within that window.
//!
//! Credentials file:
//! ```json
//! {"consumers": {"KEY": {"secret": "…"} | {"rsa_public_key": {"kty":"RSA","n":"…","e":"…"}}},
//!  "tokens":    {"TOKEN": {"secret": "…", "user": "alice", "consumer": "KEY"}}}
//! ```
//! Every token names its consumer: a token may be used only by the consumer
//! it was issued to (an RSA-SHA1 signature does not involve the token secret,
//! so without that binding an RSA consumer could use any token).

use super::jwks::{JwkSet, PublicKey};
use super::nonce_dir::NonceDir;
use super::store::SharedCache;
use super::{Identity, Trace};
use crate::error::{printable, Error, ErrorKind};
use crate::protocol::oauth10a::{encode, SignedRequest};
use crate::protocol::oauth10a_signature::{verify_hmac, SignatureMethod};
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Nonces remembered at most; beyond that (all still in their window) logins
/// are refused rather than replays let through.
const MAX_NONCES: usize = 100_000;

#[derive(Deserialize)]
struct RawConsumer {
    #[serde(default)]
    secret: Option<Secret>,
    #[serde(default)]
    rsa_public_key: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawToken {
    secret: Secret,
    user: String,
    /// Required; optional here only so that its absence is reported by name.
    #[serde(default)]
    consumer: Option<String>,
}

struct Token {
    secret: Secret,
    user: String,
    consumer: String,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    consumers: HashMap<String, RawConsumer>,
    #[serde(default)]
    tokens: HashMap<String, RawToken>,
}

struct Consumer {
    secret: Option<Secret>,
    rsa: Option<PublicKey>,
}

/// Remembers (consumer, token, timestamp, nonce) within the window.
#[derive(Default)]
struct NonceCache {
    seen: HashSet<String>,
    /// In insertion order: (forget at, key).
    order: VecDeque<(i64, String)>,
}

impl NonceCache {
    /// Ok(true) when new (and now remembered), Ok(false) for a replay.
    fn insert(&mut self, key: String, now: i64, window: i64) -> Result<bool, Error> {
        while self.order.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, k)) = self.order.pop_front() {
                self.seen.remove(&k);
            }
        }
        if self.seen.contains(&key) {
            return Ok(false);
        }
        if self.seen.len() >= MAX_NONCES {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "OAUTH10A nonce cache is full: too many logins within the timestamp window",
            ));
        }
        self.seen.insert(key.clone());
        self.order
            .push_back((now.saturating_add(nonce_lifetime(window)), key));
        Ok(true)
    }
}

/// Seconds a nonce is remembered: a timestamp within the window either side of
/// now can no longer pass once that long has gone by.
fn nonce_lifetime(max_skew: i64) -> i64 {
    max_skew.saturating_mul(2).saturating_add(1)
}

/// The timestamp window. `abs_diff` cannot overflow whatever the client sent
/// (i64::MIN included), in debug and release builds alike.
fn check_timestamp(timestamp: i64, now: i64, max_skew: i64) -> Result<(), Error> {
    let off = now.abs_diff(timestamp);
    if off > u64::try_from(max_skew).unwrap_or(0) {
        let side = if timestamp < now { "before" } else { "after" };
        return Err(Error::invalid_token(format!(
            "oauth_timestamp is {off} s {side} now, outside the window (oauth10a_max_skew)"
        ))
        .with_detail(format!("window {max_skew} s")));
    }
    Ok(())
}

/// The refusal the client gets for an unknown token, a token of another
/// consumer and a bad signature alike, so that it cannot probe which tokens
/// exist; `why` goes to the server's log only.
fn signature_refused(why: String) -> Error {
    Error::invalid_token("OAuth signature not accepted (bad signature or unknown oauth_token)")
        .with_detail(why)
}

/// Whether `signature` is the consumer's over `base`; a method the consumer
/// cannot use is refused outright.
fn signature_ok(
    consumer: &Consumer,
    method: SignatureMethod,
    base: &str,
    token_secret: &str,
    signature: &str,
) -> Result<bool, Error> {
    Ok(match (method, &consumer.secret, &consumer.rsa) {
        (SignatureMethod::RsaSha1, _, Some(PublicKey::Rsa { n, e })) => {
            let sig = STANDARD.decode(signature).unwrap_or_default();
            ring::signature::RsaPublicKeyComponents { n, e }
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    base.as_bytes(),
                    &sig,
                )
                .is_ok()
        }
        (SignatureMethod::RsaSha1, _, _) => {
            return Err(Error::invalid_token(
                "RSA-SHA1 used by a consumer without a registered public key",
            ))
        }
        (m, Some(secret), _) => verify_hmac(m, base, secret.expose(), token_secret, signature),
        (_, None, _) => {
            return Err(Error::invalid_token(
                "HMAC used by a consumer registered with a public key only",
            ))
        }
    })
}

pub struct OAuth10aVerifier {
    consumers: HashMap<String, Consumer>,
    tokens: HashMap<String, Token>,
    max_skew: i64,
    nonces: Mutex<NonceCache>,
    /// Shared with the other server processes, when configured.
    shared: Option<NonceDir>,
    /// The host- or fleet-wide store (oauth_cache_file, oauth_cache_url).
    store: Option<Arc<SharedCache>>,
}

impl OAuth10aVerifier {
    pub fn parse(json: &[u8], max_skew: i64) -> Result<Self, Error> {
        let raw: RawFile = serde_json::from_slice(json)
            .map_err(|e| Error::config(format!("not an OAUTH10A credentials file: {e}")))?;
        let mut consumers = HashMap::new();
        for (key, c) in raw.consumers {
            let rsa = match c.rsa_public_key {
                None => None,
                Some(jwk) => {
                    let set = JwkSet::parse(format!("{{\"keys\":[{jwk}]}}").as_bytes()).map_err(
                        |_| {
                            Error::config(format!(
                                "consumer {key}: rsa_public_key is not an RSA JWK"
                            ))
                        },
                    )?;
                    let key = set.first_key().cloned();
                    match key {
                        Some(k @ PublicKey::Rsa { .. }) => Some(k),
                        _ => return Err(Error::config("rsa_public_key is not an RSA JWK")),
                    }
                }
            };
            if c.secret.is_none() && rsa.is_none() {
                return Err(Error::config(format!(
                    "consumer {key}: neither secret nor rsa_public_key"
                )));
            }
            consumers.insert(
                key,
                Consumer {
                    secret: c.secret,
                    rsa,
                },
            );
        }
        if consumers.is_empty() {
            return Err(Error::config(
                "no consumers in the OAUTH10A credentials file",
            ));
        }
        let mut tokens = HashMap::new();
        for (key, t) in raw.tokens {
            let consumer = t.consumer.ok_or_else(|| {
                Error::config(format!("token '{}' has no consumer", printable(&key, 64)))
            })?;
            if !consumers.contains_key(&consumer) {
                return Err(Error::config(format!(
                    "token '{}' names consumer '{}', which is not in the file",
                    printable(&key, 64),
                    printable(&consumer, 64)
                )));
            }
            let token = Token {
                secret: t.secret,
                user: t.user,
                consumer,
            };
            tokens.insert(key, token);
        }
        Ok(OAuth10aVerifier {
            consumers,
            tokens,
            max_skew,
            nonces: Mutex::new(NonceCache::default()),
            shared: None,
            store: None,
        })
    }

    /// Records nonces in `dir` too, so every server process sees them.
    /// Sweeps the directory at once: entries left by processes that have
    /// exited go even when this one serves no OAUTH10A login.
    pub fn with_nonce_dir(mut self, dir: NonceDir) -> Self {
        dir.sweep_if_due(super::unix_now(), nonce_lifetime(self.max_skew));
        self.shared = Some(dir);
        self
    }

    /// Records nonces in the shared cache's store too (one host's LMDB file,
    /// or a fleet's Redis): an unreachable store fails OAUTH10A logins as
    /// temporary failures.
    pub fn with_shared_nonces(mut self, store: Arc<SharedCache>) -> Self {
        self.store = Some(store);
        self
    }

    pub fn shares_nonces(&self) -> bool {
        self.shared.is_some() || self.store.is_some()
    }

    pub fn load(path: &Path, max_skew: i64) -> Result<Self, Error> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&bytes, max_skew)
            .map_err(|e| Error::config(format!("{}: {}", path.display(), e.reason)))
    }

    /// Records the nonce; a nonce seen before within the window is a replay.
    fn remember_nonce(
        &self,
        consumer_key: &str,
        token_key: &str,
        timestamp: i64,
        nonce: &str,
        now: i64,
    ) -> Result<(), Error> {
        let key = format!(
            "{}\u{0}{}\u{0}{timestamp}\u{0}{nonce}",
            encode(consumer_key),
            encode(token_key)
        );
        let mut fresh = self
            .nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), now, self.max_skew)?;
        if let (true, Some(shared)) = (fresh, &self.shared) {
            fresh = shared.insert(&key, now, nonce_lifetime(self.max_skew))?;
        }
        if let (true, Some(store)) = (fresh, &self.store) {
            fresh = store.nonce(&key, nonce_lifetime(self.max_skew), now)?;
        }
        if !fresh {
            return Err(Error::invalid_token(
                "oauth_nonce already used within the window (replay)",
            ));
        }
        Ok(())
    }

    /// Checks the signed request; the identity is the user of its token.
    pub fn verify(
        &self,
        r: &SignedRequest,
        now: i64,
        trace: &mut dyn Trace,
    ) -> Result<Identity, Error> {
        let need = |name: &str| {
            r.param(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::invalid_token(format!("missing {name}")))
        };
        if r.param("oauth_version").is_some_and(|v| v != "1.0") {
            return Err(Error::invalid_token("oauth_version must be 1.0"));
        }
        let consumer_key = need("oauth_consumer_key")?;
        let consumer = self.consumers.get(consumer_key).ok_or_else(|| {
            Error::invalid_token(format!(
                "unknown oauth_consumer_key '{}'",
                printable(consumer_key, 64)
            ))
        })?;
        let token_key = need("oauth_token")?;
        let method = SignatureMethod::from_name(need("oauth_signature_method")?)?;
        let timestamp: i64 = need("oauth_timestamp")?
            .parse()
            .map_err(|_| Error::invalid_token("oauth_timestamp is not a number"))?;
        check_timestamp(timestamp, now, self.max_skew)?;
        let nonce = need("oauth_nonce")?;
        if nonce.len() > 128 {
            return Err(Error::invalid_token(
                "oauth_nonce is longer than 128 characters",
            ));
        }
        let signature = need("oauth_signature")?;
        let base = r.base_string()?;
        // The token is looked up only now, and an unusable one still costs a
        // signature check: whether it exists shows neither in the refusal nor
        // in which checks ran.
        let token = self.tokens.get(token_key);
        let bound = token.filter(|t| t.consumer == consumer_key);
        let token_secret = bound.map_or("", |t| t.secret.expose());
        let ok = signature_ok(consumer, method, &base, token_secret, signature)?;
        let token = match (token, bound) {
            (None, _) => return Err(signature_refused("unknown oauth_token".into())),
            (Some(_), None) => {
                return Err(signature_refused(
                    "oauth_token was not issued to this consumer".into(),
                ))
            }
            (_, Some(_)) if !ok => {
                return Err(signature_refused(format!(
                    "bad {} signature",
                    method.name()
                )))
            }
            (_, Some(t)) => t,
        };
        trace.note(|| format!("ok  {} signature of consumer {consumer_key}", method.name()));
        // Remembered only after the signature passed: forgeries cannot fill the cache.
        self.remember_nonce(consumer_key, token_key, timestamp, nonce, now)?;
        Ok(Identity {
            authid: token.user.clone(),
            expires_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::oauth10a::{base_string, base_uri};
    use crate::protocol::oauth10a_signature::{sign, ClientSigner};
    use crate::validate::NoTrace;

    fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// RFC 5849 §1.2, the printer's request for photos (HMAC-SHA1).
    #[test]
    fn rfc5849_section_1_2_photos_signature() {
        let p = params(&[
            ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
            ("oauth_token", "nnch734d00sl2jdk"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131202"),
            ("oauth_nonce", "chapoH"),
        ]);
        let base = base_string(
            "GET",
            &base_uri("http", "photos.example.net", 80, "/photos"),
            "file=vacation.jpg&size=original",
            "",
            &p,
        )
        .unwrap();
        assert_eq!(base, "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal");
        let sig = sign(
            SignatureMethod::HmacSha1,
            &base,
            "kd94hf93k423kf44",
            "pfkkdhi9sl3r4s00",
        )
        .unwrap();
        assert_eq!(sig, "MdpQcU8iPSUjWoN/UDMsK2sui9I=");
        assert!(verify_hmac(
            SignatureMethod::HmacSha1,
            &base,
            "kd94hf93k423kf44",
            "pfkkdhi9sl3r4s00",
            &sig
        ));
    }

    /// RFC 5849 §1.2, the temporary-credentials request (empty token secret).
    #[test]
    fn rfc5849_section_1_2_initiate_signature() {
        let p = params(&[
            ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131200"),
            ("oauth_nonce", "wIjqoS"),
            ("oauth_callback", "http://printer.example.com/ready"),
        ]);
        let base = base_string(
            "POST",
            &base_uri("https", "photos.example.net", 443, "/initiate"),
            "",
            "",
            &p,
        )
        .unwrap();
        assert_eq!(
            sign(SignatureMethod::HmacSha1, &base, "kd94hf93k423kf44", "").unwrap(),
            "74KNZJeDHnMBp0EMJ9ZHt/XKycU="
        );
    }

    const CREDS: &str = r#"{"consumers":{"ck":{"secret":"cs"},"ck2":{"secret":"cs2"}},"tokens":{"tk":{"secret":"ts","user":"alice","consumer":"ck"},"other":{"secret":"x","user":"eve","consumer":"ck2"}}}"#;

    fn verifier() -> OAuth10aVerifier {
        OAuth10aVerifier::parse(CREDS.as_bytes(), 300).unwrap()
    }

    fn signed(method: SignatureMethod, ts: i64, nonce: &str) -> SignedRequest {
        ClientSigner {
            consumer_key: "ck",
            consumer_secret: "cs",
            token: "tk",
            token_secret: "ts",
            method,
        }
        .sign("imap.example.com", 143, ts, nonce)
        .unwrap()
    }

    fn check(v: &OAuth10aVerifier, r: &SignedRequest, now: i64) -> Result<Identity, Error> {
        v.verify(r, now, &mut NoTrace)
    }

    #[test]
    fn client_signature_verifies_both_hmacs() {
        let v = verifier();
        assert_eq!(
            check(&v, &signed(SignatureMethod::HmacSha1, 1000, "n1"), 1000)
                .unwrap()
                .authid,
            "alice"
        );
        assert_eq!(
            check(&v, &signed(SignatureMethod::HmacSha256, 1000, "n2"), 1010)
                .unwrap()
                .authid,
            "alice"
        );
    }

    #[test]
    fn replayed_nonce_is_refused_until_the_window_passes() {
        let v = verifier();
        let r = signed(SignatureMethod::HmacSha256, 1000, "same");
        assert!(check(&v, &r, 1000).is_ok());
        assert!(check(&v, &r, 1001).unwrap_err().reason.contains("replay"));
    }

    #[test]
    fn stale_or_future_timestamp() {
        let v = verifier();
        assert!(
            check(&v, &signed(SignatureMethod::HmacSha256, 1000, "a"), 1301)
                .unwrap_err()
                .reason
                .contains("window")
        );
        assert!(check(&v, &signed(SignatureMethod::HmacSha256, 2000, "b"), 1000).is_err());
    }

    #[test]
    fn tampered_parameter_breaks_the_signature() {
        let v = verifier();
        let mut r = signed(SignatureMethod::HmacSha1, 1000, "t");
        r.port = 993;
        assert!(check(&v, &r, 1000)
            .unwrap_err()
            .reason
            .contains("signature"));
        let mut r = signed(SignatureMethod::HmacSha1, 1000, "t2");
        r.params.push(("extra".into(), "x".into()));
        assert!(check(&v, &r, 1000)
            .unwrap_err()
            .reason
            .contains("signature"));
    }

    #[test]
    fn unknown_consumer_token_and_methods() {
        let v = verifier();
        let mut r = signed(SignatureMethod::HmacSha1, 1000, "u");
        r.params[0].1 = "who".into();
        assert!(check(&v, &r, 1000).unwrap_err().reason.contains("consumer"));
        let mut r = signed(SignatureMethod::HmacSha1, 1000, "u2");
        r.params[1].1 = "other".into();
        let e = check(&v, &r, 1000).unwrap_err();
        assert_eq!(
            e.detail.as_deref(),
            Some("oauth_token was not issued to this consumer")
        );
        assert!(SignatureMethod::from_name("PLAINTEXT").is_err());
    }

    /// Unknown token, another consumer's token, bad signature: one text for
    /// the client, the difference in the log only.
    #[test]
    fn token_refusals_look_alike_to_the_client() {
        let v = verifier();
        let refusal = |r: &SignedRequest| check(&v, r, 1000).unwrap_err();
        let mut unknown = signed(SignatureMethod::HmacSha1, 1000, "a");
        unknown.params[1].1 = "no-such-token".into();
        let mut foreign = signed(SignatureMethod::HmacSha1, 1000, "b");
        foreign.params[1].1 = "other".into();
        let mut forged = signed(SignatureMethod::HmacSha1, 1000, "c");
        forged.params.last_mut().unwrap().1 = "AAAA".into();
        let (unknown, foreign, forged) = (refusal(&unknown), refusal(&foreign), refusal(&forged));
        assert_eq!(unknown.reason, forged.reason);
        assert_eq!(foreign.reason, forged.reason);
        assert_eq!(unknown.kind, forged.kind);
        assert!(forged.reason.contains("signature"));
        assert_eq!(unknown.detail.as_deref(), Some("unknown oauth_token"));
        assert_eq!(forged.detail.as_deref(), Some("bad HMAC-SHA1 signature"));
        // A stale timestamp is reported the same way whether the token exists or not.
        let mut stale_unknown = signed(SignatureMethod::HmacSha1, 1, "d");
        stale_unknown.params[1].1 = "no-such-token".into();
        assert!(refusal(&stale_unknown).reason.contains("window"));
    }

    /// Timestamps a client may send that overflow `now - timestamp`: refused
    /// by the window check, never a panic (debug) or a wrapped value (release).
    #[test]
    fn extreme_timestamps_are_outside_the_window() {
        let v = verifier();
        let (min, max) = (i64::MIN, i64::MAX);
        for (i, (ts, now)) in [
            (min, 1000),
            (min + 1, 1000),
            (max, 1000),
            (-1, 1000),
            (min, max),
            (max, min),
            (0, max),
            (0, min),
        ]
        .into_iter()
        .enumerate()
        {
            let r = signed(SignatureMethod::HmacSha256, ts, &format!("x{i}"));
            let e = check(&v, &r, now).unwrap_err();
            assert!(e.reason.contains("window"), "{ts} at {now}: {}", e.reason);
        }
        let r = signed(SignatureMethod::HmacSha256, max, "at-max");
        assert!(check(&v, &r, max - 1).is_ok());
        // As text: beyond i64 (u64::MAX, 2^63) is not a number; i64::MIN is.
        for (text, want) in [
            ("18446744073709551615", "not a number"),
            ("9223372036854775808", "not a number"),
            ("-9223372036854775808", "window"),
            ("9223372036854775807", "window"),
            ("+9223372036854775807", "window"),
        ] {
            let mut r = signed(SignatureMethod::HmacSha256, 1000, "t");
            r.params[3].1 = text.into();
            let e = check(&v, &r, 1000).unwrap_err();
            assert!(e.reason.contains(want), "{text}: {}", e.reason);
        }
        assert_eq!(nonce_lifetime(i64::MAX), i64::MAX);
    }

    #[test]
    fn every_token_is_bound_to_a_known_consumer() {
        let e = OAuth10aVerifier::parse(
            br#"{"consumers":{"ck":{"secret":"cs"}},"tokens":{"x":{"secret":"s","user":"u"}}}"#,
            300,
        )
        .err()
        .unwrap();
        assert_eq!(e.kind, ErrorKind::Config);
        assert_eq!(e.reason, "token 'x' has no consumer");
        let e = OAuth10aVerifier::parse(
            br#"{"consumers":{"ck":{"secret":"cs"}},"tokens":{"x":{"secret":"s","user":"u","consumer":"zz"}}}"#,
            300,
        )
        .err()
        .unwrap();
        assert!(
            e.reason.contains("'zz', which is not in the file"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn a_forged_request_does_not_use_up_its_nonce() {
        let v = verifier();
        let mut forged = signed(SignatureMethod::HmacSha1, 1000, "n");
        forged.params.last_mut().unwrap().1 = "AAAA".into();
        assert!(check(&v, &forged, 1000).is_err());
        assert!(check(&v, &signed(SignatureMethod::HmacSha1, 1000, "n"), 1000).is_ok());
    }

    #[test]
    fn a_shared_nonce_dir_refuses_replays_to_another_verifier() {
        let d = std::env::temp_dir().join(format!("sasl-oauth-o1-nonces-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let now = crate::validate::unix_now();
        let a = verifier().with_nonce_dir(NonceDir::open(&d).unwrap());
        let b = verifier().with_nonce_dir(NonceDir::open(&d).unwrap());
        let r = signed(SignatureMethod::HmacSha256, now, "shared");
        assert!(check(&a, &r, now).is_ok());
        assert!(check(&b, &r, now).unwrap_err().reason.contains("replay"));
    }

    /// Opening the shared directory sweeps it: entries left by exited
    /// processes go though this one has served no login yet.
    #[test]
    fn a_shared_nonce_dir_is_swept_at_open() {
        let d = std::env::temp_dir().join(format!("sasl-oauth-o1-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let old = |name: String| {
            let f = std::fs::File::create(d.join(&name)).unwrap();
            f.set_modified(an_hour_ago).unwrap();
            name
        };
        let stale = old(format!("{:064x}", 1));
        let foreign = old("z".repeat(64));
        let fresh = format!("{:064x}", 2);
        std::fs::File::create(d.join(&fresh)).unwrap();
        let _v = verifier().with_nonce_dir(NonceDir::open(&d).unwrap());
        assert!(!d.join(stale).exists());
        assert!(d.join(foreign).exists(), "only nonce entries are removed");
        assert!(d.join(fresh).exists());
    }

    #[test]
    fn bad_credentials_files() {
        assert!(OAuth10aVerifier::parse(b"{}", 300).is_err());
        assert!(OAuth10aVerifier::parse(br#"{"consumers":{"a":{}}}"#, 300).is_err());
        assert!(OAuth10aVerifier::parse(b"nope", 300).is_err());
    }
}
