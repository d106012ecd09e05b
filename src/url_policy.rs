//! Which URLs the plugin may talk to in plain `http://`: a bearer token or a
//! key set read over an unprotected connection can be read or forged by
//! anyone on the path. Plain http is allowed to loopback hosts only
//! (127.0.0.0/8, ::1, `localhost`), unless `oauth_allow_http` says otherwise.
//! Pure: parses the text of the URL, resolves nothing.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a URL was refused, for a message that names the key or the document.
pub const PLAIN_HTTP_REFUSED: &str =
    "plain http to a non-loopback host; set oauth_allow_http: yes to allow";

/// The scheme (lowercase) and host of `url`, brackets of an IPv6 literal
/// removed; None when it has no `scheme://`.
fn scheme_and_host(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    // A backslash ends the authority too, as WHATWG URL parsers (ureq's) read it.
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or("");
    // userinfo ends at the last '@' of the authority.
    let hostport = authority.rsplit('@').next().unwrap_or("");
    let host = match hostport.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => hostport.split(':').next().unwrap_or(""),
    };
    Some((scheme.to_ascii_lowercase(), host))
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback())
}

/// Whether `url` is plain `http://` to a loopback host.
pub fn is_loopback_http_host(url: &str) -> bool {
    scheme_and_host(url).is_some_and(|(scheme, host)| scheme == "http" && is_loopback_host(host))
}

/// Whether `url` is plain `http://` to a host that is not loopback.
pub fn is_remote_plain_http(url: &str) -> bool {
    scheme_and_host(url).is_some_and(|(scheme, _)| scheme == "http") && !is_loopback_http_host(url)
}

/// Ok unless `url` is remote plain http and that is not allowed.
pub fn check(url: &str, allow_http: bool) -> Result<(), &'static str> {
    if !allow_http && is_remote_plain_http(url) {
        Err(PLAIN_HTTP_REFUSED)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_and_localhost_are_loopback() {
        for url in [
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/",
            "http://localhost",
            "http://LOCALHOST.:99/x",
            "http://[::1]:8080/jwks",
            "HTTP://user:pw@127.0.0.1/x",
        ] {
            assert!(is_loopback_http_host(url), "{url}");
            assert!(check(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn other_hosts_are_not_loopback() {
        for url in [
            "http://keys.invalid/jwks",
            "http://127.0.0.1.keys.invalid/",
            "http://localhost.keys.invalid/",
            "http://128.0.0.1/",
            "http://[::2]/",
            "http://127.0.0.1@keys.invalid/",
            "http://keys.invalid/?next=http://127.0.0.1/",
            "http://keys.invalid\\@127.0.0.1/",
            "http://",
        ] {
            assert!(!is_loopback_http_host(url), "{url}");
            assert_eq!(check(url, false), Err(PLAIN_HTTP_REFUSED), "{url}");
            assert!(check(url, true).is_ok(), "{url}");
        }
    }

    #[test]
    fn https_is_always_allowed_and_never_loopback_http() {
        assert!(check("https://keys.invalid/jwks", false).is_ok());
        assert!(check("https://127.0.0.1/jwks", false).is_ok());
        assert!(!is_loopback_http_host("https://127.0.0.1/jwks"));
    }

    #[test]
    fn text_without_a_scheme_is_not_plain_http() {
        assert!(!is_loopback_http_host("127.0.0.1/jwks"));
        assert!(!is_remote_plain_http("keys.invalid"));
    }
}
