//! `sasl-oauth token init|show|refresh`: token files for the client side.

use crate::args::{self, wants_help, Args};
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

pub const USAGE: &str = "usage: sasl-oauth token (init|show|refresh) …  (each takes --help)";

const INIT_HELP: &str = "usage: sasl-oauth token init --provider NAME|ISSUER-URL --client-id ID
           (--output FILE | --postfix [--config-dir DIR])
           [--client-secret-file F | --client-secret S] [--tenant T] [--scope S]
           [--resource R] [--user NAME] [--browser | --client-credentials]
           [--force] [--ca-file PEM] [--timeout MS] [--wait SECONDS]

Gets a first token file for the plugin's client side (file:/path passwords).
  (default)             device authorization (RFC 8628): prints a web address
                        and a code to enter there from any browser, then waits
  --browser             authorization code with PKCE: prints an address to open
                        in a browser on this machine; listens on 127.0.0.1
  --client-credentials  the application's own token (Microsoft 365 app-only
                        IMAP/POP/SMTP), with a client secret
  --client-secret-file F  the client secret, from a file ('-': standard input);
                        --client-secret S works too, with a warning: every
                        local user sees it (ps)
  --postfix             write the file where Postfix's smtp client opens it:
                        the token file smtp_sasl_password_maps names for the
                        relay host (else /etc/sasl-oauth/token.json), inside
                        the smtp chroot when smtp is chrooted, owned by
                        postfix in a directory of its own (mode 0700);
                        --config-dir DIR for a private instance (postconf -c)
Providers: google, microsoft (--tenant ID or domain; default common),
microsoft-usgov, microsoft-china, or any OpenID issuer URL (discovery).
The file is written with mode 0600, atomically; an existing file is kept
unless --force.

examples:
  sasl-oauth token init --provider microsoft --tenant contoso.onmicrosoft.com \\
      --client-id 00000000-0000-0000-0000-000000000000 --user relay@contoso.com \\
      --postfix
  sasl-oauth token init --provider https://id.example.com/realms/mail \\
      --client-id imap-relay --client-secret-file /etc/relay.secret \\
      --client-credentials --output /etc/sasl-oauth/relay.json";

const SHOW_HELP: &str = "usage: sasl-oauth token show FILE [--json]

Shows a token file: provider, user, grant, scopes and expiry; secrets are
shortened. Exit status 1 when the access token has expired and cannot be
refreshed (no refresh_token and no client credentials grant).

example:
  sasl-oauth token show /var/spool/postfix/etc/sasl-oauth/token.json";

const REFRESH_HELP: &str = "usage: sasl-oauth token refresh FILE

Refreshes the access token now, exactly as the plugin does (same lock,
atomic replace, mode and owner kept; a rotated refresh token is saved). Uses
the client configuration /etc/sasl2/sasl-oauth.conf (or $SASL_OAUTH_CONF).

example:
  sasl-oauth token refresh /var/spool/postfix/etc/sasl-oauth/token.json";

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

/// `--output`, unless it is a link, or exists without `--force`.
fn output_path(a: &Args) -> Result<&Path, String> {
    let output = Path::new(a.require("output")?);
    // Never write (or chmod) through a link: its target could be anyone's file.
    if std::fs::symlink_metadata(output).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!(
            "{} is a symbolic link: refusing to replace it",
            output.display()
        ));
    }
    if output.exists() && !a.has("force") {
        return Err(format!(
            "{} exists: use --force to replace it",
            output.display()
        ));
    }
    Ok(output)
}

/// The HTTP client of `--ca-file` and `--timeout`.
fn http_client(a: &Args) -> Result<HttpClient, String> {
    let timeout = a
        .get("timeout")
        .map(|t| t.parse::<u64>().map_err(|_| "--timeout takes milliseconds"))
        .transpose()?
        .unwrap_or(10_000);
    HttpClient::new(
        a.get("ca-file").map(Path::new),
        Duration::from_millis(timeout),
    )
    .map_err(|e| e.reason.into_owned())
}

/// Runs the flow the arguments and the provider call for.
fn obtain(a: &Args, http: &HttpClient, t: &Target, client: &Client) -> Result<Granted, String> {
    let wait = Duration::from_secs(
        a.get("wait")
            .map(|w| w.parse().map_err(|_| "--wait takes seconds"))
            .transpose()?
            .unwrap_or(300),
    );
    if a.has("client-credentials") {
        flows::client_credentials(http, &t.endpoints, client)
    } else if a.has("browser") || t.endpoints.device.is_none() {
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

/// `token init`'s options that take a value, and its flags.
const INIT_OPTIONS: &[&str] = &[
    "provider",
    "client-id",
    "client-secret",
    "client-secret-file",
    "tenant",
    "scope",
    "resource",
    "user",
    "output",
    "ca-file",
    "timeout",
    "wait",
    "token-auth-method",
    "config-dir",
];
const INIT_FLAGS: &[&str] = &[
    "browser",
    "client-credentials",
    "device",
    "force",
    "postfix",
];

/// Where `token init` writes: `--output`, or Postfix's place (`--postfix`).
enum Output<'a> {
    Path(&'a Path),
    Postfix(Box<setup_postfix::Destination>),
}

fn output(a: &Args) -> Result<Output<'_>, String> {
    if !a.has("postfix") {
        if a.get("config-dir").is_some() {
            return Err("--config-dir goes with --postfix (see --help)".into());
        }
        return output_path(a).map(Output::Path);
    }
    if a.get("output").is_some() {
        return Err("give only one of --output and --postfix".into());
    }
    let d = setup_postfix::Destination::find(a.get("config-dir").map(Path::new), a.get("user"))?;
    let host = d.host_path();
    if std::fs::symlink_metadata(&host).is_ok() && !a.has("force") {
        return Err(format!(
            "{} exists: use --force to replace it",
            host.display()
        ));
    }
    Ok(Output::Postfix(Box::new(d)))
}

pub fn init(args: &[String]) -> Outcome {
    if wants_help(args) {
        println!("{INIT_HELP}");
        return Ok(true);
    }
    let a = Args::parse(args, INIT_OPTIONS, INIT_FLAGS)?;
    let output = output(&a)?;
    let provider = a.require("provider")?;
    let client_id = a.require("client-id")?;
    let secret = args::secret(&a, "client-secret")?;
    let auth = match a.get("token-auth-method") {
        None => ClientAuth::Basic,
        Some(m) => ClientAuth::from_method(m).ok_or_else(|| {
            format!("--token-auth-method {m}: use client_secret_basic or client_secret_post")
        })?,
    };
    let http = http_client(&a)?;
    let tenant = a.get("tenant");
    let t = resolve(provider, tenant, &http)?;
    let grant = if a.has("client-credentials") {
        Grant::ClientCredentials
    } else {
        Grant::RefreshToken
    };
    let scope = match grant {
        Grant::ClientCredentials => a.get("scope").map(str::to_owned).or(t.app_scope.clone()),
        Grant::RefreshToken => a
            .get("scope")
            .map(str::to_owned)
            .or(t.default_scope.clone()),
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
        resource: a.get("resource"),
    };
    let granted = obtain(&a, &http, &t, &client)?;
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
        user: a.get("user").map(str::to_owned),
        resource: a.get("resource").map(str::to_owned),
        token_auth_method: (auth == ClientAuth::Post).then(|| "client_secret_post".to_owned()),
        obtained_at: Some(unix_now()),
        ..Default::default()
    };
    let expires = timefmt::relative(granted.expires_at - unix_now());
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
            d.write(&file.to_json(), a.has("force"))?;
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
                a.get("config-dir")
                    .map(|c| format!(" --config-dir {c}"))
                    .unwrap_or_default()
            );
        }
    }
    print_mechanisms_line();
    Ok(true)
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

pub fn show(args: &[String]) -> Outcome {
    if wants_help(args) {
        println!("{SHOW_HELP}");
        return Ok(true);
    }
    let a = Args::parse(args, &[], &["json"])?;
    let [path] = a.positional.as_slice() else {
        return Err("token show takes one FILE (see --help)".into());
    };
    let path = Path::new(path);
    let f = file::read(path).map_err(|e| e.reason.into_owned())?;
    let now = unix_now();
    let expired = f.expires_at.is_some_and(|e| e <= now);
    let usable = !expired || f.refreshable();
    let mode = std::fs::metadata(path)
        .map(|m| format!("{:04o}", m.mode() & 0o7777))
        .unwrap_or_default();
    if a.has("json") {
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

pub fn refresh(args: &[String]) -> Outcome {
    if wants_help(args) {
        println!("{REFRESH_HELP}");
        return Ok(true);
    }
    let a = Args::parse(args, &[], &[])?;
    let [path] = a.positional.as_slice() else {
        return Err("token refresh takes one FILE (see --help)".into());
    };
    let config = ClientConfig::load().map_err(|e| e.reason.into_owned())?;
    let rt = Arc::new(ClientRuntime::new(config).map_err(|e| e.reason.into_owned())?);
    let f = FileSource::new(path.into(), rt)
        .refresh_now(unix_now())
        .map_err(|e| e.reason.into_owned())?;
    let exp = f
        .expires_at
        .map(|e| timefmt::relative(e - unix_now()))
        .unwrap_or_else(|| "at an unknown time".into());
    println!("refreshed {path}: the access token expires {exp}");
    Ok(true)
}
