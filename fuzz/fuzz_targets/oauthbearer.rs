#![no_main]
//! The OAUTHBEARER client message, after the same checks the server makes.
use libfuzzer_sys::fuzz_target;
use sasloauth::protocol::{check_message, oauthbearer};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = check_message(data) {
        let _ = oauthbearer::parse_client_first(msg);
    }
});
