#![no_main]
//! The answers `sasl-oauth token init` reads from a provider: a device
//! authorization answer, and a token endpoint's answer.
use libfuzzer_sys::fuzz_target;
use sasloauth::token::device::{self, INTERVAL_SECS, LIFETIME_SECS};
use sasloauth::token::endpoint::{parse_answer, Answer};
use std::time::Instant;

const NOW: i64 = 1_800_000_000;

fn no_controls(text: &str) {
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = device::parse(data) {
        assert!(!d.device_code.is_empty() && !d.user_code.is_empty());
        assert!(INTERVAL_SECS.contains(&d.interval.as_secs()));
        assert!(LIFETIME_SECS.contains(&d.lifetime.as_secs()));
        let slower = device::slower(d.interval);
        assert!(INTERVAL_SECS.contains(&slower.as_secs()) && slower >= d.interval);
        // What the tool does with them: deadlines that cannot overflow.
        let _ = Instant::now() + d.lifetime + slower;
    }
    for status in [200, 400] {
        match parse_answer("https://id.test/token", status, data, NOW) {
            Ok(Answer::Granted(g)) => {
                assert_eq!(status, 200);
                assert!(!g.access_token.is_empty());
                assert!(g.expires_at > NOW && g.expires_at <= NOW + 10 * 365 * 86_400);
            }
            // A refusal's words reach the terminal: filtered.
            Ok(refused) => match refused.into_result("https://id.test/token") {
                Ok(_) => panic!("a refusal became tokens"),
                Err(e) => no_controls(&e.reason),
            },
            Err(e) => no_controls(&e.reason),
        }
    }
});
