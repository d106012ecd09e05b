//! The README's lines for Okta, Authentik and Zitadel are the ones
//! c-tests/test_providers.c logs in with through libsasl2: every
//! `sasl_oauth_*` line of the section is one of the test's `{"oauth_*", "…"}`
//! entries for that provider and the other way round (a file's path aside:
//! the test names its fixture instead).

use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_owned() + path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `key value` for each line; a `_file` key's value is left out.
fn entry(key: &str, value: &str) -> String {
    match key.ends_with("_file") {
        true => key.to_owned(),
        false => format!("{key} {value}"),
    }
}

/// The `sasl_oauth_*` lines of the README section `### NAME`.
fn readme_lines(readme: &str, name: &str) -> BTreeSet<String> {
    let start = readme
        .find(&format!("\n### {name}\n"))
        .unwrap_or_else(|| panic!("README has no section {name}"));
    let section = &readme[start + 5..];
    let section = &section[..section.find("\n### ").unwrap_or(section.len())];
    section
        .lines()
        .filter_map(|l| l.strip_prefix("sasl_"))
        .map(|l| {
            let (k, v) = l.split_once(": ").expect("key: value");
            entry(k, v.trim())
        })
        .collect()
}

/// The `{"oauth_…", "…"}` entries of the test's arrays `PREFIX_*lines[]`.
fn test_lines(c: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = c;
    while let Some(at) = rest.find(&format!("static const struct line {prefix}_")) {
        let array = &rest[at..];
        let array = &array[..array.find("};").expect("end of the array")];
        for item in array.split('{').skip(2) {
            let quoted: Vec<&str> = item.split('"').collect();
            if quoted.len() >= 4 {
                out.insert(entry(quoted[1], quoted[3]));
            }
        }
        rest = &rest[at + 1..];
    }
    out
}

#[test]
fn readme_provider_lines_are_the_tested_ones() {
    let readme = read("README.md");
    let c = read("c-tests/test_providers.c");
    for (section, prefix) in [
        ("Okta", "okta"),
        ("Authentik", "authentik"),
        ("Zitadel", "zitadel"),
    ] {
        let documented = readme_lines(&readme, section);
        assert!(documented.len() >= 4, "{section}: {documented:?}");
        assert_eq!(documented, test_lines(&c, prefix), "{section}");
    }
}
