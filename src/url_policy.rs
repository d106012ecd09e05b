//! Which URLs the plugin may talk to in plain `http://`: a bearer token or a
//! key set read over an unprotected connection can be read or forged by
//! anyone on the path. Plain http is allowed to loopback hosts only
//! (127.0.0.0/8, ::1, `localhost`), unless `oauth_allow_http` says otherwise.
//! Pure: parses the text of the URL, resolves nothing.

/// Why a URL was refused, for a message that names the key or the document.
pub const PLAIN_HTTP_REFUSED: &str =
    "plain http to a non-loopback host; set oauth_allow_http: yes to allow";

/// Whether `url` is plain `http://` to a loopback host. Parsed with the
/// WHATWG parser that ureq itself uses, so the host judged here is the host
/// a request would reach (`\\`, `@` and numeric forms included).
pub fn is_loopback_http_host(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    if u.scheme() != "http" {
        return false;
    }
    match u.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.eq_ignore_ascii_case("localhost.")
        }
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

fn is_plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
}

/// Whether `url` is plain `http://` to a host that is not loopback.
pub fn is_remote_plain_http(url: &str) -> bool {
    is_plain_http(url) && !is_loopback_http_host(url)
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
            "HTTP://LOCALHOST:1/",
            // The numeric forms a WHATWG parser accepts reach 127.0.0.1 too.
            "http://0x7f000001/",
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
            "http://10.0.0.1/",
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
