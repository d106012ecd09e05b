//! Every exported function runs inside `guard`: a panic becomes SASL_FAIL
//! instead of unwinding into C (which would abort the server).

use super::sys;
use crate::error::ErrorKind;
use std::cell::Cell;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether this thread is inside one of our exported functions.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Rust's default panic hook writes to stderr, which in an inetd-style server
/// can be the client's socket. Inside the plugin the guard reports the panic
/// through libsasl2 instead; panics elsewhere in the process go to the hook
/// that was there before.
fn quiet_panics_inside() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !INSIDE.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Runs `body`; a panic is reported through `on_panic` and returns SASL_FAIL.
pub fn guard(on_panic: impl FnOnce(), body: impl FnOnce() -> c_int) -> c_int {
    quiet_panics_inside();
    let outer = INSIDE.with(|i| i.replace(true));
    let result = catch_unwind(AssertUnwindSafe(body));
    INSIDE.with(|i| i.set(outer));
    match result {
        Ok(code) => code,
        Err(_) => {
            // The reporter itself must not unwind either.
            let _ = catch_unwind(AssertUnwindSafe(on_panic));
            sys::SASL_FAIL
        }
    }
}

/// The one mapping from our error kinds to SASL result codes.
pub fn code(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::Protocol => sys::SASL_BADPROT,
        ErrorKind::Rejected(_) => sys::SASL_BADAUTH,
        ErrorKind::Unavailable => sys::SASL_TRYAGAIN,
        ErrorKind::Config => sys::SASL_UNAVAIL,
        ErrorKind::Param => sys::SASL_BADPARAM,
        ErrorKind::Internal => sys::SASL_FAIL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_sasl_fail_and_is_reported() {
        let mut reported = false;
        let rc = guard(|| reported = true, || panic!("boom"));
        assert_eq!(rc, sys::SASL_FAIL);
        assert!(reported);
    }

    #[test]
    fn a_normal_return_passes_through() {
        assert_eq!(guard(|| (), || sys::SASL_CONTINUE), sys::SASL_CONTINUE);
    }

    #[test]
    fn kinds_map_to_distinct_codes() {
        use crate::error::OAuthStatus;
        assert_eq!(code(ErrorKind::Protocol), sys::SASL_BADPROT);
        assert_eq!(
            code(ErrorKind::Rejected(OAuthStatus::InvalidToken)),
            sys::SASL_BADAUTH
        );
        assert_eq!(code(ErrorKind::Unavailable), sys::SASL_TRYAGAIN);
    }
}
