//! The GS2 header of RFC 5801 §4, as OAUTHBEARER uses it (RFC 7628 §3.1):
//!
//! ```text
//! gs2-header  = [gs2-nonstd-flag ","] gs2-cb-flag "," [gs2-authzid] ","
//! gs2-cb-flag = ("p=" cb-name) / "n" / "y"
//! gs2-authzid = "a=" saslname
//! saslname    = 1*(UTF8-char-safe / "=2C" / "=3D")
//! ```

use crate::error::Error;
use std::borrow::Cow;

/// Channel-binding flag. `p=` is refused at parse time: OAUTHBEARER defines
/// no channel binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CbFlag {
    /// `n`: the client does not support channel binding.
    NotSupported,
    /// `y`: the client supports it but thinks the server does not.
    ClientOnly,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Gs2Header<'a> {
    pub cb: CbFlag,
    pub authzid: Option<Cow<'a, str>>,
}

/// Parses the header at the start of `msg`; returns it and the rest of the message.
pub fn parse(msg: &str) -> Result<(Gs2Header<'_>, &str), Error> {
    let mut rest = msg;
    if let Some(r) = rest.strip_prefix("F,") {
        rest = r;
    }
    let (flag, r) = rest
        .split_once(',')
        .ok_or_else(|| Error::protocol("GS2 header: missing ',' after the channel-binding flag"))?;
    let cb = match flag {
        "n" => CbFlag::NotSupported,
        "y" => CbFlag::ClientOnly,
        f if f.starts_with("p=") => {
            return Err(Error::protocol(
                "GS2 header: channel binding (p=) requested, but OAUTHBEARER defines none",
            ))
        }
        _ => return Err(Error::protocol("GS2 header: bad channel-binding flag")),
    };
    let (authz, r) = r
        .split_once(',')
        .ok_or_else(|| Error::protocol("GS2 header: missing ',' after the authzid"))?;
    let authzid = match authz {
        "" => None,
        a => match a.strip_prefix("a=") {
            Some(name) => Some(unescape_saslname(name)?),
            None => return Err(Error::protocol("GS2 header: authzid must start with 'a='")),
        },
    };
    if let Some(a) = &authzid {
        super::check_authzid(a)?;
    }
    Ok((Gs2Header { cb, authzid }, r))
}

/// `=2C` → `,` and `=3D` → `=`; any other `=` is an error (RFC 5801 §4).
pub fn unescape_saslname(name: &str) -> Result<Cow<'_, str>, Error> {
    if name.is_empty() {
        return Err(Error::protocol("GS2 header: empty authzid after 'a='"));
    }
    if !name.contains('=') {
        return Ok(Cow::Borrowed(name));
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3);
        match esc {
            Some("=2C") | Some("=2c") => out.push(','),
            Some("=3D") | Some("=3d") => out.push('='),
            _ => {
                return Err(Error::protocol(
                    "GS2 header: bad '=' escape in authzid (only =2C and =3D are allowed)",
                ))
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// The length of `n,[a=authzid],` as [`write_header`] writes it.
pub fn header_len(authzid: Option<&str>) -> usize {
    match authzid {
        // One pass that the compiler vectorises; each ',' and '=' takes three bytes.
        Some(a) if !a.is_empty() => {
            let escaped = a.bytes().filter(|&b| b == b',' || b == b'=').count();
            5 + a.len() + 2 * escaped
        }
        _ => 3,
    }
}

/// Writes `n,[a=authzid],` (the client never asks for channel binding),
/// the authzid escaped as a saslname.
pub fn write_header(out: &mut Vec<u8>, authzid: Option<&str>) {
    let Some(a) = authzid.filter(|a| !a.is_empty()) else {
        out.extend_from_slice(b"n,,");
        return;
    };
    out.extend_from_slice(b"n,a=");
    let mut rest = a.as_bytes();
    while let Some(i) = rest.iter().position(|&b| b == b',' || b == b'=') {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(if rest[i] == b',' { b"=2C" } else { b"=3D" });
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b',');
}

/// Builds `n,[a=authzid],` as text.
pub fn build(authzid: Option<&str>) -> String {
    let mut out = Vec::with_capacity(header_len(authzid));
    write_header(&mut out, authzid);
    // Only ASCII was added to a str: always UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_n_without_authzid() {
        let (h, rest) = parse("n,,\x01auth").unwrap();
        assert_eq!(h.cb, CbFlag::NotSupported);
        assert_eq!(h.authzid, None);
        assert_eq!(rest, "\x01auth");
    }

    #[test]
    fn rfc7628_example_authzid() {
        let (h, _) = parse("n,a=user@example.com,\x01").unwrap();
        assert_eq!(h.authzid.as_deref(), Some("user@example.com"));
    }

    #[test]
    fn nonstandard_flag_and_y() {
        let (h, _) = parse("F,y,,\x01").unwrap();
        assert_eq!(h.cb, CbFlag::ClientOnly);
    }

    #[test]
    fn escaped_comma_and_equals() {
        let (h, _) = parse("n,a=al=2Cice=3Dx,\x01").unwrap();
        assert_eq!(h.authzid.as_deref(), Some("al,ice=x"));
    }

    #[test]
    fn bad_escape_is_refused() {
        let e = parse("n,a=al=41ice,\x01").unwrap_err();
        assert!(e.reason.contains("escape"), "{}", e.reason);
        assert!(parse("n,a=alice=,\x01").is_err());
        assert!(parse("n,a=alice=2,\x01").is_err());
    }

    #[test]
    fn channel_binding_is_refused() {
        let e = parse("p=tls-unique,,\x01").unwrap_err();
        assert!(e.reason.contains("channel binding"));
    }

    #[test]
    fn unknown_flag_and_missing_commas() {
        assert!(parse("x,,\x01").is_err());
        assert!(parse("n").is_err());
        assert!(parse("n,a=bob").is_err());
        assert!(parse("n,b=bob,").is_err());
        assert!(parse("n,a=,").is_err());
    }

    #[test]
    fn control_characters_in_the_authzid_are_refused() {
        for a in ["bob\r\nX-Injected: 1", "bob\tx", "bob\u{85}", "bob\u{7f}"] {
            let e = parse(&format!("n,a={a},\x01")).unwrap_err();
            assert!(e.reason.contains("control"), "{a:?}");
        }
    }

    #[test]
    fn escape_round_trips() {
        let name = "a,b=c";
        let header = build(Some(name));
        assert_eq!(header, "n,a=a=2Cb=3Dc,");
        let (h, rest) = parse(&header).unwrap();
        assert_eq!(h.authzid.as_deref(), Some(name));
        assert_eq!(rest, "");
        assert_eq!(build(None), "n,,");
        assert_eq!(build(Some("")), "n,,");
    }

    #[test]
    fn header_len_is_what_write_header_writes() {
        for a in [None, Some(""), Some("alice"), Some(",=,"), Some("é=2C€,x")] {
            let mut out = Vec::new();
            write_header(&mut out, a);
            assert_eq!(out.len(), header_len(a), "{a:?}");
        }
    }

    #[test]
    fn multibyte_utf8_authzid_does_not_panic() {
        let (h, _) = parse("n,a=é=2C€,\x01").unwrap();
        assert_eq!(h.authzid.as_deref(), Some("é,€"));
        assert!(parse("n,a=é=€,").is_err());
    }
}
