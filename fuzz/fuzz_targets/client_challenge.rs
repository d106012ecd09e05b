#![no_main]
//! What a server may send the client: the error challenges of every mechanism.
use libfuzzer_sys::fuzz_target;
use sasloauth::protocol::{http_oauth, oauthbearer, xoauth2};

fuzz_target!(|data: &[u8]| {
    let _ = oauthbearer::parse_error(data);
    let _ = xoauth2::parse_error(data);
    let _ = http_oauth::parse_challenge(data);
});
