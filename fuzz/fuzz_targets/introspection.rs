#![no_main]
//! RFC 7662 introspection responses and discovery documents.
use libfuzzer_sys::fuzz_target;
use sasloauth::validate::introspect::{judge, IntrospectionPolicy};
use sasloauth::validate::policy::ClaimsPolicy;
use sasloauth::validate::{discovery, NoTrace};

fuzz_target!(|data: &[u8]| {
    let policy = IntrospectionPolicy {
        claims: std::sync::Arc::new(ClaimsPolicy {
            issuer: Some("https://issuer.test".into()),
            audiences: vec!["imap".into()],
            username_claim: "username".into(),
            required_scopes: vec!["mail".into()],
            clock_skew: 60,
        }),
        audience_required: true,
    };
    if let Ok(id) = judge(data, &policy, 1_800_000_000, &mut NoTrace) {
        // Fail closed: acceptance needs active true and a login name.
        assert!(!id.authid.is_empty());
        let text = String::from_utf8_lossy(data);
        assert!(text.contains("true"), "accepted without active true");
        assert!(text.contains("imap"), "accepted without naming our audience");
    }
    let _ = discovery::parse(data, "https://issuer.test");
});
