//! `sasl-oauth check` as an administrator runs it: a SASL option file, a
//! token, a verdict with its reason and an exit status.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use testkit::{b64, now, Ed25519Key};

struct Setup {
    dir: std::path::PathBuf,
    key: Ed25519Key,
}

fn setup(name: &str) -> Setup {
    let dir = std::env::temp_dir().join(format!("sasl-oauth-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = Ed25519Key::generate("k1");
    std::fs::write(dir.join("jwks.json"), key.jwks()).unwrap();
    // imapd.conf spelling, to show the sasl_ prefix is understood.
    let conf = format!(
        "# imapd.conf\nsasl_oauth_issuer: https://id.test\nsasl_oauth_audience: imap\nsasl_oauth_jwks_file: {}\n",
        dir.join("jwks.json").display()
    );
    std::fs::write(dir.join("imapd.conf"), conf).unwrap();
    Setup { dir, key }
}

fn token(s: &Setup, exp: i64) -> String {
    s.key.sign(&format!(
        r#"{{"iss":"https://id.test","aud":"imap","sub":"alice","exp":{exp}}}"#
    ))
}

/// `check --token-file -`, the token on standard input: kept out of `ps`.
fn check(dir: &Path, token: &str) -> (i32, String) {
    let (code, stdout, stderr) = check_stdin(dir, token);
    assert!(stderr.is_empty(), "{stderr}");
    (code, stdout)
}

fn check_stdin(dir: &Path, token: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sasl-oauth"))
        .args(["check", "--config"])
        .arg(dir.join("imapd.conf"))
        .args(["--token-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{token}").unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_accepts_a_valid_token_and_names_the_identity() {
    let s = setup("ok");
    let (code, out) = check(&s.dir, &token(&s, now() + 600));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ACCEPTED: authentication identity 'alice'"),
        "{out}"
    );
}

#[test]
fn check_refuses_an_expired_token_with_the_reason_and_without_the_token() {
    let s = setup("expired");
    let t = token(&s, now() - 600);
    let (code, out) = check(&s.dir, &t);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("REFUSED (invalid_token): token expired"),
        "{out}"
    );
    // The checks before the failing one are listed as passed.
    assert!(out.contains("ok  signature verified"), "{out}");
    assert!(!out.contains(&t));
}

#[test]
fn check_reports_a_bad_configuration() {
    let s = setup("badconf");
    std::fs::write(
        s.dir.join("imapd.conf"),
        "sasl_oauth_issuer: https://id.test\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sasl-oauth"))
        .args(["check", "--config"])
        .arg(s.dir.join("imapd.conf"))
        .args(["--token", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("oauth_audience"));
}

#[test]
fn check_names_a_plain_http_url_to_a_remote_host() {
    let s = setup("plainhttp");
    std::fs::write(
        s.dir.join("imapd.conf"),
        "sasl_oauth_issuer: https://id.test\nsasl_oauth_audience: imap\n\
         sasl_oauth_jwks_url: http://keys.invalid/jwks\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sasl-oauth"))
        .args(["check", "--config"])
        .arg(s.dir.join("imapd.conf"))
        .args(["--token", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "oauth_jwks_url: plain http to a non-loopback host; set oauth_allow_http: yes to allow"
        ),
        "{err}"
    );
}

/// A restriction written under a wrong name would be dropped by libsasl2's
/// getopt; check reads every line and refuses, naming the fix.
#[test]
fn check_refuses_unknown_and_misplaced_keys_with_the_fix() {
    let s = setup("mistakes");
    let jwks = s.dir.join("jwks.json");
    let good = format!(
        "oauth_issuer: https://id.test\noauth_audience: imap\noauth_jwks_file: {}\n",
        jwks.display()
    );
    let t = token(&s, now() + 600);
    for (extra, says) in [
        (
            "oauth_required_scopes: admin\n",
            "smtpd.conf:4: oauth_required_scopes: unknown option; did you mean oauth_required_scope?",
        ),
        ("oauth_requird_scope: admin\n", "did you mean oauth_required_scope?"),
        ("oauth_cache_files: x\n", "did you mean oauth_cache_file?"),
        ("oauth_cache_file: x\n", "oauth_cache_file: must be an absolute path"),
        ("refresh_window: 60\n", "a client option"),
        ("oauth_clock_skew: 60s\n", "oauth_clock_skew: must be a whole number"),
        ("oauth_audience: smtp\n", "set twice (lines 2 and 4); libsasl2 uses the first (line 2)"),
        ("sasl_oauth_required_scope: admin\n", "did you mean oauth_required_scope?"),
    ] {
        let conf = s.dir.join("smtpd.conf");
        std::fs::write(&conf, format!("{good}{extra}")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_sasl-oauth"))
            .args(["check", "--config"])
            .arg(&conf)
            .args(["--token", &t])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra}: {stderr}");
        assert!(stderr.contains(says), "{extra}: {stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("ACCEPTED"));
    }
    // --imapd-conf: only sasl_ keys reach libsasl2.
    let conf = s.dir.join("cyrus.conf");
    std::fs::write(&conf, &good).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sasl-oauth"))
        .args(["check", "--imapd-conf"])
        .arg(&conf)
        .args(["--token", &t])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("write sasl_oauth_issuer"));
}

#[test]
fn check_takes_the_token_from_a_file_and_warns_about_the_argv_form() {
    let s = setup("forms");
    let t = token(&s, now() + 600);
    std::fs::write(s.dir.join("token.jwt"), format!("{t}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sasl-oauth"))
        .args(["check", "--config"])
        .arg(s.dir.join("imapd.conf"))
        .arg("--token-file")
        .arg(s.dir.join("token.jwt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());

    let out = Command::new(env!("CARGO_BIN_EXE_sasl-oauth"))
        .args(["check", "--config"])
        .arg(s.dir.join("imapd.conf"))
        .args(["--token", &t])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: --token") && stderr.contains("--token-file"),
        "{stderr}"
    );
    assert!(!stderr.contains(&t));
}

#[test]
fn check_prints_a_hostile_kid_without_its_control_bytes() {
    let s = setup("kid");
    // Unsigned as far as our keys go: the kid is printed before the signature check.
    let header = "{\"alg\":\"EdDSA\",\"kid\":\"\\u001b]52;c;SGVsbG8=\\u0007\\u001b[2J\"}";
    let claims = r#"{"iss":"https://id.test","aud":"imap","sub":"alice","exp":4102444800}"#;
    let t = format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(claims.as_bytes()),
        b64(&[0; 64])
    );
    let (code, out, stderr) = check_stdin(&s.dir, &t);
    assert_eq!(code, 1, "{out}{stderr}");
    assert!(out.contains("kid ?]52;c;SGVsbG8=??[2J"), "{out}");
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "control bytes reach the terminal: {out:?}"
    );
}

/// A Keycloak-shaped token with the keycloak profile: the effective values
/// say where each comes from, each rule's outcome is one line, and the
/// identity is the mapped name.
#[test]
fn check_prints_effective_values_with_their_origin_and_each_rule() {
    let s = setup("profile");
    let conf = format!(
        "sasl_oauth_provider: keycloak\nsasl_oauth_issuer: https://id.test\nsasl_oauth_audience: imap\n\
         sasl_oauth_jwks_file: {}\nsasl_oauth_required_roles: mail\nsasl_oauth_required_claims: email_verified=true\n\
         sasl_oauth_username_format: %n\nsasl_oauth_username_lowercase: yes\n",
        s.dir.join("jwks.json").display()
    );
    std::fs::write(s.dir.join("imapd.conf"), conf).unwrap();
    let claims = |roles: &str| {
        format!(
            r#"{{"iss":"https://id.test","aud":"imap","sub":"f81d","exp":{},"preferred_username":"Alice@Example.COM","email_verified":true,"realm_access":{{"roles":{roles}}}}}"#,
            now() + 600
        )
    };
    let (code, out) = check(&s.dir, &s.key.sign(&claims(r#"["mail"]"#)));
    assert_eq!(code, 0, "{out}");
    for line in [
        "oauth_provider                 file     keycloak",
        "oauth_username_claim           profile  preferred_username",
        "oauth_roles_claim              profile  realm_access.roles",
        "oauth_clock_skew               default  60",
        "ok  claim rule realm_access.roles=mail holds",
        "ok  claim rule email_verified=true holds",
        "ok  identity from claim 'preferred_username': alice",
        "ACCEPTED: authentication identity 'alice'",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    let (code, out) = check(&s.dir, &s.key.sign(&claims(r#"["offline_access"]"#)));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("claim rule on 'realm_access.roles' not met (oauth_required_roles)"),
        "{out}"
    );
}

/// Every scope and claim rule gets its own line, the ones after a refused
/// rule too, each once; the verdict is the first refusal.
#[test]
fn check_explains_each_rule_in_one_line_after_a_refusal_too() {
    let s = setup("rules");
    let conf = format!(
        "sasl_oauth_issuer: https://id.test\nsasl_oauth_audience: imap\nsasl_oauth_jwks_file: {}\n\
         sasl_oauth_required_scope: mail\nsasl_oauth_required_roles: admin\n\
         sasl_oauth_required_claims: groups=mail-users email_verified=true hd=example.com\n",
        s.dir.join("jwks.json").display()
    );
    std::fs::write(s.dir.join("imapd.conf"), conf).unwrap();
    let token = s.key.sign(&format!(
        r#"{{"iss":"https://id.test","aud":"imap","sub":"alice","exp":{},"scope":"openid","groups":["mail-users"],"email_verified":true,"hd":"other.example"}}"#,
        now() + 600
    ));
    let (code, out) = check(&s.dir, &token);
    assert_eq!(code, 1, "{out}");
    for line in [
        "  NO  missing a required scope (missing: mail)",
        "  NO  claim rule on 'roles' not met (oauth_required_roles) (rule roles=admin: the token has no such claim)",
        "  ok  claim rule groups=mail-users holds",
        "  ok  claim rule email_verified=true holds",
        "  NO  claim rule on 'hd' not met (oauth_required_claims) (rule hd=example.com: the claim has another value)",
    ] {
        let lines: Vec<&str> = out.lines().filter(|l| l.starts_with(line)).collect();
        assert_eq!(lines.len(), 1, "{line}\n{out}");
    }
    let verdict = out.lines().last().unwrap();
    assert!(
        verdict
            .starts_with("result         REFUSED (insufficient_scope): missing a required scope"),
        "{out}"
    );
}

/// With a shared cache configured, check still validates the token itself,
/// and neither creates nor writes the servers' cache file.
#[test]
fn check_validates_itself_and_leaves_the_shared_cache_alone() {
    let s = setup("shared");
    let cache = s.dir.join("cache.mdb");
    let _ = std::fs::remove_file(&cache);
    let conf = s.dir.join("imapd.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(&format!("sasl_oauth_cache_file: {}\n", cache.display()));
    std::fs::write(&conf, text).unwrap();
    let (code, out) = check(&s.dir, &token(&s, now() + 600));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("shared cache"), "{out}");
    assert!(!out.contains("cached result"), "{out}");
    assert!(!cache.exists(), "check created the cache file");
}
