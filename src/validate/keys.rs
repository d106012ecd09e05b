//! Where the JWT signing keys come from, and when they are read again.
//!
//! - A file: read at init; its mtime is looked at no more than every few
//!   seconds, and the set re-read when it changed. After a chroot the path may
//!   vanish: the keys read at init stay in use.
//! - A URL (configured or discovered): fetched on first need, then again only
//!   when a token names an unknown `kid`, at most once per minute, so that a
//!   flood of made-up kids cannot become a flood of requests.

use super::discovery::{Discovery, RETRY_AFTER_FAILURE};
use super::jwks::JwkSet;
use crate::error::{Error, ErrorKind};
use crate::http::HttpClient;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

/// Minimum seconds between two fetches caused by unknown kids.
pub const UNKNOWN_KID_REFETCH: i64 = 60;
/// Seconds between two looks at the JWKS file's mtime.
pub const FILE_CHECK_INTERVAL: i64 = 5;

pub enum KeySource {
    File(PathBuf),
    Url(String),
    Discovered(Arc<Discovery>),
}

#[derive(Default)]
struct FetchState {
    /// When we last fetched (or tried to), and whether it failed.
    last_attempt: Option<i64>,
    last_error: Option<Error>,
    /// When an unknown kid last caused a fetch (the first fetch does not count:
    /// keys rotated just after it must be found).
    last_refetch: Option<i64>,
    /// For a file: when we last looked, and the mtime we loaded.
    last_look: i64,
    mtime: Option<SystemTime>,
}

pub struct KeyStore {
    source: KeySource,
    http: Option<Arc<HttpClient>>,
    current: RwLock<Option<Arc<JwkSet>>>,
    fetch: Mutex<FetchState>,
}

fn mtime(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl KeyStore {
    /// Reads the file now (plugin init).
    pub fn from_file(path: PathBuf, now: i64) -> Result<KeyStore, Error> {
        let set = JwkSet::load(&path)?;
        let state = FetchState {
            last_look: now,
            mtime: mtime(&path),
            ..Default::default()
        };
        Ok(KeyStore {
            source: KeySource::File(path),
            http: None,
            current: RwLock::new(Some(Arc::new(set))),
            fetch: Mutex::new(state),
        })
    }

    /// Keys fetched over HTTPS on first need.
    pub fn remote(source: KeySource, http: Arc<HttpClient>) -> KeyStore {
        KeyStore {
            source,
            http: Some(http),
            current: RwLock::new(None),
            fetch: Mutex::new(FetchState::default()),
        }
    }

    pub fn describe(&self) -> String {
        match &self.source {
            KeySource::File(p) => format!("file {}", p.display()),
            KeySource::Url(u) => format!("URL {u}"),
            KeySource::Discovered(d) => format!("jwks_uri from {}", d.url()),
        }
    }

    fn current(&self) -> Option<Arc<JwkSet>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn replace(&self, set: JwkSet) -> Arc<JwkSet> {
        let set = Arc::new(set);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(set.clone());
        set
    }

    /// The key set to verify with now.
    pub fn keys(&self, now: i64) -> Result<Arc<JwkSet>, Error> {
        if let KeySource::File(path) = &self.source {
            self.reload_file_if_changed(path, now, FILE_CHECK_INTERVAL);
        }
        if let Some(set) = self.current() {
            return Ok(set);
        }
        let mut state = self.fetch.lock().unwrap_or_else(|p| p.into_inner());
        // Another thread may have fetched while we waited for the lock.
        if let Some(set) = self.current() {
            return Ok(set);
        }
        if let (Some(at), Some(e)) = (state.last_attempt, &state.last_error) {
            if now - at < RETRY_AFTER_FAILURE {
                let mut again = Error::new(
                    ErrorKind::Unavailable,
                    format!("{} ({} s ago)", e.reason, now - at),
                );
                again.detail = e.detail.clone();
                return Err(again);
            }
        }
        self.fetch_locked(&mut state, now)
    }

    /// A token named a kid we do not have: look for new keys, within limits.
    /// Returns the new set when there is one.
    pub fn refresh_for_unknown_kid(&self, now: i64) -> Option<Arc<JwkSet>> {
        match &self.source {
            KeySource::File(path) => self.reload_file_if_changed(path, now, 1),
            _ => {
                let mut state = self.fetch.lock().unwrap_or_else(|p| p.into_inner());
                if state
                    .last_refetch
                    .is_some_and(|at| now - at < UNKNOWN_KID_REFETCH)
                {
                    return None;
                }
                state.last_refetch = Some(now);
                self.fetch_locked(&mut state, now).ok()
            }
        }
    }

    fn fetch_locked(&self, state: &mut FetchState, now: i64) -> Result<Arc<JwkSet>, Error> {
        state.last_attempt = Some(now);
        let result = self.fetch_remote(now);
        match result {
            Ok(set) => {
                state.last_error = None;
                Ok(self.replace(set))
            }
            Err(e) => {
                let e = Error::new(
                    ErrorKind::Unavailable,
                    format!("fetching keys: {}", e.reason),
                )
                .with_detail(super::with_inner(self.describe(), &e));
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn fetch_remote(&self, now: i64) -> Result<JwkSet, Error> {
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| Error::internal("no HTTP client for remote keys"))?;
        let url = match &self.source {
            KeySource::Url(u) => u.clone(),
            KeySource::Discovered(d) => d.endpoints(now)?.jwks_uri.clone().ok_or_else(|| {
                Error::new(
                    ErrorKind::Unavailable,
                    "the discovery document has no jwks_uri",
                )
            })?,
            KeySource::File(_) => return Err(Error::internal("file keys are not fetched")),
        };
        let body = http.get(&url)?;
        JwkSet::parse(&body).map_err(|e| Error::new(ErrorKind::Unavailable, e.reason))
    }

    /// Re-reads the key file when its mtime changed; keeps the old set on any error.
    fn reload_file_if_changed(
        &self,
        path: &PathBuf,
        now: i64,
        interval: i64,
    ) -> Option<Arc<JwkSet>> {
        let mut state = self.fetch.lock().unwrap_or_else(|p| p.into_inner());
        if now - state.last_look < interval {
            return None;
        }
        state.last_look = now;
        let m = mtime(path)?;
        if Some(m) == state.mtime {
            return None;
        }
        let set = JwkSet::load(path).ok()?;
        state.mtime = Some(m);
        Some(self.replace(set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY1: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"one","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    const KEY2: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"two","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    fn temp(name: &str, content: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sasl-oauth-keys-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("jwks.json");
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Moves the file's mtime into the future, as an edit would.
    fn touch_later(p: &PathBuf, secs: u64) {
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(secs);
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(later).unwrap();
    }

    #[test]
    fn file_is_re_read_when_it_changes() {
        let p = temp("reread", KEY1);
        let store = KeyStore::from_file(p.clone(), 1000).unwrap();
        assert!(store.keys(1000).unwrap().has_kid("one"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&p, KEY2).unwrap();
        touch_later(&p, 2);
        // Not looked at again within the interval...
        assert!(store.keys(1001).unwrap().has_kid("one"));
        // ...but after it, or at once for an unknown kid.
        assert!(store.refresh_for_unknown_kid(1002).unwrap().has_kid("two"));
    }

    #[test]
    fn a_vanished_or_broken_file_keeps_the_old_keys() {
        let p = temp("vanish", KEY1);
        let store = KeyStore::from_file(p.clone(), 1000).unwrap();
        std::fs::write(&p, "garbage").unwrap();
        touch_later(&p, 5);
        assert!(store.keys(2000).unwrap().has_kid("one"));
        std::fs::remove_file(&p).unwrap();
        assert!(store.keys(3000).unwrap().has_kid("one"));
    }

    #[test]
    fn unknown_kid_refetches_are_limited_but_the_first_fetch_does_not_count() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let mut s = stream.unwrap();
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf);
                let body = if i == 0 { KEY1 } else { KEY2 };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let http = Arc::new(HttpClient::new(None, std::time::Duration::from_secs(2)).unwrap());
        let store = KeyStore::remote(KeySource::Url(url), http);
        assert!(store.keys(100).unwrap().has_kid("one"));
        // Rotated right after the first fetch: found at once.
        assert!(store.refresh_for_unknown_kid(101).unwrap().has_kid("two"));
        // Then at most one refetch per minute.
        assert!(store.refresh_for_unknown_kid(102).is_none());
        assert!(store.refresh_for_unknown_kid(160).is_none());
        assert!(store.refresh_for_unknown_kid(161).is_some());
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn an_unreachable_url_is_unavailable_and_retried_only_after_a_pause() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = Arc::new(HttpClient::new(None, std::time::Duration::from_millis(500)).unwrap());
        let store = KeyStore::remote(
            KeySource::Url(format!("http://127.0.0.1:{port}/jwks")),
            http,
        );
        let e = store.keys(100).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        let e = store.keys(101).unwrap_err();
        assert!(e.reason.contains("s ago"), "{}", e.reason);
        assert!(store.refresh_for_unknown_kid(130).is_none());
    }
}
