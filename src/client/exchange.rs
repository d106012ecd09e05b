//! Client state machine for the four mechanisms: the first message from the
//! application's credentials, the answer the RFC requires to an error
//! challenge, and the server's reason for the error detail.

use super::{ClientStep, Credentials, Mechanism, Message, OAuth1Credentials, Target};
use crate::error::{printable, Error, ErrorKind, OAuthStatus};
use crate::protocol::oauth10a_signature::{new_nonce, ClientSigner};
use crate::protocol::{http_oauth, oauth10a, oauthbearer, xoauth2};
use crate::secret::Secret;
use std::borrow::Cow;

enum State {
    Start,
    SentFirst,
    /// We acknowledged an error challenge; the server will now fail us.
    SentErrorAck(String),
    Finished,
}

/// What the status of the server's error challenge says about our token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerStatus {
    /// `invalid_token` (OAUTHBEARER, OAUTH10A, OAUTH) or XOAUTH2's and
    /// OAUTH's `401`/`400`: the token itself was refused, a new one may help.
    TokenRefused,
    /// Anything else (`insufficient_scope`, `403`, discovery): a new token
    /// would be refused the same way.
    Other,
}

impl ServerStatus {
    /// The status as the server's challenge spells it.
    pub fn parse(status: &str) -> ServerStatus {
        match status {
            "invalid_token" | "401" | "400" => ServerStatus::TokenRefused,
            _ => ServerStatus::Other,
        }
    }
}

/// How the application's protocol ends a login, which decides what the client
/// says after its first message. The message forms are the same; only the
/// return code differs, because applications read it differently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ending {
    /// The server's outcome (IMAP's tagged OK, SMTP's 235, LDAP's bind
    /// result) reaches the mechanism as one more, empty, challenge, and an
    /// error challenge may come instead: the first message is answered with
    /// SASL_CONTINUE. Applications such as mbsync take a SASL_OK there as
    /// "nothing more may come" and abort at the error challenge.
    #[default]
    OutcomeIsAStep,
    /// The application declared that its protocol carries success data
    /// (SASL_SUCCESS_DATA in `sasl_client_new`, as Subversion does): a
    /// success then comes with the server's last data, and a bare success
    /// is an error while the client still says SASL_CONTINUE. A bearer
    /// token is the client's last word on success, so the first message
    /// carrying a token is sent with SASL_OK. libsasl2 then runs no further
    /// client step (doneflag): after an error challenge the login fails on
    /// the client's side without our acknowledgement, and a token file is
    /// refreshed only before expiry, not after a refusal.
    SuccessData,
}

impl Ending {
    /// From the flags the application gave `sasl_client_new`.
    pub fn from_flags(flags: u32, success_data_flag: u32) -> Ending {
        if flags & success_data_flag != 0 {
            Ending::SuccessData
        } else {
            Ending::OutcomeIsAStep
        }
    }
}

pub struct ClientExchange {
    mech: Mechanism,
    ending: Ending,
    state: State,
    /// What the server's error challenge said, once one came.
    server_status: Option<ServerStatus>,
    /// Whether the first message carried a token (OAUTH may send none: discovery).
    sent_token: bool,
}

/// What the first message carries.
#[derive(Clone, Copy)]
pub enum Token<'a> {
    /// A bearer token, its bytes as the application or its source gave them.
    Bearer(&'a [u8]),
    /// OAUTH10A's signing credentials, from a token file, and the time to
    /// sign at.
    OAuth1(&'a OAuth1Credentials, i64),
}

/// A token that would break the message framing or the b64token grammar.
/// Ok(true) when it is all printable ASCII, so its bytes are its text.
fn check_token(token: &[u8]) -> Result<bool, Error> {
    if token.is_empty() {
        return Err(Error::param("no access token was given (SASL_CB_PASS)"));
    }
    // One pass without an early exit, which the compiler vectorises: a
    // token is hundreds of bytes on every login. Outside 0x21..=0x7e: a
    // space, a control character, DEL, or a byte of a non-ASCII character.
    if !token
        .iter()
        .fold(false, |out, &b| out | (b.wrapping_sub(0x21) > 0x7e - 0x21))
    {
        return Ok(true);
    }
    if token.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(Error::param(
            "the access token contains spaces or control characters",
        ));
    }
    Ok(false)
}

/// A checked token as it is sent: the given bytes, or (not UTF-8) a copy
/// with U+FFFD for each invalid sequence, as the secret was always read.
enum Checked<'a> {
    Given(&'a [u8]),
    Replaced(Secret),
}

impl Checked<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Checked::Given(b) => b,
            Checked::Replaced(s) => s.expose().as_bytes(),
        }
    }
}

fn checked(token: &[u8]) -> Result<Checked<'_>, Error> {
    if check_token(token)? {
        return Ok(Checked::Given(token));
    }
    Ok(match String::from_utf8_lossy(token) {
        Cow::Borrowed(_) => Checked::Given(token),
        Cow::Owned(text) => Checked::Replaced(Secret::new(text)),
    })
}

impl ClientExchange {
    pub fn new(mech: Mechanism) -> Self {
        ClientExchange {
            mech,
            ending: Ending::default(),
            state: State::Start,
            server_status: None,
            sent_token: false,
        }
    }

    /// The exchange for an application whose protocol ends as `ending` says.
    pub fn with_ending(mut self, ending: Ending) -> Self {
        self.ending = ending;
        self
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mech
    }

    /// The client's first message, with what it carries.
    pub fn first(
        &mut self,
        creds: &Credentials<'_>,
        token: Token<'_>,
        target: &Target<'_>,
    ) -> ClientStep {
        if !matches!(self.state, State::Start) {
            return ClientStep::Failure(Error::protocol("first message already sent"));
        }
        match self.build_first(creds, token, target) {
            Ok(message) => {
                self.state = State::SentFirst;
                let message = Message::new(message);
                // Without a token (OAUTH's discovery request) the server's
                // answer is always a challenge: never the last message.
                if self.ending == Ending::SuccessData && self.sent_token {
                    ClientStep::SendLast { message }
                } else {
                    ClientStep::Send {
                        message,
                        note: None,
                    }
                }
            }
            Err(e) => ClientStep::Failure(e),
        }
    }

    fn build_first(
        &mut self,
        creds: &Credentials<'_>,
        token: Token<'_>,
        target: &Target<'_>,
    ) -> Result<Vec<u8>, Error> {
        let authzid = creds.authzid.as_deref().filter(|a| !a.is_empty());
        // a= (XOAUTH2's user=) names the authorization name, else the login
        // name, as curl, mutt, msmtp and Roundcube do; Dovecot and Gmail
        // refuse a message without it.
        let name = authzid.or(creds.authid.as_deref().filter(|a| !a.is_empty()));
        match (self.mech, token) {
            (Mechanism::OAuthBearer, Token::Bearer(token)) => {
                let token = checked(token)?;
                self.sent_token = true;
                Ok(oauthbearer::build_client_first(
                    name,
                    target.host,
                    target.port,
                    token.bytes(),
                ))
            }
            (Mechanism::XOAuth2, Token::Bearer(token)) => {
                let token = checked(token)?;
                let user = name.ok_or_else(|| {
                    Error::param("XOAUTH2 needs a user name (SASL_CB_AUTHNAME or SASL_CB_USER)")
                })?;
                self.sent_token = true;
                Ok(xoauth2::build_client(user, token.bytes()))
            }
            (Mechanism::OAuth, Token::Bearer(token)) => {
                // Without a token, the request is the draft's discovery request.
                let token = match token {
                    [] => None,
                    t => Some(checked(t)?),
                };
                let text = match &token {
                    Some(t) => Some(
                        std::str::from_utf8(t.bytes())
                            .map_err(|_| Error::param("the access token is not UTF-8"))?,
                    ),
                    None => None,
                };
                self.sent_token = token.is_some();
                http_oauth::build_request(authzid, target.host, text).map(String::into_bytes)
            }
            (Mechanism::OAuth10a, Token::OAuth1(c, now)) => {
                self.build_oauth10a(authzid, c, target, now)
            }
            (Mechanism::OAuth10a, Token::Bearer(_)) => Err(Error::param(
                "OAUTH10A needs a token file (file:/path) with oauth_consumer_key, oauth_consumer_secret, oauth_token and oauth_token_secret",
            )),
            (_, Token::OAuth1(..)) => Err(Error::param(format!(
                "{} sends a bearer token, not OAuth 1.0a credentials",
                self.mech.name()
            ))),
        }
    }

    fn build_oauth10a(
        &mut self,
        authzid: Option<&str>,
        c: &OAuth1Credentials,
        target: &Target<'_>,
        now: i64,
    ) -> Result<Vec<u8>, Error> {
        let (Some(host), Some(port)) = (target.host, target.port) else {
            return Err(Error::param(
                "OAUTH10A needs the server's host name and port",
            ));
        };
        let signer = ClientSigner {
            consumer_key: &c.consumer_key,
            consumer_secret: c.consumer_secret.expose(),
            token: &c.token,
            token_secret: c.token_secret.expose(),
            method: c.method,
        };
        let request = signer.sign(host, port, now, &new_nonce()?)?;
        self.sent_token = true;
        Ok(oauth10a::build_client_first(authzid, &request).into_bytes())
    }

    /// A challenge from the server after our first message.
    pub fn challenge(&mut self, input: &[u8]) -> ClientStep {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::SentFirst if input.is_empty() => ClientStep::Done,
            State::SentFirst => {
                let note = self.describe_refusal(input);
                let ack: &[u8] = match self.mech {
                    Mechanism::OAuthBearer | Mechanism::OAuth10a => oauthbearer::ERROR_ACK,
                    Mechanism::XOAuth2 | Mechanism::OAuth => b"",
                };
                self.state = State::SentErrorAck(note.clone());
                ClientStep::Send {
                    message: Message::new(ack.to_vec()),
                    note: Some(note),
                }
            }
            State::SentErrorAck(note) => ClientStep::Failure(Error::new(
                ErrorKind::Rejected(OAuthStatus::InvalidToken),
                note,
            )),
            State::Start | State::Finished => {
                ClientStep::Failure(Error::protocol("unexpected server challenge"))
            }
        }
    }

    /// Whether the server's error challenge says the token itself was refused
    /// (invalid_token; XOAUTH2's 401 or 400), so a new token may help.
    pub fn token_refused(&self) -> bool {
        self.sent_token && self.server_status == Some(ServerStatus::TokenRefused)
    }

    /// "server refused the token: status …, scope …" from the challenge.
    fn describe_refusal(&mut self, input: &[u8]) -> String {
        let mut fields: Vec<(&str, String)> = Vec::new();
        let status = match self.mech {
            Mechanism::OAuthBearer | Mechanism::OAuth10a => {
                oauthbearer::parse_error(input).ok().map(|c| {
                    fields.extend(c.scope.map(|s| ("scope", s.into_owned())));
                    fields.extend(
                        c.openid_configuration
                            .map(|s| ("openid-configuration", s.into_owned())),
                    );
                    c.status.into_owned()
                })
            }
            Mechanism::XOAuth2 => xoauth2::parse_error(input).ok().map(|c| {
                fields.extend(c.scope.map(|s| ("scope", s.into_owned())));
                c.status.into_owned()
            }),
            Mechanism::OAuth => http_oauth::parse_challenge(input).ok().map(|c| {
                fields.extend(c.scope.map(|s| ("scope", s)));
                fields.extend(c.authorization_uri.map(|s| ("authorization_uri", s)));
                fields.extend(c.token_uri.map(|s| ("token_uri", s)));
                c.error.unwrap_or_else(|| c.status.to_string())
            }),
        };
        let Some(status) = status else {
            return format!(
                "{} server sent a challenge that is not an error challenge: {}",
                self.mech.name(),
                printable(&String::from_utf8_lossy(input), 120)
            );
        };
        self.server_status = Some(ServerStatus::parse(&status));
        let what = if self.sent_token {
            "refused the token"
        } else {
            "asks for a token"
        };
        let mut s = format!(
            "{} server {what}: status {}",
            self.mech.name(),
            printable(&status, 40)
        );
        for (name, value) in fields {
            s.push_str(&format!(", {name} {}", printable(&value, 200)));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth1_credentials() -> crate::client::OAuth1Credentials {
        crate::client::OAuth1Credentials {
            consumer_key: "ck".into(),
            consumer_secret: "cs".into(),
            token: "tk".into(),
            token_secret: "ts".into(),
            method: crate::protocol::oauth10a_signature::SignatureMethod::HmacSha256,
        }
    }

    fn creds<'a>(
        authid: Option<&'a str>,
        authzid: Option<&'a str>,
        token: &'a str,
    ) -> Credentials<'a> {
        Credentials {
            authid: authid.map(Into::into),
            authzid: authzid.map(Into::into),
            secret: token.as_bytes(),
        }
    }

    impl ClientExchange {
        /// The first message with the secret as the bearer token.
        fn first_bearer(&mut self, creds: &Credentials, target: &Target) -> ClientStep {
            self.first(creds, Token::Bearer(creds.secret), target)
        }
    }

    fn sent(step: ClientStep) -> Vec<u8> {
        match step {
            ClientStep::Send { message, .. } => message.to_vec(),
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn oauthbearer_first_message_with_host_and_port() {
        let mut c = ClientExchange::new(Mechanism::OAuthBearer);
        let t = Target {
            host: Some("imap.example.com"),
            port: Some(143),
        };
        let m = sent(c.first_bearer(&creds(Some("alice"), None, "tok"), &t));
        assert_eq!(
            m,
            b"n,a=alice,\x01host=imap.example.com\x01port=143\x01auth=Bearer tok\x01\x01"
        );
        // Without any name, no a= at all.
        let mut c = ClientExchange::new(Mechanism::OAuthBearer);
        let m = sent(c.first_bearer(&creds(None, None, "tok"), &t));
        assert!(m.starts_with(b"n,,\x01"));
    }

    #[test]
    fn oauthbearer_sends_escaped_authzid() {
        let mut c = ClientExchange::new(Mechanism::OAuthBearer);
        let m = sent(c.first_bearer(
            &creds(Some("alice"), Some("b,ob"), "tok"),
            &Target::default(),
        ));
        assert!(m.starts_with(b"n,a=b=2Cob,\x01"));
    }

    #[test]
    fn xoauth2_user_is_authzid_else_authid() {
        let mut c = ClientExchange::new(Mechanism::XOAuth2);
        assert_eq!(
            sent(c.first_bearer(&creds(Some("alice"), None, "t"), &Target::default())),
            b"user=alice\x01auth=Bearer t\x01\x01"
        );
        let mut c = ClientExchange::new(Mechanism::XOAuth2);
        assert_eq!(
            sent(c.first_bearer(
                &creds(Some("alice"), Some("shared@x"), "t"),
                &Target::default()
            )),
            b"user=shared@x\x01auth=Bearer t\x01\x01"
        );
        let mut c = ClientExchange::new(Mechanism::XOAuth2);
        assert!(matches!(
            c.first_bearer(&creds(None, None, "t"), &Target::default()),
            ClientStep::Failure(_)
        ));
    }

    #[test]
    fn tokens_are_checked_in_one_pass_and_sent_as_given() {
        assert_eq!(check_token(b"eyJ.a-b_c~+/=").ok(), Some(true));
        assert_eq!(check_token("é".as_bytes()).ok(), Some(false));
        for bad in [
            &b""[..],
            b"a b",
            b"a\tb",
            b"a\x00",
            b"\x7f",
            b"a\x01b",
            b"\xff\x20",
        ] {
            assert!(check_token(bad).is_err(), "{bad:?}");
        }
        // Not UTF-8: U+FFFD for the invalid byte, as the secret was always read.
        let mut c = ClientExchange::new(Mechanism::XOAuth2);
        let m = sent(c.first(
            &creds(Some("a"), None, ""),
            Token::Bearer(b"tok\xff"),
            &Target::default(),
        ));
        assert_eq!(m, "user=a\x01auth=Bearer tok\u{fffd}\x01\x01".as_bytes());
        // UTF-8 beyond ASCII goes as it is (the server judges it).
        let mut c = ClientExchange::new(Mechanism::OAuthBearer);
        let m = sent(c.first_bearer(&creds(None, None, "tök"), &Target::default()));
        assert!(m.ends_with("auth=Bearer tök\x01\x01".as_bytes()));
        // A bearer mechanism takes no OAuth 1.0a credentials.
        let oauth1 = oauth1_credentials();
        let mut c = ClientExchange::new(Mechanism::OAuthBearer);
        assert!(matches!(
            c.first(
                &creds(None, None, ""),
                Token::OAuth1(&oauth1, 0),
                &Target::default()
            ),
            ClientStep::Failure(_)
        ));
    }

    #[test]
    fn bad_tokens_are_refused_before_sending() {
        for t in ["", "a b", "a\x01b"] {
            let mut c = ClientExchange::new(Mechanism::OAuthBearer);
            assert!(matches!(
                c.first_bearer(&creds(None, None, t), &Target::default()),
                ClientStep::Failure(_)
            ));
        }
    }

    #[test]
    fn error_challenge_is_acknowledged_and_reported() {
        let mut c = ClientExchange::new(Mechanism::OAuthBearer);
        sent(c.first_bearer(&creds(None, None, "tok"), &Target::default()));
        match c.challenge(br#"{"status":"invalid_token","scope":"mail"}"#) {
            ClientStep::Send { message, note } => {
                assert_eq!(&message[..], b"\x01");
                assert_eq!(
                    note.as_deref(),
                    Some("OAUTHBEARER server refused the token: status invalid_token, scope mail")
                );
            }
            s => panic!("{s:?}"),
        }
        assert!(
            matches!(c.challenge(b""), ClientStep::Failure(e) if e.reason.contains("invalid_token"))
        );
    }

    #[test]
    fn token_refused_only_for_token_statuses() {
        for (mech, json, refused) in [
            (
                Mechanism::OAuthBearer,
                &br#"{"status":"invalid_token"}"#[..],
                true,
            ),
            (
                Mechanism::OAuthBearer,
                br#"{"status":"insufficient_scope"}"#,
                false,
            ),
            (
                Mechanism::XOAuth2,
                br#"{"status":"401","schemes":"bearer"}"#,
                true,
            ),
            (Mechanism::XOAuth2, br#"{"status":"400"}"#, true),
            (Mechanism::XOAuth2, br#"{"status":"403"}"#, false),
            (Mechanism::OAuthBearer, b"garbage", false),
        ] {
            let mut c = ClientExchange::new(mech);
            sent(c.first_bearer(&creds(Some("a"), None, "tok"), &Target::default()));
            c.challenge(json);
            assert_eq!(
                c.token_refused(),
                refused,
                "{:?}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn server_statuses_are_typed() {
        for s in ["invalid_token", "401", "400"] {
            assert_eq!(ServerStatus::parse(s), ServerStatus::TokenRefused, "{s}");
        }
        for s in [
            "insufficient_scope",
            "403",
            "discovery",
            "",
            "Invalid_Token",
        ] {
            assert_eq!(ServerStatus::parse(s), ServerStatus::Other, "{s}");
        }
    }

    #[test]
    fn oauth_without_token_sends_discovery_and_reports_the_endpoints() {
        let mut c = ClientExchange::new(Mechanism::OAuth);
        let t = Target {
            host: Some("imap.x"),
            port: Some(143),
        };
        assert_eq!(
            sent(c.first_bearer(&creds(None, Some("u@x"), ""), &t)),
            b"GET / HTTP/1.1\r\nUser: u@x\r\nHost: imap.x\r\n\r\n"
        );
        let challenge = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Token realm=\"x\", error=\"discovery\", auth_uri=\"https://a\", token_uri=\"https://t\"\r\n\r\n";
        match c.challenge(challenge) {
            ClientStep::Send { message, note } => {
                assert!(message.is_empty());
                let note = note.unwrap();
                assert!(
                    note.contains("authorization_uri https://a")
                        && note.contains("token_uri https://t"),
                    "{note}"
                );
            }
            s => panic!("{s:?}"),
        }
        assert!(!c.token_refused());
    }

    #[test]
    fn oauth10a_needs_credentials_and_port() {
        let mut c = ClientExchange::new(Mechanism::OAuth10a);
        assert!(
            matches!(c.first_bearer(&creds(None, None, "x"), &Target::default()), ClientStep::Failure(e) if e.reason.contains("token file"))
        );
        let none = creds(None, None, "");
        let oauth1 = oauth1_credentials();
        let with = Token::OAuth1(&oauth1, 1000);
        let mut c = ClientExchange::new(Mechanism::OAuth10a);
        assert!(
            matches!(c.first(&none, with, &Target { host: Some("h"), port: None }), ClientStep::Failure(e) if e.reason.contains("port"))
        );
        let mut c = ClientExchange::new(Mechanism::OAuth10a);
        let m = sent(c.first(
            &none,
            with,
            &Target {
                host: Some("h"),
                port: Some(143),
            },
        ));
        let parsed = oauth10a::parse_client_first(std::str::from_utf8(&m).unwrap()).unwrap();
        assert_eq!(
            parsed.request.param("oauth_signature_method"),
            Some("HMAC-SHA256")
        );
    }

    #[test]
    fn xoauth2_acknowledges_with_an_empty_response() {
        let mut c = ClientExchange::new(Mechanism::XOAuth2);
        sent(c.first_bearer(&creds(Some("a"), None, "tok"), &Target::default()));
        assert_eq!(
            sent(c.challenge(br#"{"status":"401","schemes":"bearer"}"#)),
            b""
        );
    }

    fn sent_last(step: ClientStep) -> Vec<u8> {
        match step {
            ClientStep::SendLast { message } => message.to_vec(),
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn ending_follows_the_success_data_flag() {
        assert_eq!(Ending::from_flags(0, 4), Ending::OutcomeIsAStep);
        assert_eq!(Ending::from_flags(0x1 | 0x2, 4), Ending::OutcomeIsAStep);
        assert_eq!(Ending::from_flags(4, 4), Ending::SuccessData);
        assert_eq!(Ending::from_flags(4 | 0x10, 4), Ending::SuccessData);
    }

    #[test]
    fn with_success_data_the_token_message_is_the_last_one() {
        let t = Target::default();
        for mech in [Mechanism::OAuthBearer, Mechanism::XOAuth2] {
            // The same bytes either way; only the step differs.
            let mut plain = ClientExchange::new(mech);
            let expected = sent(plain.first_bearer(&creds(Some("alice"), None, "tok"), &t));
            let mut c = ClientExchange::new(mech).with_ending(Ending::SuccessData);
            assert_eq!(
                sent_last(c.first_bearer(&creds(Some("alice"), None, "tok"), &t)),
                expected
            );
            // The exchange would still acknowledge an error challenge (libsasl2
            // itself runs no step after SASL_OK: c-tests/test_handshake.c).
            let challenge: &[u8] = match mech {
                Mechanism::XOAuth2 => br#"{"status":"401"}"#,
                _ => br#"{"status":"invalid_token"}"#,
            };
            match c.challenge(challenge) {
                ClientStep::Send { note, .. } => assert!(note.unwrap().contains("refused")),
                s => panic!("{s:?}"),
            }
            assert!(c.token_refused());
        }
        // OAUTH's discovery request (no token) always waits for the challenge.
        let mut c = ClientExchange::new(Mechanism::OAuth).with_ending(Ending::SuccessData);
        let t = Target {
            host: Some("imap.x"),
            port: Some(143),
        };
        sent(c.first_bearer(&creds(None, Some("u@x"), ""), &t));
        let mut c = ClientExchange::new(Mechanism::OAuth).with_ending(Ending::SuccessData);
        sent_last(c.first_bearer(&creds(None, Some("u@x"), "tok"), &t));
    }

    #[test]
    fn empty_challenge_after_first_means_done() {
        let mut c = ClientExchange::new(Mechanism::OAuthBearer);
        sent(c.first_bearer(&creds(None, None, "tok"), &Target::default()));
        assert_eq!(c.challenge(b""), ClientStep::Done);
    }

    #[test]
    fn garbage_challenge_is_still_acknowledged() {
        let mut c = ClientExchange::new(Mechanism::OAuthBearer);
        sent(c.first_bearer(&creds(None, None, "tok"), &Target::default()));
        match c.challenge(b"\x02garbage") {
            ClientStep::Send { note, .. } => {
                assert!(note.unwrap().contains("not an error challenge"))
            }
            s => panic!("{s:?}"),
        }
    }
}
