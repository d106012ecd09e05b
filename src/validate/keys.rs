//! Where the JWT signing keys come from, and when they are read again.
//!
//! - A file: read at init; its mtime is looked at no more than every few
//!   seconds, and the set re-read when it changed. After a chroot the path may
//!   vanish: the keys read at init stay in use.
//! - A URL (configured or discovered): fetched on first need, and again when
//!   the set is older than `oauth_jwks_max_age` (or a shorter `Cache-Control`
//!   lifetime), so that a key the provider withdrew stops being trusted: a
//!   successful fetch replaces the whole set. When that refetch fails, the old
//!   set serves at most `oauth_jwks_max_stale` longer, with a warning; after
//!   that logins fail as temporary failures. Failed fetches are retried at
//!   most every few seconds, never once per login.
//! - Either: a token naming an unknown `kid` causes a look for new keys, at
//!   most once per minute, so that a flood of made-up kids cannot become a
//!   flood of requests.

use super::discovery::{Discovery, JWKS_URI, RETRY_AFTER_FAILURE};
use super::jwks::JwkSet;
use super::notice;
use crate::error::{Error, ErrorKind};
use crate::http::HttpClient;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

/// Minimum seconds between two fetches caused by unknown kids.
pub const UNKNOWN_KID_REFETCH: i64 = 60;
/// Seconds between two looks at the JWKS file's mtime.
pub const FILE_CHECK_INTERVAL: i64 = 5;
/// A shorter `Cache-Control` lifetime is honoured down to this many seconds
/// (or down to `max_age`, when that is lower).
pub const MIN_CACHE_CONTROL_AGE: i64 = 60;
/// Seconds between two warnings about keys used past their refresh time.
pub const STALE_WARNING_INTERVAL: i64 = 60;

/// When a fetched key set is fetched again, and how long it may serve past
/// that while the provider cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// oauth_jwks_max_age: seconds a fetched set is used before a refetch.
    pub max_age: i64,
    /// oauth_jwks_max_stale: seconds past that it may serve while refetches fail.
    pub max_stale: i64,
}

impl Freshness {
    /// Seconds a set fetched now stays fresh, given its `Cache-Control` lifetime.
    pub fn lifetime(&self, cache_control: Option<i64>) -> i64 {
        match cache_control {
            Some(age) if age < self.max_age => age.max(MIN_CACHE_CONTROL_AGE.min(self.max_age)),
            _ => self.max_age,
        }
    }

    /// Whether a set whose freshness ended at `fresh_until` may still serve at `now`.
    pub fn may_serve_stale(&self, fresh_until: i64, now: i64) -> bool {
        now.saturating_sub(fresh_until) < self.max_stale
    }
}

pub enum KeySource {
    File(PathBuf),
    Url(String),
    Discovered(Arc<Discovery>),
}

/// The set in use, and until when it may be used without a refetch.
#[derive(Clone)]
struct Current {
    set: Arc<JwkSet>,
    fresh_until: i64,
}

#[derive(Default)]
struct FetchState {
    /// When we last fetched (or tried to), and whether it failed.
    last_attempt: Option<i64>,
    last_error: Option<Error>,
    /// When an unknown kid last caused a fetch (the first fetch does not count:
    /// keys rotated just after it must be found).
    last_refetch: Option<i64>,
    /// When we last warned that a stale set is in use.
    last_stale_warning: Option<i64>,
    /// For a file: when we last looked, and the mtime we loaded.
    last_look: i64,
    mtime: Option<SystemTime>,
}

pub struct KeyStore {
    source: KeySource,
    http: Option<Arc<HttpClient>>,
    freshness: Freshness,
    current: RwLock<Option<Current>>,
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
            // A file's keys are as fresh as the file: it is watched instead.
            freshness: Freshness {
                max_age: i64::MAX,
                max_stale: 0,
            },
            current: RwLock::new(Some(Current {
                set: Arc::new(set),
                fresh_until: i64::MAX,
            })),
            fetch: Mutex::new(state),
        })
    }

    /// Keys fetched over HTTP(S) on first need, and again as `freshness` says.
    pub fn remote(source: KeySource, http: Arc<HttpClient>, freshness: Freshness) -> KeyStore {
        KeyStore {
            source,
            http: Some(http),
            freshness,
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

    fn current(&self) -> Option<Current> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn replace(&self, set: JwkSet, fresh_until: i64) -> Arc<JwkSet> {
        let set = Arc::new(set);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Current {
            set: set.clone(),
            fresh_until,
        });
        set
    }

    /// The key set to verify with now.
    pub fn keys(&self, now: i64) -> Result<Arc<JwkSet>, Error> {
        if let KeySource::File(path) = &self.source {
            self.reload_file_if_changed(path, now, FILE_CHECK_INTERVAL);
        }
        if let Some(c) = self.current().filter(|c| now < c.fresh_until) {
            return Ok(c.set);
        }
        let mut state = self.fetch.lock().unwrap_or_else(|p| p.into_inner());
        // Another thread may have fetched while we waited for the lock.
        let current = self.current();
        if let Some(c) = current.as_ref().filter(|c| now < c.fresh_until) {
            return Ok(c.set.clone());
        }
        let failure = match (state.last_attempt, &state.last_error) {
            (Some(at), Some(e)) if now - at < RETRY_AFTER_FAILURE => Error {
                kind: ErrorKind::Unavailable,
                reason: format!("{} ({} s ago)", e.reason, now - at).into(),
                detail: e.detail.clone(),
            },
            _ => match self.fetch_locked(&mut state, now) {
                Ok(set) => return Ok(set),
                Err(e) => e,
            },
        };
        match current {
            None => Err(failure),
            Some(c) => self.stale(c, failure, &mut state, now),
        }
    }

    /// The refetch of an expired set failed: the old set while `max_stale`
    /// allows, with a warning now and then; a temporary failure after that.
    fn stale(
        &self,
        c: Current,
        failure: Error,
        state: &mut FetchState,
        now: i64,
    ) -> Result<Arc<JwkSet>, Error> {
        let late = now.saturating_sub(c.fresh_until);
        if !self.freshness.may_serve_stale(c.fresh_until, now) {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "signing keys are {late} s past their refresh time, longer than \
                     oauth_jwks_max_stale ({} s) allows: {}",
                    self.freshness.max_stale, failure.reason
                ),
            ));
        }
        if state
            .last_stale_warning
            .is_none_or(|at| now - at >= STALE_WARNING_INTERVAL)
        {
            state.last_stale_warning = Some(now);
            notice::warn(format!(
                "using signing keys {late} s past their refresh time (at most {} s more, \
                 oauth_jwks_max_stale): {}",
                self.freshness.max_stale - late,
                failure.reason
            ));
        }
        Ok(c.set)
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
        match self.fetch_remote(now) {
            Ok((set, cache_control)) => {
                state.last_error = None;
                state.last_stale_warning = None;
                let fresh_until = now.saturating_add(self.freshness.lifetime(cache_control));
                Ok(self.replace(set, fresh_until))
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

    /// The set and its `Cache-Control` lifetime.
    fn fetch_remote(&self, now: i64) -> Result<(JwkSet, Option<i64>), Error> {
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| Error::internal("no HTTP client for remote keys"))?;
        let url = match &self.source {
            KeySource::Url(u) => u.clone(),
            KeySource::Discovered(d) => d.endpoint(now, JWKS_URI)?,
            KeySource::File(_) => return Err(Error::internal("file keys are not fetched")),
        };
        let (body, cache_control) = http.get_with_max_age(&url)?;
        let set = JwkSet::parse(&body).map_err(|e| Error::new(ErrorKind::Unavailable, e.reason))?;
        Ok((set, cache_control))
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
        Some(self.replace(set, i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_server::TestServer;

    const HOUR: Freshness = Freshness {
        max_age: 3600,
        max_stale: 86_400,
    };

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
        let idp = TestServer::start(KEY1);
        let http = Arc::new(HttpClient::new(None, std::time::Duration::from_secs(2)).unwrap());
        let store = KeyStore::remote(KeySource::Url(format!("{}/jwks", idp.base)), http, HOUR);
        assert!(store.keys(100).unwrap().has_kid("one"));
        idp.answer("HTTP/1.1 200 OK", KEY2);
        // Rotated right after the first fetch: found at once.
        assert!(store.refresh_for_unknown_kid(101).unwrap().has_kid("two"));
        // Then at most one refetch per minute.
        assert!(store.refresh_for_unknown_kid(102).is_none());
        assert!(store.refresh_for_unknown_kid(160).is_none());
        assert!(store.refresh_for_unknown_kid(161).is_some());
        assert_eq!(idp.served(), 3);
    }

    fn remote(idp: &TestServer, max_age: i64, max_stale: i64) -> KeyStore {
        let http = Arc::new(HttpClient::new(None, std::time::Duration::from_secs(2)).unwrap());
        KeyStore::remote(
            KeySource::Url(format!("{}/jwks", idp.base)),
            http,
            Freshness { max_age, max_stale },
        )
    }

    #[test]
    fn lifetime_honours_a_shorter_cache_control_but_not_below_a_minute() {
        let f = |max_age| Freshness {
            max_age,
            max_stale: 0,
        };
        assert_eq!(f(3600).lifetime(None), 3600);
        assert_eq!(f(3600).lifetime(Some(7200)), 3600);
        assert_eq!(f(3600).lifetime(Some(300)), 300);
        assert_eq!(f(3600).lifetime(Some(10)), 60);
        assert_eq!(f(3600).lifetime(Some(0)), 60);
        // An option below a minute is the floor itself.
        assert_eq!(f(5).lifetime(Some(0)), 5);
        assert_eq!(f(30).lifetime(Some(10)), 30);
    }

    #[test]
    fn stale_sets_serve_for_max_stale_and_never_longer() {
        let f = Freshness {
            max_age: 5,
            max_stale: 100,
        };
        assert!(f.may_serve_stale(1000, 1000));
        assert!(f.may_serve_stale(1000, 1099));
        assert!(!f.may_serve_stale(1000, 1100));
        assert!(!Freshness { max_stale: 0, ..f }.may_serve_stale(1000, 1000));
    }

    #[test]
    fn an_old_set_is_fetched_again_and_withdrawn_keys_stop_being_trusted() {
        let idp = TestServer::start(KEY1);
        let store = remote(&idp, 5, 100);
        assert!(store.keys(100).unwrap().has_kid("one"));
        // The provider withdraws key one and publishes key two.
        idp.answer("HTTP/1.1 200 OK", KEY2);
        assert!(store.keys(104).unwrap().has_kid("one"));
        assert_eq!(idp.served(), 1, "no fetch while the set is fresh");
        let set = store.keys(105).unwrap();
        assert!(set.has_kid("two") && !set.has_kid("one"));
        assert_eq!(idp.served(), 2);
        for now in 106..110 {
            store.keys(now).unwrap();
        }
        assert_eq!(idp.served(), 2, "one fetch per max_age, not one per login");
    }

    #[test]
    fn cache_control_shortens_the_refetch_interval() {
        let idp = TestServer::start(KEY1);
        idp.answer("HTTP/1.1 200 OK\r\nCache-Control: max-age=120", KEY1);
        let store = remote(&idp, 3600, 86_400);
        store.keys(100).unwrap();
        store.keys(219).unwrap();
        assert_eq!(idp.served(), 1);
        store.keys(220).unwrap();
        assert_eq!(idp.served(), 2);
    }

    #[test]
    fn a_failed_refetch_serves_the_old_set_until_max_stale_then_fails_temporarily() {
        notice::take();
        let idp = TestServer::start(KEY1);
        let store = remote(&idp, 5, 100);
        assert!(store.keys(100).unwrap().has_kid("one"));
        idp.answer("HTTP/1.1 503 Busy", "");
        // Expired at 105: the refetch fails, the old set serves, with a warning.
        assert!(store.keys(105).unwrap().has_kid("one"));
        let warned = notice::take();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(
            warned[0].contains("past their refresh time"),
            "{}",
            warned[0]
        );
        // Retried every few seconds, not at each login; warned once a minute.
        store.keys(106).unwrap();
        assert_eq!(idp.served(), 2);
        store.keys(110).unwrap();
        assert_eq!(idp.served(), 3);
        assert!(notice::take().is_empty());
        store.keys(165).unwrap();
        assert_eq!(notice::take().len(), 1);
        // 100 s past the refresh time (105): no longer.
        store.keys(204).unwrap();
        let e = store.keys(205).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.reason.contains("oauth_jwks_max_stale"), "{}", e.reason);
        assert!(store.keys(230).is_err());
        // The provider is back: its current keys only.
        idp.answer("HTTP/1.1 200 OK", KEY2);
        let set = store.keys(240).unwrap();
        assert!(set.has_kid("two") && !set.has_kid("one"));
    }

    #[test]
    fn a_discovered_plain_http_jwks_uri_is_refused_without_a_request() {
        let idp = TestServer::start("");
        idp.answer(
            "HTTP/1.1 200 OK",
            &format!(
                r#"{{"issuer":"{}","jwks_uri":"http://keys.invalid/jwks"}}"#,
                idp.base
            ),
        );
        let http = Arc::new(HttpClient::new(None, std::time::Duration::from_secs(2)).unwrap());
        let discovery = Arc::new(Discovery::new(&idp.base, http.clone(), false));
        let store = KeyStore::remote(KeySource::Discovered(discovery), http, HOUR);
        let e = store.keys(100).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(
            e.reason
                .contains("jwks_uri http://keys.invalid/jwks: plain http to a non-loopback host"),
            "{}",
            e.reason
        );
        assert_eq!(idp.served(), 1, "only the discovery document was asked for");
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
            HOUR,
        );
        let e = store.keys(100).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        let e = store.keys(101).unwrap_err();
        assert!(e.reason.contains("s ago"), "{}", e.reason);
        assert!(store.refresh_for_unknown_kid(130).is_none());
    }
}
