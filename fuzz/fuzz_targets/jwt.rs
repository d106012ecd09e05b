#![no_main]
//! JWT header and claims parsing and the whole validation, against a fixed key
//! set: nothing the fuzzer makes may be accepted (it cannot sign).
use libfuzzer_sys::fuzz_target;
use sasloauth::validate::alg;
use sasloauth::validate::jwks::JwkSet;
use sasloauth::validate::jwt::{unverified_issuer, JwtPolicy, JwtValidator};
use sasloauth::validate::keys::KeyStore;
use sasloauth::validate::policy::{ClaimRule, ClaimsPolicy};
use sasloauth::validate::TokenValidator;
use std::sync::OnceLock;

const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"ec-1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},{"kty":"OKP","crv":"Ed25519","kid":"ed-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

fn validator() -> &'static JwtValidator {
    static V: OnceLock<JwtValidator> = OnceLock::new();
    V.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("fuzz-jwks-{}.json", std::process::id()));
        std::fs::write(&path, JWKS).unwrap();
        let policy = JwtPolicy {
            claims: std::sync::Arc::new(ClaimsPolicy {
                issuers: vec!["https://issuer.test".into()],
                audiences: vec!["imap".into()],
                required_scopes: vec!["mail".into()],
                required_claims: vec![ClaimRule::parse("realm_access.roles=mail").unwrap()],
                clock_skew: 60,
                ..Default::default()
            }),
            algorithms: alg::ALL.to_vec(),
        };
        // Read once into memory, then removed: a run leaves nothing behind
        // (a key file that is gone is treated as unchanged).
        let keys = KeyStore::from_file(path.clone(), 0);
        let _ = std::fs::remove_file(&path);
        let keys = keys.unwrap();
        JwtValidator::new(policy, vec![("https://issuer.test".into(), keys)])
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = unverified_issuer(token);
        assert!(validator().validate(token, 1_800_000_000).is_err(), "an unsigned token was accepted");
    }
    let _ = JwkSet::parse(data);
    let _ = sasloauth::validate::strict_json::parse_object(data);
});
