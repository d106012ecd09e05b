//! `sasl-oauth check`: the plugin's exact server-side validation, with every
//! check printed, for the administrator whose users cannot log in.

use crate::args::{self, CheckArgs};
use crate::lint;
use crate::Outcome;
use sasloauth::config_file;
use sasloauth::error::{printable, ErrorKind};
use sasloauth::server::config::{effective_values, KeysFrom, Origin, ServerConfig};
use sasloauth::server::ServerRuntime;
use sasloauth::validate::unix_now;

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

pub fn run(a: &CheckArgs) -> Outcome {
    let imapd = a.imapd_conf.as_ref();
    let config_path = imapd
        .or(a.config.as_ref())
        .ok_or("--config is required (see --help)")?
        .clone();
    let form = lint::Form::of(&config_path, imapd.is_some());
    let problems = lint::file(&config_path, |t| lint::server_text(t, form))?;
    if !problems.is_empty() {
        return Err(format!(
            "configuration errors:\n  {}",
            problems.join("\n  ")
        ));
    }
    let token = args::secret("token", a.token.as_deref(), a.token_file.as_deref())?
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
