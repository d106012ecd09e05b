#![no_main]
//! The XOAUTH2 client message.
use libfuzzer_sys::fuzz_target;
use sasloauth::protocol::{check_message, xoauth2};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = check_message(data) {
        let _ = xoauth2::parse_client(msg);
    }
});
