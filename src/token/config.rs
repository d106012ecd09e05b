//! The client side's own configuration file: client-only processes load no
//! SASL config file, so the plugin reads `/etc/sasl2/sasl-oauth.conf` (or
//! `$SASL_OAUTH_CONF`) at init, in libsasl2's `key: value` format. Everything
//! here is a default that a token file may override for itself.

use crate::config_file;
use crate::error::Error;
use crate::options::{self, Lookup, Side};
use crate::protocol::Mechanism;
use crate::secret::Secret;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_PATH: &str = "/etc/sasl2/sasl-oauth.conf";

#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// Where it was read from (None: no file, defaults only).
    pub path: Option<PathBuf>,
    /// Every key as written, for per-provider lookups (`google_client_id`…).
    values: HashMap<String, String>,
    pub ca_file: Option<PathBuf>,
    pub proxy: Option<String>,
    /// Seconds before expiry at which a token file is refreshed.
    pub refresh_window: i64,
    /// Whether `cmd:` secrets may run a command.
    pub allow_cmd: bool,
    /// Whether token endpoints and the proxy may be plain http to a
    /// non-loopback host.
    pub allow_http: bool,
    pub timeout: Duration,
    /// The client mechanisms registered with libsasl2 (`mechanisms`), in
    /// the tables' order; none unless the file names them.
    pub mechanisms: Vec<Mechanism>,
}

#[cfg(test)]
thread_local! {
    /// Every key asked for on this thread, for the test that each is in the
    /// option table (crate::options) and each client key there is read.
    pub(crate) static ASKED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Notes a key being read (tests only).
fn asked(_key: &str) {
    #[cfg(test)]
    ASKED.with(|a| a.borrow_mut().push(_key.to_owned()));
}

/// The mechanisms `names` lists, in the tables' order; each name must be
/// one of ours.
fn mechanisms(names: &[String]) -> Result<Vec<Mechanism>, Error> {
    let mut chosen = Vec::new();
    for n in names {
        let m = Mechanism::from_name(n).ok_or_else(|| {
            options::bad(
                "mechanisms",
                format!(
                    "{n} is not a mechanism of this plugin (OAUTHBEARER, XOAUTH2, OAUTH10A, OAUTH)"
                ),
            )
        })?;
        chosen.push(m);
    }
    Ok(Mechanism::ALL
        .into_iter()
        .filter(|m| chosen.contains(m))
        .collect())
}

impl ClientConfig {
    /// The table's defaults, as with an empty file.
    pub fn defaults() -> Self {
        // Cannot fail: the table's defaults are valid (a test checks).
        Self::from_values(HashMap::new(), None).unwrap_or_default()
    }

    /// Builds the configuration from parsed `key: value` pairs, through the
    /// option table.
    pub fn from_values(
        values: HashMap<String, String>,
        path: Option<PathBuf>,
    ) -> Result<Self, Error> {
        let keys = Lookup::new(Side::Client, |k: &str| {
            asked(k);
            values.get(k).cloned()
        });
        let refresh_window = keys.number("refresh_window")?;
        let timeout = Duration::from_millis(keys.number("timeout")? as u64);
        let allow_cmd = keys.yes_no("allow_cmd")?;
        let allow_http = keys.yes_no("allow_http")?;
        let ca_file = keys.path("ca_file")?;
        let proxy = keys.text("proxy")?;
        let mechanisms = mechanisms(&keys.words("mechanisms")?)?;
        if let Some(p) = &proxy {
            // ureq takes `host:port` as an http proxy.
            let url = match p.contains("://") {
                true => p.clone(),
                false => format!("http://{p}"),
            };
            crate::http::check_plain_http("proxy", &url, allow_http)?;
        }
        Ok(ClientConfig {
            path,
            values,
            ca_file,
            proxy,
            refresh_window,
            allow_cmd,
            allow_http,
            timeout,
            mechanisms,
        })
    }

    /// Reads `$SASL_OAUTH_CONF` or the default path. A missing default file
    /// means defaults; a missing file named by the variable is an error. In a
    /// setuid/setgid process the variable is ignored (see `secure_env`).
    pub fn load() -> Result<Self, Error> {
        let (path, explicit) = match crate::secure_env::var_os("SASL_OAUTH_CONF") {
            Some(p) => (PathBuf::from(p), true),
            None => (PathBuf::from(DEFAULT_PATH), false),
        };
        if !explicit && !path.exists() {
            return Ok(ClientConfig::defaults());
        }
        let values = config_file::load(&path)?;
        let shown = path.display().to_string();
        ClientConfig::from_values(values, Some(path))
            .map_err(|e| Error::config(format!("{shown}: {}", e.reason)))
    }

    /// A key for `provider`: `<provider>_<key>` first, then `<key>`.
    /// Only the table's per-provider keys are read this way.
    pub fn get(&self, provider: Option<&str>, key: &str) -> Option<&str> {
        asked(key);
        let known = options::find(key).is_some_and(|o| o.side == Side::Client && o.per_provider);
        debug_assert!(known, "{key} is not a per-provider key of the option table");
        if !known {
            return None;
        }
        provider
            .and_then(|p| self.values.get(&format!("{p}_{key}")))
            .or_else(|| self.values.get(key))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The client secret for `provider`, from `client_secret` or `client_secret_file`.
    pub fn client_secret(&self, provider: Option<&str>) -> Result<Option<Secret>, Error> {
        if let Some(s) = self.get(provider, "client_secret") {
            return Ok(Some(Secret::from(s)));
        }
        match self.get(provider, "client_secret_file") {
            None => Ok(None),
            Some(f) => std::fs::read_to_string(f)
                .map(|t| Some(Secret::new(t.trim_end_matches(['\n', '\r']).to_owned())))
                .map_err(|e| Error::config(format!("client_secret_file: cannot read {f}: {e}"))),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<ClientConfig, Error> {
        ClientConfig::from_values(config_file::parse(text), None)
    }

    #[test]
    fn defaults() {
        let c = cfg("").unwrap();
        assert_eq!(c.refresh_window, 300);
        assert!(!c.allow_cmd);
        assert_eq!(c.timeout, Duration::from_secs(10));
    }

    #[test]
    fn values_and_provider_overrides() {
        let c = cfg("client_id: generic\nmicrosoft_client_id: ms-app\nrefresh_window: 120\nallow_cmd: yes\nallow_http: yes\nproxy: http://proxy:3128\n").unwrap();
        assert_eq!(c.get(Some("microsoft"), "client_id"), Some("ms-app"));
        assert_eq!(c.get(Some("google"), "client_id"), Some("generic"));
        assert_eq!(c.get(None, "client_id"), Some("generic"));
        assert_eq!(c.refresh_window, 120);
        assert!(c.allow_cmd);
        assert_eq!(c.proxy.as_deref(), Some("http://proxy:3128"));
    }

    /// Checks the keys recorded by `asked` against the table's client keys.
    pub(crate) fn assert_reads_match_table(asked: &[String], of: &[&str]) {
        for k in asked {
            assert!(
                crate::options::CLIENT_KEYS.contains(&k.as_str()),
                "{k} is read but not in the option table"
            );
        }
        for k in of {
            assert!(
                asked.iter().any(|a| a == k),
                "{k} is in the table but never read"
            );
        }
    }

    #[test]
    fn the_file_keys_read_are_the_tables() {
        ASKED.with(|a| a.borrow_mut().clear());
        cfg("").unwrap();
        let asked = ASKED.with(|a| a.borrow().clone());
        let file_keys: Vec<&str> = crate::options::OPTIONS
            .iter()
            .filter(|o| o.side == crate::options::Side::Client && !o.per_provider)
            .map(|o| o.name)
            .collect();
        assert_reads_match_table(&asked, &file_keys);
    }

    #[test]
    fn no_client_mechanism_unless_the_file_names_them() {
        assert!(cfg("").unwrap().mechanisms.is_empty());
        let c = cfg("mechanisms: xoauth2, OAUTHBEARER\n").unwrap();
        assert_eq!(c.mechanisms, [Mechanism::OAuthBearer, Mechanism::XOAuth2]);
        let all = cfg("mechanisms: OAUTH OAUTH10A XOAUTH2 OAUTHBEARER\n").unwrap();
        assert_eq!(all.mechanisms, Mechanism::ALL);
        let e = cfg("mechanisms: OAUTHBEARER PLAIN\n").unwrap_err();
        assert!(
            e.reason.starts_with("mechanisms: PLAIN is not"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert!(cfg("refresh_window: soon")
            .unwrap_err()
            .reason
            .starts_with("refresh_window"));
        assert!(cfg("allow_cmd: maybe")
            .unwrap_err()
            .reason
            .starts_with("allow_cmd"));
        assert!(cfg("timeout: 1").unwrap_err().reason.starts_with("timeout"));
        assert!(cfg("allow_http: perhaps")
            .unwrap_err()
            .reason
            .starts_with("allow_http"));
    }

    #[test]
    fn a_plain_http_proxy_must_be_loopback_unless_allowed() {
        for p in ["http://proxy.invalid:3128", "proxy.invalid:3128"] {
            let e = cfg(&format!("proxy: {p}\n")).unwrap_err();
            assert_eq!(
                e.reason,
                "proxy: plain http to a non-loopback host; set allow_http: yes to allow"
            );
            assert!(cfg(&format!("proxy: {p}\nallow_http: yes\n")).is_ok());
        }
        assert!(cfg("proxy: http://127.0.0.1:3128\n").is_ok());
        assert!(cfg("proxy: localhost:3128\n").is_ok());
        assert!(!cfg("").unwrap().allow_http);
    }
}
