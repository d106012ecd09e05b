//! A JSON object that refuses duplicate keys. serde_json keeps the last of a
//! duplicated key silently; for a JWT header or claims set that would let two
//! parsers disagree on, say, `exp` (RFC 8725 §2.7 warns of such confusion).

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

#[derive(Debug, Default)]
pub struct StrictObject(pub Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictObject, A::Error> {
                let mut out = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) {
                        return Err(A::Error::custom("duplicate key"));
                    }
                    let value: Value = map.next_value()?;
                    out.insert(key, value);
                }
                Ok(StrictObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses `bytes` as one JSON object with unique top-level keys.
pub fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    serde_json::from_slice::<StrictObject>(bytes)
        .ok()
        .map(|o| o.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keys_parse() {
        let m = parse_object(br#"{"a":1,"b":{"c":2}}"#).unwrap();
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn duplicate_key_is_refused() {
        assert!(parse_object(br#"{"exp":1,"exp":99999999999}"#).is_none());
    }

    #[test]
    fn non_objects_are_refused() {
        assert!(parse_object(b"[1]").is_none());
        assert!(parse_object(b"\"x\"").is_none());
        assert!(parse_object(b"{").is_none());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_object(deep.as_bytes()).is_none());
    }
}
