//! The C boundary: libsasl2's plugin entry points and mechanism callbacks.
//! This module is the only unsafe code and the only place that knows C types;
//! it converts, guards against panics, and hands the work to safe Rust.
//! Raw pointers become references in `ptr` alone; every export is one call
//! of `guard::boundary`.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod client;
mod guard;
mod ptr;
mod server;
mod server_options;
pub mod sys;
mod table;
mod utils;

pub use client::sasl_client_plug_init;
pub use server::sasl_server_plug_init;

use std::os::raw::c_int;

/// The plugin API version libsasl2 2.1.x expects, exactly (docs/platform.md §1.2).
const PLUG_VERSION: i32 = 4;

/// How each mechanism describes itself to libsasl2's policy. A bearer token
/// is replayable, so the bearer mechanisms do not claim NOPLAINTEXT (docs/platform.md §1.7);
/// OAUTH10A sends no secret and its nonce stops replays, so it does.
fn security_flags(mech: crate::server::Mechanism) -> u32 {
    let flags = match mech {
        crate::server::Mechanism::OAuth10a => sys::SASL_SEC_NOANONYMOUS | sys::SASL_SEC_NOPLAINTEXT,
        _ => sys::SASL_SEC_NOANONYMOUS | sys::SASL_SEC_PASS_CREDENTIALS,
    };
    flags as u32
}
const FEATURES: u32 = (sys::SASL_FEAT_WANT_CLIENT_FIRST | sys::SASL_FEAT_ALLOWS_PROXY) as u32;

/// The plugin's version and commit, at DEBUG level, at the first init of
/// either side in this process.
fn log_version_once(u: utils::Utils) {
    static LOGGED: std::sync::Once = std::sync::Once::new();
    LOGGED.call_once(|| {
        let line = format!(
            "version {} (commit {})",
            crate::version::VERSION,
            crate::version::COMMIT
        );
        u.log(utils::Level::Debug, &line);
    });
}

/// The arguments of both sides' plug_init, checked in one order: utils,
/// then the API version, then the out pointers.
struct PlugInit<'a, T> {
    version: &'a mut c_int,
    list: &'a mut *mut T,
    count: &'a mut c_int,
}

impl<'a, T> PlugInit<'a, T> {
    /// # Safety
    /// As `ptr::utils` for `utils`, `ptr::out_ref` for the out pointers.
    unsafe fn check(
        utils: *const sys::sasl_utils_t,
        maxversion: c_int,
        version: *mut c_int,
        list: *mut *mut T,
        count: *mut c_int,
    ) -> Result<(utils::Utils<'a>, Self), c_int> {
        // SAFETY: the caller's guarantee.
        let u = unsafe { ptr::utils(utils) }.ok_or(sys::SASL_BADPARAM)?;
        if maxversion < PLUG_VERSION {
            u.log(
                utils::Level::Err,
                "libsasl2 plugin API too old (need version 4)",
            );
            return Err(sys::SASL_BADVERS);
        }
        log_version_once(u);
        // SAFETY: the caller's guarantee.
        let outs = unsafe {
            (
                ptr::out_ref(version),
                ptr::out_ref(list),
                ptr::out_ref(count),
            )
        };
        match outs {
            (Some(version), Some(list), Some(count)) => Ok((
                u,
                PlugInit {
                    version,
                    list,
                    count,
                },
            )),
            _ => Err(sys::SASL_BADPARAM),
        }
    }

    /// Hands libsasl2 the mechanism table.
    fn publish(self, t: &table::Table<T>) -> c_int {
        *self.version = PLUG_VERSION;
        *self.list = t.as_mut_ptr();
        *self.count = t.len();
        sys::SASL_OK
    }
}

/// Both sides' plug_init: inside the panic boundary, the arguments checked,
/// then `init` (which reads the configuration and chooses the table), then
/// the table handed to libsasl2.
///
/// # Safety
/// As [`PlugInit::check`]: the pointers libsasl2 passed to plug_init.
unsafe fn plug_init<T: 'static>(
    name: &'static str,
    utils: *const sys::sasl_utils_t,
    maxversion: c_int,
    out_version: *mut c_int,
    pluglist: *mut *mut T,
    plugcount: *mut c_int,
    init: impl FnOnce(utils::Utils) -> &'static table::Table<T>,
) -> c_int {
    guard::boundary(
        name,
        // SAFETY: the caller's guarantee: NULL or libsasl2's utils.
        || unsafe { ptr::utils(utils) },
        || {
            // SAFETY: the caller's guarantee: libsasl2's utils and out pointers.
            let init_args =
                unsafe { PlugInit::check(utils, maxversion, out_version, pluglist, plugcount) };
            match init_args {
                Ok((u, out)) => out.publish(init(u)),
                Err(rc) => rc,
            }
        },
    )
}

/// Both sides' mech_step: inside the panic boundary, the arguments
/// converted (a NULL that must be set: SASL_BADPARAM), then `step`.
///
/// # Safety
/// As [`ptr::step_args`]: the pointers libsasl2 passed to mech_step.
unsafe fn mech_step<P: ptr::Params, C>(
    name: &'static str,
    raw: ptr::RawStep<P>,
    step: impl FnOnce(ptr::StepArgs<'_, P, C>) -> c_int,
) -> c_int {
    guard::boundary(
        name,
        // SAFETY: the caller's guarantee: the params of this connection.
        || unsafe { ptr::params_utils(raw.params) },
        || {
            // SAFETY: the caller's guarantee; calls on one connection are
            // serialised, so the context is this call's alone.
            match unsafe { ptr::step_args(&raw) } {
                Some(args) => step(args),
                None => sys::SASL_BADPARAM,
            }
        },
    )
}

/// The arguments of both sides' mech_new, checked in one order: utils, the
/// mechanism, the context slot.
fn new_args(
    u: Option<utils::Utils>,
    glob_context: *mut std::os::raw::c_void,
    conn_context: *mut *mut std::os::raw::c_void,
) -> Option<(utils::Utils, crate::server::Mechanism)> {
    let u = u?;
    let mech = table::mechanism(glob_context)?;
    (!conn_context.is_null()).then_some((u, mech))
}
