//! The server state machine of all four mechanisms (docs/protocol.md §2, §3): one client
//! message with a credential; on refusal one error challenge, then failure
//! whatever the client sends next. The draft OAUTH mechanism adds a discovery
//! round: after its challenge the client may send one more request.

use super::{Identities, Mechanism, ServerRuntime, Step};
use crate::error::{printable, Error, ErrorKind, OAuthStatus};
use crate::protocol::bearer::Credential;
use crate::protocol::oauth10a::SignedRequest;
use crate::protocol::{self, http_oauth, oauth10a, oauthbearer, xoauth2};
use crate::validate::NoTrace;
use std::borrow::Cow;

enum State {
    AwaitingClient {
        after_discovery: bool,
    },
    /// An error challenge was sent; the refusal is final whatever comes next.
    AwaitingErrorAck(Error),
    Finished,
}

pub struct Exchange {
    mech: Mechanism,
    /// The service name, as the OAUTH challenge's realm.
    realm: String,
    /// The server's own name (libsasl2's serverFQDN): the host an OAUTH10A
    /// signature must name, besides oauth_accepted_hosts.
    server_name: Option<String>,
    state: State,
}

/// What a client proves.
enum Proof<'a> {
    Bearer(&'a str),
    Signed(SignedRequest),
    Discovery,
}

/// The fields every mechanism carries, borrowed from the message.
struct Request<'a> {
    authzid: Option<Cow<'a, str>>,
    host: Option<Cow<'a, str>>,
    proof: Proof<'a>,
}

fn bearer(c: Credential<'_>) -> Proof<'_> {
    match c {
        Credential::Bearer(t) => Proof::Bearer(t),
        Credential::Discovery => Proof::Discovery,
    }
}

impl Exchange {
    pub fn new(mech: Mechanism, realm: &str) -> Self {
        Exchange {
            mech,
            realm: realm.to_owned(),
            server_name: None,
            state: State::AwaitingClient {
                after_discovery: false,
            },
        }
    }

    /// Sets the server's own name (libsasl2's serverFQDN).
    pub fn with_server_name(mut self, name: Option<String>) -> Self {
        self.server_name = name;
        self
    }

    pub fn step(&mut self, input: &[u8], rt: &ServerRuntime, now: i64) -> Step {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::AwaitingClient { after_discovery } => {
                self.request(input, rt, now, after_discovery)
            }
            State::AwaitingErrorAck(refusal) => Step::Failure(Error {
                reason: format!("{} login refused: {}", self.mech.name(), refusal.reason).into(),
                ..refusal
            }),
            State::Finished => Step::Failure(Error::protocol("the exchange is already finished")),
        }
    }

    fn request(
        &mut self,
        input: &[u8],
        rt: &ServerRuntime,
        now: i64,
        after_discovery: bool,
    ) -> Step {
        if after_discovery && input.is_empty() {
            return Step::Failure(Error::invalid_request(
                "OAUTH login refused: the client ended the exchange after discovery (it has no token)",
            ));
        }
        let request = match self.parse(input) {
            Ok(r) => r,
            Err(e) => return Step::Failure(e),
        };
        if let Some(host) = &request.host {
            if let Err(e) = self.check_host(host, rt) {
                return self.refuse(rt, now, e);
            }
        }
        let verdict = match request.proof {
            Proof::Discovery if self.mech == Mechanism::OAuth && !after_discovery => {
                // The draft's discovery round: tell where to get a token, then wait for one.
                let challenge = self.challenge(rt, now, OAuthStatus::InvalidToken);
                self.state = State::AwaitingClient {
                    after_discovery: true,
                };
                return Step::Continue(challenge);
            }
            Proof::Discovery => Err(Error::invalid_token(
                "discovery request: the client sent no token",
            )),
            Proof::Bearer(token) => match &rt.validator {
                Some(v) => v.validate(token, now),
                None => Err(Error::config(
                    "no token validation is configured for this mechanism",
                )),
            },
            Proof::Signed(r) => match &rt.oauth10a {
                Some(v) => v.verify(&r, now, &mut NoTrace),
                None => Err(Error::config("oauth10a_credentials_file is not configured")),
            },
        };
        match verdict {
            Ok(identity) => Step::Success(Identities {
                authid: identity.authid,
                authzid: request.authzid.map(Cow::into_owned),
            }),
            Err(e) if matches!(e.kind, ErrorKind::Rejected(_)) => self.refuse(rt, now, e),
            Err(e) => Step::Failure(e),
        }
    }

    /// The host the client names. OAUTH10A's signature covers it, so it must
    /// be this server's name or an alias in oauth_accepted_hosts (otherwise a
    /// signature made for another server would be accepted here); the other
    /// mechanisms check it only when oauth_accepted_hosts is set.
    fn check_host(&self, host: &str, rt: &ServerRuntime) -> Result<(), Error> {
        let listed = rt
            .accepted_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host));
        if self.mech != Mechanism::OAuth10a {
            return match listed || rt.accepted_hosts.is_empty() {
                true => Ok(()),
                false => Err(Error::invalid_request(format!(
                    "host '{}' is not in oauth_accepted_hosts",
                    printable(host, 64)
                ))),
            };
        }
        let ours = self
            .server_name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(host));
        if ours || listed {
            return Ok(());
        }
        Err(Error::invalid_request(format!(
            "host '{}' is neither this server's name nor in oauth_accepted_hosts",
            printable(host, 64)
        ))
        .with_detail(format!(
            "server name {}",
            self.server_name
                .as_deref()
                .map_or("unknown".into(), |n| format!("'{}'", printable(n, 64)))
        )))
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
                    host: m.host.map(Cow::Borrowed),
                    proof: bearer(m.credential),
                }
            }
            Mechanism::XOAuth2 => {
                let m = xoauth2::parse_client(msg)?;
                Request {
                    authzid: m.user.map(Cow::Borrowed),
                    host: None,
                    proof: bearer(m.credential),
                }
            }
            Mechanism::OAuth10a => {
                let m = oauth10a::parse_client_first(msg)?;
                Request {
                    authzid: m.gs2.authzid,
                    host: Some(Cow::Owned(m.request.host.clone())),
                    proof: Proof::Signed(m.request),
                }
            }
            Mechanism::OAuth => {
                let m = http_oauth::parse_request(input)?;
                Request {
                    authzid: m.user.map(Cow::Borrowed),
                    host: m.host.map(Cow::Borrowed),
                    proof: bearer(m.credential),
                }
            }
        })
    }

    /// The mechanism's error challenge for `status`.
    fn challenge(&self, rt: &ServerRuntime, now: i64, status: OAuthStatus) -> Vec<u8> {
        let c = &rt.challenge;
        let scope = c.scope.as_deref().map(Cow::Borrowed);
        match self.mech {
            Mechanism::OAuthBearer | Mechanism::OAuth10a => {
                oauthbearer::build_error(&oauthbearer::ErrorChallenge {
                    status: status.code().into(),
                    scope,
                    openid_configuration: c.openid_configuration.as_deref().map(Cow::Borrowed),
                })
            }
            Mechanism::XOAuth2 => xoauth2::build_error(&xoauth2::ErrorChallenge {
                status: status.http_code().into(),
                schemes: Some("bearer".into()),
                scope,
            }),
            Mechanism::OAuth => {
                let (authorization_uri, token_uri) = c.uris(now);
                http_oauth::build_challenge(&http_oauth::Challenge {
                    status: if status == OAuthStatus::InsufficientScope {
                        403
                    } else {
                        401
                    },
                    realm: self.realm.clone(),
                    error: Some(status.code().to_owned()),
                    scope: c.scope.clone(),
                    authorization_uri,
                    token_uri,
                })
            }
        }
    }

    /// Sends the error challenge; the refusal is returned at the next step.
    fn refuse(&mut self, rt: &ServerRuntime, now: i64, refusal: Error) -> Step {
        let status = match refusal.kind {
            ErrorKind::Rejected(s) => s,
            _ => OAuthStatus::InvalidToken,
        };
        let challenge = self.challenge(rt, now, status);
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
    use crate::protocol::oauth10a_signature::{ClientSigner, SignatureMethod};
    use crate::server::ChallengeInfo;
    use crate::validate::oauth10a::OAuth10aVerifier;
    use crate::validate::{Identity, TokenValidator, Trace};

    /// Accepts one fixed token; refuses "short" with insufficient scope.
    struct Fixed;
    impl TokenValidator for Fixed {
        fn check(&self, token: &str, _now: i64, _t: &mut dyn Trace) -> Result<Identity, Error> {
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
            validator: Some(Box::new(Fixed)),
            oauth10a: Some(OAuth10aVerifier::parse(CREDS.as_bytes(), 300).unwrap()),
            challenge: ChallengeInfo {
                scope: Some("mail".into()),
                openid_configuration: Some("https://i/.well-known/openid-configuration".into()),
                authorization_uri: Some("https://i/auth".into()),
                token_uri: Some("https://i/token".into()),
                discovery: None,
            },
            accepted_hosts: vec![],
        }
    }

    const CREDS: &str = r#"{"consumers":{"ck":{"secret":"cs"}},"tokens":{"tk":{"secret":"ts","user":"alice","consumer":"ck"}}}"#;

    fn signed_message(ts: i64, nonce: &str) -> Vec<u8> {
        signed_for("imap.example.com", ts, nonce)
    }

    fn signed_for(host: &str, ts: i64, nonce: &str) -> Vec<u8> {
        let r = ClientSigner {
            consumer_key: "ck",
            consumer_secret: "cs",
            token: "tk",
            token_secret: "ts",
            method: SignatureMethod::HmacSha256,
        }
        .sign(host, 143, ts, nonce)
        .unwrap();
        oauth10a::build_client_first(None, &r).into_bytes()
    }

    fn run(mech: Mechanism, msgs: &[&[u8]]) -> Vec<Step> {
        let rt = rt();
        let mut ex = Exchange::new(mech, "imap");
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

    /// An OAUTH10A exchange on the server named imap.example.com.
    fn oauth10a() -> Exchange {
        Exchange::new(Mechanism::OAuth10a, "imap").with_server_name(Some("imap.example.com".into()))
    }

    #[test]
    fn oauth10a_success_replay_and_stale() {
        let rt = rt();
        let msg = signed_message(1000, "n1");
        assert_eq!(oauth10a().step(&msg, &rt, 1000), ok(None));
        let mut ex = oauth10a();
        assert!(
            matches!(ex.step(&msg, &rt, 1001), Step::Continue(c) if c.starts_with(br#"{"status":"invalid_token""#))
        );
        assert!(
            matches!(ex.step(b"\x01", &rt, 1001), Step::Failure(e) if e.reason.contains("replay"))
        );
        let mut ex = oauth10a();
        ex.step(&signed_message(1000, "n2"), &rt, 2000);
        assert!(
            matches!(ex.step(b"\x01", &rt, 2000), Step::Failure(e) if e.reason.contains("window"))
        );
    }

    #[test]
    fn oauth_slides_example() {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode("R0VUIC8gSFRUUC8xLjENClVzZXI6IHNjb290ZXJAYWx0YXZpc3RhLmNvbQ0KSG9zdDogaW1hcC55YWhvby5jb20NCkF1dGhvcml6YXRpb246IFRva2VuIHRva2VuPSJ2RjlkZnQ0cW1UYzJOdmIzUmxja0JoYkhSaGRtbHpkR0V1WTI5dENnPT0iDQoNCg==").unwrap();
        // The Fixed validator knows "good" only: the slides' token is refused with a 401 challenge.
        let steps = run(Mechanism::OAuth, &[&bytes, b""]);
        match &steps[0] {
            Step::Continue(c) => assert!(c.starts_with(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"imap\", error=\"invalid_token\"")),
            s => panic!("{s:?}"),
        }
        assert!(matches!(steps[1], Step::Failure(_)));
    }

    #[test]
    fn oauth_discovery_round_then_token() {
        let steps = run(
            Mechanism::OAuth,
            &[
                b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
                b"GET / HTTP/1.1\r\nUser: alice\r\nAuthorization: Bearer good\r\n\r\n",
            ],
        );
        match &steps[0] {
            Step::Continue(c) => {
                let c = http_oauth::parse_challenge(c).unwrap();
                assert_eq!(c.status, 401);
                assert_eq!(c.authorization_uri.as_deref(), Some("https://i/auth"));
                assert_eq!(c.token_uri.as_deref(), Some("https://i/token"));
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(steps[1], ok(Some("alice")));
    }

    #[test]
    fn oauth_discovery_then_empty_message_fails() {
        let steps = run(Mechanism::OAuth, &[b"GET / HTTP/1.1\r\n\r\n", b""]);
        assert!(matches!(&steps[1], Step::Failure(e) if e.reason.contains("after discovery")));
        let steps = run(
            Mechanism::OAuth,
            &[b"GET / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n"],
        );
        assert!(matches!(&steps[1], Step::Continue(_)));
    }

    #[test]
    fn oauth_bad_request_line_is_bad_protocol() {
        let steps = run(
            Mechanism::OAuth,
            &[b"GET /x HTTP/1.1\r\nAuthorization: Bearer good\r\n\r\n"],
        );
        assert!(matches!(&steps[0], Step::Failure(e) if e.kind == ErrorKind::Protocol));
    }

    #[test]
    fn oauth_insufficient_scope_is_403() {
        let steps = run(
            Mechanism::OAuth,
            &[b"GET / HTTP/1.1\r\nAuthorization: Bearer short\r\n\r\n"],
        );
        assert!(matches!(&steps[0], Step::Continue(c) if c.starts_with(b"HTTP/1.1 403")));
    }

    #[test]
    fn accepted_hosts() {
        let mut r = rt();
        r.accepted_hosts = vec!["imap.example.com".into()];
        let mut ex = Exchange::new(Mechanism::OAuthBearer, "imap");
        let s = ex.step(
            b"n,,\x01host=evil.example\x01auth=Bearer good\x01\x01",
            &r,
            0,
        );
        assert!(matches!(s, Step::Continue(_)));
        let mut ex = Exchange::new(Mechanism::OAuthBearer, "imap");
        let s = ex.step(
            b"n,,\x01host=IMAP.example.com\x01auth=Bearer good\x01\x01",
            &r,
            0,
        );
        assert!(matches!(s, Step::Success(_)));
    }

    /// A correct OAUTH10A signature made for another server is refused: the
    /// host must be the server's own name (any case) or an accepted alias.
    #[test]
    fn oauth10a_signature_must_name_this_server() {
        let mut r = rt();
        let refused = |ex: &mut Exchange, r: &ServerRuntime, msg: &[u8]| {
            let challenge = ex.step(msg, r, 1000);
            assert!(
                matches!(&challenge, Step::Continue(c) if c.starts_with(br#"{"status":"invalid_request""#)),
                "{challenge:?}"
            );
            match ex.step(b"\x01", r, 1000) {
                Step::Failure(e) => e,
                s => panic!("{s:?}"),
            }
        };
        let e = refused(
            &mut oauth10a(),
            &r,
            &signed_for("other.example", 1000, "h1"),
        );
        assert!(e.reason.contains("host 'other.example'"), "{}", e.reason);
        assert_eq!(e.detail.as_deref(), Some("server name 'imap.example.com'"));
        assert_eq!(
            oauth10a().step(&signed_for("IMAP.Example.COM", 1000, "h2"), &r, 1000),
            ok(None)
        );
        // No server name known and no aliases: nothing is accepted.
        let mut unnamed = Exchange::new(Mechanism::OAuth10a, "imap");
        let e = refused(
            &mut unnamed,
            &r,
            &signed_for("imap.example.com", 1000, "h3"),
        );
        assert_eq!(e.detail.as_deref(), Some("server name unknown"));
        // An alias in oauth_accepted_hosts is accepted besides the server's name.
        r.accepted_hosts = vec!["mail.example.net".into()];
        assert_eq!(
            oauth10a().step(&signed_for("Mail.example.NET", 1000, "h4"), &r, 1000),
            ok(None)
        );
        assert_eq!(
            oauth10a().step(&signed_for("imap.example.com", 1000, "h5"), &r, 1000),
            ok(None)
        );
        refused(
            &mut oauth10a(),
            &r,
            &signed_for("other.example", 1000, "h6"),
        );
        // The refused signatures did not use up their nonces.
        r.accepted_hosts = vec!["other.example".into()];
        assert_eq!(
            oauth10a().step(&signed_for("other.example", 1000, "h1"), &r, 1000),
            ok(None)
        );
    }

    /// The server's name does not restrict the bearer mechanisms' host:
    /// without oauth_accepted_hosts it is not checked.
    #[test]
    fn bearer_hosts_are_checked_only_with_accepted_hosts() {
        let mut ex = Exchange::new(Mechanism::OAuthBearer, "imap")
            .with_server_name(Some("imap.example.com".into()));
        let s = ex.step(
            b"n,,\x01host=other.example\x01auth=Bearer good\x01\x01",
            &rt(),
            0,
        );
        assert_eq!(s, ok(None));
    }
}
