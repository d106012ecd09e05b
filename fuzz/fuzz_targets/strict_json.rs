#![no_main]
//! The flat-object scanner against serde_json: whatever the scanner accepts,
//! serde_json must accept too, with the same members.
use libfuzzer_sys::fuzz_target;
use sasloauth::validate::flat_json;
use sasloauth::validate::strict_json::Object;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(members) = flat_json::members(text, 4) {
        let slow = Object::parse_with_serde_json(text).expect("serde_json refuses what the scanner accepted");
        assert_eq!(members, slow.members());
    }
});
