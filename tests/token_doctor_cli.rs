//! The `sasl-oauth` tool's command line contract, without an identity provider
//! (c-tests/e2e/tool.sh runs the real flows against tests/idp): `--help` with an
//! example on every subcommand, unknown options, `token init` never replacing a
//! file without `--force` and always writing mode 0600, `token show` never
//! printing secrets in full, `doctor` on a missing plugin.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sasl-oauth");

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sasl-oauth-tool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("SASL_OAUTH_CONF", "/dev/null")
        .env_remove("SASL_PATH")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

const SUBCOMMANDS: [&[&str]; 5] = [
    &["token", "init"],
    &["token", "show"],
    &["token", "refresh"],
    &["check"],
    &["doctor"],
];

#[test]
fn every_subcommand_has_help_with_an_example() {
    for cmd in SUBCOMMANDS {
        let out = run(&[cmd, &["--help"]].concat());
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{cmd:?} --help: {stderr}");
        assert!(
            stdout.contains(&format!("usage: sasl-oauth {}", cmd.join(" "))),
            "{cmd:?}: {stdout}"
        );
        assert!(
            stdout.contains("example"),
            "{cmd:?} --help has no example: {stdout}"
        );
        assert!(
            stderr.is_empty(),
            "{cmd:?} --help wrote to stderr: {stderr}"
        );
    }
}

#[test]
fn unknown_options_exit_2_with_the_message_on_stderr() {
    for cmd in SUBCOMMANDS {
        let out = run(&[cmd, &["--no-such-option"]].concat());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {stderr}");
        assert!(stderr.contains("--no-such-option"), "{cmd:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{cmd:?}: {}", text(&out.stdout));
    }
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty() && !out.stderr.is_empty());
}

/// `--version` names the commit of this checkout (build.rs asks git; the
/// tests always run from a checkout).
#[test]
fn version_names_the_version_and_the_commit() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        head.status.success(),
        "git rev-parse: {}",
        text(&head.stderr)
    );
    let expected = format!(
        "sasl-oauth {} (commit {})\n",
        env!("CARGO_PKG_VERSION"),
        text(&head.stdout).trim()
    );
    assert_eq!(text(&out.stdout), expected);
    assert_eq!(run(&["-V"]).stdout, out.stdout);
}

#[test]
fn token_init_refuses_to_replace_a_file_without_force() {
    let d = dir("noforce");
    let f = d.join("token.json");
    std::fs::write(&f, "{\"access_token\":\"keep-me\"}").unwrap();
    // Port 9 (discard): nothing may be contacted before the refusal anyway.
    let out = run(&[
        "token",
        "init",
        "--provider",
        "http://127.0.0.1:9",
        "--client-id",
        "c",
        "--output",
        f.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "{\"access_token\":\"keep-me\"}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

const ACCESS: &str = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.c2VjcmV0LXNpZ25hdHVyZS1wYXJ0LXRoYXQtbXVzdC1ub3Qtc2hvdw";
const REFRESH: &str = "rt-0123456789abcdefghijklmnopqrstuvwxyz";
const SECRET: &str = "client-secret-never-shown";

fn token_file(d: &Path, expires_at: i64, refresh: bool) -> PathBuf {
    let f = d.join("token.json");
    let mut j = serde_json::json!({
        "access_token": ACCESS, "expires_at": expires_at,
        "token_endpoint": "https://id.example.test/token", "client_id": "relay",
        "client_secret": SECRET, "scope": "mail", "grant": "refresh_token",
        "user": "relay@example.test",
    });
    if refresh {
        j["refresh_token"] = REFRESH.into();
    }
    std::fs::write(&f, j.to_string()).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    f
}

#[test]
fn token_show_prints_the_expiry_and_never_a_secret_in_full() {
    let d = dir("show");
    // 2100-01-01 00:00:00 UTC
    let f = token_file(&d, 4_102_444_800, true);
    let out = run(&["token", "show", f.to_str().unwrap()]);
    let all = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("2100-01-01 00:00:00 UTC"), "{all}");
    assert!(
        all.contains("relay@example.test") && all.contains("(mode 0600)"),
        "{all}"
    );
    for s in [
        ACCESS,
        REFRESH,
        SECRET,
        &ACCESS[..30],
        &REFRESH[..20],
        &SECRET[..10],
    ] {
        assert!(!all.contains(s), "token show printed {s}: {all}");
    }

    let out = run(&["token", "show", "--json", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let all = text(&out.stdout);
    let j: serde_json::Value = serde_json::from_str(&all).expect("token show --json is JSON");
    assert_eq!(j["expires_at"], 4_102_444_800i64);
    assert_eq!(j["expired"], false);
    assert_eq!(j["grant"], "refresh_token");
    assert_eq!(j["mode"], "0600");
    for s in [ACCESS, REFRESH, SECRET] {
        assert!(!all.contains(s), "token show --json printed {s}: {all}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn token_show_says_when_a_file_can_no_longer_work() {
    let d = dir("dead");
    let f = token_file(&d, 1_000_000_000, false);
    let out = run(&["token", "show", f.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("cannot be refreshed"), "{stdout}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn doctor_reports_a_missing_plugin() {
    let d = dir("doctor");
    let out = run(&["doctor", "--plugin-dir", d.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("libsasloauth.so is missing"), "{stdout}");
    let out = run(&["doctor", "--plugin-dir", d.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json is JSON");
    assert_eq!(j["ok"], false);
    let _ = std::fs::remove_dir_all(&d);
}

/// An HTTP server on 127.0.0.1 answering `n` requests with
/// `answer(base URL, request)`: a status and a JSON body. Returns its base URL.
fn serve(n: usize, answer: impl Fn(&str, &str) -> (u16, String) + Send + 'static) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let b = base.clone();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then the body by Content-Length.
            loop {
                let k = s.read(&mut buf).unwrap_or(0);
                if k == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..k]);
                let t = String::from_utf8_lossy(&req).into_owned();
                if let Some(h) = t.find("\r\n\r\n") {
                    let len = t[..h]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if req.len() >= h + 4 + len {
                        break;
                    }
                }
            }
            let (status, body) = answer(&b, &String::from_utf8_lossy(&req));
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

/// A provider for the client credentials grant: discovery and a token
/// endpoint on 127.0.0.1, answering `n` requests. Returns the issuer.
fn fake_provider(n: usize) -> String {
    serve(n, |iss, t| {
        let body = if t.starts_with("GET /.well-known/openid-configuration") {
            serde_json::json!({"issuer": iss, "token_endpoint": format!("{iss}/token")}).to_string()
        } else if t.starts_with("POST /token") && t.contains("grant_type=client_credentials") {
            r#"{"access_token":"fake-access-token","token_type":"Bearer","expires_in":300,"scope":"mail"}"#.to_owned()
        } else {
            r#"{"error":"invalid_request"}"#.to_owned()
        };
        (200, body)
    })
}

fn init_client_credentials(issuer: &str, f: &Path, force: bool) -> Output {
    let mut args = vec![
        "token",
        "init",
        "--provider",
        issuer,
        "--client-id",
        "relay",
        "--client-secret",
        SECRET,
        "--client-credentials",
        "--scope",
        "mail",
        "--output",
        f.to_str().unwrap(),
    ];
    if force {
        args.push("--force");
    }
    run(&args)
}

#[test]
fn token_init_writes_mode_0600_also_when_replacing_a_looser_file() {
    let d = dir("mode");
    let issuer = fake_provider(4);

    let f = d.join("new.json");
    let out = init_client_credentials(&issuer, &f, false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
    assert_eq!(j["grant"], "client_credentials");
    assert_eq!(j["access_token"], "fake-access-token");
    assert_eq!(mode(&f), 0o600, "a new token file");

    // `token init` writes the file mode 0600 (README, Security). A world-readable file
    // being replaced must not leave the client secret readable by all.
    let f = d.join("loose.json");
    std::fs::write(&f, "{}").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = init_client_credentials(&issuer, &f, true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
    assert_eq!(
        j["access_token"], "fake-access-token",
        "the file was replaced"
    );
    assert_eq!(
        mode(&f),
        0o600,
        "token init --force kept the replaced file's mode {:o}",
        mode(&f)
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn token_init_refuses_a_symlink_at_output_and_leaves_its_target_alone() {
    let d = dir("link");
    let issuer = fake_provider(2);
    let target = d.join("victim");
    std::fs::write(&target, "victim").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = d.join("token.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = init_client_credentials(&issuer, &link, true);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("symbolic link"),
        "{}",
        text(&out.stderr)
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "victim");
    assert_eq!(mode(&target), 0o644, "the link's target was chmodded");
    let _ = std::fs::remove_dir_all(&d);
}

/// A token file with an access token and a refresh token of the given lengths.
fn short_token_file(d: &Path, access: &str, refresh: &str) -> PathBuf {
    let f = d.join("short.json");
    let j = serde_json::json!({
        "access_token": access, "refresh_token": refresh, "expires_at": 4_102_444_800i64,
        "token_endpoint": "https://id.example.test/token", "client_id": "relay",
    });
    std::fs::write(&f, j.to_string()).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    f
}

#[test]
fn token_show_shows_nothing_of_a_short_token() {
    let d = dir("short");
    // 23 characters: nothing of it; 24: its first 6.
    let short = "abcdefghijklmnopqrstuvw";
    let long = "ABCDEFGHIJKLMNOPQRSTUVWX";
    let f = short_token_file(&d, short, long);
    for json in [false, true] {
        let mut args = vec!["token", "show", f.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let out = run(&args);
        let all = text(&out.stdout) + &text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(!all.contains("abc"), "a part of a short token: {all}");
        assert!(all.contains("(23 chars)"), "{all}");
        assert!(all.contains("ABCDEF… (24 chars)"), "{all}");
        assert!(!all.contains("ABCDEFG"), "{all}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn doctor_names_the_version_and_every_mistaken_key() {
    let d = dir("doctor-keys");
    let conf = d.join("smtpd.conf");
    std::fs::write(
        &conf,
        "oauth_issuer: https://id.test\noauth_audience: smtp\noauth_jwks_file: /nonexistent\noauth_required_scopes: admin\noauth_cache_file: x\n",
    )
    .unwrap();
    let client = d.join("sasl-oauth.conf");
    std::fs::write(&client, "refresh_window: 60\noauth_issuer: x\n").unwrap();
    let out = Command::new(BIN)
        .args(["doctor", "--plugin-dir", d.to_str().unwrap(), "--config"])
        .arg(&conf)
        .env("SASL_OAUTH_CONF", &client)
        .env_remove("SASL_PATH")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("sasl-oauth {}", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    assert!(
        stdout.contains("smtpd.conf:4: oauth_required_scopes: unknown option; did you mean oauth_required_scope?"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "smtpd.conf:5: oauth_cache_file: not in sasl-oauth {} (a later version's option)",
            env!("CARGO_PKG_VERSION")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("sasl-oauth.conf:2: oauth_issuer: a server option"),
        "{stdout}"
    );
}

#[test]
fn client_secret_from_standard_input_and_a_warning_for_the_argv_form() {
    let d = dir("stdin-secret");
    let issuer = fake_provider(4);
    let f = d.join("cc.json");
    let mut child = Command::new(BIN)
        .args([
            "token",
            "init",
            "--provider",
            &issuer,
            "--client-id",
            "relay",
        ])
        .args([
            "--client-secret-file",
            "-",
            "--client-credentials",
            "--scope",
            "mail",
        ])
        .arg("--output")
        .arg(&f)
        .env("SASL_OAUTH_CONF", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{SECRET}").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
    assert_eq!(
        j["client_secret"], SECRET,
        "the secret without its line end"
    );

    let out = init_client_credentials(&issuer, &d.join("argv.json"), false);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: --client-secret") && stderr.contains("--client-secret-file"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET), "{stderr}");
    let _ = std::fs::remove_dir_all(&d);
}

/// Control bytes that would move the cursor, set the clipboard (OSC 52) or ring.
fn has_terminal_controls(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n' && c != '\r')
}

/// A device authorization provider whose every text is hostile. `answers`
/// is what the token endpoint says to each poll.
fn hostile_device_provider(interval: u64, expires_in: u64, poll: &'static str) -> String {
    serve(6, move |iss, t| {
        if t.starts_with("GET /.well-known/openid-configuration") {
            let doc = serde_json::json!({
                "issuer": iss, "token_endpoint": format!("{iss}/token"),
                "device_authorization_endpoint": format!("{iss}/device"),
            });
            (200, doc.to_string())
        } else if t.starts_with("POST /device") {
            let answer = serde_json::json!({
                "device_code": "dc", "user_code": "\u{1b}]52;c;SGVsbG8=\u{7}WDJB-MJHT",
                "verification_uri": format!("{iss}/\u{1b}[2Jactivate"),
                "verification_uri_complete": format!("{iss}/activate?x=\u{9b}31m"),
                "interval": interval, "expires_in": expires_in,
            });
            (200, answer.to_string())
        } else {
            (400, poll.to_owned())
        }
    })
}

#[test]
fn token_init_device_filters_the_providers_text() {
    let d = dir("device-text");
    let description = format!("\\u001b[31m{}\\u0007", "x".repeat(5000));
    let poll: &'static str = Box::leak(
        format!(
            r#"{{"error":"invalid_grant\u001b]0;owned\u0007","error_description":"{description}"}}"#
        )
        .into_boxed_str(),
    );
    let issuer = hostile_device_provider(1, 30, poll);
    let out = run(&[
        "token",
        "init",
        "--provider",
        &issuer,
        "--client-id",
        "c",
        "--output",
        d.join("t.json").to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.contains("WDJB-MJHT"), "{stdout}");
    assert!(!has_terminal_controls(&stdout), "stdout: {stdout:?}");
    assert!(!has_terminal_controls(&stderr), "stderr: {stderr:?}");
    assert!(stderr.contains("invalid_grant"), "{stderr}");
    assert!(
        stderr.len() < 1000,
        "the 5,000-character description is printed whole"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn token_init_device_survives_hostile_numbers() {
    let d = dir("device-numbers");
    // expires_in 2^64-1 panicked when the deadline was computed.
    let issuer = hostile_device_provider(1, u64::MAX, r#"{"error":"access_denied"}"#);
    let out = run(&[
        "token",
        "init",
        "--provider",
        &issuer,
        "--client-id",
        "c",
        "--output",
        d.join("t.json").to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("denied"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // interval 2^64-1 panicked before the first poll; now it is a minute.
    let issuer = hostile_device_provider(u64::MAX, 600, r#"{"error":"access_denied"}"#);
    let mut child = Command::new(BIN)
        .args([
            "token",
            "init",
            "--provider",
            &issuer,
            "--client-id",
            "c",
            "--output",
        ])
        .arg(d.join("t.json"))
        .env("SASL_OAUTH_CONF", "/dev/null")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let status = child.try_wait().unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        status.is_none(),
        "exited ({status:?}) instead of waiting to poll: {}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn token_init_browser_outlasts_garbage_and_a_wrong_state() {
    use std::io::BufRead;
    let d = dir("browser");
    let issuer = serve(3, |iss, t| {
        if t.starts_with("GET /.well-known/openid-configuration") {
            let doc = serde_json::json!({
                "issuer": iss, "token_endpoint": format!("{iss}/token"),
                "authorization_endpoint": format!("{iss}/auth"),
            });
            (200, doc.to_string())
        } else if t.contains("grant_type=authorization_code") && t.contains("code=the-code") {
            (
                200,
                r#"{"access_token":"browser-access-token","expires_in":300,"refresh_token":"rt"}"#
                    .to_owned(),
            )
        } else {
            (400, r#"{"error":"invalid_grant"}"#.to_owned())
        }
    });
    let f = d.join("t.json");
    let mut child = Command::new(BIN)
        .args([
            "token",
            "init",
            "--browser",
            "--provider",
            &issuer,
            "--client-id",
            "c",
        ])
        .args(["--wait", "30", "--output"])
        .arg(&f)
        .env("SASL_OAUTH_CONF", "/dev/null")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut state, mut redirect) = (String::new(), String::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(s) = line.split("&state=").nth(1) {
            state = s.split('&').next().unwrap().to_owned();
        }
        if let Some(r) = line.strip_prefix("listening for the answer on http://") {
            redirect = r.to_owned();
            break;
        }
    }
    let addr = redirect.split('/').next().unwrap().to_owned();
    assert!(
        !state.is_empty() && !addr.is_empty(),
        "state {state:?}, redirect {redirect:?}"
    );
    let ask = |request: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    };
    for bad in [
        "\x16\x03\x01\x00garbage\r\n\r\n".to_owned(),
        "GET /callback?code=forged&state=not-the-state HTTP/1.1\r\n\r\n".to_owned(),
        format!("GET /callback?state={state} HTTP/1.1\r\n\r\n"),
    ] {
        let answer = ask(&bad);
        assert!(answer.starts_with("HTTP/1.1 40"), "{bad:?}: {answer}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "{bad:?} ended the sign-in"
        );
    }
    let answer = ask(&format!(
        "GET /callback?code=the-code&state={state} HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    ));
    assert!(answer.contains("Signed in"), "{answer}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
    assert_eq!(j["access_token"], "browser-access-token");
    let _ = std::fs::remove_dir_all(&d);
}
