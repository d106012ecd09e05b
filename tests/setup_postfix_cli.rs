//! `sasl-oauth setup postfix` and `token init --postfix`: the command line
//! contract without a Postfix instance (c-tests/e2e/setup_postfix.sh runs
//! them against real ones).

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sasl-oauth");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("SASL_OAUTH_CONF", "/dev/null")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_names_the_checks_and_has_an_example() {
    let out = run(&["setup", "postfix", "--help"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("usage: sasl-oauth setup postfix"),
        "{stdout}"
    );
    assert!(stdout.contains("example"), "{stdout}");
    for word in [
        "chroot",
        "--apply",
        "--config-dir",
        "smtp_sasl_mechanism_filter",
    ] {
        assert!(stdout.contains(word), "setup postfix --help lacks {word}");
    }
    let doctor = text(&run(&["doctor", "--help"]).stdout);
    assert!(
        doctor.contains("sasl-oauth doctor --postfix [--config-dir DIR]"),
        "{doctor}"
    );
    let top = text(&run(&["--help"]).stdout);
    assert!(top.contains("setup postfix"), "{top}");
    assert!(
        !top.contains("__probe"),
        "the probe is not for users: {top}"
    );
}

#[test]
fn usage_errors_exit_2_with_a_reason() {
    for (args, reason) in [
        (
            &["setup", "postfix", "--token-file", "t.json"][..],
            "--apply",
        ),
        (
            &["setup", "postfix", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (
            &["setup", "postfix", "extra"],
            "unexpected argument 'extra'",
        ),
        (
            &["doctor", "--postfix", "--app", "smtpd"],
            "cannot be used with",
        ),
        (&["doctor", "--config-dir", "/etc/postfix"], "--postfix"),
        (
            &[
                "token",
                "init",
                "--postfix",
                "--output",
                "x.json",
                "--provider",
                "google",
                "--client-id",
                "c",
            ],
            "cannot be used with",
        ),
        (
            &[
                "token",
                "init",
                "--config-dir",
                "/nonexistent",
                "--output",
                "x.json",
                "--provider",
                "google",
                "--client-id",
                "c",
            ],
            "--postfix",
        ),
        (
            &["token", "init", "--provider", "google", "--client-id", "c"],
            "--output",
        ),
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
        assert!(
            text(&out.stderr).contains(reason),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_config_dir_postconf_cannot_read_is_an_operational_error() {
    let out = run(&[
        "setup",
        "postfix",
        "--config-dir",
        "/nonexistent/sasl-oauth-test",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("postconf"),
        "{}",
        text(&out.stderr)
    );
}
