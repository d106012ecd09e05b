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

/// A provider for the client credentials grant: discovery and a token
/// endpoint on 127.0.0.1, answering `n` requests. Returns the issuer.
fn fake_provider(n: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", l.local_addr().unwrap());
    let iss = issuer.clone();
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
            let t = String::from_utf8_lossy(&req).into_owned();
            let body = if t.starts_with("GET /.well-known/openid-configuration") {
                serde_json::json!({"issuer": iss, "token_endpoint": format!("{iss}/token")})
                    .to_string()
            } else if t.starts_with("POST /token") && t.contains("grant_type=client_credentials") {
                r#"{"access_token":"fake-access-token","token_type":"Bearer","expires_in":300,"scope":"mail"}"#.to_owned()
            } else {
                r#"{"error":"invalid_request"}"#.to_owned()
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    issuer
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

    // Issue 5: "the written file is ... mode 0600". A world-readable file
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

#[test]
fn doctor_names_the_version_and_every_mistaken_key() {
    let d = dir("doctor-keys");
    let conf = d.join("smtpd.conf");
    std::fs::write(
        &conf,
        "oauth_issuer: https://id.test\noauth_audience: smtp\noauth_jwks_file: /nonexistent\noauth_required_scopes: admin\noauth_required_claims: x\n",
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
            "smtpd.conf:5: oauth_required_claims: not in sasl-oauth {} (a later version's option)",
            env!("CARGO_PKG_VERSION")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("sasl-oauth.conf:2: oauth_issuer: a server option"),
        "{stdout}"
    );
}
