#![no_main]
//! Token files, and token endpoint answers.
use libfuzzer_sys::fuzz_target;
use sasloauth::token::endpoint::parse_answer;
use sasloauth::token::file::TokenFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = TokenFile::parse(data) {
        let again = TokenFile::parse(&f.to_json()).expect("a written token file parses");
        assert_eq!(again.expires_at, f.expires_at);
        let _ = f.needs_refresh(1_800_000_000, 300);
    }
    for status in [200, 400, 401, 500] {
        let _ = parse_answer("https://t", status, data, 1_800_000_000);
    }
});
