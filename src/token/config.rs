//! The client side's own configuration file: client-only processes load no
//! SASL config file, so the plugin reads `/etc/sasl2/sasl-oauth.conf` (or
//! `$SASL_OAUTH_CONF`) at init, in libsasl2's `key: value` format. Everything
//! here is a default that a token file may override for itself.

use crate::config_file;
use crate::error::Error;
use crate::secret::Secret;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_PATH: &str = "/etc/sasl2/sasl-oauth.conf";
pub const DEFAULT_REFRESH_WINDOW: i64 = 300;
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

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

pub(crate) fn yes(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

impl ClientConfig {
    pub fn defaults() -> Self {
        ClientConfig {
            refresh_window: DEFAULT_REFRESH_WINDOW,
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            ..Default::default()
        }
    }

    /// Builds the configuration from parsed `key: value` pairs.
    pub fn from_values(
        values: HashMap<String, String>,
        path: Option<PathBuf>,
    ) -> Result<Self, Error> {
        let bad = |k: &str, why: &str| Error::config(format!("{k}: {why}"));
        let mut c = ClientConfig {
            path,
            ..ClientConfig::defaults()
        };
        let get = |k: &str| {
            asked(k);
            values.get(k)
        };
        if let Some(v) = get("refresh_window") {
            c.refresh_window = v
                .parse()
                .ok()
                .filter(|s| (0..=86_400).contains(s))
                .ok_or_else(|| bad("refresh_window", "must be seconds from 0 to 86400"))?;
        }
        if let Some(v) = get("timeout") {
            let ms: u64 = v
                .parse()
                .ok()
                .filter(|s| (100..=120_000).contains(s))
                .ok_or_else(|| bad("timeout", "must be milliseconds from 100 to 120000"))?;
            c.timeout = Duration::from_millis(ms);
        }
        if let Some(v) = get("allow_cmd") {
            c.allow_cmd = yes(v).ok_or_else(|| bad("allow_cmd", "must be yes or no"))?;
        }
        if let Some(v) = get("allow_http") {
            c.allow_http = yes(v).ok_or_else(|| bad("allow_http", "must be yes or no"))?;
        }
        c.ca_file = get("ca_file").map(PathBuf::from);
        c.proxy = get("proxy").cloned();
        if let Some(p) = &c.proxy {
            // ureq takes `host:port` as an http proxy.
            let url = match p.contains("://") {
                true => p.clone(),
                false => format!("http://{p}"),
            };
            crate::http::check_plain_http("proxy", &url, c.allow_http)?;
        }
        c.values = values;
        Ok(c)
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
    pub fn get(&self, provider: Option<&str>, key: &str) -> Option<&str> {
        asked(key);
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
