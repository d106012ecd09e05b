//! The OAUTH mechanism of the original KITTEN "OAuth over SASL" draft: the
//! client message is an HTTP/1.1 request, the server's challenge an HTTP
//! response (docs/protocol.md §2.4).
//!
//! ```text
//! GET / HTTP/1.1
//! User: scooter@altavista.com           ; optional: the authorization identity
//! Host: imap.yahoo.com
//! Authorization: Token token="vF9d…"    ; or: Bearer vF9d…; empty or absent: discovery
//!
//! HTTP/1.1 401 Unauthorized
//! WWW-Authenticate: Bearer realm="imap", error="invalid_token", scope="…",
//!                   authorization_uri="…", token_uri="…"
//! ```
//! The draft-era challenge `WWW-Authenticate: Token realm=…, error="discovery",
//! auth_uri=…, token_uri=…` is understood by the client too.

use super::bearer::{self, Credential};
use crate::error::Error;

/// Headers we look at; more in one message is not a login but an attack.
const MAX_HEADERS: usize = 32;

#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub user: Option<&'a str>,
    pub host: Option<&'a str>,
    pub credential: Credential<'a>,
}

fn header_text<'a>(name: &str, value: &'a [u8]) -> Result<&'a str, Error> {
    let text = std::str::from_utf8(value)
        .map_err(|_| Error::protocol(format!("{name} header is not UTF-8")))?;
    Ok(text.trim())
}

/// Parses the client's request; the whole message must be one complete request.
pub fn parse_request(msg: &[u8]) -> Result<Request<'_>, Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let end = match req.parse(msg) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return Err(Error::protocol(
                "incomplete HTTP request (missing the empty line?)",
            ))
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::protocol("too many HTTP headers"))
        }
        Err(e) => return Err(Error::protocol(format!("malformed HTTP request: {e}"))),
    };
    if end != msg.len() {
        return Err(Error::protocol("data after the end of the HTTP request"));
    }
    if req.method != Some("GET") || req.path != Some("/") || req.version != Some(1) {
        return Err(Error::protocol(
            "request line must be exactly 'GET / HTTP/1.1'",
        ));
    }
    let (mut user, mut host, mut authorization) = (None, None, None);
    for h in req.headers.iter() {
        let slot = if h.name.eq_ignore_ascii_case("User") {
            &mut user
        } else if h.name.eq_ignore_ascii_case("Host") {
            &mut host
        } else if h.name.eq_ignore_ascii_case("Authorization") {
            &mut authorization
        } else {
            continue; // unknown headers are ignored
        };
        if slot.is_some() {
            return Err(Error::protocol(format!("duplicate {} header", h.name)));
        }
        *slot = Some(header_text(h.name, h.value)?);
    }
    let credential = match authorization {
        None | Some("") => Credential::Discovery,
        Some(v) => parse_authorization(v)?,
    };
    if let Some(u) = user {
        super::check_authzid(u)?;
    }
    Ok(Request {
        user: user.filter(|u| !u.is_empty()),
        host: host.filter(|h| !h.is_empty()),
        credential,
    })
}

/// `Bearer <token>` (RFC 6750) or the draft's `Token token="<token>"`.
fn parse_authorization(value: &str) -> Result<Credential<'_>, Error> {
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("Bearer") {
        return bearer::parse_auth(value);
    }
    if !scheme.eq_ignore_ascii_case("Token") {
        return Err(Error::protocol(
            "Authorization scheme is neither Bearer nor Token",
        ));
    }
    let params = parse_params(rest)?;
    let token = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("token"))
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| Error::protocol("Token authorization without a token parameter"))?;
    // A b64token needs no escapes, so its text stands verbatim in `value`:
    // borrow it from there, then check it with the bearer grammar.
    let Some(start) = value.find(token).filter(|_| !token.is_empty()) else {
        return Ok(Credential::Discovery);
    };
    let raw = &value[start..start + token.len()];
    match bearer::parse_auth(&format!("Bearer {raw}"))? {
        Credential::Discovery => Ok(Credential::Discovery),
        Credential::Bearer(_) => Ok(Credential::Bearer(raw)),
    }
}

/// `name=value` or `name="quoted"` pairs separated by commas (RFC 9110 §11.2).
pub fn parse_params(text: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| Error::protocol("auth parameter without '='"))?;
        let name = rest[..eq].trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::protocol("bad auth parameter name"));
        }
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(q) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut closed = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, e)) => v.push(e),
                        None => break,
                    },
                    '"' => {
                        closed = Some(i);
                        break;
                    }
                    c => v.push(c),
                }
            }
            let i = closed.ok_or_else(|| Error::protocol("unterminated quoted auth parameter"))?;
            value = v;
            rest = &q[i + 1..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        out.push((name.to_ascii_lowercase(), value));
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return Err(Error::protocol(
                "auth parameters must be separated by commas",
            ));
        }
        if out.len() > 16 {
            return Err(Error::protocol("too many auth parameters"));
        }
    }
    Ok(out)
}

fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The server's challenge (an HTTP response).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    /// 401, or 403 for insufficient_scope.
    pub status: u16,
    pub realm: String,
    pub error: Option<String>,
    pub scope: Option<String>,
    pub authorization_uri: Option<String>,
    pub token_uri: Option<String>,
}

pub fn build_challenge(c: &Challenge) -> Vec<u8> {
    let reason = if c.status == 403 {
        "Forbidden"
    } else {
        "Unauthorized"
    };
    let mut params = vec![format!("realm={}", quote(&c.realm))];
    for (name, value) in [
        ("error", &c.error),
        ("scope", &c.scope),
        ("authorization_uri", &c.authorization_uri),
        ("token_uri", &c.token_uri),
    ] {
        if let Some(v) = value {
            params.push(format!("{name}={}", quote(v)));
        }
    }
    format!(
        "HTTP/1.1 {} {reason}\r\nWWW-Authenticate: Bearer {}\r\n\r\n",
        c.status,
        params.join(", ")
    )
    .into_bytes()
}

/// Parses a server challenge, in today's form or the draft's (`Token`, `auth_uri`).
pub fn parse_challenge(msg: &[u8]) -> Result<Challenge, Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(msg) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(Error::protocol("server challenge is not an HTTP response")),
    }
    let status = resp.code.unwrap_or(0);
    let mut c = Challenge {
        status,
        ..Default::default()
    };
    let Some(h) = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("WWW-Authenticate"))
    else {
        return Ok(c);
    };
    let value = header_text(h.name, h.value)?;
    let (_scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    for (name, v) in parse_params(rest)? {
        match name.as_str() {
            "realm" => c.realm = v,
            "error" => c.error = Some(v),
            "scope" => c.scope = Some(v),
            "authorization_uri" | "auth_uri" => c.authorization_uri = Some(v),
            "token_uri" => c.token_uri = Some(v),
            _ => {}
        }
    }
    Ok(c)
}

/// The client's request; without a token it is a discovery request.
pub fn build_request(
    user: Option<&str>,
    host: Option<&str>,
    token: Option<&str>,
) -> Result<String, Error> {
    let clean = |what: &str, v: &str| {
        if v.chars().any(|c| c.is_control()) {
            Err(Error::param(format!("{what} contains control characters")))
        } else {
            Ok(())
        }
    };
    let user = user.filter(|u| !u.is_empty());
    let host = host.filter(|h| !h.is_empty());
    if let Some(u) = user {
        clean("user name", u)?;
    }
    if let Some(h) = host {
        clean("host", h)?;
    }
    if let Some(t) = token {
        clean("token", t)?;
    }
    // One allocation of the final size and no formatted pieces: the request
    // holds the token, and a buffer that grew or a temporary string would
    // leave copies of it that nobody wipes.
    let field = |name: &str, v: Option<&str>| v.map_or(0, |v| name.len() + v.len() + 2);
    let size = REQUEST_LINE.len()
        + field("User: ", user)
        + field("Host: ", host)
        + field("Authorization: Bearer ", token)
        + 2;
    let mut out = String::with_capacity(size);
    out.push_str(REQUEST_LINE);
    for (name, value) in [
        ("User: ", user),
        ("Host: ", host),
        ("Authorization: Bearer ", token),
    ] {
        if let Some(v) = value {
            out.push_str(name);
            out.push_str(v);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    debug_assert_eq!(out.len(), size);
    Ok(out)
}

const REQUEST_LINE: &str = "GET / HTTP/1.1\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// The deck's example, base64 exactly as on the wire.
    const SLIDES: &str = "R0VUIC8gSFRUUC8xLjENClVzZXI6IHNjb290ZXJAYWx0YXZpc3RhLmNvbQ0KSG9zdDogaW1hcC55YWhvby5jb20NCkF1dGhvcml6YXRpb246IFRva2VuIHRva2VuPSJ2RjlkZnQ0cW1UYzJOdmIzUmxja0JoYkhSaGRtbHpkR0V1WTI5dENnPT0iDQoNCg==";

    #[test]
    fn slides_example() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(SLIDES)
            .unwrap();
        let r = parse_request(&bytes).unwrap();
        assert_eq!(r.user, Some("scooter@altavista.com"));
        assert_eq!(r.host, Some("imap.yahoo.com"));
        assert_eq!(
            r.credential,
            Credential::Bearer("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")
        );
    }

    #[test]
    fn bearer_form_and_unknown_headers() {
        let r = parse_request(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Trace: 1\r\nAuthorization: Bearer abc.def\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.credential, Credential::Bearer("abc.def"));
        assert_eq!(r.user, None);
    }

    #[test]
    fn no_or_empty_authorization_is_discovery() {
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nUser: a\r\n\r\n")
                .unwrap()
                .credential,
            Credential::Discovery
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nAuthorization:\r\n\r\n")
                .unwrap()
                .credential,
            Credential::Discovery
        );
    }

    #[test]
    fn request_line_must_be_exact() {
        for m in [
            &b"POST / HTTP/1.1\r\n\r\n"[..],
            b"GET /x HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.0\r\n\r\n",
        ] {
            assert!(
                parse_request(m)
                    .unwrap_err()
                    .reason
                    .contains("GET / HTTP/1.1"),
                "{:?}",
                String::from_utf8_lossy(m)
            );
        }
    }

    #[test]
    fn malformed_requests() {
        assert!(parse_request(b"GET / HTTP/1.1\r\nHost: h\r\n")
            .unwrap_err()
            .reason
            .contains("incomplete"));
        assert!(parse_request(b"GET / HTTP/1.1\r\n\r\nextra").is_err());
        assert!(
            parse_request(b"GET / HTTP/1.1\r\nUser: a\r\nUser: b\r\n\r\n")
                .unwrap_err()
                .reason
                .contains("duplicate")
        );
        assert!(parse_request(b"GET / HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\r\n").is_err());
        assert!(parse_request(b"GET / HTTP/1.1\r\nAuthorization: Token nope=1\r\n\r\n").is_err());
        assert!(parse_request(b"\x01\x02").is_err());
        let many: String = (0..40).map(|i| format!("X{i}: v\r\n")).collect();
        assert!(
            parse_request(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes())
                .unwrap_err()
                .reason
                .contains("too many")
        );
    }

    #[test]
    fn challenge_round_trip() {
        let c = Challenge {
            status: 401,
            realm: "imap".into(),
            error: Some("invalid_token".into()),
            scope: Some("mail".into()),
            authorization_uri: Some("https://id/auth".into()),
            token_uri: Some("https://id/token".into()),
        };
        let bytes = build_challenge(&c);
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"imap\", error=\"invalid_token\", scope=\"mail\", authorization_uri=\"https://id/auth\", token_uri=\"https://id/token\"\r\n\r\n"
        );
        assert_eq!(parse_challenge(&bytes).unwrap(), c);
    }

    #[test]
    fn draft_era_challenge() {
        let c = parse_challenge(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Token realm=\"Example\", error=\"discovery\", auth_uri=\"https://a\", token_uri=\"https://t\"\r\n\r\n").unwrap();
        assert_eq!(c.error.as_deref(), Some("discovery"));
        assert_eq!(c.authorization_uri.as_deref(), Some("https://a"));
        assert_eq!(c.token_uri.as_deref(), Some("https://t"));
    }

    #[test]
    fn quoted_params_with_escapes() {
        let p = parse_params(r#"realm="a \"b\", c", error=x"#).unwrap();
        assert_eq!(
            p,
            vec![
                ("realm".into(), "a \"b\", c".into()),
                ("error".into(), "x".into())
            ]
        );
        assert!(parse_params(r#"realm="open"#).is_err());
        assert!(parse_params("realm").is_err());
    }

    #[test]
    fn build_request_and_discovery() {
        let r = build_request(Some("u@x"), Some("imap.x"), Some("tok")).unwrap();
        assert_eq!(
            r,
            "GET / HTTP/1.1\r\nUser: u@x\r\nHost: imap.x\r\nAuthorization: Bearer tok\r\n\r\n"
        );
        let d = build_request(None, Some("h"), None).unwrap();
        assert_eq!(
            parse_request(d.as_bytes()).unwrap().credential,
            Credential::Discovery
        );
        assert!(build_request(Some("a\r\nX: y"), None, None).is_err());
        // Built in one allocation of its final size (it holds the token).
        for (u, h, t) in [
            (Some("u@x"), Some("imap.x"), Some("tok")),
            (Some(""), None, Some("t")),
            (None, Some(""), None),
        ] {
            let r = build_request(u, h, t).unwrap();
            assert_eq!(r.capacity(), r.len(), "{u:?} {h:?} {t:?}");
        }
        assert_eq!(
            build_request(Some(""), Some(""), None).unwrap(),
            "GET / HTTP/1.1\r\n\r\n"
        );
    }
}
