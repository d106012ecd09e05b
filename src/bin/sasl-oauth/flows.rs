//! The OAuth grants that get a first token: device authorization (RFC 8628),
//! authorization code with PKCE on a loopback redirect (RFC 7636, RFC 8252),
//! and client credentials (RFC 6749 §4.4).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use sasloauth::http::HttpClient;
use sasloauth::secret::Secret;
use sasloauth::token::endpoint::{self, Answer, ClientIdentity, Granted};
use sasloauth::validate::unix_now;
use serde::Deserialize;
use std::io::{IsTerminal, Read, Write};
use std::net::TcpListener;
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

fn random(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    let _ = SystemRandom::new().fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
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

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: Secret,
    user_code: String,
    // Google says verification_url.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    interval: Option<u64>,
}

/// RFC 8628: show the code, then poll until the user approves, denies, or the code expires.
pub fn device(http: &HttpClient, e: &Endpoints, c: &Client) -> Result<Granted, String> {
    let url = e
        .device
        .as_deref()
        .ok_or("this provider offers no device authorization endpoint: use --browser")?;
    let form = with_scope_and_resource(Vec::new(), c);
    let mut f = form.clone();
    let basic;
    let auth = match (c.identity.secret, c.identity.auth) {
        (Some(s), endpoint::ClientAuth::Basic) => {
            basic = sasloauth::validate::introspect::basic_auth(c.identity.id, s.expose());
            Some(basic.expose())
        }
        (Some(s), endpoint::ClientAuth::Post) => {
            f.push(("client_id", c.identity.id));
            f.push(("client_secret", s.expose()));
            None
        }
        (None, _) => {
            f.push(("client_id", c.identity.id));
            None
        }
    };
    let r = http
        .post_form(url, &f, auth)
        .map_err(|e| e.reason.into_owned())?;
    if r.status != 200 {
        return Err(format!(
            "device authorization endpoint {url} answered HTTP {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
                .chars()
                .take(300)
                .collect::<String>()
        ));
    }
    let d: DeviceAnswer =
        serde_json::from_slice(&r.body).map_err(|e| format!("device authorization answer: {e}"))?;
    let lifetime = d.expires_in.unwrap_or(900);
    let mut interval = d.interval.unwrap_or(5).max(1);
    println!(
        "To sign in, open {} and enter the code {}",
        d.verification_uri, d.user_code
    );
    if let Some(complete) = &d.verification_uri_complete {
        println!("(or open {complete})");
    }
    println!("user_code: {}", d.user_code);
    let _ = std::io::stdout().flush();
    let tty = std::io::stderr().is_terminal();
    if !tty {
        eprintln!("waiting for approval (the code expires in {lifetime} s)…");
    }
    let deadline = Instant::now() + Duration::from_secs(lifetime);
    loop {
        let wait_until = Instant::now() + Duration::from_secs(interval);
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
        match answer {
            Answer::Granted(g) => {
                if tty {
                    eprintln!("\rapproved.                          ");
                }
                return Ok(g);
            }
            Answer::Refused {
                error, description, ..
            } => match error.as_str() {
                "authorization_pending" => {}
                "slow_down" => interval += 5,
                "expired_token" => {
                    return Err(
                        "the code expired before it was approved: run the command again".into(),
                    )
                }
                "access_denied" => return Err("the sign-in was denied at the provider".into()),
                _ => {
                    return Err(format!(
                        "token endpoint refused the device code: {error}{}",
                        description.map(|d| format!(" ({d})")).unwrap_or_default()
                    ))
                }
            },
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
    let verifier = Secret::new(random(32));
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.expose().as_bytes()).as_ref());
    let state = random(16);
    let enc = sasloauth::protocol::oauth10a::encode;
    let mut url = format!(
        "{auth}{}response_type=code&client_id={}&redirect_uri={}&state={state}&code_challenge={challenge}&code_challenge_method=S256",
        if auth.contains('?') { '&' } else { '?' },
        enc(c.identity.id),
        enc(&redirect)
    );
    for (k, v) in [("scope", c.scope), ("resource", c.resource)] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            url.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    for (k, v) in extra {
        url.push_str(&format!("&{k}={}", enc(v)));
    }
    println!("Open this address in a browser and sign in:\n{url}");
    println!("listening for the answer on {redirect}");
    let _ = std::io::stdout().flush();
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + wait;
    let code = loop {
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
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = vec![0u8; 8192];
        let n = stream.read(&mut buf).unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]).into_owned();
        let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        let Some(query) = target.strip_prefix("/callback?") else {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            continue;
        };
        let (page, result) = if form_value(query, "state").as_deref() != Some(state.as_str()) {
            (
                "The answer did not match this sign-in (state). Nothing was saved.",
                Err("the redirect's state did not match: refusing it".to_owned()),
            )
        } else if let Some(err) = form_value(query, "error") {
            (
                "The sign-in was refused. You can close this window.",
                Err(format!("the provider refused the sign-in: {err}")),
            )
        } else if let Some(code) = form_value(query, "code") {
            (
                "Signed in. You can close this window and return to the terminal.",
                Ok(code),
            )
        } else {
            (
                "No code in the answer.",
                Err("the redirect carried no code".to_owned()),
            )
        };
        let body = format!("<!doctype html><title>sasl-oauth</title><p>{page}</p>\n");
        let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        break result?;
    };
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
