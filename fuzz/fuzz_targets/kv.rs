#![no_main]
//! The \x01 key/value list parser.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sasloauth::protocol::kv::parse(text);
    }
});
