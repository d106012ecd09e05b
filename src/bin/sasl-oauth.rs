//! `sasl-oauth`: the command line companion of the plugin (SPEC §5).
//!
//! This version offers `check`: run the server's exact token validation with a
//! given configuration, to learn why a login is refused.

use sasloauth::config::{KeysFrom, ServerConfig};
use sasloauth::config_file;
use sasloauth::error::ErrorKind;
use sasloauth::server::ServerRuntime;
use sasloauth::validate::{unix_now, Trace};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: sasl-oauth check --config FILE (--token TOKEN | --token-file FILE)
       sasl-oauth --version

  check   validate a token exactly as the plugin's server side would, with the
          oauth_* options of FILE (a SASL option file such as
          /etc/sasl2/imap.conf, /etc/postfix/sasl/smtpd.conf, or imapd.conf,
          whose sasl_oauth_* keys are understood). Exit status 0 only when the
          token would be accepted.

example:
  sasl-oauth check --config /etc/postfix/sasl/smtpd.conf --token-file /tmp/token.jwt";

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The configuration as the plugin will use it, one item a line.
fn describe(config: &ServerConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(i) = &config.issuer {
        out.push(("issuer", i.clone()));
    }
    if let Some(j) = &config.jwt {
        let keys = match &j.keys {
            KeysFrom::File(p) => format!("JWT, keys from file {}", p.display()),
            KeysFrom::Url(u) => format!("JWT, keys from {u}"),
            KeysFrom::Discovery => {
                "JWT, keys from the issuer's discovery document (jwks_uri)".into()
            }
        };
        out.push(("validation", keys));
        out.push(("audience", j.policy.audiences.join(" ")));
        out.push(("algorithms", config.algorithm_names().join(" ")));
    }
    if let Some(i) = &config.introspection {
        let at = i
            .url
            .clone()
            .unwrap_or_else(|| "the discovery document's introspection_endpoint".into());
        out.push((
            "validation",
            format!(
                "introspection at {at}, as client {} ({:?})",
                i.client_id, i.auth
            ),
        ));
    }
    out.push(("username", format!("claim '{}'", config.username_claim)));
    if !config.required_scopes.is_empty() {
        out.push(("scope", config.required_scopes.join(" ")));
    }
    out.push(("clock skew", format!("{} s", config.clock_skew)));
    out
}

fn check(args: &[String]) -> Result<bool, String> {
    let config_path = PathBuf::from(flag(args, "--config").ok_or("check needs --config FILE")?);
    let token = match (flag(args, "--token"), flag(args, "--token-file")) {
        (Some(t), None) => t,
        (None, Some(f)) => std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?,
        _ => return Err("check needs exactly one of --token or --token-file".into()),
    };
    let token = token.trim();
    let options = config_file::load(&config_path).map_err(|e| e.reason.into_owned())?;
    let config = ServerConfig::from_lookup(|k| options.get(k).cloned())
        .map_err(|e| format!("configuration: {}", e.reason))?;
    println!("configuration  {}", config_path.display());
    for (what, value) in describe(&config) {
        println!("  {what:<12} {value}");
    }
    let runtime = ServerRuntime::from_config(&config).map_err(|e| e.reason.into_owned())?;
    let mut trace = Trace::on();
    let validator = runtime
        .validator
        .as_ref()
        .ok_or("this configuration validates no bearer tokens (only OAUTH10A signatures)")?;
    let result = validator.check(token, unix_now(), &mut trace);
    println!("checks");
    for line in trace.lines() {
        println!("  {line}");
    }
    match result {
        Ok(identity) => {
            println!(
                "result         ACCEPTED: authentication identity '{}'",
                identity.authid
            );
            Ok(true)
        }
        Err(e) => {
            println!("  NO  {}", e.reason);
            let kind = match e.kind {
                ErrorKind::Rejected(s) => s.code(),
                ErrorKind::Unavailable => {
                    "temporary failure: the identity provider could not be asked"
                }
                _ => "error",
            };
            println!("result         REFUSED ({kind}): {}", e.reason);
            Ok(false)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("check") if args.iter().any(|a| a == "--help" || a == "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("check") => check(&args[1..]),
        Some("--version") | Some("-V") => {
            println!("sasl-oauth {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--help") | Some("-h") | Some("help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sasl-oauth: {e}");
            ExitCode::from(2)
        }
    }
}
