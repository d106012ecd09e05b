//! The framing RFC 7628 §3.1 gives OAUTHBEARER and OAUTH10A alike:
//! `gs2-header kvsep *(key=value kvsep) kvsep`, with a required `auth` key,
//! and the decimal `port` both may carry.

use super::{gs2, kv};
use crate::error::Error;

pub struct Framed<'a> {
    pub gs2: gs2::Gs2Header<'a>,
    pub pairs: kv::Pairs<'a>,
    pub auth: &'a str,
}

/// Parses a client message (already checked by `protocol::check_message`).
pub fn parse(msg: &str) -> Result<Framed<'_>, Error> {
    if msg == "\x01" {
        return Err(Error::protocol(
            "a lone \\x01 is only valid after a server error",
        ));
    }
    let (gs2, rest) = gs2::parse(msg)?;
    let rest = rest
        .strip_prefix(kv::KVSEP)
        .ok_or_else(|| Error::protocol("missing \\x01 after the GS2 header"))?;
    let pairs = kv::parse(rest)?;
    let auth = pairs
        .get("auth")
        .ok_or_else(|| Error::protocol("the required auth key is missing"))?;
    Ok(Framed { gs2, pairs, auth })
}

/// `port` as RFC 7628 writes it: decimal, no leading zero.
pub fn port(p: &str) -> Result<u16, Error> {
    let ok =
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'));
    ok.then(|| p.parse::<u16>().ok())
        .flatten()
        .ok_or_else(|| Error::protocol("port is not a decimal number from 0 to 65535"))
}

/// `p` in decimal, as [`port`] reads it back, in `buf`.
pub fn port_digits(p: u16, buf: &mut [u8; 5]) -> &[u8] {
    let mut at = buf.len();
    let mut n = p;
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// The start of a client message: the GS2 header and its kvsep.
pub fn start(authzid: Option<&str>) -> String {
    let mut out = gs2::build(authzid);
    out.push(kv::KVSEP);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_digits_read_back() {
        let mut buf = [0; 5];
        for p in [0, 7, 10, 143, 993, 9999, 10000, 65535] {
            let digits = port_digits(p, &mut buf);
            assert_eq!(digits, p.to_string().as_bytes());
            assert_eq!(port(std::str::from_utf8(digits).unwrap()).unwrap(), p);
        }
    }
}
