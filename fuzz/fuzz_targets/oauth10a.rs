#![no_main]
//! The OAUTH10A client message, its signature base string, and the server's
//! checks of it (timestamp window, nonce, signature) at extreme clocks:
//! client-supplied numbers must never overflow.
use libfuzzer_sys::fuzz_target;
use sasloauth::protocol::{check_message, oauth10a};
use sasloauth::validate::oauth10a::OAuth10aVerifier;
use sasloauth::validate::NoTrace;
use std::sync::OnceLock;

fn verifier() -> &'static OAuth10aVerifier {
    static V: OnceLock<OAuth10aVerifier> = OnceLock::new();
    V.get_or_init(|| {
        OAuth10aVerifier::parse(
            br#"{"consumers":{"k":{"secret":"cs"}},"tokens":{"t":{"secret":"ts","user":"alice","consumer":"k"}}}"#,
            300,
        )
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = check_message(data) {
        if let Ok(m) = oauth10a::parse_client_first(msg) {
            let _ = m.request.base_string();
            for now in [0, 1_700_000_000, i64::MAX, i64::MIN] {
                let _ = verifier().verify(&m.request, now, &mut NoTrace);
            }
        }
    }
});
