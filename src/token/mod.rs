//! Where the client's access token comes from, chosen by the secret
//! the application gives through SASL_CB_PASS:
//!
//! - the token itself (the default);
//! - `file:/path/token.json`: a token file the plugin keeps fresh;
//! - `cmd:…`: the first line a command prints, when the client configuration
//!   allows commands.

pub mod command;
pub mod config;
pub mod device;
pub mod endpoint;
pub mod file;
pub mod fixed;
pub mod providers;

use crate::error::Error;
use crate::http::HttpClient;
use crate::protocol::oauth10a_signature::OAuth1Credentials;
use crate::secret::Secret;
use config::ClientConfig;
use std::sync::Arc;

pub trait TokenSource: Send {
    /// The access token to send now; a token file is refreshed first when it
    /// expires within the refresh window.
    fn token(&mut self, now: i64) -> Result<Secret, Error>;

    /// The server refused `used` as invalid: get a new token if this source
    /// can. Ok(true) when a different token is now ready.
    fn after_rejection(&mut self, _used: &Secret, _now: i64) -> Result<bool, Error> {
        Ok(false)
    }

    /// Lines for the SASL log since the last call (what a token file's
    /// refresh cleaned up); never a secret.
    fn take_notes(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// OAuth 1.0a credentials for OAUTH10A; only token files have them.
    fn oauth1(&mut self) -> Result<OAuth1Credentials, Error> {
        Err(Error::param(
            "OAUTH10A needs a token file (file:/path) with oauth_consumer_key, oauth_consumer_secret, oauth_token and oauth_token_secret",
        ))
    }
}

/// What the client side builds once, at plugin init.
pub struct ClientRuntime {
    pub config: ClientConfig,
    /// For token endpoints; trust anchors were read at init.
    pub http: Arc<HttpClient>,
}

impl ClientRuntime {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let http = HttpClient::with_proxy(
            config.ca_file.as_deref(),
            config.proxy.as_deref(),
            config.timeout,
        )?;
        Ok(ClientRuntime {
            config,
            http: Arc::new(http),
        })
    }
}

/// Whether the secret names a token source (`file:`, `cmd:`: see
/// [`from_secret`]) rather than being the token itself.
pub fn names_a_source(secret: &[u8]) -> bool {
    secret.starts_with(b"file:") || secret.starts_with(b"cmd:")
}

/// The token source for the secret the application gave.
pub fn from_secret(
    secret: Secret,
    rt: Option<&Arc<ClientRuntime>>,
) -> Result<Box<dyn TokenSource>, Error> {
    let needs_rt = |what: &str| {
        Error::config(format!(
            "{what} secrets need the client configuration, which failed to load (see the log at plugin init)"
        ))
    };
    if let Some(path) = secret.expose().strip_prefix("file:") {
        let rt = rt.ok_or_else(|| needs_rt("file:"))?;
        return Ok(Box::new(file::FileSource::new(path.into(), rt.clone())));
    }
    if let Some(cmd) = secret.expose().strip_prefix("cmd:") {
        let rt = rt.ok_or_else(|| needs_rt("cmd:"))?;
        if !rt.config.allow_cmd {
            let file = rt
                .config
                .path
                .as_deref()
                .unwrap_or(std::path::Path::new(config::DEFAULT_PATH));
            return Err(Error::param(format!(
                "cmd: secrets are disabled: set 'allow_cmd: yes' in the client configuration ({})",
                file.display()
            )));
        }
        return Ok(Box::new(command::CommandSource::new(
            cmd.to_owned(),
            rt.config.timeout,
        )));
    }
    Ok(Box::new(fixed::FixedToken(secret)))
}
