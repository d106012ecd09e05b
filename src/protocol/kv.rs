//! The `\x01`-separated key/value list of RFC 7628 §3.1 (also XOAUTH2's):
//!
//! ```text
//! kvpairs = *(kvpair kvsep) kvsep     ; the list ends with an empty pair
//! kvpair  = key "=" value
//! key     = 1*(ALPHA)                 ; we also allow DIGIT "_" "-" "." for extension keys
//! value   = *(VCHAR / SP / HTAB / CR / LF)
//! ```

use crate::error::Error;

pub const KVSEP: char = '\x01';

/// At most this many pairs in one message (real clients send up to four).
const MAX_PAIRS: usize = 32;

/// The parsed pairs, in order, each key once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pairs<'a> {
    items: Vec<(&'a str, &'a str)>,
}

impl<'a> Pairs<'a> {
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.items.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Parses `input`, which must be exactly `*(key=value \x01) \x01`.
pub fn parse(input: &str) -> Result<Pairs<'_>, Error> {
    let body = input
        .strip_suffix(KVSEP)
        .ok_or_else(|| Error::protocol("message is not terminated by the final \\x01 (kvsep)"))?;
    let mut pairs = Pairs::default();
    if body.is_empty() {
        return Ok(pairs);
    }
    let body = body
        .strip_suffix(KVSEP)
        .ok_or_else(|| Error::protocol("message is not terminated by the final \\x01 (kvsep)"))?;
    for item in body.split(KVSEP) {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| Error::protocol("key/value pair without '='"))?;
        if key.is_empty() || !key.bytes().all(is_key_byte) {
            return Err(Error::protocol("bad key in key/value pair"));
        }
        if !value.bytes().fold(true, |ok, b| ok & is_value_byte(b)) {
            return Err(Error::protocol(
                "control character in the value of a key/value pair",
            ));
        }
        if pairs.get(key).is_some() {
            return Err(Error::protocol(format!("duplicate key '{key}'")));
        }
        if pairs.items.len() == MAX_PAIRS {
            return Err(Error::protocol("too many key/value pairs"));
        }
        pairs.items.push((key, value));
    }
    Ok(pairs)
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// VCHAR / SP / HTAB / CR / LF, plus UTF-8 beyond ASCII (values like
/// authzids and Kafka extensions may carry it). Comparisons, not a table:
/// the loop over a value (most of it the token) then vectorizes.
fn is_value_byte(b: u8) -> bool {
    (b >= 0x20) & (b != 0x7f) | (b == b'\t') | (b == b'\r') | (b == b'\n')
}

/// Appends `key=value\x01` to a message being built as bytes.
pub fn write(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(KVSEP as u8);
}

/// The length of what [`write`] appends.
pub fn pair_len(key: &str, value: &[u8]) -> usize {
    key.len() + value.len() + 2
}

/// Appends `key=value\x01`.
pub fn push(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push('=');
    out.push_str(value);
    out.push(KVSEP);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_bytes_are_exactly_the_grammars() {
        for b in 0..=255u8 {
            let spec = matches!(b, 0x20..=0x7e | b'\t' | b'\r' | b'\n') || b >= 0x80;
            assert_eq!(is_value_byte(b), spec, "byte {b:#04x}");
        }
    }

    #[test]
    fn two_pairs() {
        let p = parse("host=a\x01auth=Bearer x\x01\x01").unwrap();
        assert_eq!(p.get("host"), Some("a"));
        assert_eq!(p.get("auth"), Some("Bearer x"));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn empty_list_is_a_lone_kvsep() {
        assert!(parse("\x01").unwrap().is_empty());
    }

    #[test]
    fn value_may_contain_equals() {
        let p = parse("auth=Bearer abc==\x01\x01").unwrap();
        assert_eq!(p.get("auth"), Some("Bearer abc=="));
    }

    #[test]
    fn missing_final_kvsep() {
        let e = parse("auth=Bearer x\x01").unwrap_err();
        assert!(e.reason.contains("terminated"), "{}", e.reason);
        assert!(parse("auth=Bearer x").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn duplicate_key() {
        let e = parse("auth=a\x01auth=b\x01\x01").unwrap_err();
        assert!(e.reason.contains("duplicate"));
    }

    #[test]
    fn empty_pair_in_the_middle() {
        assert!(parse("a=b\x01\x01c=d\x01\x01").is_err());
    }

    #[test]
    fn bad_keys_and_values() {
        assert!(parse("=x\x01\x01").is_err());
        assert!(parse("a b=x\x01\x01").is_err());
        assert!(parse("novalue\x01\x01").is_err());
        assert!(parse("a=x\x02\x01\x01").is_err());
    }

    #[test]
    fn too_many_pairs() {
        let mut s = String::new();
        for i in 0..40 {
            push(&mut s, &format!("k{i}"), "v");
        }
        s.push(KVSEP);
        assert!(parse(&s).is_err());
    }
}
