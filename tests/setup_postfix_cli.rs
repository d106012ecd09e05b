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
    for args in [
        &["setup", "postfix", "--help"][..],
        &["doctor", "--postfix", "--help"],
    ] {
        let out = run(args);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
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
            assert!(stdout.contains(word), "{args:?} --help lacks {word}");
        }
    }
    let out = run(&["--help"]);
    assert!(text(&out.stdout).contains("setup postfix"));
}

#[test]
fn usage_errors_exit_2_with_a_reason() {
    for (args, reason) in [
        (
            &["setup", "postfix", "--token-file", "t.json"][..],
            "--token-file goes with --apply",
        ),
        (&["setup", "postfix", "--bogus"], "unknown option --bogus"),
        (
            &["setup", "postfix", "extra"],
            "unexpected argument 'extra'",
        ),
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
            "give only one of --output and --postfix",
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
            "--config-dir goes with --postfix",
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
