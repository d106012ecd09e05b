#![no_main]
//! RFC 7662 introspection responses and discovery documents.
use libfuzzer_sys::fuzz_target;
use sasloauth::validate::introspect::{judge, IntrospectionPolicy};
use sasloauth::validate::policy::{ClaimRule, ClaimsPolicy, UsernameFormat, UsernameRule};
use sasloauth::validate::{discovery, NoTrace};

fuzz_target!(|data: &[u8]| {
    let policy = IntrospectionPolicy {
        claims: std::sync::Arc::new(ClaimsPolicy {
            issuers: vec!["https://issuer.test".into()],
            audiences: vec!["imap".into()],
            username: UsernameRule {
                claims: vec!["preferred_username".into(), "username".into()],
                format: UsernameFormat::parse("%n").unwrap(),
                lowercase: true,
            },
            required_scopes: vec!["mail".into()],
            required_claims: vec![ClaimRule::parse("groups=mail-users").unwrap()],
            clock_skew: 60,
            ..Default::default()
        }),
        audience_required: true,
    };
    if let Ok(id) = judge(data, &policy, 1_800_000_000, &mut NoTrace) {
        // Fail closed: acceptance needs active true and a login name.
        assert!(!id.authid.is_empty());
        let text = String::from_utf8_lossy(data);
        assert!(text.contains("true"), "accepted without active true");
        assert!(text.contains("imap"), "accepted without naming our audience");
        assert!(text.contains("mail-users"), "accepted without the group rule");
    }
    let _ = discovery::parse(data, "https://issuer.test");
});
