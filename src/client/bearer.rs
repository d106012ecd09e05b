//! Client state machine for OAUTHBEARER and XOAUTH2.

use super::{ClientStep, Credentials, Mechanism, Target};
use crate::error::{printable, Error, ErrorKind, OAuthStatus};
use crate::protocol::{oauthbearer, xoauth2};
use zeroize::Zeroizing;

enum State {
    Start,
    SentFirst,
    /// We acknowledged an error challenge; the server will now fail us.
    SentErrorAck(String),
    Finished,
}

pub struct BearerClient {
    mech: Mechanism,
    state: State,
    /// The `status` of the server's error challenge, once one came.
    server_status: Option<String>,
}

/// A token that would break the message framing or the b64token grammar.
fn check_token(token: &str) -> Result<(), Error> {
    if token.is_empty() {
        return Err(Error::param("no access token was given (SASL_CB_PASS)"));
    }
    if token.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(Error::param(
            "the access token contains spaces or control characters",
        ));
    }
    Ok(())
}

impl BearerClient {
    pub fn new(mech: Mechanism) -> Self {
        BearerClient {
            mech,
            state: State::Start,
            server_status: None,
        }
    }

    /// The client's first message.
    pub fn first(&mut self, creds: &Credentials, target: &Target) -> ClientStep {
        if !matches!(self.state, State::Start) {
            return ClientStep::Failure(Error::protocol("first message already sent"));
        }
        if let Err(e) = check_token(creds.token.expose()) {
            return ClientStep::Failure(e);
        }
        let authzid = creds.authzid.as_deref().filter(|a| !a.is_empty());
        let message = match self.mech {
            Mechanism::OAuthBearer => oauthbearer::build_client_first(
                authzid,
                target.host.as_deref(),
                target.port,
                creds.token.expose(),
            ),
            Mechanism::XOAuth2 => {
                let Some(user) = authzid.or(creds.authid.as_deref().filter(|a| !a.is_empty()))
                else {
                    return ClientStep::Failure(Error::param(
                        "XOAUTH2 needs a user name (SASL_CB_AUTHNAME or SASL_CB_USER)",
                    ));
                };
                xoauth2::build_client(user, creds.token.expose())
            }
        };
        self.state = State::SentFirst;
        ClientStep::Send {
            message: Zeroizing::new(message.into_bytes()),
            note: None,
        }
    }

    /// A challenge from the server after our first message.
    pub fn challenge(&mut self, input: &[u8]) -> ClientStep {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::SentFirst if input.is_empty() => ClientStep::Done,
            State::SentFirst => {
                let note = self.describe_refusal(input);
                let ack: &[u8] = match self.mech {
                    Mechanism::OAuthBearer => oauthbearer::ERROR_ACK,
                    Mechanism::XOAuth2 => b"",
                };
                self.state = State::SentErrorAck(note.clone());
                ClientStep::Send {
                    message: Zeroizing::new(ack.to_vec()),
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

    /// "server refused the token: status …, scope …" from the error JSON.
    /// Whether the server's error challenge says the token itself was refused
    /// (invalid_token; XOAUTH2's 401 or 400), so a new token may help.
    pub fn token_refused(&self) -> bool {
        matches!(
            self.server_status.as_deref(),
            Some("invalid_token" | "401" | "400")
        )
    }

    fn describe_refusal(&mut self, input: &[u8]) -> String {
        let fields = match self.mech {
            Mechanism::OAuthBearer => oauthbearer::parse_error(input).map(|c| {
                (
                    c.status.into_owned(),
                    c.scope.map(|s| s.into_owned()),
                    c.openid_configuration.map(|s| s.into_owned()),
                )
            }),
            Mechanism::XOAuth2 => xoauth2::parse_error(input)
                .map(|c| (c.status.into_owned(), c.scope.map(|s| s.into_owned()), None)),
        };
        match fields {
            Ok((status, scope, config)) => {
                self.server_status = Some(status.clone());
                let mut s = format!(
                    "{} server refused the token: status {}",
                    self.mech.name(),
                    printable(&status, 40)
                );
                if let Some(scope) = scope {
                    s.push_str(&format!(", scope {}", printable(&scope, 200)));
                }
                if let Some(config) = config {
                    s.push_str(&format!(
                        ", openid-configuration {}",
                        printable(&config, 200)
                    ));
                }
                s
            }
            Err(_) => format!(
                "{} server sent a challenge that is not error JSON: {}",
                self.mech.name(),
                printable(&String::from_utf8_lossy(input), 120)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn creds(authid: Option<&str>, authzid: Option<&str>, token: &str) -> Credentials {
        Credentials {
            authid: authid.map(Into::into),
            authzid: authzid.map(Into::into),
            token: Secret::from(token),
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
        let mut c = BearerClient::new(Mechanism::OAuthBearer);
        let t = Target {
            host: Some("imap.example.com".into()),
            port: Some(143),
        };
        let m = sent(c.first(&creds(Some("alice"), None, "tok"), &t));
        assert_eq!(
            m,
            b"n,,\x01host=imap.example.com\x01port=143\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn oauthbearer_sends_escaped_authzid() {
        let mut c = BearerClient::new(Mechanism::OAuthBearer);
        let m = sent(c.first(
            &creds(Some("alice"), Some("b,ob"), "tok"),
            &Target::default(),
        ));
        assert!(m.starts_with(b"n,a=b=2Cob,\x01"));
    }

    #[test]
    fn xoauth2_user_is_authzid_else_authid() {
        let mut c = BearerClient::new(Mechanism::XOAuth2);
        assert_eq!(
            sent(c.first(&creds(Some("alice"), None, "t"), &Target::default())),
            b"user=alice\x01auth=Bearer t\x01\x01"
        );
        let mut c = BearerClient::new(Mechanism::XOAuth2);
        assert_eq!(
            sent(c.first(
                &creds(Some("alice"), Some("shared@x"), "t"),
                &Target::default()
            )),
            b"user=shared@x\x01auth=Bearer t\x01\x01"
        );
        let mut c = BearerClient::new(Mechanism::XOAuth2);
        assert!(matches!(
            c.first(&creds(None, None, "t"), &Target::default()),
            ClientStep::Failure(_)
        ));
    }

    #[test]
    fn bad_tokens_are_refused_before_sending() {
        for t in ["", "a b", "a\x01b"] {
            let mut c = BearerClient::new(Mechanism::OAuthBearer);
            assert!(matches!(
                c.first(&creds(None, None, t), &Target::default()),
                ClientStep::Failure(_)
            ));
        }
    }

    #[test]
    fn error_challenge_is_acknowledged_and_reported() {
        let mut c = BearerClient::new(Mechanism::OAuthBearer);
        sent(c.first(&creds(None, None, "tok"), &Target::default()));
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
            let mut c = BearerClient::new(mech);
            sent(c.first(&creds(Some("a"), None, "tok"), &Target::default()));
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
    fn xoauth2_acknowledges_with_an_empty_response() {
        let mut c = BearerClient::new(Mechanism::XOAuth2);
        sent(c.first(&creds(Some("a"), None, "tok"), &Target::default()));
        assert_eq!(
            sent(c.challenge(br#"{"status":"401","schemes":"bearer"}"#)),
            b""
        );
    }

    #[test]
    fn empty_challenge_after_first_means_done() {
        let mut c = BearerClient::new(Mechanism::OAuthBearer);
        sent(c.first(&creds(None, None, "tok"), &Target::default()));
        assert_eq!(c.challenge(b""), ClientStep::Done);
    }

    #[test]
    fn garbage_challenge_is_still_acknowledged() {
        let mut c = BearerClient::new(Mechanism::OAuthBearer);
        sent(c.first(&creds(None, None, "tok"), &Target::default()));
        match c.challenge(b"\x02garbage") {
            ClientStep::Send { note, .. } => assert!(note.unwrap().contains("not error JSON")),
            s => panic!("{s:?}"),
        }
    }
}
