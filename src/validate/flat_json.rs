//! The fast path of [`super::strict_json::Object::parse`]: one pass over a
//! flat JSON object, the shape of nearly every JWS header and claims set:
//! member names without escapes, and values that are strings without
//! escapes, numbers, `true`, `false` or `null`. Anything else, valid or not
//! (an array, a nested object, an escape, a control character, a grammar
//! error), gives `None`, and the object is parsed by serde_json instead. So
//! this scanner accepts only text that serde_json accepts, and finds the same
//! members in it (the tests and the `strict_json` fuzz target compare the two).
//!
//! Why: serde_json's raw-value machinery was about 8,000 instructions for a
//! token's two objects, a quarter of the plugin's own work on a cold login.

use std::borrow::Cow;

/// A member's name and the JSON text of its value.
pub type Member<'a> = (Cow<'a, str>, &'a str);

/// The members of `text` when it is one flat JSON object, in order;
/// duplicates are kept (the caller refuses them).
pub fn members<'a>(text: &'a str, capacity: usize) -> Option<Vec<Member<'a>>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut out = Vec::with_capacity(capacity);
    if b.get(i) == Some(&b'}') {
        return only_ws_after(b, i + 1).then_some(out);
    }
    loop {
        let name_end = string_end(b, i)?;
        // Both ends are ASCII quotes, so both are char boundaries.
        let name = &text[i + 1..name_end - 1];
        i = skip_ws(b, name_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let value_end = scalar_end(b, i)?;
        // A scalar begins and ends with an ASCII byte.
        out.push((Cow::Borrowed(name), &text[i..value_end]));
        i = skip_ws(b, value_end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return only_ws_after(b, i + 1).then_some(out),
            _ => return None,
        }
    }
}

/// JSON's four whitespace bytes (RFC 8259 §2).
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

fn only_ws_after(b: &[u8], i: usize) -> bool {
    skip_ws(b, i) == b.len()
}

/// The end (past the closing quote) of the string at `i`, when it has no
/// escape and no control character.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let body = b.get(i + 1..)?;
    let n = string_stop(body)?;
    (body[n] == b'"').then_some(i + 1 + n + 1)
}

/// The first quote, backslash or control byte of `body`. (Eight bytes at a
/// time measured slower: a claim's strings are short.)
fn string_stop(body: &[u8]) -> Option<usize> {
    body.iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
}

fn scalar_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b't' => literal_end(b, i, b"true"),
        b'f' => literal_end(b, i, b"false"),
        b'n' => literal_end(b, i, b"null"),
        b'-' | b'0'..=b'9' => number_end(b, i),
        _ => None,
    }
}

fn literal_end(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b.get(i..)?.starts_with(word).then_some(i + word.len())
}

/// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
/// What follows is the caller's to check (a digit after a leading 0 is not a
/// separator, so "01" is refused there).
fn number_end(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match b.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits_end(b, i),
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        i = at_least_one_digit(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = at_least_one_digit(b, i)?;
    }
    Some(i)
}

fn digits_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

fn at_least_one_digit(b: &[u8], i: usize) -> Option<usize> {
    let end = digits_end(b, i);
    (end > i).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_and_values(text: &str) -> Option<Vec<(String, String)>> {
        members(text, 4).map(|m| {
            m.into_iter()
                .map(|(k, v)| (k.into_owned(), v.to_owned()))
                .collect()
        })
    }

    #[test]
    fn flat_objects_are_scanned() {
        let got = names_and_values(
            " {\"iss\" : \"https://idp\",\"exp\":1700000000,\"x\":-0.5e+3,\"t\":true,\"f\":false,\"n\":null,\"\":\"\"}\n",
        )
        .unwrap();
        let want = [
            ("iss", "\"https://idp\""),
            ("exp", "1700000000"),
            ("x", "-0.5e+3"),
            ("t", "true"),
            ("f", "false"),
            ("n", "null"),
            ("", "\"\""),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        assert_eq!(names_and_values("{}").unwrap().len(), 0);
        assert_eq!(names_and_values("{\"é\":\"ü\"}").unwrap()[0].0, "é");
    }

    #[test]
    fn string_stop_finds_the_first_stop_byte_at_every_position() {
        for len in 0..40 {
            for at in 0..=len {
                for stop in [b'"', b'\\', 0, 0x1f] {
                    let mut body = vec![b'a'; len];
                    // Bytes that look close to a stop byte in each lane.
                    for (i, c) in body.iter_mut().enumerate() {
                        *c = [b'a', 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0xa2, 0xdc, 0xff][i % 10];
                    }
                    let want = (at < len).then(|| {
                        body[at] = stop;
                        at
                    });
                    assert_eq!(string_stop(&body), want, "len {len} at {at} stop {stop:#x}");
                }
            }
        }
    }

    #[test]
    fn anything_else_is_left_to_serde_json() {
        for text in [
            "",
            "[]",
            "{",
            "{\"a\":1",
            "{\"a\":1,}",
            "{,}",
            "{\"a\" 1}",
            "{\"a\":[1]}",
            "{\"a\":{}}",
            "{\"a\\n\":1}",
            "{\"a\":\"\\u0041\"}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":+1}",
            "{\"a\":-}",
            "{\"a\":tru}",
            "{\"a\":truex}",
            "{\"a\":nul}",
            "{\"a\":1}x",
            "{\"a\":1}{}",
            "\u{feff}{}",
            "{\"a\":1\u{b}}",
            "{a:1}",
            "{'a':1}",
        ] {
            assert!(members(text, 4).is_none(), "{text:?}");
        }
    }
}
