//! Unguessable values (PKCE verifier and state, private directory names).
//! A failed system RNG is an error: all-zero "random" bytes would make the
//! state and verifier known to anyone.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

/// `bytes` random bytes, base64url without padding.
pub fn url_safe(bytes: usize) -> Result<String, String> {
    url_safe_from(|b| SystemRandom::new().fill(b), bytes)
}

/// ring's generators are sealed: a test passes a failing `fill` instead.
fn url_safe_from(
    fill: impl FnOnce(&mut [u8]) -> Result<(), ring::error::Unspecified>,
    bytes: usize,
) -> Result<String, String> {
    let mut b = vec![0u8; bytes];
    fill(&mut b).map_err(|_| "the system random number generator failed".to_owned())?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_rng_is_an_error_not_zeros() {
        assert!(url_safe_from(|_| Err(ring::error::Unspecified), 32).is_err());
        let a = url_safe(32).unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, url_safe(32).unwrap());
    }
}
