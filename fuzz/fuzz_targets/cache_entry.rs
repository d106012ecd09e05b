#![no_main]
//! A shared-cache entry as a store returns it (anyone who can write to Redis
//! controls these bytes), and a RESP reply as a server sends it.
use libfuzzer_sys::fuzz_target;
use sasloauth::validate::store::{entry, resp};

fuzz_target!(|data: &[u8]| {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7u8; 32]);
    let _ = entry::decode(&key, &[1; 32], &[2; 16], data, 1_000_000);
    let _ = entry::valid_until_unverified(data);
    let _ = entry::authid_unverified(data);
    let _ = resp::parse(data);
});
