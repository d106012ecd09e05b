#![no_main]
//! The whole server state machine, every mechanism, with a fuzzed sequence of
//! client messages and a validator that accepts one fixed token: success must
//! mean that token was sent, and never after a refusal.
use libfuzzer_sys::fuzz_target;
use sasloauth::error::Error;
use sasloauth::server::exchange::Exchange;
use sasloauth::server::{ChallengeInfo, Mechanism, ServerRuntime, Step};
use sasloauth::validate::{Identity, TokenValidator, Trace};
use std::sync::OnceLock;

const GOOD: &str = "good-token";

struct OneToken;
impl TokenValidator for OneToken {
    fn check(&self, token: &str, _now: i64, _t: &mut dyn Trace) -> Result<Identity, Error> {
        if token == GOOD {
            Ok(Identity { authid: "alice".into(), expires_at: None })
        } else {
            Err(Error::invalid_token("not the good token"))
        }
    }
}

fn runtime() -> &'static ServerRuntime {
    static RT: OnceLock<ServerRuntime> = OnceLock::new();
    RT.get_or_init(|| ServerRuntime {
        validator: Some(Box::new(OneToken)),
        oauth10a: None,
        challenge: ChallengeInfo { scope: Some("mail".into()), ..Default::default() },
        accepted_hosts: vec![],
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let mech = [Mechanism::OAuthBearer, Mechanism::XOAuth2, Mechanism::OAuth10a, Mechanism::OAuth][selector as usize % 4];
    let mut ex = Exchange::new(mech, "imap");
    let mut refused = false;
    // Messages are separated by the byte 0xFF (never valid UTF-8 in a message).
    for msg in rest.split(|b| *b == 0xff).take(4) {
        match ex.step(msg, runtime(), 0) {
            Step::Success(ids) => {
                assert!(!refused, "success after a refusal");
                assert_eq!(ids.authid, "alice");
                assert!(msg.windows(GOOD.len()).any(|w| w == GOOD.as_bytes()), "success without the token");
                return;
            }
            Step::Continue(_) => {
                refused |= ex.pending_refusal().is_some();
            }
            Step::Failure(_) => return,
        }
    }
});
