#![no_main]
//! The GS2 header parser on any text; escapes round-trip.
use libfuzzer_sys::fuzz_target;
use sasloauth::protocol::gs2;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((h, _rest)) = gs2::parse(text) {
            if let Some(a) = h.authzid {
                let rebuilt = gs2::build(Some(&a));
                let (again, _) = gs2::parse(&rebuilt).expect("a built header parses");
                assert_eq!(again.authzid.as_deref(), Some(a.as_ref()));
            }
        }
    }
});
