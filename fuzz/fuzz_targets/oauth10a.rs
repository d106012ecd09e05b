#![no_main]
//! The OAUTH10A client message and its signature base string.
use libfuzzer_sys::fuzz_target;
use sasloauth::protocol::{check_message, oauth10a};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = check_message(data) {
        if let Ok(m) = oauth10a::parse_client_first(msg) {
            let _ = m.request.base_string();
        }
    }
});
