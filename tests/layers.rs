//! Imports point down: a lower floor of the library never names a higher one.
//!
//! ```text
//! ffi → runtime → server, client → validate, token, protocol, … (the floor)
//! ```
//! Each source file under src/ (the tool in src/bin/ is outside the library)
//! is scanned for `crate::name` paths, `use crate::{a, b}` groups included,
//! with comments left out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The modules above the floor, highest first.
const UPPER: &[&str] = &["ffi", "runtime", "server", "client"];

/// What a module of `top` may not name.
fn forbidden(top: &str) -> &'static [&'static str] {
    match top {
        "ffi" | "lib" => &[],
        "runtime" => &["ffi"],
        "server" | "client" => &["ffi", "runtime"],
        // Everything else is the floor: validate, token, protocol, http,
        // error, options, secret…
        _ => UPPER,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/validate/jwt.rs` → validate).
fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_owned()
}

/// Text without `//` comments (doc comments name modules in prose).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string (a URL) is kept: quotes before it.
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every module named after `crate::`, including each name of a
/// `crate::{…}` group at its top level.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0, 0);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(group[start..j].trim()).to_owned());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(group[start..j].trim()).to_owned());
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest).to_owned());
        }
    }
    out.remove("");
    out
}

fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    assert!(
        files.len() > 20,
        "found only {} files in {}",
        files.len(),
        src.display()
    );
    let mut out = Vec::new();
    for file in files {
        let top = top_module(src, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        for name in crate_paths(&code(&text)) {
            if forbidden(&top).contains(&name.as_str()) {
                let rel = file.strip_prefix(src).unwrap().display();
                out.push(format!("src/{rel} ({top}) names crate::{name}"));
            }
        }
    }
    out
}

#[test]
fn lower_floors_never_import_higher_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports that point up:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_sees_paths_and_groups_but_not_comments() {
    let text = "use crate::{error::Error, server::{A, B}};\n\
                // crate::ffi in prose\n\
                let x = crate::client::config::DEFAULT_PATH;\n\
                let u = \"https://x//y\"; crate::runtime::f();";
    let found = crate_paths(&code(text));
    let want: BTreeSet<String> = ["error", "server", "client", "runtime"]
        .map(String::from)
        .into();
    assert_eq!(found, want);
    assert_eq!(forbidden("token"), UPPER);
    assert!(forbidden("server").contains(&"ffi"));
    assert!(!forbidden("server").contains(&"validate"));
}
