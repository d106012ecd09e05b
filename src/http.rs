//! The one HTTPS client of the plugin, for discovery, JWKS and introspection.
//!
//! Trust anchors (built-in web roots, the system's, `oauth_ca_file`) are read
//! when the client is built, at plugin init: Postfix chroots afterwards into a
//! jail without a CA bundle. Requests are blocking, bounded by one overall
//! timeout, and start no thread. A forked child gets fresh connections: pooled
//! sockets are never shared with the parent.

use crate::error::{printable, Error, ErrorKind};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Larger answers from an identity provider are refused as garbage.
pub const MAX_BODY: u64 = 1024 * 1024;

/// Refuses plain http to a non-loopback host unless `allow_http`; `key`
/// names the client setting the URL came from. Other schemes pass (ureq
/// refuses what it cannot speak).
pub fn check_plain_http(key: &str, url: &str, allow_http: bool) -> Result<(), Error> {
    if !allow_http && crate::url_policy::is_remote_plain_http(url) {
        return Err(Error::config(format!(
            "{key}: plain http to a non-loopback host; set allow_http: yes to allow"
        )));
    }
    Ok(())
}

/// Debian's system bundle, read directly in a set-id process.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The system's trust anchors. rustls-native-certs honours SSL_CERT_FILE and
/// SSL_CERT_DIR; in a set-id process those belong to the unprivileged caller,
/// so the system bundle is read without them (and that is noted once).
pub fn system_roots(set_id: bool) -> Vec<CertificateDer<'static>> {
    if !set_id {
        return rustls_native_certs::load_native_certs().certs;
    }
    // Only to say so in the log: the values are not used.
    if ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
    {
        crate::secure_env::note(
            "SSL_CERT_FILE",
            &format!("SSL_CERT_FILE and SSL_CERT_DIR ignored: the process is setuid or setgid; system trust anchors from {SYSTEM_BUNDLE}"),
        );
    }
    CertificateDer::pem_file_iter(SYSTEM_BUNDLE)
        .map(|certs| certs.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

pub struct HttpClient {
    tls: Arc<rustls::ClientConfig>,
    proxy: Option<ureq::Proxy>,
    timeout: Duration,
    /// The agent and the process it belongs to (rebuilt after a fork).
    agent: Mutex<Option<(u32, ureq::Agent)>>,
}

/// A response we read whole: status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// Seconds from `Cache-Control` (`max-age`; 0 for `no-cache`/`no-store`).
    pub max_age: Option<i64>,
}

/// The lifetime a `Cache-Control` header gives (RFC 9111 §5.2.2): `max-age`,
/// or 0 for `no-cache`/`no-store`; None when it says neither.
pub fn cache_max_age(header: &str) -> Option<i64> {
    let mut max_age = None;
    for directive in header.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "no-cache" | "no-store" => return Some(0),
            "max-age" => {
                let digits = value.trim().trim_matches('"');
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    // Longer than any sane lifetime: saturate rather than fail.
                    max_age = Some(digits.parse::<i64>().unwrap_or(i64::MAX));
                }
            }
            _ => {}
        }
    }
    max_age
}

fn unavailable(reason: String) -> Error {
    Error::new(ErrorKind::Unavailable, reason)
}

/// Builds the root store; returns it and how many anchors came from each source.
fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, Error> {
    let mut store = rustls::RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // A missing or partly unreadable system bundle is not fatal: web roots remain.
    store.add_parsable_certificates(system_roots(crate::secure_env::is_set_id()));
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| {
                Error::config(format!(
                    "oauth_ca_file: cannot read {}: {e}",
                    path.display()
                ))
            })?
            .collect::<Result<_, _>>()
            .map_err(|e| Error::config(format!("oauth_ca_file: {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(Error::config(format!(
                "oauth_ca_file: no certificate in {}",
                path.display()
            )));
        }
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::config(format!(
                "oauth_ca_file: no usable certificate in {}",
                path.display()
            )));
        }
    }
    Ok(store)
}

/// The TLS set-up of every client of the server side (identity provider,
/// shared cache): built-in web roots, the system's, `oauth_ca_file`; read now.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS set-up failed: {e}")))?
        .with_root_certificates(roots(ca_file)?)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

impl HttpClient {
    pub fn new(ca_file: Option<&Path>, timeout: Duration) -> Result<HttpClient, Error> {
        HttpClient::with_proxy(ca_file, None, timeout)
    }

    /// As `new`, through an HTTP proxy (`http://host:port`) when given.
    pub fn with_proxy(
        ca_file: Option<&Path>,
        proxy: Option<&str>,
        timeout: Duration,
    ) -> Result<HttpClient, Error> {
        let proxy = proxy
            .map(|p| ureq::Proxy::new(p).map_err(|e| Error::config(format!("proxy: {e}"))))
            .transpose()?;
        Ok(HttpClient {
            tls: tls_config(ca_file)?,
            proxy,
            timeout,
            agent: Mutex::new(None),
        })
    }

    fn agent(&self) -> ureq::Agent {
        let pid = std::process::id();
        let mut slot = self.agent.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some((owner, agent)) if *owner == pid => agent.clone(),
            _ => {
                let mut builder = ureq::AgentBuilder::new()
                    .tls_config(self.tls.clone())
                    .timeout(self.timeout)
                    .redirects(0)
                    .user_agent(concat!("sasl-oauth/", env!("CARGO_PKG_VERSION")));
                if let Some(p) = &self.proxy {
                    builder = builder.proxy(p.clone());
                }
                let agent = builder.build();
                *slot = Some((pid, agent.clone()));
                agent
            }
        }
    }

    /// GET, expecting 200 and a body.
    pub fn get(&self, url: &str) -> Result<Vec<u8>, Error> {
        self.get_with_max_age(url).map(|(body, _)| body)
    }

    /// As `get`, with the lifetime the answer's `Cache-Control` gives it.
    pub fn get_with_max_age(&self, url: &str) -> Result<(Vec<u8>, Option<i64>), Error> {
        let r = self.finish(
            url,
            self.agent()
                .get(url)
                .set("Accept", "application/json")
                .call(),
        )?;
        if r.status != 200 {
            return Err(
                unavailable(format!("the identity provider answered HTTP {}", r.status))
                    .with_detail(printable(url, 200)),
            );
        }
        Ok((r.body, r.max_age))
    }

    /// POST a form, with HTTP Basic credentials when given. Any status is returned.
    pub fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<&str>,
    ) -> Result<Response, Error> {
        let mut req = self.agent().post(url).set("Accept", "application/json");
        if let Some(b) = basic {
            req = req.set("Authorization", b);
        }
        self.finish(url, req.send_form(form))
    }

    fn finish(
        &self,
        url: &str,
        result: Result<ureq::Response, ureq::Error>,
    ) -> Result<Response, Error> {
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => {
                let detail = match t.message() {
                    Some(m) => format!("{}: {m}", t.kind()),
                    None => t.kind().to_string(),
                };
                return Err(unavailable(format!(
                    "identity provider unreachable: {}",
                    printable(&detail, 200)
                ))
                .with_detail(format!("at {}", printable(url, 200))));
            }
        };
        let status = resp.status();
        let max_age = resp.header("cache-control").and_then(cache_max_age);
        if status >= 500 {
            return Err(
                unavailable(format!("the identity provider answered HTTP {status}"))
                    .with_detail(printable(url, 200)),
            );
        }
        let mut body = Vec::new();
        resp.into_reader()
            .take(MAX_BODY + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                unavailable(format!(
                    "reading the identity provider's answer failed: {e}"
                ))
                .with_detail(printable(url, 200))
            })?;
        if body.len() as u64 > MAX_BODY {
            return Err(
                unavailable("the identity provider sent more than 1 MiB".into())
                    .with_detail(printable(url, 200)),
            );
        }
        Ok(Response {
            status,
            body,
            max_age,
        })
    }
}

/// A loopback HTTP server for tests: answers every request with the reply
/// set last, and counts the requests.
#[cfg(test)]
pub mod test_server {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    pub struct TestServer {
        /// `http://127.0.0.1:PORT`
        pub base: String,
        reply: Arc<Mutex<(String, String)>>,
        served: Arc<AtomicUsize>,
    }

    impl TestServer {
        /// Starts it answering 200 with `body`.
        pub fn start(body: &str) -> TestServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let reply = Arc::new(Mutex::new((String::new(), String::new())));
            let served = Arc::new(AtomicUsize::new(0));
            let (r, n) = (reply.clone(), served.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut s) = stream else { continue };
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf);
                    let (head, body) = r.lock().unwrap().clone();
                    n.fetch_add(1, Ordering::SeqCst);
                    let _ = write!(
                        s,
                        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
            let server = TestServer {
                base,
                reply,
                served,
            };
            server.answer("HTTP/1.1 200 OK", body);
            server
        }

        /// From now on: `head` (status line, then any header lines) and `body`.
        pub fn answer(&self, head: &str, body: &str) {
            *self.reply.lock().unwrap() = (head.to_owned(), body.to_owned());
        }

        pub fn served(&self) -> usize {
            self.served.load(Ordering::SeqCst)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A one-shot HTTP server on 127.0.0.1 answering `reply` (or nothing, after `delay`).
    fn serve(reply: &'static str, delay: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                std::thread::sleep(delay);
                let _ = s.write_all(reply.as_bytes());
            }
        });
        format!("http://{addr}/x")
    }

    fn client(ms: u64) -> HttpClient {
        HttpClient::new(None, Duration::from_millis(ms)).unwrap()
    }

    #[test]
    fn get_reads_a_200_body() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            Duration::ZERO,
        );
        assert_eq!(client(2000).get(&url).unwrap(), b"{}");
    }

    #[test]
    fn get_with_max_age_reads_cache_control() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nCache-Control: public, max-age=120\r\nContent-Length: 2\r\n\r\n{}",
            Duration::ZERO,
        );
        let (body, max_age) = client(2000).get_with_max_age(&url).unwrap();
        assert_eq!((body.as_slice(), max_age), (&b"{}"[..], Some(120)));
    }

    #[test]
    fn cache_control_directives() {
        assert_eq!(cache_max_age("max-age=300"), Some(300));
        assert_eq!(cache_max_age("public, MAX-AGE = \"60\""), Some(60));
        assert_eq!(cache_max_age("max-age=60, no-cache"), Some(0));
        assert_eq!(cache_max_age("no-store"), Some(0));
        assert_eq!(cache_max_age("max-age=-5"), None);
        assert_eq!(cache_max_age("max-age=soon"), None);
        assert_eq!(cache_max_age("public"), None);
        assert_eq!(
            cache_max_age("max-age=99999999999999999999"),
            Some(i64::MAX)
        );
    }

    #[test]
    fn redirects_are_not_followed() {
        // Followed, it would fail to resolve a .invalid host instead.
        let url = serve(
            "HTTP/1.1 302 Found\r\nLocation: http://keys.invalid/jwks\r\nContent-Length: 0\r\n\r\n",
            Duration::ZERO,
        );
        let e = client(2000).get(&url).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.reason.contains("answered HTTP 302"), "{}", e.reason);
    }

    #[test]
    fn server_errors_are_temporary() {
        let url = serve(
            "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
            Duration::ZERO,
        );
        assert_eq!(
            client(2000).get(&url).unwrap_err().kind,
            ErrorKind::Unavailable
        );
    }

    #[test]
    fn connection_refused_is_temporary() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = client(2000)
            .get(&format!("http://127.0.0.1:{port}/"))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.reason.contains("unreachable"), "{}", e.reason);
    }

    #[test]
    fn a_slow_server_hits_the_timeout() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            Duration::from_secs(3),
        );
        let start = std::time::Instant::now();
        let e = client(300).get(&url).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(
            start.elapsed() < Duration::from_millis(2500),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback_unless_allowed() {
        let e = check_plain_http("token_endpoint", "http://idp.invalid/token", false).unwrap_err();
        assert_eq!(
            e.reason,
            "token_endpoint: plain http to a non-loopback host; set allow_http: yes to allow"
        );
        assert!(check_plain_http("token_endpoint", "HTTP://idp.invalid/", false).is_err());
        assert!(check_plain_http("token_endpoint", "http://idp.invalid/token", true).is_ok());
        assert!(check_plain_http("token_endpoint", "https://idp.invalid/token", false).is_ok());
        assert!(check_plain_http("token_endpoint", "http://127.0.0.1:9/token", false).is_ok());
    }

    #[test]
    fn a_bad_ca_file_is_a_config_error() {
        let dir = std::env::temp_dir().join(format!("sasl-oauth-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("ca.pem");
        std::fs::write(&f, "not a certificate").unwrap();
        let e = HttpClient::new(Some(&f), Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(e.reason.contains("oauth_ca_file"));
        assert!(HttpClient::new(Some(&dir.join("missing.pem")), Duration::from_secs(1)).is_err());
    }
}
