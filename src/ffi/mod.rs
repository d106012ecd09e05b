//! The C boundary: libsasl2's plugin entry points and mechanism callbacks.
//! This module is the only unsafe code and the only place that knows C types;
//! it converts, guards against panics, and hands the work to safe Rust.

mod client;
mod guard;
mod server;
pub mod sys;
mod table;
mod utils;

pub use client::sasl_client_plug_init;
pub use server::sasl_server_plug_init;

/// The plugin API version libsasl2 2.1.x expects, exactly (SPEC §7).
const PLUG_VERSION: i32 = 4;

/// How each mechanism describes itself to libsasl2's policy. A bearer token
/// is replayable, so the bearer mechanisms do not claim NOPLAINTEXT (SPEC §7);
/// OAUTH10A sends no secret and its nonce stops replays, so it does.
fn security_flags(mech: crate::server::Mechanism) -> u32 {
    let flags = match mech {
        crate::server::Mechanism::OAuth10a => sys::SASL_SEC_NOANONYMOUS | sys::SASL_SEC_NOPLAINTEXT,
        _ => sys::SASL_SEC_NOANONYMOUS | sys::SASL_SEC_PASS_CREDENTIALS,
    };
    flags as u32
}
const FEATURES: u32 = (sys::SASL_FEAT_WANT_CLIENT_FIRST | sys::SASL_FEAT_ALLOWS_PROXY) as u32;
