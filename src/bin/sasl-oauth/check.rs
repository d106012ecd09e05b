//! `sasl-oauth check`: the plugin's exact server-side validation, with every
//! check printed, for the administrator whose users cannot log in.

use crate::args::{self, wants_help, Args};
use crate::lint;
use crate::Outcome;
use sasloauth::config_file;
use sasloauth::error::{printable, ErrorKind};
use sasloauth::server::config::{effective_values, KeysFrom, Origin, ServerConfig};
use sasloauth::server::ServerRuntime;
use sasloauth::validate::unix_now;
use std::path::PathBuf;

/// The configuration as the plugin will use it, one item a line.
pub fn describe(config: &ServerConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for i in &config.claims.issuers {
        out.push(("issuer", i.clone()));
    }
    if let Some(j) = &config.jwt {
        for i in &j.issuers {
            let keys = match &i.keys {
                KeysFrom::File(p) => format!("JWT, keys from file {}", p.display()),
                KeysFrom::Url(u) => format!("JWT, keys from {u}"),
                KeysFrom::Discovery => {
                    "JWT, keys from the issuer's discovery document (jwks_uri)".into()
                }
            };
            let keys = match j.issuers.len() {
                1 => keys,
                _ => format!("{keys} for {}", i.issuer),
            };
            out.push(("validation", keys));
        }
        out.push(("audience", config.claims.audiences.join(" ")));
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
    let name = &config.claims.username;
    out.push((
        "username",
        format!(
            "first of claims '{}'{}{}",
            name.claims.join("' '"),
            if name.format.is_identity() {
                ""
            } else {
                ", formatted"
            },
            if name.lowercase { ", lowercased" } else { "" }
        ),
    ));
    if !config.claims.required_scopes.is_empty() {
        out.push(("scope", config.claims.required_scopes.join(" ")));
    }
    for rule in &config.claims.required_roles {
        out.push(("role", rule.to_string()));
    }
    for rule in &config.claims.required_claims {
        out.push(("claim rule", rule.to_string()));
    }
    out.push(("clock skew", format!("{} s", config.claims.clock_skew)));
    out
}

const HELP: &str = "usage: sasl-oauth check (--config FILE | --imapd-conf FILE) (--token-file FILE | --token-file - | --token TOKEN)

Validates a token exactly as the plugin's server side would, with the oauth_*
options of FILE: a SASL option file such as /etc/sasl2/imap.conf or
/etc/postfix/sasl/smtpd.conf, or (--imapd-conf, or --config with a file named
imapd.conf) Cyrus imapd.conf, with sasl_oauth_* keys. Prints the configuration,
each check passed, and the verdict. Every line of FILE is checked first: an
unknown oauth_* key, a later version's option, a client option, a value that is
not the number or yes/no expected, or a key set twice is an error (exit 2).
Exit status 0 only when the token would be accepted; 1 when it would be refused.
  --token-file FILE  the token, from a file; '-' reads standard input
  --token TOKEN      the token on the command line, where every local user
                     sees it (ps): works, with a warning
What the token says (kid, claims) is printed with control characters as '?'.

examples:
  sasl-oauth check --config /etc/postfix/sasl/smtpd.conf --token-file /tmp/token.jwt
  printf %s \"$TOKEN\" | sasl-oauth check --config /etc/imapd.conf --token-file -";

pub fn run(args: &[String]) -> Outcome {
    if wants_help(args) {
        println!("{HELP}");
        return Ok(true);
    }
    let a = Args::parse(args, &["config", "imapd-conf", "token", "token-file"], &[])?;
    let imapd = a.get("imapd-conf");
    let config_path = PathBuf::from(imapd.map_or_else(|| a.require("config"), Ok)?);
    let form = lint::Form::of(&config_path, imapd.is_some());
    let problems = lint::file(&config_path, |t| lint::server_text(t, form))?;
    if !problems.is_empty() {
        return Err(format!(
            "configuration errors:\n  {}",
            problems.join("\n  ")
        ));
    }
    let token = args::secret(&a, "token")?
        .ok_or("check needs --token-file FILE (or - for standard input) or --token")?;
    let token = token.expose().trim();
    let options = config_file::load(&config_path).map_err(|e| e.reason.into_owned())?;
    let config = ServerConfig::from_lookup(|k| options.get(k).cloned())
        .map_err(|e| format!("configuration: {}", e.reason))?;
    println!("configuration  {}", config_path.display());
    for (what, value) in describe(&config) {
        println!("  {what:<12} {value}");
    }
    println!("effective values (default / profile / file)");
    let values =
        effective_values(|k| options.get(k).cloned()).map_err(|e| e.reason.into_owned())?;
    for (key, value, origin) in values {
        let origin = match origin {
            Origin::Default => "default",
            Origin::Profile => "profile",
            Origin::File => "file",
        };
        println!("  {key:<30} {:<8} {}", origin, printable(&value, 200));
    }
    let runtime = ServerRuntime::from_config(&config).map_err(|e| e.reason.into_owned())?;
    let mut trace = crate::trace::Lines::default();
    let validator = runtime
        .validator
        .as_ref()
        .ok_or("this configuration validates no bearer tokens (only OAUTH10A signatures)")?;
    let result = validator.check(token, unix_now(), &mut trace);
    // The trace quotes the token (kid, claims) before its signature is checked.
    println!("checks");
    for line in trace.lines() {
        println!("  {}", printable(line, 300));
    }
    match result {
        Ok(identity) => {
            println!(
                "result         ACCEPTED: authentication identity '{}'",
                printable(&identity.authid, 300)
            );
            Ok(true)
        }
        Err(e) => {
            // The administrator sees the log line's detail (configured values) too.
            let reason = printable(&e.log_text(), 300);
            // Rule refusals already have their lines among the checks.
            if !trace.lines().iter().any(|l| l.starts_with("NO  ")) {
                println!("  NO  {reason}");
            }
            let kind = match e.kind {
                ErrorKind::Rejected(s) => s.code(),
                ErrorKind::Unavailable => {
                    "temporary failure: the identity provider could not be asked"
                }
                _ => "error",
            };
            println!("result         REFUSED ({kind}): {reason}");
            Ok(false)
        }
    }
}
