//! One client login from the plugin's point of view: where the token comes
//! from (the secret names a token file, a command, or is the token), the first
//! message, and the one refresh a token source may make after the server
//! refused its token. The C shim only gathers credentials and copies bytes.

use super::exchange::{ClientExchange, Ending, Token};
use super::{ClientStep, Credentials, Mechanism, Target};
use crate::error::Error;
use crate::secret::Secret;
use crate::token::{self, ClientRuntime, TokenSource};
use std::sync::Arc;

pub struct ClientSession {
    exchange: ClientExchange,
    first_sent: bool,
    /// Where the token came from, and the token sent, for a refresh after a
    /// refusal. None for a token the application gave itself: nothing could
    /// refresh it, so no copy of it is kept.
    source: Option<(Box<dyn TokenSource>, Secret)>,
    /// Lines for the log (warnings; never a secret), taken by the caller.
    notes: Vec<String>,
}

impl ClientSession {
    pub fn new(mech: Mechanism) -> Self {
        ClientSession {
            exchange: ClientExchange::new(mech),
            first_sent: false,
            source: None,
            notes: Vec::new(),
        }
    }

    /// A session for an application whose protocol ends as `ending` says.
    pub fn with_ending(mut self, ending: Ending) -> Self {
        self.exchange = self.exchange.with_ending(ending);
        self
    }

    /// Whether the first message went out: later input is a server challenge.
    pub fn first_sent(&self) -> bool {
        self.first_sent
    }

    /// The first message. `creds.secret` chooses the token source (`file:`,
    /// `cmd:`, or the token itself); the runtime and the time are asked for
    /// only when there is a source to ask or a request to sign.
    pub fn start(
        &mut self,
        creds: &Credentials<'_>,
        target: &Target<'_>,
        rt: impl FnOnce() -> Option<Arc<ClientRuntime>>,
        now: impl FnOnce() -> i64,
    ) -> ClientStep {
        // The token itself, the usual case: written from the application's
        // buffer straight into the message, the one copy we make.
        if self.exchange.mechanism() != Mechanism::OAuth10a && !token::names_a_source(creds.secret)
        {
            let step = self
                .exchange
                .first(creds, Token::Bearer(creds.secret), target);
            self.first_sent = sent(&step);
            return step;
        }
        let secret = Secret::new(String::from_utf8_lossy(creds.secret).into_owned());
        let source = token::from_secret(secret, rt().as_ref());
        self.start_with(creds, target, source, now())
    }

    /// [`Self::start`] with the token source already chosen.
    pub fn start_with(
        &mut self,
        creds: &Credentials<'_>,
        target: &Target<'_>,
        source: Result<Box<dyn TokenSource>, Error>,
        now: i64,
    ) -> ClientStep {
        let mut source = match source {
            Ok(s) => s,
            Err(e) => return ClientStep::Failure(e),
        };
        // OAUTH10A signs with OAuth 1.0a credentials; the others send a bearer token.
        let got = match self.exchange.mechanism() {
            Mechanism::OAuth10a => source.oauth1().map(|c| (Secret::default(), Some(c))),
            _ => source.token(now).map(|t| (t, None)),
        };
        self.notes.extend(source.take_notes());
        let (token, oauth1) = match got {
            Ok(got) => got,
            Err(e) => return ClientStep::Failure(e),
        };
        let given = match &oauth1 {
            Some(c) => Token::OAuth1(c, now),
            None => Token::Bearer(token.expose().as_bytes()),
        };
        let step = self.exchange.first(creds, given, target);
        self.first_sent = sent(&step);
        self.source = Some((source, token));
        step
    }

    /// A server challenge after the first message. When it refused the token
    /// and the source can give a new one, the answer is `Retry`: once per
    /// session (the source is dropped), and a source refuses to refresh a
    /// token it has just obtained, so this never loops.
    pub fn challenge(&mut self, input: &[u8], now: impl FnOnce() -> i64) -> ClientStep {
        let step = self.exchange.challenge(input);
        if let ClientStep::Send {
            note: Some(note), ..
        } = &step
        {
            if self.exchange.token_refused() {
                if let Some(retry) = self.refresh(note, now()) {
                    return retry;
                }
            }
        }
        step
    }

    fn refresh(&mut self, note: &str, now: i64) -> Option<ClientStep> {
        let (source, used) = self.source.as_mut()?;
        let verdict = source.after_rejection(used, now);
        self.notes.extend(source.take_notes());
        match verdict {
            Ok(true) => {
                self.source = None;
                Some(ClientStep::Retry(format!(
                    "{note}; the token file was refreshed: retry the login"
                )))
            }
            Ok(false) => None,
            Err(e) => {
                self.notes
                    .push(format!("{note}; refreshing the token failed: {}", e.reason));
                None
            }
        }
    }

    /// What happened that the log should show since the last call.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }
}

/// Whether the step sends the first message.
fn sent(step: &ClientStep) -> bool {
    matches!(step, ClientStep::Send { .. } | ClientStep::SendLast { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A token source that hands out `tokens` in turn; `after_rejection`
    /// moves to the next one when there is one.
    struct Fake {
        tokens: Vec<&'static str>,
        at: usize,
        refreshes: Arc<AtomicUsize>,
        fail_refresh: bool,
    }

    impl TokenSource for Fake {
        fn token(&mut self, _now: i64) -> Result<Secret, Error> {
            Ok(Secret::from(self.tokens[self.at]))
        }
        fn after_rejection(&mut self, used: &Secret, _now: i64) -> Result<bool, Error> {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            assert_eq!(
                used.expose(),
                self.tokens[self.at],
                "told the token it sent"
            );
            if self.fail_refresh {
                return Err(Error::new(
                    crate::error::ErrorKind::Unavailable,
                    "token endpoint down",
                ));
            }
            if self.at + 1 < self.tokens.len() {
                self.at += 1;
                return Ok(true);
            }
            Ok(false)
        }
        fn take_notes(&mut self) -> Vec<String> {
            vec![format!("note {}", self.at)]
        }
    }

    fn fake(
        tokens: Vec<&'static str>,
        fail_refresh: bool,
    ) -> (Box<dyn TokenSource>, Arc<AtomicUsize>) {
        let refreshes = Arc::new(AtomicUsize::new(0));
        let source = Fake {
            tokens,
            at: 0,
            refreshes: refreshes.clone(),
            fail_refresh,
        };
        (Box::new(source), refreshes)
    }

    fn creds() -> Credentials<'static> {
        Credentials {
            authid: Some("alice".into()),
            ..Default::default()
        }
    }

    fn started(mech: Mechanism, source: Box<dyn TokenSource>) -> ClientSession {
        let mut s = ClientSession::new(mech);
        assert!(!s.first_sent());
        let step = s.start_with(&creds(), &Target::default(), Ok(source), 0);
        assert!(matches!(step, ClientStep::Send { .. }), "{step:?}");
        assert!(s.first_sent());
        s
    }

    const INVALID: &[u8] = br#"{"status":"invalid_token"}"#;

    #[test]
    fn a_refused_token_is_refreshed_once_and_the_login_retried() {
        let (source, refreshes) = fake(vec!["old", "new"], false);
        let mut s = started(Mechanism::OAuthBearer, source);
        assert_eq!(s.take_notes(), ["note 0"]);
        match s.challenge(INVALID, || 0) {
            ClientStep::Retry(text) => assert!(
                text.contains("status invalid_token") && text.ends_with("retry the login"),
                "{text}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(refreshes.load(Ordering::SeqCst), 1);
        assert_eq!(s.take_notes(), ["note 1"]);
    }

    #[test]
    fn no_retry_when_the_source_has_nothing_new_or_fails() {
        for fail in [false, true] {
            let (source, refreshes) = fake(vec!["only"], fail);
            let mut s = started(Mechanism::XOAuth2, source);
            s.take_notes();
            // The error challenge is acknowledged (XOAUTH2: an empty response).
            let step = s.challenge(br#"{"status":"401"}"#, || 0);
            assert!(
                matches!(&step, ClientStep::Send { message, .. } if message.is_empty()),
                "{step:?}"
            );
            assert_eq!(refreshes.load(Ordering::SeqCst), 1);
            let notes = s.take_notes();
            assert_eq!(
                notes
                    .iter()
                    .any(|n| n.contains("refreshing the token failed: token endpoint down")),
                fail,
                "{notes:?}"
            );
        }
    }

    #[test]
    fn other_refusals_and_success_do_not_refresh() {
        let (source, refreshes) = fake(vec!["a", "b"], false);
        let mut s = started(Mechanism::OAuthBearer, source);
        let step = s.challenge(br#"{"status":"insufficient_scope"}"#, || 0);
        assert!(matches!(step, ClientStep::Send { .. }), "{step:?}");
        let (source, _) = fake(vec!["a", "b"], false);
        let mut ok = started(Mechanism::OAuthBearer, source);
        assert_eq!(ok.challenge(b"", || 0), ClientStep::Done);
        assert_eq!(refreshes.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_source_that_fails_is_a_failure_and_nothing_is_sent() {
        let mut s = ClientSession::new(Mechanism::OAuthBearer);
        let step = s.start_with(
            &creds(),
            &Target::default(),
            Err(Error::param("no such token file")),
            0,
        );
        assert!(matches!(step, ClientStep::Failure(e) if e.reason == "no such token file"));
        assert!(!s.first_sent());
        // OAUTH10A asks the source for OAuth 1.0a credentials, which a plain token has not.
        let (source, _) = fake(vec!["t"], false);
        let mut s = ClientSession::new(Mechanism::OAuth10a);
        let step = s.start_with(&creds(), &Target::default(), Ok(source), 0);
        assert!(matches!(step, ClientStep::Failure(e) if e.reason.contains("token file")));
        assert!(!s.first_sent());
    }

    #[test]
    fn with_success_data_the_first_message_is_last() {
        let (source, refreshes) = fake(vec!["old", "new"], false);
        let mut s = ClientSession::new(Mechanism::OAuthBearer).with_ending(Ending::SuccessData);
        let step = s.start_with(&creds(), &Target::default(), Ok(source), 0);
        assert!(
            matches!(&step, ClientStep::SendLast { message } if message.ends_with(b"auth=Bearer old\x01\x01")),
            "{step:?}"
        );
        assert!(s.first_sent());
        // Taking the token refreshed nothing (the source is asked again only
        // after a refusal, which libsasl2 no longer passes on here).
        assert_eq!(refreshes.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_secret_chooses_the_source() {
        let asked = std::cell::Cell::new(0);
        let no_runtime = || {
            asked.set(asked.get() + 1);
            None
        };
        let mut s = ClientSession::new(Mechanism::OAuthBearer);
        let mut c = creds();
        c.secret = b"file:/nonexistent/token.json";
        let step = s.start(&c, &Target::default(), no_runtime, || 0);
        assert!(
            matches!(step, ClientStep::Failure(e) if e.reason.contains("file: secrets need the client configuration"))
        );
        assert_eq!(asked.get(), 1);
        // The token itself: sent, the runtime never asked for, no copy kept.
        let mut s = ClientSession::new(Mechanism::OAuthBearer);
        let mut c = creds();
        c.secret = b"tok";
        match s.start(&c, &Target::default(), no_runtime, || 0) {
            ClientStep::Send { message, .. } => {
                assert!(message.ends_with(b"auth=Bearer tok\x01\x01"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(asked.get(), 1);
        assert!(s.first_sent() && s.source.is_none());
        // Refused, it is not refreshed: the error challenge is acknowledged.
        let step = s.challenge(INVALID, || 0);
        assert!(
            matches!(&step, ClientStep::Send { message, note: Some(_) } if &message[..] == b"\x01"),
            "{step:?}"
        );
        // OAUTH10A asks a source for its credentials, which the token itself has not.
        let mut s = ClientSession::new(Mechanism::OAuth10a);
        let step = s.start(&c, &Target::default(), no_runtime, || 0);
        assert!(matches!(step, ClientStep::Failure(e) if e.reason.contains("token file")));
    }
}
