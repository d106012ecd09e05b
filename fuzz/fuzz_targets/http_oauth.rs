#![no_main]
//! The draft OAUTH mechanism's HTTP-style request (server side).
use libfuzzer_sys::fuzz_target;
use sasloauth::protocol::{check_message, http_oauth};

fuzz_target!(|data: &[u8]| {
    if check_message(data).is_ok() {
        let _ = http_oauth::parse_request(data);
    }
});
