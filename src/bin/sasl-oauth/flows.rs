//! The OAuth grants that get a first token: device authorization (RFC 8628),
//! authorization code with PKCE on a loopback redirect (RFC 7636, RFC 8252),
//! and client credentials (RFC 6749 §4.4).

use crate::random;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest::{digest, SHA256};
use sasloauth::error::printable;
use sasloauth::http::HttpClient;
use sasloauth::secret::Secret;
use sasloauth::token::device;
use sasloauth::token::endpoint::{self, Answer, ClientIdentity, Granted};
use sasloauth::validate::unix_now;
use std::io::{IsTerminal, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Where to get tokens, and what for.
pub struct Endpoints {
    pub token: String,
    pub device: Option<String>,
    pub authorization: Option<String>,
}

pub struct Client<'a> {
    pub identity: ClientIdentity<'a>,
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
}

/// `now + wait`, or an error where an `Instant` cannot hold it.
fn deadline_after(wait: Duration) -> Result<Instant, String> {
    Instant::now()
        .checked_add(wait)
        .ok_or_else(|| format!("a wait of {} s is too long", wait.as_secs()))
}

fn with_scope_and_resource<'a>(
    mut form: Vec<(&'a str, &'a str)>,
    c: &'a Client<'a>,
) -> Vec<(&'a str, &'a str)> {
    if let Some(s) = c.scope.filter(|s| !s.is_empty()) {
        form.push(("scope", s));
    }
    if let Some(r) = c.resource.filter(|r| !r.is_empty()) {
        form.push(("resource", r));
    }
    form
}

pub fn client_credentials(http: &HttpClient, e: &Endpoints, c: &Client) -> Result<Granted, String> {
    let form = with_scope_and_resource(vec![("grant_type", "client_credentials")], c);
    endpoint::post(http, &e.token, form, &c.identity, unix_now())
        .and_then(|a| a.into_result(&e.token))
        .map_err(|e| e.reason.into_owned())
}

/// RFC 8628: show the code, then poll until the user approves, denies, or the code expires.
pub fn device(http: &HttpClient, e: &Endpoints, c: &Client) -> Result<Granted, String> {
    let url = e
        .device
        .as_deref()
        .ok_or("this provider offers no device authorization endpoint: use --browser")?;
    let form = with_scope_and_resource(Vec::new(), c);
    let mut f = form.clone();
    let basic = c.identity.authenticate(&mut f);
    let r = http
        .post_form(url, &f, basic.as_ref().map(Secret::expose))
        .map_err(|e| e.reason.into_owned())?;
    if r.status != 200 {
        return Err(format!(
            "device authorization endpoint {url} answered HTTP {}: {}",
            r.status,
            printable(&String::from_utf8_lossy(&r.body), 300)
        ));
    }
    let d = device::parse(&r.body).map_err(|e| e.reason.into_owned())?;
    // The provider's words reach the terminal only through the log filter.
    let user_code = printable(&d.user_code, 64);
    println!(
        "To sign in, open {} and enter the code {user_code}",
        printable(&d.verification_uri, 500)
    );
    if let Some(complete) = &d.verification_uri_complete {
        println!("(or open {})", printable(complete, 500));
    }
    println!("user_code: {user_code}");
    let _ = std::io::stdout().flush();
    let tty = std::io::stderr().is_terminal();
    if !tty {
        eprintln!(
            "waiting for approval (the code expires in {} s)…",
            d.lifetime.as_secs()
        );
    }
    poll(http, e, c, &d, tty)
}

/// Asks the token endpoint at the provider's interval until the code is
/// approved, denied, or expires.
fn poll(
    http: &HttpClient,
    e: &Endpoints,
    c: &Client,
    d: &device::DeviceAuthorization,
    tty: bool,
) -> Result<Granted, String> {
    let mut interval = d.interval;
    let deadline = deadline_after(d.lifetime)?;
    loop {
        let wait_until = deadline_after(interval)?;
        while Instant::now() < wait_until {
            if tty {
                let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                eprint!(
                    "\rwaiting for approval: {}:{:02} left ",
                    left / 60,
                    left % 60
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let form = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", d.device_code.expose()),
        ];
        let answer = endpoint::post(http, &e.token, form, &c.identity, unix_now())
            .map_err(|e| e.reason.into_owned())?;
        let granted = match answer {
            Answer::Refused { ref error, .. } if error == "authorization_pending" => None,
            Answer::Refused { ref error, .. } if error == "slow_down" => {
                interval = device::slower(interval);
                None
            }
            Answer::Refused { ref error, .. } if error == "expired_token" => {
                return Err("the code expired before it was approved: run the command again".into())
            }
            Answer::Refused { ref error, .. } if error == "access_denied" => {
                return Err("the sign-in was denied at the provider".into())
            }
            // Tokens, or another refusal worded (and filtered) as every token endpoint error is.
            other => Some(
                other
                    .into_result(&e.token)
                    .map_err(|e| format!("the device code was refused: {}", e.reason))?,
            ),
        };
        if let Some(g) = granted {
            if tty {
                eprintln!("\rapproved.                          ");
            }
            return Ok(g);
        }
        if Instant::now() >= deadline {
            return Err("the code expired before it was approved: run the command again".into());
        }
    }
}

fn form_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (k == key).then(|| sasloauth::protocol::oauth10a::decode(v, true).unwrap_or_default())
    })
}

/// The authorization request's URL, PKCE challenge and state included.
fn authorization_url(
    auth: &str,
    c: &Client,
    redirect: &str,
    state: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let enc = sasloauth::protocol::oauth10a::encode;
    let mut url = format!(
        "{auth}{}response_type=code&client_id={}&redirect_uri={}&state={state}&code_challenge={challenge}&code_challenge_method=S256",
        if auth.contains('?') { '&' } else { '?' },
        enc(c.identity.id),
        enc(redirect)
    );
    for (k, v) in [("scope", c.scope), ("resource", c.resource)] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            url.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    for (k, v) in extra {
        url.push_str(&format!("&{k}={}", enc(v)));
    }
    url
}

/// Waits on the loopback listener for the provider's redirect; its code.
fn wait_for_code(
    listener: &TcpListener,
    state: &str,
    redirect: &str,
    wait: Duration,
) -> Result<String, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = deadline_after(wait)?;
    // Any local process can connect here: only the provider's redirect for
    // this sign-in (our state) ends the wait; anything else gets an error
    // page, and the tool keeps listening until the deadline.
    loop {
        if Instant::now() >= deadline {
            return Err(format!(
                "no answer from the browser within {} s",
                wait.as_secs()
            ));
        }
        let mut stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        let line = request_line(&mut stream);
        match judge_redirect(&line, state) {
            Redirect::Ignored { status, why } => {
                respond(&mut stream, status, why);
                eprintln!("ignored a request on {redirect}: {why}; still waiting");
            }
            Redirect::Refused(why) => {
                respond(
                    &mut stream,
                    "200 OK",
                    "The sign-in was refused. You can close this window.",
                );
                return Err(format!("the provider refused the sign-in: {why}"));
            }
            Redirect::Code(code) => {
                respond(
                    &mut stream,
                    "200 OK",
                    "Signed in. You can close this window and return to the terminal.",
                );
                return Ok(code);
            }
        }
    }
}

/// Authorization code with PKCE (S256) on a loopback redirect.
pub fn browser(
    http: &HttpClient,
    e: &Endpoints,
    c: &Client,
    extra: &[(&str, &str)],
    wait: Duration,
) -> Result<Granted, String> {
    let auth = e
        .authorization
        .as_deref()
        .ok_or("this provider offers no authorization endpoint")?;
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let verifier = Secret::new(random::url_safe(32)?);
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.expose().as_bytes()).as_ref());
    let state = random::url_safe(16)?;
    let url = authorization_url(auth, c, &redirect, &state, &challenge, extra);
    // The endpoint may come from a discovery document: filtered like all provider text.
    println!(
        "Open this address in a browser and sign in:\n{}",
        printable(&url, 8192)
    );
    println!("listening for the answer on {redirect}");
    let _ = std::io::stdout().flush();
    let code = wait_for_code(&listener, &state, &redirect, wait)?;
    let code = Secret::new(code);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.expose()),
    ];
    // The scope was granted at the authorization endpoint; a resource
    // indicator may be repeated here (RFC 8707 §2.2).
    if let Some(r) = c.resource.filter(|r| !r.is_empty()) {
        form.push(("resource", r));
    }
    endpoint::post(http, &e.token, form, &c.identity, unix_now())
        .and_then(|a| a.into_result(&e.token))
        .map_err(|e| e.reason.into_owned())
}

/// The first line of a request on the redirect listener, read within a
/// couple of seconds: a client that sends nothing cannot hold the listener.
fn request_line(stream: &mut TcpStream) -> String {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while buf.len() < 8192 && !buf.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    text.lines().next().unwrap_or("").to_owned()
}

fn respond(stream: &mut TcpStream, status: &str, page: &str) {
    let body = format!("<!doctype html><title>sasl-oauth</title><p>{page}</p>\n");
    let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
}

/// What one request on the redirect listener means.
#[derive(Debug, PartialEq)]
enum Redirect {
    /// Not this sign-in's redirect: answered with `status` and `why`, then ignored.
    Ignored {
        status: &'static str,
        why: &'static str,
    },
    /// The provider's redirect (our state) with an `error`.
    Refused(String),
    /// The provider's redirect (our state) with a code.
    Code(String),
}

/// Judges a request line such as `GET /callback?code=…&state=… HTTP/1.1`.
fn judge_redirect(line: &str, state: &str) -> Redirect {
    let mut words = line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let ignored = |status, why| Redirect::Ignored { status, why };
    if method != "GET" || !words.next().is_some_and(|v| v.starts_with("HTTP/")) {
        return ignored("400 Bad Request", "not an HTTP GET request");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/callback" {
        return ignored("404 Not Found", "not the redirect address");
    }
    if form_value(query, "state").as_deref() != Some(state) {
        return ignored(
            "400 Bad Request",
            "the answer did not match this sign-in (state). Nothing was saved",
        );
    }
    if let Some(error) = form_value(query, "error") {
        let description = form_value(query, "error_description")
            .map(|d| format!(" ({})", printable(&d, 200)))
            .unwrap_or_default();
        return Redirect::Refused(format!("{}{description}", printable(&error, 60)));
    }
    match form_value(query, "code").filter(|c| !c.is_empty()) {
        Some(code) => Redirect::Code(code),
        None => ignored("400 Bad Request", "no code in the answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_redirect_ends_the_wait() {
        let ignored = |r: Redirect| matches!(r, Redirect::Ignored { .. });
        for line in [
            "",
            "\x16\x03\x01 garbage",
            "GET /favicon.ico HTTP/1.1",
            "GET /callback?code=c HTTP/1.1",
            "GET /callback?code=c&state=other HTTP/1.1",
            "GET /callback?error=access_denied&state=other HTTP/1.1",
            "POST /callback?code=c&state=S HTTP/1.1",
            "GET /callback?state=S HTTP/1.1",
            "GET /callback?code=c&state=S",
        ] {
            assert!(ignored(judge_redirect(line, "S")), "{line:?}");
        }
        assert_eq!(
            judge_redirect("GET /callback?code=c%2F1&state=S HTTP/1.1", "S"),
            Redirect::Code("c/1".into())
        );
        assert_eq!(
            judge_redirect(
                "GET /callback?error=access_denied&error_description=%1B%5D52%3Bc%3BAA%07&state=S HTTP/1.1",
                "S"
            ),
            Redirect::Refused("access_denied (?]52;c;AA?)".into())
        );
    }
}
