//! `sasl-oauth token init|show|refresh`: token files for the client side.

use crate::args::{self, InitArgs, RefreshArgs, ShowArgs};
use crate::flows::{self, Client, Endpoints};
use crate::setup_postfix;
use crate::timefmt;
use crate::Outcome;
use sasloauth::client::config::{self, ClientConfig};
use sasloauth::client::providers;
use sasloauth::error::printable;
use sasloauth::http::HttpClient;
use sasloauth::secret::Secret;
use sasloauth::token::endpoint::{ClientAuth, ClientIdentity, Granted};
use sasloauth::token::file::{self, FileSource, Grant, TokenFile};
use sasloauth::token::ClientRuntime;
use sasloauth::validate::{discovery, unix_now};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

struct Target {
    endpoints: Endpoints,
    provider: Option<String>,
    default_scope: Option<String>,
    app_scope: Option<String>,
    google: bool,
}

fn resolve(provider: &str, tenant: Option<&str>, http: &HttpClient) -> Result<Target, String> {
    if provider.starts_with("https://") || provider.starts_with("http://") {
        let url = discovery::url_for(provider);
        let doc = http
            .get(&url)
            .map_err(|e| format!("discovery: {}", e.reason))?;
        let e = discovery::parse(&doc, provider)
            .map_err(|e| format!("discovery ({url}): {}", e.reason))?;
        let token = e
            .token_endpoint
            .ok_or("the discovery document has no token_endpoint")?;
        return Ok(Target {
            endpoints: Endpoints {
                token,
                device: e.device_authorization_endpoint,
                authorization: e.authorization_endpoint,
            },
            provider: None,
            default_scope: Some("offline_access".into()),
            app_scope: None,
            google: false,
        });
    }
    let p = providers::preset(provider, tenant).ok_or_else(|| {
        format!(
            "unknown provider '{provider}': use {} or an issuer URL",
            providers::NAMES.join(", ")
        )
    })?;
    Ok(Target {
        endpoints: Endpoints {
            token: p.token_endpoint,
            device: p.device_authorization_endpoint,
            authorization: Some(p.authorization_endpoint),
        },
        provider: Some(p.name.to_owned()),
        default_scope: Some(p.user_scope.to_owned()),
        app_scope: p.app_scope.map(str::to_owned),
        google: p.name == "google",
    })
}

/// Where `token init` writes: `--output`, or Postfix's place (`--postfix`).
enum Output<'a> {
    Path(&'a Path),
    Postfix(Box<setup_postfix::Destination>),
}

fn output(a: &InitArgs) -> Result<Output<'_>, String> {
    if a.config_dir.is_some() && !a.postfix {
        return Err("--config-dir goes with --postfix (see --help)".into());
    }
    let Some(path) = a.output.as_deref() else {
        // clap: --output or --postfix, never both.
        let d = setup_postfix::Destination::find(a.config_dir.as_deref(), a.user.as_deref())?;
        let host = d.host_path();
        if std::fs::symlink_metadata(&host).is_ok() && !a.force {
            return Err(format!(
                "{} exists: use --force to replace it",
                host.display()
            ));
        }
        return Ok(Output::Postfix(Box::new(d)));
    };
    output_path(path, a.force).map(Output::Path)
}

/// `--output`, unless it is a link, or exists without `--force`.
fn output_path(output: &Path, force: bool) -> Result<&Path, String> {
    // Never write (or chmod) through a link: its target could be anyone's file.
    if std::fs::symlink_metadata(output).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!(
            "{} is a symbolic link: refusing to replace it",
            output.display()
        ));
    }
    if output.exists() && !force {
        return Err(format!(
            "{} exists: use --force to replace it",
            output.display()
        ));
    }
    Ok(output)
}

/// The HTTP client of `--ca-file` and `--timeout`.
fn http_client(a: &InitArgs) -> Result<HttpClient, String> {
    HttpClient::new(a.ca_file.as_deref(), Duration::from_millis(a.timeout))
        .map_err(|e| e.reason.into_owned())
}

/// Runs the flow the arguments and the provider call for.
fn obtain(a: &InitArgs, http: &HttpClient, t: &Target, client: &Client) -> Result<Granted, String> {
    let wait = Duration::from_secs(a.wait);
    if a.client_credentials {
        flows::client_credentials(http, &t.endpoints, client)
    } else if a.browser || t.endpoints.device.is_none() {
        // Google returns a refresh token only with access_type=offline and consent.
        let mut extra = vec![("prompt", "consent")];
        if t.google {
            extra.push(("access_type", "offline"));
        }
        flows::browser(http, &t.endpoints, client, &extra, wait)
    } else {
        flows::device(http, &t.endpoints, client)
    }
}

pub fn init(a: &InitArgs) -> Outcome {
    let output = output(a)?;
    let provider = a.provider.as_str();
    let client_id = a.client_id.as_str();
    let secret = args::secret(
        "client-secret",
        a.client_secret.as_deref(),
        a.client_secret_file.as_deref(),
    )?;
    let auth = match a.token_auth_method.as_deref() {
        None => ClientAuth::Basic,
        Some(m) => ClientAuth::from_method(m).ok_or_else(|| {
            format!("--token-auth-method {m}: use client_secret_basic or client_secret_post")
        })?,
    };
    let http = http_client(a)?;
    let tenant = a.tenant.as_deref();
    let t = resolve(provider, tenant, &http)?;
    let grant = if a.client_credentials {
        Grant::ClientCredentials
    } else {
        Grant::RefreshToken
    };
    let scope = match grant {
        Grant::ClientCredentials => a.scope.clone().or(t.app_scope.clone()),
        Grant::RefreshToken => a.scope.clone().or(t.default_scope.clone()),
    };
    if grant == Grant::ClientCredentials && secret.is_none() {
        return Err("--client-credentials needs --client-secret or --client-secret-file".into());
    }
    let client = Client {
        identity: ClientIdentity {
            id: client_id,
            secret: secret.as_ref(),
            auth,
        },
        scope: scope.as_deref(),
        resource: a.resource.as_deref(),
    };
    let granted = obtain(a, &http, &t, &client)?;
    if grant == Grant::RefreshToken && granted.refresh_token.is_none() {
        eprintln!("warning: the provider sent no refresh token (ask for offline_access): the file will stop working when the access token expires");
    }
    let file = TokenFile {
        access_token: granted.access_token,
        expires_at: Some(granted.expires_at),
        refresh_token: granted.refresh_token,
        token_endpoint: Some(t.endpoints.token.clone()),
        client_id: Some(client_id.to_owned()),
        client_secret: secret,
        scope: granted.scope.or(scope),
        grant: Some(grant),
        provider: t.provider,
        tenant: tenant.map(str::to_owned),
        user: a.user.clone(),
        resource: a.resource.clone(),
        token_auth_method: (auth == ClientAuth::Post).then(|| "client_secret_post".to_owned()),
        obtained_at: Some(unix_now()),
        ..Default::default()
    };
    write_output(&output, &file, granted.expires_at, a)?;
    print_mechanisms_line();
    Ok(true)
}

/// Writes the new token file where `output` says, and what to do next.
fn write_output(
    output: &Output,
    file: &TokenFile,
    expires_at: i64,
    a: &InitArgs,
) -> Result<(), String> {
    let expires = timefmt::relative(expires_at - unix_now());
    match output {
        Output::Path(output) => {
            // A new token file is 0600 and the caller's, whatever a replaced one was.
            file::write_new(output, &file.to_json()).map_err(|e| e.reason.into_owned())?;
            println!(
                "wrote {} (access token expires {expires})",
                output.display()
            );
        }
        Output::Postfix(d) => {
            d.write(&file.to_json(), a.force)?;
            println!(
                "wrote {} for Postfix's smtp client, which opens it as {} (access token expires {expires})",
                d.host_path().display(),
                d.map_path()
            );
            if let Some(line) = &d.map_line {
                println!("no password map names it yet; run:\n  {line}");
            }
            println!(
                "then check the whole set-up: sasl-oauth setup postfix{}",
                a.config_dir
                    .as_ref()
                    .map(|c| format!(" --config-dir {}", c.display()))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// The plugin registers client mechanisms only when the client file names
/// them: says which line to add, unless it is there.
fn print_mechanisms_line() {
    let config = ClientConfig::load().ok();
    if config.as_ref().is_some_and(|c| !c.mechanisms.is_empty()) {
        return;
    }
    let path = config
        .and_then(|c| c.path)
        .map_or(config::DEFAULT_PATH.to_owned(), |p| p.display().to_string());
    println!("the plugin offers client mechanisms only when the client configuration names them; add to {path}:");
    println!("mechanisms: OAUTHBEARER XOAUTH2");
}

/// Below this length, even 6 characters are too large a part of a secret.
const SHORTEST_SHOWN: usize = 24;

/// The first characters of a long secret, for recognising it without
/// revealing it; of a short one, only its length.
fn shorten(s: &Secret) -> String {
    let v = s.expose();
    let n = v.chars().count();
    if n < SHORTEST_SHOWN {
        return format!("({n} chars)");
    }
    let head = printable(&v.chars().take(6).collect::<String>(), 6);
    format!("{head}… ({n} chars)")
}

/// `token show --json`: secrets shortened.
fn show_json(path: &Path, mode: &str, f: &TokenFile, expired: bool) {
    let j = serde_json::json!({
        "file": path.display().to_string(), "mode": mode, "provider": f.provider, "tenant": f.tenant,
        "user": f.user, "grant": f.grant(), "client_id": f.client_id, "token_endpoint": f.token_endpoint,
        "scope": f.scope, "expires_at": f.expires_at, "expired": expired, "refreshable": f.refreshable(),
        "access_token": shorten(&f.access_token), "refresh_token": f.refresh_token.as_ref().map(shorten),
        "client_secret": f.client_secret.as_ref().map(|_| "(set)"),
    });
    println!("{j:#}");
}

pub fn show(a: &ShowArgs) -> Outcome {
    let path = a.file.as_path();
    let f = file::read(path).map_err(|e| e.reason.into_owned())?;
    let now = unix_now();
    let expired = f.expires_at.is_some_and(|e| e <= now);
    let usable = !expired || f.refreshable();
    let mode = std::fs::metadata(path)
        .map(|m| format!("{:04o}", m.mode() & 0o7777))
        .unwrap_or_default();
    if a.json {
        show_json(path, &mode, &f, expired);
        return Ok(usable);
    }
    // The file's texts came from the provider: filtered for the terminal.
    let row = |k: &str, v: String| println!("{k:<14}{}", printable(&v, 300));
    row("file", format!("{} (mode {mode})", path.display()));
    row(
        "provider",
        match (&f.provider, &f.tenant) {
            (Some(p), Some(t)) => format!("{p} (tenant {t})"),
            (Some(p), None) => p.clone(),
            (None, _) => "(none: token_endpoint below)".into(),
        },
    );
    if let Some(u) = &f.user {
        row("user", u.clone());
    }
    row(
        "grant",
        serde_json::to_value(f.grant())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    );
    if let Some(c) = &f.client_id {
        row("client id", c.clone());
    }
    if f.client_secret.is_some() {
        row("client secret", "(set)".into());
    }
    if let Some(e) = &f.token_endpoint {
        row("endpoint", e.clone());
    }
    if let Some(s) = &f.scope {
        row("scope", s.clone());
    }
    let expiry = match f.expires_at {
        Some(e) => format!(
            "expires {} ({})",
            timefmt::utc(e),
            timefmt::relative(e - now)
        ),
        None => "expiry unknown".into(),
    };
    row(
        "access token",
        format!("{}, {expiry}", shorten(&f.access_token)),
    );
    if let Some(r) = &f.refresh_token {
        row("refresh token", shorten(r));
    }
    if !usable {
        println!("the access token has expired and this file cannot be refreshed: run 'sasl-oauth token init' again");
    }
    Ok(usable)
}

pub fn refresh(a: &RefreshArgs) -> Outcome {
    let path = &a.file;
    let config = ClientConfig::load().map_err(|e| e.reason.into_owned())?;
    let rt = Arc::new(ClientRuntime::new(config).map_err(|e| e.reason.into_owned())?);
    let f = FileSource::new(path.clone(), rt)
        .refresh_now(unix_now())
        .map_err(|e| e.reason.into_owned())?;
    let exp = f
        .expires_at
        .map(|e| timefmt::relative(e - unix_now()))
        .unwrap_or_else(|| "at an unknown time".into());
    println!(
        "refreshed {}: the access token expires {exp}",
        path.display()
    );
    Ok(true)
}
