//! OAUTH10A (RFC 7628 §3.1, §3.3): the OAUTHBEARER framing carrying an
//! OAuth 1.0a signature (RFC 5849) over a virtual HTTP request made of the
//! `mthd`, `host`, `port`, `path`, `qs` and `post` keys.
//!
//! ```text
//! client-resp = gs2-header kvsep "host=" host kvsep "port=" port kvsep
//!               "auth=OAuth " oauth-params kvsep *(key=value kvsep) kvsep
//! ```
//! The signature base string follows RFC 5849 §3.4.1: the `:` before the port
//! is percent-encoded (`%3A`), although RFC 7628's printed example shows it
//! unencoded; the port is left out when it is 80 (scheme `http`).

use super::{framing, gs2, kv};
use crate::error::Error;
use std::borrow::Cow;

#[derive(Debug, PartialEq, Eq)]
pub struct ClientFirst<'a> {
    pub gs2: gs2::Gs2Header<'a>,
    pub request: SignedRequest,
}

/// The virtual request and its OAuth parameters, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignedRequest {
    pub method: String,
    pub host: String,
    pub port: u16,
    pub path: String,
    pub query: String,
    pub post: String,
    /// `oauth_*` parameters (and any others of the header) except `realm`.
    pub params: Vec<(String, String)>,
}

impl SignedRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// RFC 5849 §3.6: percent-encode everything but ALPHA, DIGIT, `-._~`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decoding; `plus_is_space` for form encoding (query, body).
pub fn decode(s: &str, plus_is_space: bool) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .ok_or_else(|| Error::protocol("truncated percent-encoding"))?;
                let v = u8::from_str_radix(hex, 16)
                    .map_err(|_| Error::protocol("bad percent-encoding"))?;
                out.push(v);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::protocol("percent-decoded text is not UTF-8"))
}

/// `a=1&b=2` (query string or form body) into decoded pairs.
fn form_pairs(s: &str) -> Result<Vec<(String, String)>, Error> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode(k, true)?, decode(v, true)?))
        })
        .collect()
}

/// The base string URI (RFC 5849 §3.4.1.2).
pub fn base_uri(scheme: &str, host: &str, port: u16, path: &str) -> String {
    let default_port = matches!((scheme, port), ("http", 80) | ("https", 443));
    let host = host.to_ascii_lowercase();
    let path = if path.is_empty() { "/" } else { path };
    if default_port {
        format!("{scheme}://{host}{path}")
    } else {
        format!("{scheme}://{host}:{port}{path}")
    }
}

/// The signature base string (RFC 5849 §3.4.1) for a request with URI `uri`.
pub fn base_string(
    method: &str,
    uri: &str,
    query: &str,
    post: &str,
    params: &[(String, String)],
) -> Result<String, Error> {
    let mut all = form_pairs(query)?;
    all.extend(form_pairs(post)?);
    all.extend(
        params
            .iter()
            .filter(|(k, _)| k != "oauth_signature" && k != "realm")
            .cloned(),
    );
    let mut encoded: Vec<(String, String)> =
        all.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let normalized = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    Ok(format!(
        "{}&{}&{}",
        encode(&method.to_ascii_uppercase()),
        encode(uri),
        encode(&normalized)
    ))
}

impl SignedRequest {
    /// The base string of this SASL request: always scheme `http` (RFC 7628 §3.3).
    pub fn base_string(&self) -> Result<String, Error> {
        base_string(
            &self.method,
            &base_uri("http", &self.host, self.port, &self.path),
            &self.query,
            &self.post,
            &self.params,
        )
    }
}

/// Parses `OAuth realm="…", oauth_consumer_key="…", …` (RFC 5849 §3.5.1).
pub fn parse_header(value: &str) -> Result<Vec<(String, String)>, Error> {
    let rest = value
        .strip_prefix("OAuth ")
        .or_else(|| value.strip_prefix("oauth "))
        .ok_or_else(|| Error::protocol("auth value does not use the OAuth scheme"))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for item in rest.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| Error::protocol("OAuth parameter without '='"))?;
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| Error::protocol("OAuth parameter value is not quoted"))?;
        let k = decode(k.trim(), false)?;
        if k == "realm" {
            continue;
        }
        if out.iter().any(|(name, _)| *name == k) {
            return Err(Error::protocol(format!(
                "duplicate OAuth parameter {}",
                crate::error::printable(&k, 40)
            )));
        }
        out.push((k, decode(v, false)?));
        if out.len() > 32 {
            return Err(Error::protocol("too many OAuth parameters"));
        }
    }
    Ok(out)
}

/// Parses the client's message (already checked by `protocol::check_message`).
pub fn parse_client_first(msg: &str) -> Result<ClientFirst<'_>, Error> {
    let f = framing::parse(msg)?;
    let host = f
        .pairs
        .get("host")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Error::protocol("OAUTH10A requires the host key"))?;
    let port = framing::port(
        f.pairs
            .get("port")
            .ok_or_else(|| Error::protocol("OAUTH10A requires the port key"))?,
    )?;
    let request = SignedRequest {
        method: f
            .pairs
            .get("mthd")
            .filter(|m| !m.is_empty())
            .unwrap_or("POST")
            .to_owned(),
        host: host.to_owned(),
        port,
        path: f
            .pairs
            .get("path")
            .filter(|p| !p.is_empty())
            .unwrap_or("/")
            .to_owned(),
        query: f.pairs.get("qs").unwrap_or("").to_owned(),
        post: f.pairs.get("post").unwrap_or("").to_owned(),
        params: parse_header(f.auth)?,
    };
    Ok(ClientFirst {
        gs2: f.gs2,
        request,
    })
}

/// Builds the client's message from a signed request (its params include oauth_signature).
pub fn build_client_first(authzid: Option<&str>, r: &SignedRequest) -> String {
    let mut out = framing::start(authzid);
    kv::push(&mut out, "host", &r.host);
    kv::push(&mut out, "port", &r.port.to_string());
    let header: Vec<String> = r
        .params
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", encode(k), encode(v)))
        .collect();
    kv::push(
        &mut out,
        "auth",
        &format!("OAuth realm=\"\",{}", header.join(",")),
    );
    out.push(kv::KVSEP);
    out
}

/// An authzid borrowed or unescaped from the GS2 header.
pub fn authzid<'a>(m: &'a ClientFirst<'_>) -> Option<&'a str> {
    m.gs2.authzid.as_ref().map(Cow::as_ref)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// RFC 5849 §3.4.1.1: the example request and its base string.
    #[test]
    fn rfc5849_section_3_4_1_1_base_string() {
        let params = p(&[
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d00jr4z"),
            ("oauth_signature", "bYT5CMsGcbgUdFHObYMEfcx6bsw="),
        ]);
        let b = base_string(
            "POST",
            "http://example.com/request",
            "b5=%3D%253D&a3=a&c%40=&a2=r%20b",
            "c2&a3=2+q",
            &params,
        )
        .unwrap();
        assert_eq!(b, "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d00jr4z%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7");
    }

    #[test]
    fn base_uri_rules() {
        assert_eq!(
            base_uri("http", "EXAMPLE.com", 80, "/r"),
            "http://example.com/r"
        );
        assert_eq!(
            base_uri("http", "example.com", 143, ""),
            "http://example.com:143/"
        );
        assert_eq!(
            base_uri("https", "example.com", 443, "/"),
            "https://example.com/"
        );
    }

    /// The SASL base string for host example.com, port 143: RFC 5849 encodes
    /// the ':' before the port (%3A); RFC 7628 §3.3's printed example does not.
    #[test]
    fn sasl_base_string_encodes_the_port_colon() {
        let r = SignedRequest {
            method: "POST".into(),
            host: "example.com".into(),
            port: 143,
            path: "/".into(),
            params: p(&[("oauth_consumer_key", "k"), ("oauth_nonce", "n")]),
            ..Default::default()
        };
        assert_eq!(
            r.base_string().unwrap(),
            "POST&http%3A%2F%2Fexample.com%3A143%2F&oauth_consumer_key%3Dk%26oauth_nonce%3Dn"
        );
    }

    /// RFC 7628 §4.2's message. Its signature ("Tm9uLWNvbmZvcm1pbmcK",
    /// "Non-conforming") is a placeholder: only the parsing is checked here.
    #[test]
    fn rfc7628_section_4_2_message_parses() {
        let msg = "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=OAuth realm=\"Example\",oauth_consumer_key=\"9djdj82h48djs9d2\",oauth_token=\"kkk9d7dh3k39sjv7\",oauth_signature_method=\"HMAC-SHA1\",oauth_timestamp=\"137131201\",oauth_nonce=\"7d8f3e4a\",oauth_signature=\"Tm9uLWNvbmZvcm1pbmcK\"\x01\x01";
        let m = parse_client_first(msg).unwrap();
        assert_eq!(authzid(&m), Some("user@example.com"));
        assert_eq!(m.request.host, "server.example.com");
        assert_eq!(m.request.port, 143);
        assert_eq!(m.request.method, "POST");
        assert_eq!(m.request.param("oauth_token"), Some("kkk9d7dh3k39sjv7"));
        assert_eq!(
            m.request.param("oauth_signature"),
            Some("Tm9uLWNvbmZvcm1pbmcK")
        );
        assert_eq!(m.request.param("realm"), None);
    }

    #[test]
    fn host_and_port_are_required() {
        assert!(
            parse_client_first("n,,\x01port=143\x01auth=OAuth a=\"b\"\x01\x01")
                .unwrap_err()
                .reason
                .contains("host")
        );
        assert!(
            parse_client_first("n,,\x01host=h\x01auth=OAuth a=\"b\"\x01\x01")
                .unwrap_err()
                .reason
                .contains("port")
        );
    }

    #[test]
    fn header_errors() {
        assert!(parse_header("Bearer x").is_err());
        assert!(parse_header("OAuth a=b")
            .unwrap_err()
            .reason
            .contains("quoted"));
        assert!(parse_header("OAuth a=\"1\",a=\"2\"")
            .unwrap_err()
            .reason
            .contains("duplicate"));
        assert!(parse_header("OAuth a=\"%zz\"").is_err());
    }

    #[test]
    fn encode_decode() {
        assert_eq!(encode("a b+c/~"), "a%20b%2Bc%2F~");
        assert_eq!(decode("a%20b+c", true).unwrap(), "a b c");
        assert_eq!(decode("a+b", false).unwrap(), "a+b");
        assert!(decode("%4", false).is_err());
        assert!(decode("%ff", false).is_err());
    }

    #[test]
    fn build_then_parse_round_trips() {
        let r = SignedRequest {
            method: "POST".into(),
            host: "imap.example.com".into(),
            port: 993,
            path: "/".into(),
            params: p(&[("oauth_consumer_key", "c k"), ("oauth_signature", "a+b/=")]),
            ..Default::default()
        };
        let msg = build_client_first(Some("bob"), &r);
        let m = parse_client_first(&msg).unwrap();
        assert_eq!(m.request, r);
        assert_eq!(authzid(&m), Some("bob"));
    }
}
