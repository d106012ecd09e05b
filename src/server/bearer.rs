//! Server state machine for the bearer-token mechanisms, OAUTHBEARER (RFC 7628)
//! and XOAUTH2: one client message with a token; on refusal one error
//! challenge, then failure whatever the client sends next (SPEC §2.1, §2.2).

use super::{Identities, Mechanism, ServerRuntime, Step};
use crate::error::{printable, Error, ErrorKind, OAuthStatus};
use crate::protocol::bearer::Credential;
use crate::protocol::{self, oauthbearer, xoauth2};

enum State {
    AwaitingClient,
    /// An error challenge was sent; the refusal is final whatever comes next.
    AwaitingErrorAck(Error),
    Finished,
}

pub struct BearerExchange {
    mech: Mechanism,
    state: State,
}

/// The fields both mechanisms carry, borrowed from the message.
struct Request<'a> {
    authzid: Option<std::borrow::Cow<'a, str>>,
    host: Option<&'a str>,
    credential: Credential<'a>,
}

impl BearerExchange {
    pub fn new(mech: Mechanism) -> Self {
        BearerExchange {
            mech,
            state: State::AwaitingClient,
        }
    }

    pub fn step(&mut self, input: &[u8], rt: &ServerRuntime, now: i64) -> Step {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::AwaitingClient => self.first(input, rt, now),
            State::AwaitingErrorAck(refusal) => Step::Failure(Error::new(
                refusal.kind,
                format!("{} login refused: {}", self.mech.name(), refusal.reason),
            )),
            State::Finished => Step::Failure(Error::protocol("the exchange is already finished")),
        }
    }

    fn first(&mut self, input: &[u8], rt: &ServerRuntime, now: i64) -> Step {
        let request = match self.parse(input) {
            Ok(r) => r,
            Err(e) => return Step::Failure(e),
        };
        let token = match request.credential {
            Credential::Bearer(t) => t,
            Credential::Discovery => {
                return self.refuse(
                    rt,
                    // SPEC §2.1: the same challenge as for a refused token.
                    Error::invalid_token("discovery request: the client sent no token"),
                );
            }
        };
        if let (Some(host), false) = (request.host, rt.accepted_hosts.is_empty()) {
            if !rt
                .accepted_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
            {
                let why = format!(
                    "host '{}' is not in oauth_accepted_hosts",
                    printable(host, 64)
                );
                return self.refuse(rt, Error::invalid_request(why));
            }
        }
        match rt.validator.validate(token, now) {
            Ok(identity) => Step::Success(Identities {
                authid: identity.authid,
                authzid: request.authzid.map(|a| a.into_owned()),
            }),
            Err(e) if matches!(e.kind, ErrorKind::Rejected(_)) => self.refuse(rt, e),
            Err(e) => Step::Failure(e),
        }
    }

    fn parse<'a>(&self, input: &'a [u8]) -> Result<Request<'a>, Error> {
        let msg = protocol::check_message(input)?;
        if msg.is_empty() {
            return Err(Error::protocol("empty client message"));
        }
        Ok(match self.mech {
            Mechanism::OAuthBearer => {
                let m = oauthbearer::parse_client_first(msg)?;
                Request {
                    authzid: m.gs2.authzid,
                    host: m.host,
                    credential: m.credential,
                }
            }
            Mechanism::XOAuth2 => {
                let m = xoauth2::parse_client(msg)?;
                Request {
                    authzid: m.user.map(Into::into),
                    host: None,
                    credential: m.credential,
                }
            }
        })
    }

    /// Sends the error challenge; the refusal is returned at the next step.
    fn refuse(&mut self, rt: &ServerRuntime, refusal: Error) -> Step {
        let status = match refusal.kind {
            ErrorKind::Rejected(s) => s,
            _ => OAuthStatus::InvalidToken,
        };
        let scope = rt.challenge_scope.as_deref().map(Into::into);
        let challenge = match self.mech {
            Mechanism::OAuthBearer => oauthbearer::build_error(&oauthbearer::ErrorChallenge {
                status: status.code().into(),
                scope,
                openid_configuration: rt.openid_configuration.as_deref().map(Into::into),
            }),
            Mechanism::XOAuth2 => xoauth2::build_error(&xoauth2::ErrorChallenge {
                status: status.http_code().into(),
                schemes: Some("bearer".into()),
                scope,
            }),
        };
        self.state = State::AwaitingErrorAck(refusal);
        Step::Continue(challenge)
    }

    /// The refusal waiting for the client's acknowledgement, if any (for logging).
    pub fn pending_refusal(&self) -> Option<&Error> {
        match &self.state {
            State::AwaitingErrorAck(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{Identity, TokenValidator, Trace};

    /// Accepts one fixed token; refuses "short" with insufficient scope.
    struct Fixed;
    impl TokenValidator for Fixed {
        fn check(&self, token: &str, _now: i64, _t: &mut Trace) -> Result<Identity, Error> {
            match token {
                "good" => Ok(Identity {
                    authid: "alice".into(),
                    expires_at: None,
                }),
                "short" => Err(Error::insufficient_scope("missing required scope: mail")),
                "down" => Err(Error::new(
                    ErrorKind::Unavailable,
                    "identity provider unreachable",
                )),
                _ => Err(Error::invalid_token("bad signature")),
            }
        }
    }

    fn rt() -> ServerRuntime {
        ServerRuntime {
            validator: Box::new(Fixed),
            challenge_scope: Some("mail".into()),
            openid_configuration: Some("https://i/.well-known/openid-configuration".into()),
            accepted_hosts: vec![],
        }
    }

    fn run(mech: Mechanism, msgs: &[&[u8]]) -> Vec<Step> {
        let rt = rt();
        let mut ex = BearerExchange::new(mech);
        msgs.iter().map(|m| ex.step(m, &rt, 0)).collect()
    }

    fn ok(authzid: Option<&str>) -> Step {
        Step::Success(Identities {
            authid: "alice".into(),
            authzid: authzid.map(Into::into),
        })
    }

    #[test]
    fn oauthbearer_success() {
        assert_eq!(
            run(
                Mechanism::OAuthBearer,
                &[b"n,,\x01auth=Bearer good\x01\x01"]
            ),
            vec![ok(None)]
        );
        assert_eq!(
            run(
                Mechanism::OAuthBearer,
                &[b"n,a=bob,\x01auth=Bearer good\x01\x01"]
            ),
            vec![ok(Some("bob"))]
        );
    }

    #[test]
    fn xoauth2_success_with_user_as_authzid() {
        assert_eq!(
            run(
                Mechanism::XOAuth2,
                &[b"user=alice\x01auth=Bearer good\x01\x01"]
            ),
            vec![ok(Some("alice"))]
        );
    }

    #[test]
    fn oauthbearer_refusal_then_ack() {
        let steps = run(
            Mechanism::OAuthBearer,
            &[b"n,,\x01auth=Bearer bad\x01\x01", b"\x01"],
        );
        assert_eq!(
            steps[0],
            Step::Continue(br#"{"status":"invalid_token","scope":"mail","openid-configuration":"https://i/.well-known/openid-configuration"}"#.to_vec())
        );
        match &steps[1] {
            Step::Failure(e) => {
                assert_eq!(e.kind, ErrorKind::Rejected(OAuthStatus::InvalidToken));
                assert!(e.reason.contains("bad signature"));
            }
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn resending_a_good_message_after_an_error_still_fails() {
        let steps = run(
            Mechanism::OAuthBearer,
            &[
                b"n,,\x01auth=Bearer bad\x01\x01",
                b"n,,\x01auth=Bearer good\x01\x01",
            ],
        );
        assert!(matches!(steps[1], Step::Failure(_)));
    }

    #[test]
    fn xoauth2_refusal_uses_http_status() {
        let steps = run(
            Mechanism::XOAuth2,
            &[b"user=a\x01auth=Bearer short\x01\x01", b""],
        );
        assert_eq!(
            steps[0],
            Step::Continue(br#"{"status":"403","schemes":"bearer","scope":"mail"}"#.to_vec())
        );
        assert!(matches!(steps[1], Step::Failure(_)));
    }

    #[test]
    fn insufficient_scope_status() {
        let steps = run(
            Mechanism::OAuthBearer,
            &[b"n,,\x01auth=Bearer short\x01\x01"],
        );
        match &steps[0] {
            Step::Continue(c) => assert!(String::from_utf8_lossy(c).contains("insufficient_scope")),
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn discovery_gets_the_invalid_token_challenge() {
        let steps = run(Mechanism::OAuthBearer, &[b"n,,\x01auth=\x01\x01", b"\x01"]);
        assert!(
            matches!(&steps[0], Step::Continue(c) if c.starts_with(br#"{"status":"invalid_token""#))
        );
        assert!(matches!(&steps[1], Step::Failure(e) if e.reason.contains("discovery")));
    }

    #[test]
    fn unavailable_validator_fails_at_once() {
        let steps = run(
            Mechanism::OAuthBearer,
            &[b"n,,\x01auth=Bearer down\x01\x01"],
        );
        assert!(matches!(&steps[0], Step::Failure(e) if e.kind == ErrorKind::Unavailable));
    }

    #[test]
    fn protocol_errors() {
        for (msg, want) in [
            (&b""[..], "empty"),
            (b"\x01", "lone"),
            (b"n,,\x01auth=Bearer good\x01", "terminated"),
            (b"n,,\x01auth=Bearer go\0od\x01\x01", "NUL"),
            (
                b"p=tls-unique,,\x01auth=Bearer good\x01\x01",
                "channel binding",
            ),
        ] {
            match &run(Mechanism::OAuthBearer, &[msg])[0] {
                Step::Failure(e) => {
                    assert_eq!(e.kind, ErrorKind::Protocol);
                    assert!(e.reason.contains(want), "{:?}: {}", msg, e.reason);
                }
                s => panic!("{msg:?}: {s:?}"),
            }
        }
    }

    #[test]
    fn step_after_finish_fails() {
        let steps = run(
            Mechanism::OAuthBearer,
            &[b"n,,\x01auth=Bearer good\x01\x01", b"x"],
        );
        assert!(matches!(steps[1], Step::Failure(_)));
    }

    #[test]
    fn accepted_hosts() {
        let mut r = rt();
        r.accepted_hosts = vec!["imap.example.com".into()];
        let mut ex = BearerExchange::new(Mechanism::OAuthBearer);
        let s = ex.step(
            b"n,,\x01host=evil.example\x01auth=Bearer good\x01\x01",
            &r,
            0,
        );
        assert!(matches!(s, Step::Continue(_)));
        let mut ex = BearerExchange::new(Mechanism::OAuthBearer);
        let s = ex.step(
            b"n,,\x01host=IMAP.example.com\x01auth=Bearer good\x01\x01",
            &r,
            0,
        );
        assert!(matches!(s, Step::Success(_)));
    }
}
