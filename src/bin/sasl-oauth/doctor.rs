//! `sasl-oauth doctor`: answers "why does libsasl2 say no worthy mechs found?"
//! — where libsasl2 looks for plugins, whether this plugin is there and loads
//! through libsasl2 (Debian's saslpluginviewer), whether an application's
//! configuration parses and which mechanisms it lets the server offer, and
//! whether the identity provider's documents can be fetched.

use crate::args::DoctorArgs;
use crate::check::describe;
use crate::lint;
use crate::private_dir::PrivateDir;
use crate::Outcome;
use sasloauth::client::config::{ClientConfig, DEFAULT_PATH as CLIENT_DEFAULT_PATH};
use sasloauth::config_file;
use sasloauth::error::printable;
use sasloauth::http::HttpClient;
use sasloauth::server::config::{KeysFrom, ServerConfig};
use sasloauth::server::{Mechanism, ServerRuntime};
use sasloauth::validate::discovery;
use sasloauth::validate::jwks::JwkSet;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Check {
    name: &'static str,
    /// None: information only.
    ok: Option<bool>,
    detail: String,
}

pub fn system_plugin_dir() -> PathBuf {
    let multiarch = format!("/usr/lib/{}-linux-gnu/sasl2", std::env::consts::ARCH);
    [multiarch.as_str(), "/usr/lib/sasl2", "/usr/lib64/sasl2"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_dir())
        .unwrap_or_else(|| PathBuf::from(multiarch))
}

fn app_config(app: &str) -> Option<PathBuf> {
    let candidates: Vec<String> = match app {
        "smtpd" | "smtp" | "postfix" => vec![
            "/etc/postfix/sasl/smtpd.conf".into(),
            "/etc/sasl2/smtpd.conf".into(),
        ],
        "imap" | "imapd" | "cyrus" => vec!["/etc/imapd.conf".into(), "/etc/sasl2/imap.conf".into()],
        "slapd" | "ldap" => vec![
            "/etc/ldap/sasl2/slapd.conf".into(),
            "/etc/sasl2/slapd.conf".into(),
        ],
        other => vec![
            format!("/etc/sasl2/{other}.conf"),
            format!("/usr/lib/sasl2/{other}.conf"),
        ],
    };
    candidates
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Where sasl2-bin installs saslpluginviewer (Debian), or Fedora's cyrus-sasl
/// its pluginviewer. By absolute path: a directory early in $PATH must not
/// choose the program that gets the configuration.
const PLUGINVIEWERS: [&str; 2] = ["/usr/sbin/saslpluginviewer", "/usr/sbin/pluginviewer"];

/// Runs saslpluginviewer; None when it is not installed.
fn pluginviewer(dir: &Path, side: &str, conf_dir: Option<&Path>) -> Option<Result<String, String>> {
    let program = PLUGINVIEWERS.iter().find(|p| Path::new(p).is_file())?;
    let mut cmd = Command::new(program);
    cmd.arg("-p").arg(dir).arg(side);
    if let Some(c) = conf_dir {
        cmd.env("SASL_CONF_PATH", c);
    }
    // The client side registers mechanisms only when its file names them:
    // the load check names all four in a private file.
    let client_conf = match side {
        "-c" => match all_client_mechanisms() {
            Ok(d) => Some(d),
            Err(e) => return Some(Err(e)),
        },
        _ => None,
    };
    if let Some(d) = &client_conf {
        cmd.env("SASL_OAUTH_CONF", d.path().join("sasl-oauth.conf"));
    }
    match cmd.output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(e.to_string())),
        Ok(o) => {
            Some(Ok(String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr)))
        }
    }
}

/// A private client file registering every client mechanism.
fn all_client_mechanisms() -> Result<PrivateDir, String> {
    let names: Vec<&str> = Mechanism::ALL.iter().map(|m| m.name()).collect();
    let dir = PrivateDir::new("sasl-oauth-doctor")?;
    dir.write(
        "sasl-oauth.conf",
        format!("mechanisms: {}\n", names.join(" ")).as_bytes(),
    )?;
    Ok(dir)
}

/// Which client mechanisms the client's file registers, from which line, and
/// a warning when a password mechanism is installed beside them: libsasl2
/// ranks ours with PLAIN and LOGIN, so a password client could pick one.
fn check_client_mechanisms(dir: &Path, say: &mut impl FnMut(&'static str, Option<bool>, String)) {
    const NAME: &str = "client mechanisms";
    let config = match ClientConfig::load() {
        Ok(c) => c,
        Err(e) => return say(NAME, Some(false), format!("none registered: {}", e.reason)),
    };
    let shown = config
        .path
        .as_ref()
        .map_or(CLIENT_DEFAULT_PATH.to_owned(), |p| p.display().to_string());
    if config.mechanisms.is_empty() {
        return say(
            NAME,
            None,
            format!("none registered: {shown} has no mechanisms line (add 'mechanisms: OAUTHBEARER XOAUTH2' for clients that log in with tokens)"),
        );
    }
    let names: Vec<&str> = config.mechanisms.iter().map(|m| m.name()).collect();
    let line = config
        .path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| {
            config_file::parse_lines(&t)
                .into_iter()
                .rev()
                .find(|l| l.key.strip_prefix("sasl_").unwrap_or(&l.key) == "mechanisms")
        })
        .map_or(String::new(), |l| format!(" line {}", l.number));
    say(
        NAME,
        Some(true),
        format!("{} (from {shown}{line})", names.join(" ")),
    );
    let passwords: Vec<&str> = [("PLAIN", "libplain.so"), ("LOGIN", "liblogin.so")]
        .into_iter()
        .filter(|(_, f)| dir.join(f).exists())
        .map(|(m, _)| m)
        .collect();
    if !passwords.is_empty() {
        say(
            NAME,
            None,
            format!(
                "warning: {} also installed in {}: a password client may pick {} and send its password as a token; let such clients name their mechanism, or remove the mechanisms line",
                passwords.join(" and "),
                dir.display(),
                names.join(" or ")
            ),
        );
    }
}

/// The mechanisms saslpluginviewer lists for plugin "sasloauth".
fn our_mechanisms(out: &str) -> Vec<String> {
    let mut ours = false;
    let mut mechs = Vec::new();
    for line in out.lines() {
        if line.starts_with("Plugin \"") {
            ours = line.starts_with("Plugin \"sasloauth\" [loaded]");
        } else if let (true, Some(m)) = (ours, line.trim().strip_prefix("SASL mechanism: ")) {
            mechs.push(m.split(',').next().unwrap_or("").trim().to_owned());
        }
    }
    mechs
}

/// The line after "Available SASL (server side) mechanisms matching your criteria are:".
fn available(out: &str) -> Vec<String> {
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        if l.starts_with("Available SASL") {
            return lines
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
        }
    }
    Vec::new()
}

/// Where libsasl2 looks, and whether it loads the plugin from there: the
/// directory, and whether the plugin file is in it.
fn check_plugin(
    plugin_dir: Option<&Path>,
    say: &mut impl FnMut(&'static str, Option<bool>, String),
) -> (PathBuf, bool) {
    // 1. Where libsasl2 looks.
    let (dir, why) = match (plugin_dir, std::env::var("SASL_PATH")) {
        (Some(d), _) => (d.to_path_buf(), "--plugin-dir"),
        (None, Ok(p)) if !p.is_empty() => (
            PathBuf::from(p.split(':').next().unwrap_or("")),
            "SASL_PATH (first directory)",
        ),
        _ => (
            system_plugin_dir(),
            "the system directory; SASL_PATH or an application's sasl_path may change it",
        ),
    };
    say(
        "plugin directory",
        None,
        format!("{} (from {why})", dir.display()),
    );
    let so = dir.join("libsasloauth.so");
    let present = so.is_file();
    say(
        "plugin file",
        Some(present),
        match present {
            true => format!("{} is there", so.display()),
            false => format!(
                "{} is missing: run 'make install' (or set SASL_PATH to where it is)",
                so.display()
            ),
        },
    );

    // 2. Does libsasl2 load it?
    if present {
        match pluginviewer(&dir, "-c", None) {
            None => say(
                "loads through libsasl2",
                Some(false),
                "saslpluginviewer is not installed: apt-get install sasl2-bin".into(),
            ),
            Some(Err(e)) => say(
                "loads through libsasl2",
                Some(false),
                format!("saslpluginviewer failed: {e}"),
            ),
            Some(Ok(out)) => {
                let mechs = our_mechanisms(&out);
                let ok = mechs.len() == 4;
                say("loads through libsasl2", Some(ok), match ok {
                    true => format!("client side offers {}", mechs.join(" ")),
                    false => format!("libsasl2 did not load plugin sasloauth from {} (saslpluginviewer -p {} -c)", dir.display(), dir.display()),
                });
            }
        }
    }

    (dir, present)
}

/// The application's configuration file, from --config, --imapd-conf or --app.
fn config_path(
    a: &DoctorArgs,
    say: &mut impl FnMut(&'static str, Option<bool>, String),
) -> Option<PathBuf> {
    // 3. The application's configuration.
    match (a.config.as_ref().or(a.imapd_conf.as_ref()), &a.app) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(app)) => match app_config(app) {
            Some(p) => Some(p),
            None => {
                say("configuration", Some(false), format!("no SASL configuration file found for application '{app}' (tried its usual places; use --config)"));
                None
            }
        },
        (None, None) => {
            say(
                "configuration",
                None,
                "not checked: give --app NAME or --config FILE".into(),
            );
            None
        }
    }
}

/// The checks, as text or JSON.
fn print(checks: &[Check], ok: bool, json: bool) {
    if json {
        let list: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| serde_json::json!({"check": c.name, "ok": c.ok, "detail": c.detail}))
            .collect();
        println!("{:#}", serde_json::json!({"ok": ok, "checks": list}));
    } else {
        for c in checks {
            let mark = match c.ok {
                Some(true) => "ok  ",
                Some(false) => "FAIL",
                None => "    ",
            };
            // Details quote the provider's answers and files: filtered for the terminal.
            println!("{mark} {:<24}{}", c.name, printable(&c.detail, 1000));
        }
        println!(
            "{}",
            if ok {
                "all checks passed"
            } else {
                "some checks failed: see FAIL above"
            }
        );
    }
}

pub fn run(a: &DoctorArgs) -> Outcome {
    let mut checks: Vec<Check> = Vec::new();
    let mut say = |name, ok, detail: String| checks.push(Check { name, ok, detail });
    lint::say_version(&mut say);

    let (dir, present) = check_plugin(a.plugin_dir.as_deref(), &mut say);
    let config_path = config_path(a, &mut say);
    if let Some(path) = config_path {
        lint::say_problems(&path, a.imapd_conf.is_some(), &mut say);
        check_config(&path, &dir, present, &mut say);
    }
    lint::say_client_file(&mut say);
    check_client_mechanisms(&dir, &mut say);

    let ok = checks.iter().all(|c| c.ok != Some(false));
    print(&checks, ok, a.json);
    Ok(ok)
}

fn check_config(
    path: &Path,
    dir: &Path,
    present: bool,
    say: &mut impl FnMut(&'static str, Option<bool>, String),
) {
    let values = match config_file::load(path) {
        Ok(v) => v,
        Err(e) => return say("configuration", Some(false), e.reason.into_owned()),
    };
    let config = match ServerConfig::from_lookup(|k| values.get(k).cloned()) {
        Ok(c) => c,
        Err(e) => {
            return say(
                "configuration",
                Some(false),
                format!(
                    "{}: server mechanisms disabled: {}",
                    path.display(),
                    e.reason
                ),
            )
        }
    };
    say(
        "configuration",
        Some(true),
        format!("{} parses", path.display()),
    );
    for (what, value) in describe(&config) {
        say("  setting", None, format!("{what}: {value}"));
    }
    let runtime = match ServerRuntime::from_config(&config) {
        Ok(r) => r,
        Err(e) => {
            return say(
                "files of the configuration",
                Some(false),
                e.reason.into_owned(),
            )
        }
    };
    let mech_list: Option<Vec<String>> = values
        .get("mech_list")
        .map(|m| m.split_whitespace().map(str::to_uppercase).collect());
    for mech in Mechanism::ALL {
        let name = mech.name();
        let detail = match (runtime.offers(mech), &mech_list) {
            (false, _) if mech == Mechanism::OAuth10a => {
                "not offered: oauth10a_credentials_file is not set".to_owned()
            }
            (false, _) => "not offered: no token validation configured".to_owned(),
            (true, Some(list)) if !list.iter().any(|m| m == name) => {
                "configured, but not in mech_list".to_owned()
            }
            (true, _) => "offered".to_owned(),
        };
        say("server mechanism", None, format!("{name}: {detail}"));
    }
    if present {
        check_libsasl2_view(&values, dir, say);
    }
    check_network(&config, say);
}

/// libsasl2's own view with these options (saslpluginviewer's application
/// name is pluginviewer).
fn check_libsasl2_view(
    values: &HashMap<String, String>,
    dir: &Path,
    say: &mut impl FnMut(&'static str, Option<bool>, String),
) {
    let tmp = viewer_conf(values);
    if let Err(e) = &tmp {
        say("server side in libsasl2", Some(false), e.clone());
    }
    if let Ok(tmp) = &tmp {
        if let Some(Ok(out)) = pluginviewer(dir, "-s", Some(tmp.path())) {
            let avail = available(&out);
            let ours: Vec<&String> = avail
                .iter()
                .filter(|m| Mechanism::ALL.iter().any(|ours| ours.name() == m.as_str()))
                .collect();
            let ok = !ours.is_empty();
            say(
                "server side in libsasl2",
                Some(ok),
                match ok {
                    true => format!(
                        "libsasl2 offers {}",
                        ours.iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    false => {
                        "libsasl2 offers none of this plugin's mechanisms with this configuration"
                            .into()
                    }
                },
            );
        }
    }
}

/// The options saslpluginviewer needs to show the server side as the
/// application would: `mech_list` and this plugin's own keys. Other keys of
/// the file (an LDAP bind password, say) are none of its business.
fn viewer_keys(key: &str) -> bool {
    key == "mech_list" || key.starts_with("oauth_") || key.starts_with("oauth10a_")
}

/// `pluginviewer.conf` (saslpluginviewer's application name is pluginviewer)
/// in a private directory, removed when the result is dropped.
fn viewer_conf(values: &HashMap<String, String>) -> Result<PrivateDir, String> {
    let mut keys: Vec<&String> = values.keys().filter(|k| viewer_keys(k)).collect();
    keys.sort();
    let conf: String = keys
        .into_iter()
        .map(|k| format!("{k}: {}\n", values[k]))
        .collect();
    let dir = PrivateDir::new("sasl-oauth-doctor")?;
    dir.write("pluginviewer.conf", conf.as_bytes())?;
    Ok(dir)
}

fn check_network(config: &ServerConfig, say: &mut impl FnMut(&'static str, Option<bool>, String)) {
    let http = match HttpClient::new(config.http.ca_file.as_deref(), config.http.timeout) {
        Ok(h) => h,
        Err(e) => return say("TLS trust anchors", Some(false), e.reason.into_owned()),
    };
    for (index, issuer) in config.claims.issuers.iter().enumerate() {
        let keys = config.jwt.as_ref().and_then(|j| j.issuers.get(index));
        check_issuer(config, &http, index, issuer, keys.map(|k| &k.keys), say);
    }
}

/// One issuer: its discovery document, then its signing keys.
fn check_issuer(
    config: &ServerConfig,
    http: &HttpClient,
    index: usize,
    issuer: &str,
    keys: Option<&KeysFrom>,
    say: &mut impl FnMut(&'static str, Option<bool>, String),
) {
    let mut jwks_uri = None;
    let url = discovery::url_for(issuer);
    match http.get(&url).and_then(|d| discovery::parse(&d, issuer)) {
        Ok(e) => {
            say("discovery", Some(true), format!("{url}: issuer matches"));
            jwks_uri = e.jwks_uri;
        }
        // Discovery matters only where something is discovered.
        Err(e) => {
            let by_keys = keys == Some(&KeysFrom::Discovery);
            let introspection = index == 0
                && config
                    .introspection
                    .as_ref()
                    .is_some_and(|i| i.url.is_none());
            let needed = by_keys || introspection;
            let note = match needed {
                true => "",
                false => " (only the OAUTH mechanism's challenge would name its endpoints)",
            };
            say(
                "discovery",
                needed.then_some(false),
                format!("{url}: {}{note}", e.reason),
            );
        }
    }
    let Some(keys) = keys else { return };
    let result = match keys {
        KeysFrom::File(p) => JwkSet::load(p).map(|s| (format!("file {}", p.display()), s)),
        KeysFrom::Url(u) => http
            .get(u)
            .and_then(|b| JwkSet::parse(&b))
            .map(|s| (u.clone(), s)),
        KeysFrom::Discovery => match &jwks_uri {
            Some(u) => http
                .get(u)
                .and_then(|b| JwkSet::parse(&b))
                .map(|s| (u.clone(), s)),
            None => Err(sasloauth::error::Error::config("no jwks_uri discovered")),
        },
    };
    match result {
        Ok((from, set)) => say(
            "signing keys",
            Some(true),
            format!(
                "{} usable keys from {from} (skipped {}{})",
                set.len(),
                set.skipped,
                match set.skip_reasons.is_empty() {
                    true => String::new(),
                    false => format!(": {}", set.skip_reasons.join("; ")),
                }
            ),
        ),
        Err(e) => say("signing keys", Some(false), e.reason.into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn viewer_conf_is_private_has_only_our_keys_and_follows_no_planted_symlink() {
        // The directory an earlier version used, planted by another user.
        let old = std::env::temp_dir().join(format!("sasl-oauth-doctor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::create_dir_all(&old).unwrap();
        let target = old.join("victim");
        std::fs::write(&target, "keep").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&target, old.join("pluginviewer.conf")).unwrap();

        let values: HashMap<String, String> = [
            ("mech_list", "OAUTHBEARER XOAUTH2"),
            ("oauth_issuer", "https://id.test"),
            ("oauth10a_credentials_file", "/etc/sasl2/oauth10a.json"),
            ("ldap_password", "hunter2-ldap"),
            ("sql_passwd", "hunter2-sql"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let dir = viewer_conf(&values).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_ne!(dir.path(), old.as_path());
        assert_eq!(
            mode(dir.path()) & 0o077,
            0,
            "directory mode {:o}",
            mode(dir.path())
        );
        let file = dir.path().join("pluginviewer.conf");
        assert_eq!(mode(&file), 0o600);
        let conf = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            conf,
            "mech_list: OAUTHBEARER XOAUTH2\noauth10a_credentials_file: /etc/sasl2/oauth10a.json\noauth_issuer: https://id.test\n"
        );
        let path = dir.path().to_owned();
        drop(dir);
        assert!(!path.exists(), "the private directory is left behind");
        let _ = std::fs::remove_dir_all(&old);
    }
}
