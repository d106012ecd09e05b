//! Chooses how a token is checked when the server has both a JWT validator and
//! introspection: a JWT that names one of our issuers is verified locally; anything
//! else goes to the introspection endpoint.

use super::introspect::IntrospectionValidator;
use super::jwt::{unverified_issuer, JwtValidator};
use super::{Identity, TokenValidator, Trace};
use crate::error::Error;

pub struct Router {
    pub jwt: Option<JwtValidator>,
    pub introspection: Option<IntrospectionValidator>,
}

impl TokenValidator for Router {
    fn check(&self, token: &str, now: i64, trace: &mut dyn Trace) -> Result<Identity, Error> {
        // Test builds only: prove that a panic never crosses the C boundary.
        #[cfg(feature = "test-hooks")]
        if token == "sasl-oauth-test-panic" {
            panic!("test hook: validator panic");
        }
        match (&self.jwt, &self.introspection) {
            (Some(jwt), None) => jwt.check(token, now, trace),
            (None, Some(intro)) => intro.check(token, now, trace),
            (Some(jwt), Some(intro)) => {
                let ours = unverified_issuer(token).is_some_and(|iss| jwt.knows_issuer(&iss));
                if ours {
                    trace.note(|| "ok  a JWT from one of our issuers: verified locally".into());
                    jwt.check(token, now, trace)
                } else {
                    trace.note(|| "ok  not a JWT from one of our issuers: introspected".into());
                    intro.check(token, now, trace)
                }
            }
            (None, None) => Err(Error::config("no token validation is configured")),
        }
    }
}
