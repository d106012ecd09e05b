//! The testkit's command line, for `make fixtures`, the C harness, the e2e
//! scripts and `make demo`.
//!
//! ```text
//! testkit fixtures DIR
//! testkit mint --keys DIR [--sub S] [--alg RS256|PS256|ES256|ES384|EdDSA] [--exp-in SECONDS]
//!              [--aud A] [--iss I] [--scope S] [--kid K] [--typ T]
//!              [--claim NAME=JSON]...   (a claim of any JSON value, e.g. groups=["mail"])
//! testkit sign --keys DIR
//! ```
//!
//! `sign` serves a test program that builds its own (hostile) JWTs: it reads
//! one request a line on standard input and answers one line each, flushed:
//! `KEY SIGNING-INPUT` (KEY: rsa, ed or evil; the input is base64url, so any
//! header or claims bytes fit on a line) gives the base64url signature;
//! `x KEY` gives the raw public key of an Ed25519 key, base64url.

use serde_json::json;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::exit;
use testkit::{b64, default_claims, header, now, write_fixtures, KeyName, Keys};

fn die(msg: &str) -> ! {
    eprintln!("testkit: {msg}");
    exit(2)
}

fn or_die<T>(r: testkit::Result<T>) -> T {
    r.unwrap_or_else(|e| die(&e))
}

fn opt(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn keys_arg(args: &[String], cmd: &str) -> Keys {
    let dir = opt(args, "--keys")
        .map(PathBuf::from)
        .unwrap_or_else(|| die(&format!("{cmd} needs --keys DIR")));
    or_die(Keys::load(&dir))
}

fn mint(args: &[String]) {
    let k = keys_arg(args, "mint");
    let alg = opt(args, "--alg").unwrap_or_else(|| "RS256".into());
    let mut h = header(&alg);
    let mut c = default_claims(&opt(args, "--sub").unwrap_or_else(|| "alice".into()));
    if let Some(e) = opt(args, "--exp-in") {
        let secs: i64 = e.parse().unwrap_or_else(|_| die("--exp-in takes seconds"));
        c["exp"] = json!(now() + secs);
        if secs < 0 {
            c["iat"] = json!(now() + secs - 3600);
        }
    }
    for (flag, claim) in [("--aud", "aud"), ("--iss", "iss"), ("--scope", "scope")] {
        if let Some(v) = opt(args, flag) {
            c[claim] = json!(v);
        }
    }
    for (flag, field) in [("--kid", "kid"), ("--typ", "typ")] {
        if let Some(v) = opt(args, flag) {
            h[field] = json!(v);
        }
    }
    for pair in args.windows(2).filter(|w| w[0] == "--claim").map(|w| &w[1]) {
        let (name, value) = pair
            .split_once('=')
            .unwrap_or_else(|| die("--claim takes NAME=JSON"));
        c[name] = serde_json::from_str(value)
            .unwrap_or_else(|_| die(&format!("--claim {name}: the value is not JSON")));
    }
    println!("{}", or_die(k.sign(&h, &c)));
}

/// One answer of the `sign` protocol.
fn answer(k: &Keys, line: &str) -> testkit::Result<String> {
    match line.split_once(' ') {
        Some(("x", key)) => k.public_x(KeyName::parse(key)?),
        Some((key, input)) => Ok(b64(&k.signature(KeyName::parse(key)?, input.as_bytes()))),
        None => Err(format!("not a request: {:.40}", line)),
    }
}

fn sign(args: &[String]) {
    let k = keys_arg(args, "sign");
    let stdin = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    for line in stdin.lines() {
        let line = line.unwrap_or_else(|e| die(&format!("stdin: {e}")));
        let reply = or_die(answer(&k, &line));
        if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
            exit(0); // the test program is gone
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fixtures") => {
            let dir = args.get(1).unwrap_or_else(|| die("fixtures needs DIR"));
            let dir = or_die(write_fixtures(Path::new(dir)));
            println!("fixtures written to {}", dir.display());
        }
        Some("mint") => mint(&args[1..]),
        Some("sign") => sign(&args[1..]),
        _ => die("usage: testkit fixtures DIR | testkit mint --keys DIR [--sub S] [--alg A] [--exp-in SECS] [--aud A] [--iss I] [--scope S] [--kid K] [--typ T] [--claim NAME=JSON]... | testkit sign --keys DIR"),
    }
}
