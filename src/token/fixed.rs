//! The application gave the access token itself: nothing to refresh.

use super::TokenSource;
use crate::error::Error;
use crate::secret::Secret;

pub struct FixedToken(pub Secret);

impl TokenSource for FixedToken {
    fn token(&mut self, _now: i64) -> Result<Secret, Error> {
        Ok(self.0.clone())
    }
}
