//! Generates Rust bindings for the installed libsasl2 plugin ABI (Debian 2.1.28).
//! The plugin is bound to the headers of the library that will load it, never to
//! upstream master, whose `sasl_utils_t` differs.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// The commit being built, for `sasl-oauth --version` and the plugin's first
/// log line: $SASL_OAUTH_COMMIT when set (a build from a tarball that knows
/// it), else `git rev-parse`, else "unknown" (no git, or not a checkout).
fn commit() -> String {
    println!("cargo:rerun-if-env-changed=SASL_OAUTH_COMMIT");
    if let Some(c) = env::var_os("SASL_OAUTH_COMMIT") {
        return c.to_string_lossy().into_owned();
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".into();
    };
    // Built again when HEAD moves: HEAD itself, the branch it names, packed
    // refs. Only files that exist: cargo reruns for a missing one every time.
    let mut files = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    files.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for file in files {
        let path = git(&["rev-parse", "--path-format=absolute", "--git-path", &file]);
        if let Some(p) = path.filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    commit
}

fn main() {
    println!("cargo:rustc-env=SASL_OAUTH_COMMIT={}", commit());
    println!("cargo:rerun-if-changed=include/sasl_wrapper.h");
    // libsasl2 dlcloses every plugin at sasl_done; keep ours mapped so Rust
    // statics and thread-locals stay valid for the rest of the process.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    // Fail the link on any symbol not found in libc & co: the plugin must never
    // depend on libsasl2 itself (it gets everything through sasl_utils_t).
    // Fuzzing builds leave the sanitizer runtime's symbols to the executable
    // (`make fuzz` sets SASL_OAUTH_FUZZ).
    println!("cargo:rerun-if-env-changed=SASL_OAUTH_FUZZ");
    if env::var_os("SASL_OAUTH_FUZZ").is_none() {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,defs");
    }

    let bindings = bindgen::Builder::default()
        .header("include/sasl_wrapper.h")
        .allowlist_type("sasl_.*")
        .allowlist_var("SASL_.*")
        .default_macro_constant_type(bindgen::MacroTypeVariation::Signed)
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen failed on <sasl/sasl.h> + <sasl/saslplug.h>: is libsasl2-dev installed?");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    bindings
        .write_to_file(out.join("sasl_sys.rs"))
        .expect("write bindings");
}
