//! Every exported function is one call of `boundary`: a panic becomes the
//! return type's fallback (SASL_FAIL, or nothing for a void function)
//! instead of unwinding into C (which would abort the server), and is
//! reported the same way by every export.

use super::sys;
use super::utils::{Level, Utils};
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

/// What an export returns when its body panicked.
pub trait Fallback {
    fn fallback() -> Self;
}

impl Fallback for c_int {
    fn fallback() -> Self {
        sys::SASL_FAIL
    }
}

impl Fallback for () {
    fn fallback() -> Self {}
}

/// The body of every `extern "C"` function: runs `body`; a panic is reported
/// through the utilities `utils` finds (when it finds any: it runs only after
/// a panic, so the export does no work before the guard) and yields
/// `R::fallback()`.
pub fn boundary<'a, R: Fallback>(
    export: &'static str,
    utils: impl FnOnce() -> Option<Utils<'a>>,
    body: impl FnOnce() -> R,
) -> R {
    quiet_panics_inside();
    let outer = INSIDE.with(|i| i.replace(true));
    let result = catch_unwind(AssertUnwindSafe(body));
    INSIDE.with(|i| i.set(outer));
    result.unwrap_or_else(|_| {
        // The reporter itself must not unwind either.
        let _ = catch_unwind(AssertUnwindSafe(|| report_panic(export, utils())));
        R::fallback()
    })
}

/// One line, in the error detail and the log, naming the export.
fn report_panic(export: &str, utils: Option<Utils>) {
    if let Some(u) = utils {
        let line = format!("internal error (panic) in sasl-oauth {export}; login refused");
        u.seterror(&line, false);
        u.log(Level::Err, &line);
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
    fn a_panic_becomes_the_fallback_and_asks_for_the_reporter() {
        let mut asked = false;
        let rc: c_int = boundary(
            "test",
            || {
                asked = true;
                None
            },
            || panic!("boom"),
        );
        assert_eq!(rc, sys::SASL_FAIL);
        assert!(asked);
        let mut asked = false;
        boundary::<()>(
            "void",
            || {
                asked = true;
                None
            },
            || panic!("boom"),
        );
        assert!(asked, "a void export is guarded and reports too");
    }

    #[test]
    fn a_normal_return_passes_through_without_asking_for_utils() {
        let rc = boundary(
            "test",
            || -> Option<Utils> { panic!("asked") },
            || sys::SASL_CONTINUE,
        );
        assert_eq!(rc, sys::SASL_CONTINUE);
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
