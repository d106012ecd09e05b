//! What this build is: the crate's version and the commit it was built from
//! (build.rs; "unknown" outside a git checkout).

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("SASL_OAUTH_COMMIT");
/// "sasl-oauth 0.2.0 (commit 0123456789ab)", as the tool's doctor shows it;
/// the plugin logs "version 0.2.0 (commit 0123456789ab)" once at init.
pub const LINE: &str = concat!(
    "sasl-oauth ",
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SASL_OAUTH_COMMIT"),
    ")"
);
