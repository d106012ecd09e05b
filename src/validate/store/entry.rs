//! What a shared cache holds for one token: the validated identity, the
//! token's own expiry and the instant the entry stops counting, bound to the
//! validation rules that produced it, authenticated with HMAC-SHA256 under the
//! cache key. Pure: no I/O, no clock (the caller passes `now`).
//!
//! Layout of version 1 (integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version (1) |
//! | 8 | valid until (Unix seconds): min(`oauth_cache_ttl`, exp − now) after the check |
//! | 8 | the token's exp, or i64::MIN when it has none |
//! | 16 | the rules' fingerprint: an entry made under other rules is a miss |
//! | 2 | length of the authid |
//! | n | the authid (UTF-8) |
//! | 32 | HMAC-SHA256 over a domain label, the entry's store key and every byte above |
//!
//! The store key (SHA-256 of the token) is inside the MAC: an entry copied to
//! another token's key does not verify, so whoever can write to the store but
//! lacks the cache key can neither create a login nor move one.

use super::super::Identity;
use ring::hmac;

pub const VERSION: u8 = 1;
/// SHA-256 of the token: the entry's key in every store.
pub type TokenKey = [u8; 32];
/// What binds an entry to the rules that accepted the token.
pub type Fingerprint = [u8; 16];

const HEADER: usize = 1 + 8 + 8 + 16 + 2;
const TAG: usize = 32;
/// Longer authids are not cached (validated every time instead).
pub const MAX_AUTHID: usize = 1024;
const LABEL: &[u8] = b"sasl-oauth cache entry v1\0";

/// What a stored entry says at `now`, once its MAC is verified.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit(Identity),
    /// Past its time: validate again.
    Expired,
    /// Made under other rules (another server sharing the store): validate.
    OtherRules,
}

/// Why an entry was ignored (logged; the token is then validated as today).
#[derive(Debug, PartialEq, Eq)]
pub enum Corrupt {
    TooShort,
    Version(u8),
    Length,
    /// The MAC does not verify: written without the key, or changed since.
    Unauthenticated,
    NotUtf8,
}

impl Corrupt {
    pub fn reason(&self) -> String {
        match self {
            Corrupt::TooShort => "entry too short".into(),
            Corrupt::Version(v) => format!("unknown entry version {v}"),
            Corrupt::Length => "entry length does not match its authid length".into(),
            Corrupt::Unauthenticated => {
                "entry not authenticated by the cache key (written without it, or changed)".into()
            }
            Corrupt::NotUtf8 => "entry authid is not UTF-8".into(),
        }
    }
}

fn tag(key: &hmac::Key, token_key: &TokenKey, body: &[u8]) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(LABEL);
    ctx.update(token_key);
    ctx.update(body);
    ctx.sign()
}

/// The stored bytes for `identity`, valid until `valid_until`; None when the
/// authid is too long to cache.
pub fn encode(
    key: &hmac::Key,
    token_key: &TokenKey,
    fingerprint: &Fingerprint,
    identity: &Identity,
    valid_until: i64,
) -> Option<Vec<u8>> {
    let authid = identity.authid.as_bytes();
    if authid.len() > MAX_AUTHID {
        return None;
    }
    let mut out = Vec::with_capacity(HEADER + authid.len() + TAG);
    out.push(VERSION);
    out.extend_from_slice(&valid_until.to_be_bytes());
    out.extend_from_slice(&identity.expires_at.unwrap_or(i64::MIN).to_be_bytes());
    out.extend_from_slice(fingerprint);
    out.extend_from_slice(&(authid.len() as u16).to_be_bytes());
    out.extend_from_slice(authid);
    let t = tag(key, token_key, &out);
    out.extend_from_slice(t.as_ref());
    Some(out)
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

/// The valid-until time of stored bytes, unverified (for sweeping expired
/// entries: the worst a forged value does is an early removal).
pub fn valid_until_unverified(bytes: &[u8]) -> Option<i64> {
    (bytes.len() >= HEADER && bytes[0] == VERSION).then(|| be_i64(&bytes[1..9]))
}

/// The authid of stored bytes, unverified (for the purge index).
pub fn authid_unverified(bytes: &[u8]) -> Option<&str> {
    if bytes.len() < HEADER || bytes[0] != VERSION {
        return None;
    }
    let n = u16::from_be_bytes([bytes[HEADER - 2], bytes[HEADER - 1]]) as usize;
    std::str::from_utf8(bytes.get(HEADER..HEADER + n)?).ok()
}

/// Reads stored bytes: the MAC first, then what the entry says at `now`.
pub fn decode(
    key: &hmac::Key,
    token_key: &TokenKey,
    fingerprint: &Fingerprint,
    bytes: &[u8],
    now: i64,
) -> Result<Lookup, Corrupt> {
    if bytes.len() < HEADER + TAG {
        return Err(Corrupt::TooShort);
    }
    if bytes[0] != VERSION {
        return Err(Corrupt::Version(bytes[0]));
    }
    let n = u16::from_be_bytes([bytes[HEADER - 2], bytes[HEADER - 1]]) as usize;
    if bytes.len() != HEADER + n + TAG {
        return Err(Corrupt::Length);
    }
    let (body, mac) = bytes.split_at(HEADER + n);
    let mut ctx_input = Vec::with_capacity(LABEL.len() + 32 + body.len());
    ctx_input.extend_from_slice(LABEL);
    ctx_input.extend_from_slice(token_key);
    ctx_input.extend_from_slice(body);
    hmac::verify(key, &ctx_input, mac).map_err(|_| Corrupt::Unauthenticated)?;
    let valid_until = be_i64(&body[1..9]);
    let exp = be_i64(&body[9..17]);
    if body[17..33] != fingerprint[..] {
        return Ok(Lookup::OtherRules);
    }
    let authid = std::str::from_utf8(&body[HEADER..]).map_err(|_| Corrupt::NotUtf8)?;
    let expires_at = (exp != i64::MIN).then_some(exp);
    // Never past the token's own expiry, whatever the entry says.
    if valid_until <= now || expires_at.is_some_and(|e| e <= now) {
        return Ok(Lookup::Expired);
    }
    Ok(Lookup::Hit(Identity {
        authid: authid.to_owned(),
        expires_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &[b; 32])
    }
    const TK: TokenKey = [7; 32];
    const FP: Fingerprint = [9; 16];

    fn alice(exp: Option<i64>) -> Identity {
        Identity {
            authid: "alice".into(),
            expires_at: exp,
        }
    }

    #[test]
    fn round_trip() {
        let e = encode(&key(1), &TK, &FP, &alice(Some(500)), 400).unwrap();
        assert_eq!(e.len(), HEADER + 5 + TAG);
        assert_eq!(
            decode(&key(1), &TK, &FP, &e, 100),
            Ok(Lookup::Hit(alice(Some(500))))
        );
        let e = encode(&key(1), &TK, &FP, &alice(None), 400).unwrap();
        assert_eq!(
            decode(&key(1), &TK, &FP, &e, 399),
            Ok(Lookup::Hit(alice(None)))
        );
        assert_eq!(valid_until_unverified(&e), Some(400));
        assert_eq!(authid_unverified(&e), Some("alice"));
    }

    #[test]
    fn expiry_is_the_earlier_of_entry_and_token() {
        let e = encode(&key(1), &TK, &FP, &alice(Some(300)), 400).unwrap();
        assert_eq!(decode(&key(1), &TK, &FP, &e, 300), Ok(Lookup::Expired));
        let e = encode(&key(1), &TK, &FP, &alice(Some(900)), 400).unwrap();
        assert_eq!(decode(&key(1), &TK, &FP, &e, 400), Ok(Lookup::Expired));
        assert!(matches!(
            decode(&key(1), &TK, &FP, &e, 399),
            Ok(Lookup::Hit(_))
        ));
    }

    #[test]
    fn another_key_or_token_key_does_not_verify() {
        let e = encode(&key(1), &TK, &FP, &alice(None), 400).unwrap();
        assert_eq!(
            decode(&key(2), &TK, &FP, &e, 100),
            Err(Corrupt::Unauthenticated)
        );
        // An entry moved to another token's key.
        assert_eq!(
            decode(&key(1), &[8; 32], &FP, &e, 100),
            Err(Corrupt::Unauthenticated)
        );
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let e = encode(&key(1), &TK, &FP, &alice(Some(500)), 400).unwrap();
        for i in 0..e.len() {
            for bit in [0x01u8, 0x80] {
                let mut m = e.clone();
                m[i] ^= bit;
                assert!(
                    decode(&key(1), &TK, &FP, &m, 100).is_err(),
                    "byte {i} bit {bit:#x}"
                );
            }
        }
    }

    #[test]
    fn a_changed_identity_with_its_length_is_refused() {
        let e = encode(&key(1), &TK, &FP, &alice(None), 400).unwrap();
        let mut m = e[..HEADER - 2].to_vec();
        m.extend_from_slice(&5u16.to_be_bytes());
        m.extend_from_slice(b"admin");
        m.extend_from_slice(&e[e.len() - TAG..]);
        assert_eq!(
            decode(&key(1), &TK, &FP, &m, 100),
            Err(Corrupt::Unauthenticated)
        );
    }

    #[test]
    fn other_rules_are_a_miss() {
        let e = encode(&key(1), &TK, &[1; 16], &alice(None), 400).unwrap();
        assert_eq!(decode(&key(1), &TK, &FP, &e, 100), Ok(Lookup::OtherRules));
    }

    #[test]
    fn malformed_input_is_refused_never_a_panic() {
        let e = encode(&key(1), &TK, &FP, &alice(None), 400).unwrap();
        for n in 0..e.len() {
            assert!(decode(&key(1), &TK, &FP, &e[..n], 100).is_err(), "{n}");
            let _ = valid_until_unverified(&e[..n]);
            let _ = authid_unverified(&e[..n]);
        }
        let mut v = e.clone();
        v[0] = 2;
        assert_eq!(decode(&key(1), &TK, &FP, &v, 100), Err(Corrupt::Version(2)));
        let mut long = e.clone();
        long.push(0);
        assert_eq!(decode(&key(1), &TK, &FP, &long, 100), Err(Corrupt::Length));
        assert!(decode(&key(1), &TK, &FP, b"", 100).is_err());
        assert!(decode(&key(1), &TK, &FP, &[0xff; 200], 100).is_err());
    }

    #[test]
    fn a_long_authid_is_not_cached() {
        let id = Identity {
            authid: "a".repeat(MAX_AUTHID + 1),
            expires_at: None,
        };
        assert!(encode(&key(1), &TK, &FP, &id, 400).is_none());
    }
}
