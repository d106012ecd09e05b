//! A JSON object that refuses duplicate keys. serde_json keeps the last of a
//! duplicated key silently; for a JWT header or claims set that would let two
//! parsers disagree on, say, `exp` (RFC 8725 §2.7 warns of such confusion).
//!
//! [`Object`] keeps each member's name and the JSON text of its value,
//! borrowed from the input, and parses a value only when a check asks for
//! it: a cold login reads a token's header and claims without building a map
//! of owned strings (the allocations were most of the validation's own cost).
//! The object is still refused whole for anything a full parse refuses
//! (see `fully_valid`). A flat object, the usual token, is read by the
//! one-pass scanner of [`super::flat_json`]; anything else by serde_json.

use super::flat_json::{self, Member};
use serde::de::{Deserialize, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// Up to this many members, duplicates are found by comparing each pair;
/// beyond, by sorting (a 64 KiB claims set must not cost n² comparisons).
const PAIRWISE_MAX: usize = 16;

/// Members held without a reallocation in the common case (a token has about ten).
const USUAL_MEMBERS: usize = 16;

/// A JSON object with unique top-level keys, its values still JSON text.
#[derive(Debug, Default)]
pub struct Object<'a> {
    members: Vec<Member<'a>>,
    /// Read by the flat scanner: no string in it has an escape.
    flat: bool,
}

/// A JSON string, borrowed from the input when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

/// A JSON string, or the strings of an array (its other elements are
/// ignored): `aud`, `scope`, `scp`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Strings<'a>(pub Vec<Cow<'a, str>>);

impl<'a> Object<'a> {
    /// Parses `bytes` as one JSON object with unique top-level keys.
    pub fn parse(bytes: &'a [u8]) -> Option<Object<'a>> {
        // UTF-8 checked once for the whole text: from a slice, serde_json
        // would check every raw value and string again.
        let text = std::str::from_utf8(bytes).ok()?;
        let object = match flat_json::members(text, USUAL_MEMBERS) {
            Some(members) => Object {
                members,
                flat: true,
            },
            None => Self::parse_with_serde_json(text)?,
        };
        (!has_duplicate(&object.members)).then_some(object)
    }

    /// `parse` without the flat scanner (and without the duplicate check):
    /// what the scanner is compared with.
    pub fn parse_with_serde_json(text: &'a str) -> Option<Object<'a>> {
        let object: Object<'a> = serde_json::from_str(text).ok()?;
        let strict = object.members.iter().all(|(_, v)| fully_valid(v));
        strict.then_some(object)
    }

    /// The members in order: names and the JSON text of their values.
    pub fn members(&self) -> &[Member<'a>] {
        &self.members
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// The JSON text of member `name`'s value.
    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.members
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    /// Member `name` read as a `T`: `None` when absent, `Some(Err)` when its
    /// value is not a `T`.
    pub fn get<T: Deserialize<'a>>(&self, name: &str) -> Option<Result<T, ()>> {
        self.raw(name)
            .map(|raw| serde_json::from_str(raw).map_err(|_| ()))
    }

    /// Member `name` read as a string: `None` when absent, `Some(Err)` when
    /// its value is of another type.
    pub fn text(&self, name: &str) -> Option<Result<Cow<'a, str>, ()>> {
        let raw = self.raw(name)?;
        // Without escapes a string is its text between the quotes: parsing the
        // object checked it (UTF-8, no control characters).
        if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            if self.flat || !inner.contains('\\') {
                return Some(Ok(Cow::Borrowed(inner)));
            }
        }
        Some(
            serde_json::from_str::<Text>(raw)
                .map(|t| t.0)
                .map_err(|_| ()),
        )
    }

    /// Member `name` when it is a string.
    pub fn str(&self, name: &str) -> Option<Cow<'a, str>> {
        self.text(name).and_then(Result::ok)
    }

    /// Member `name` as a serde_json value.
    pub fn value(&self, name: &str) -> Option<Value> {
        self.get::<Value>(name).and_then(Result::ok)
    }

    /// The whole object as a serde_json map (for documents, not tokens).
    pub fn into_map(self) -> Option<Map<String, Value>> {
        self.members
            .into_iter()
            .map(|(k, v)| Some((k.into_owned(), serde_json::from_str(v).ok()?)))
            .collect()
    }
}

/// Parses `bytes` as one JSON object with unique top-level keys, into a map.
pub fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    Object::parse(bytes)?.into_map()
}

/// The object of `v`'s JSON text, leaked to live for the test.
#[cfg(test)]
pub fn leaked(v: &Value) -> Object<'static> {
    Object::parse(Box::leak(v.to_string().into_bytes().into_boxed_slice())).expect("an object")
}

/// Skipping a raw value checks its grammar but neither its nesting depth nor
/// the code points its escapes name (a lone surrogate). A value that could
/// hide either is parsed whole, so the object is refused as a full parse
/// would refuse it (depth limit 128, escapes decoded); plain strings and
/// numbers, the usual claims, need nothing more.
fn fully_valid(raw: &str) -> bool {
    let nested_or_escaped = raw.starts_with(['[', '{']) || raw.contains('\\');
    !nested_or_escaped || serde_json::from_str::<Value>(raw).is_ok()
}

fn has_duplicate(members: &[Member<'_>]) -> bool {
    if members.len() <= PAIRWISE_MAX {
        return members
            .iter()
            .enumerate()
            .any(|(i, (k, _))| members[..i].iter().any(|(seen, _)| seen == k));
    }
    let mut names: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
    names.sort_unstable();
    names.windows(2).any(|w| w[0] == w[1])
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
                let mut members = Vec::with_capacity(USUAL_MEMBERS);
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?.get()));
                }
                Ok(Object {
                    members,
                    flat: false,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// Accepts a string (borrowed when it can be), or with `lenient` anything
/// else as `None` (an array element of another type).
struct TextVisitor {
    lenient: bool,
}

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.other()
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.other()
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.other()
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.other()
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.other()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.other()
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.other()
    }
}

impl TextVisitor {
    fn other<E: serde::de::Error>(self) -> Result<Option<Cow<'static, str>>, E> {
        match self.lenient {
            true => Ok(None),
            false => Err(E::custom("not a string")),
        }
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor { lenient: false })?
            .map(Text)
            .ok_or_else(|| D::Error::custom("not a string"))
    }
}

/// An array element: a string, or `None` for anything else.
struct MaybeText<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for MaybeText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor { lenient: true })
            .map(MaybeText)
    }
}

impl<'de> Deserialize<'de> for Strings<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Strings(vec![Cow::Borrowed(v)]))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Strings(vec![Cow::Owned(v.to_owned())]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(MaybeText(item)) = seq.next_element()? {
                    out.extend(item);
                }
                Ok(Strings(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts made of JSON's pieces, valid and not: the flat scanner must
    /// accept only what serde_json accepts, with the same members.
    #[test]
    fn flat_scanner_agrees_with_serde_json() {
        const PIECES: [&str; 30] = [
            "{",
            "}",
            "\"",
            "\"a\"",
            "\"exp\"",
            ":",
            ",",
            " ",
            "\n",
            "\\",
            "\\n",
            "\\u0041",
            "\\ud800",
            "0",
            "1",
            "12",
            "-",
            ".",
            "e",
            "E",
            "+",
            "true",
            "false",
            "null",
            "[",
            "]",
            "\u{1}",
            "é",
            "\"x\":1",
            "\"s\":\"v\"",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut flat, mut agreed) = (0, 0);
        for _ in 0..400_000 {
            let mut text = String::from(if next() % 8 == 0 { "" } else { "{" });
            for _ in 0..next() % 12 {
                text.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            if next() % 4 != 0 {
                text.push('}');
            }
            let Some(members) = flat_json::members(&text, 4) else {
                continue;
            };
            flat += 1;
            let slow = Object::parse_with_serde_json(&text).unwrap_or_else(|| {
                panic!("the scanner accepted what serde_json refuses: {text:?}")
            });
            assert_eq!(members, slow.members, "{text:?}");
            agreed += usize::from(!members.is_empty());
        }
        // The generator reaches the scanner's acceptance often, with members.
        assert!(
            flat > 10_000 && agreed > 1_000,
            "{flat} scanned, {agreed} with members"
        );
    }

    #[test]
    fn unique_keys_parse() {
        let m = parse_object(br#"{"a":1,"b":{"c":2}}"#).unwrap();
        assert_eq!(m.len(), 2);
        let o = Object::parse(br#"{"a":1,"b":{"c":2}}"#).unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o.raw("b"), Some(r#"{"c":2}"#));
        assert_eq!(o.value("a"), Some(Value::from(1)));
    }

    #[test]
    fn duplicate_key_is_refused() {
        assert!(parse_object(br#"{"exp":1,"exp":99999999999}"#).is_none());
        assert!(Object::parse(br#"{"exp":1,"exp":99999999999}"#).is_none());
    }

    #[test]
    fn a_duplicate_spelled_with_an_escape_is_refused() {
        assert!(Object::parse(br#"{"exp":1,"\u0065xp":99999999999}"#).is_none());
        let o = Object::parse(br#"{"\u0065xp":5}"#).unwrap();
        assert_eq!(o.get::<i64>("exp"), Some(Ok(5)));
    }

    #[test]
    fn duplicates_among_many_members_are_found() {
        let mut text: String = (0..500).map(|i| format!("\"k{i}\":{i},")).collect();
        text.push_str("\"k250\":0");
        let text = format!("{{{text}}}");
        assert!(Object::parse(text.as_bytes()).is_none());
        let unique = text.replace("\"k250\":0", "\"k500\":0");
        assert_eq!(Object::parse(unique.as_bytes()).unwrap().len(), 501);
    }

    #[test]
    fn non_objects_are_refused() {
        for bad in [&b"[1]"[..], b"\"x\"", b"{", b"{\"a\":1} x", b"{\"a\":}"] {
            assert!(parse_object(bad).is_none());
            assert!(Object::parse(bad).is_none());
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_object(deep.as_bytes()).is_none());
        assert!(Object::parse(deep.as_bytes()).is_none());
    }

    #[test]
    fn a_lone_surrogate_anywhere_is_refused() {
        assert!(Object::parse(br#"{"sub":"\ud800"}"#).is_none());
        assert!(Object::parse(br#"{"x":["\udc00"]}"#).is_none());
        assert!(Object::parse(br#"{"\ud800":1}"#).is_none());
        assert!(Object::parse(br#"{"ok":"\ud83d\ude00"}"#).is_some());
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let o = Object::parse(br#"{"a":"plain","b":"tab\there","n":1}"#).unwrap();
        assert!(matches!(o.str("a"), Some(Cow::Borrowed("plain"))));
        assert_eq!(o.str("b").as_deref(), Some("tab\there"));
        assert_eq!(o.str("n"), None);
        assert_eq!(o.get::<Text>("n"), Some(Err(())));
        assert_eq!(o.text("n"), Some(Err(())));
        assert!(matches!(o.text("b"), Some(Ok(Cow::Owned(t))) if t == "tab\there"));
        let q = Object::parse(br#"{"q":"say \"hi\"","e":""}"#).unwrap();
        assert_eq!(q.str("q").as_deref(), Some("say \"hi\""));
        assert_eq!(q.str("e").as_deref(), Some(""));
        assert_eq!(o.str("missing"), None);
    }

    #[test]
    fn strings_of_a_string_or_an_array() {
        let o =
            Object::parse(br#"{"s":"x y","a":["p",1,["q"],{"r":2},"\u0073"],"n":null}"#).unwrap();
        let s: Strings = o.get("s").unwrap().unwrap();
        assert_eq!(s.0, ["x y"]);
        let a: Strings = o.get("a").unwrap().unwrap();
        assert_eq!(a.0, ["p", "s"]);
        assert!(o.get::<Strings>("n").unwrap().is_err());
    }
}
