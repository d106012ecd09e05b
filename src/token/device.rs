//! The answer of a device authorization endpoint (RFC 8628 §3.2), read
//! without I/O so that it can be tested and fuzzed. The provider's numbers
//! are clamped here: the tool adds them to an `Instant`, where a hostile
//! `interval` or `expires_in` near 2^64 would otherwise overflow.

use crate::error::{printable, Error, ErrorKind};
use crate::secret::Secret;
use serde::Deserialize;
use std::time::Duration;

/// RFC 8628 §3.2: without `interval`, poll every 5 s.
pub const DEFAULT_INTERVAL: u64 = 5;
/// Polling faster than once a second only earns `slow_down`; waiting more
/// than a minute between polls leaves the user staring at an approved code.
pub const INTERVAL_SECS: std::ops::RangeInclusive<u64> = 1..=60;
/// Without `expires_in`, a code is assumed to live 15 minutes.
pub const DEFAULT_LIFETIME: u64 = 900;
/// Nobody waits at a terminal for more than an hour (providers say 15 to 30 min).
pub const LIFETIME_SECS: std::ops::RangeInclusive<u64> = 1..=3600;
/// RFC 8628 §3.5: `slow_down` adds 5 s to the interval.
const SLOW_DOWN_STEP: u64 = 5;

#[derive(Deserialize)]
struct Raw {
    device_code: Secret,
    user_code: String,
    // Google says verification_url.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    interval: Option<u64>,
}

/// What the user is told and what the tool polls with. The texts are the
/// provider's, unfiltered: print them through [`printable`].
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// Within [`LIFETIME_SECS`].
    pub lifetime: Duration,
    /// Within [`INTERVAL_SECS`].
    pub interval: Duration,
}

fn clamp(value: Option<u64>, default: u64, range: &std::ops::RangeInclusive<u64>) -> Duration {
    Duration::from_secs(value.unwrap_or(default).clamp(*range.start(), *range.end()))
}

/// Reads a 200 answer of the device authorization endpoint.
pub fn parse(body: &[u8]) -> Result<DeviceAuthorization, Error> {
    // serde's message may quote the provider's text: filtered like any other.
    let raw: Raw = serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "device authorization answer: {}",
                printable(&e.to_string(), 200)
            ),
        )
    })?;
    if raw.device_code.is_empty() || raw.user_code.is_empty() || raw.verification_uri.is_empty() {
        return Err(Error::new(
            ErrorKind::Unavailable,
            "device authorization answer: empty device_code, user_code or verification_uri",
        ));
    }
    Ok(DeviceAuthorization {
        device_code: raw.device_code,
        user_code: raw.user_code,
        verification_uri: raw.verification_uri,
        verification_uri_complete: raw.verification_uri_complete,
        lifetime: clamp(raw.expires_in, DEFAULT_LIFETIME, &LIFETIME_SECS),
        interval: clamp(raw.interval, DEFAULT_INTERVAL, &INTERVAL_SECS),
    })
}

/// The interval after a `slow_down` answer, still within [`INTERVAL_SECS`].
pub fn slower(interval: Duration) -> Duration {
    clamp(
        Some(interval.as_secs().saturating_add(SLOW_DOWN_STEP)),
        DEFAULT_INTERVAL,
        &INTERVAL_SECS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str =
        r#""device_code":"dc","user_code":"ABCD-EFGH","verification_uri":"https://id.test/device""#;

    fn with(extra: &str) -> Result<DeviceAuthorization, Error> {
        parse(format!("{{{BASE}{extra}}}").as_bytes())
    }

    #[test]
    fn defaults_when_the_provider_gives_no_numbers() {
        let d = with("").unwrap();
        assert_eq!(d.interval, Duration::from_secs(5));
        assert_eq!(d.lifetime, Duration::from_secs(900));
        assert_eq!(d.user_code, "ABCD-EFGH");
    }

    #[test]
    fn hostile_numbers_are_clamped() {
        let d =
            with(r#","interval":18446744073709551615,"expires_in":18446744073709551615"#).unwrap();
        assert_eq!(d.interval, Duration::from_secs(60));
        assert_eq!(d.lifetime, Duration::from_secs(3600));
        let d = with(r#","interval":0,"expires_in":0"#).unwrap();
        assert_eq!(d.interval, Duration::from_secs(1));
        assert_eq!(d.lifetime, Duration::from_secs(1));
    }

    #[test]
    fn slow_down_stays_within_bounds() {
        assert_eq!(slower(Duration::from_secs(5)), Duration::from_secs(10));
        assert_eq!(slower(Duration::from_secs(58)), Duration::from_secs(60));
        assert_eq!(slower(Duration::MAX), Duration::from_secs(60));
    }

    #[test]
    fn google_spelling_and_refusals() {
        let d = parse(
            br#"{"device_code":"dc","user_code":"U","verification_url":"https://g.test/device"}"#,
        )
        .unwrap();
        assert_eq!(d.verification_uri, "https://g.test/device");
        assert!(parse(br#"{"device_code":"","user_code":"U","verification_uri":"x"}"#).is_err());
        let e = with(r#","interval":"\u001b]52;c;AAAA\u0007""#)
            .err()
            .unwrap();
        assert!(
            !e.reason.contains('\x1b') && !e.reason.contains('\x07'),
            "{}",
            e.reason
        );
    }
}
