//! Safe wrappers over libsasl2's `sasl_utils_t`: options, error detail, log,
//! callbacks, connection properties.

use super::sys;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uint, c_ulong, c_void};
use std::ptr;

/// Name under which libsasl2 hands our options to the application's getopt.
const PLUGIN_NAME: &CStr = c"sasloauth";

/// A borrowed `sasl_utils_t` that is known to be non-null.
#[derive(Clone, Copy)]
pub struct Utils<'a>(&'a sys::sasl_utils_t);

/// Log levels we use (libsasl2's numbering).
#[derive(Clone, Copy)]
pub enum Level {
    Err = sys::SASL_LOG_ERR as isize,
    /// An authentication failure (logged by servers at their default level).
    Fail = sys::SASL_LOG_FAIL as isize,
    Warn = sys::SASL_LOG_WARN as isize,
    Note = sys::SASL_LOG_NOTE as isize,
    Debug = sys::SASL_LOG_DEBUG as isize,
}

/// Turns our message into a C string: NULs (impossible in our own text, but
/// cheap to rule out) are replaced so the line is never cut or dropped.
fn c_line(msg: &str) -> CString {
    let line = format!("sasl-oauth: {msg}");
    CString::new(line.replace('\0', "?")).unwrap_or_default()
}

impl<'a> Utils<'a> {
    /// Built only by `ptr::utils`, from libsasl2's utils for the current call.
    pub(super) fn new(utils: &'a sys::sasl_utils_t) -> Utils<'a> {
        Utils(utils)
    }

    pub fn conn(&self) -> *mut sys::sasl_conn_t {
        self.0.conn
    }

    /// One option, shown to `f` without a copy: libsasl2 keeps the value
    /// only until the next getopt, so it never leaves `f`.
    pub fn getopt_with<R>(&self, key: &CStr, f: impl FnOnce(Option<&[u8]>) -> R) -> R {
        let Some(getopt) = self.0.getopt else {
            return f(None);
        };
        let mut value: *const c_char = ptr::null();
        let mut len: c_uint = 0;
        // SAFETY: getopt is libsasl2's function with its own context; the out
        // pointers are valid locals.
        let rc = unsafe {
            getopt(
                self.0.getopt_context,
                PLUGIN_NAME.as_ptr(),
                key.as_ptr(),
                &mut value,
                &mut len,
            )
        };
        if rc != sys::SASL_OK {
            return f(None);
        }
        // SAFETY: getopt returns NULL or a NUL-terminated string owned by
        // libsasl2 or the application, valid at least until the next getopt
        // call; `f` sees it before any other call.
        f(unsafe { super::ptr::c_bytes(value) })
    }

    /// Sets the connection's error detail (what `sasl_errdetail` shows); logged
    /// by libsasl2 too unless `log` is false.
    pub fn seterror(&self, msg: &str, log: bool) {
        let Some(seterror) = self.0.seterror else {
            return;
        };
        let line = c_line(msg);
        let flags = if log { 0 } else { sys::SASL_NOLOG as c_uint };
        // SAFETY: "%s" with one C string argument: libsasl2's formatter never
        // interprets our text as a format.
        unsafe { seterror(self.0.conn, flags, c"%s".as_ptr(), line.as_ptr()) };
    }

    pub fn log(&self, level: Level, msg: &str) {
        let Some(log) = self.0.log else { return };
        let line = c_line(msg);
        // SAFETY: as in seterror, a fixed "%s" format and one C string.
        unsafe { log(self.0.conn, level as c_int, c"%s".as_ptr(), line.as_ptr()) };
    }

    /// Looks up an application callback: Ok(Some) = present, Ok(None) = the
    /// application wants to be prompted (SASL_INTERACT), Err(code) otherwise.
    pub fn callback(
        &self,
        id: c_int,
    ) -> Result<Option<(unsafe extern "C" fn() -> c_int, *mut c_void)>, c_int> {
        let getcallback = self.0.getcallback.ok_or(sys::SASL_FAIL)?;
        let mut proc_: sys::sasl_callback_ft = None;
        let mut context: *mut c_void = ptr::null_mut();
        // SAFETY: getcallback writes a function pointer and a context into our locals.
        let rc = unsafe { getcallback(self.0.conn, id as c_ulong, &mut proc_, &mut context) };
        match (rc, proc_) {
            (sys::SASL_OK, Some(f)) => Ok(Some((f, context))),
            (sys::SASL_INTERACT, _) => Ok(None),
            (sys::SASL_OK, None) => Err(sys::SASL_FAIL),
            (rc, _) => Err(rc),
        }
    }
}

/// The type of `params->canon_user` (the same on both sides).
pub type CanonUser = Option<
    unsafe extern "C" fn(
        *mut sys::sasl_conn_t,
        *const c_char,
        c_uint,
        c_uint,
        *mut sys::sasl_out_params_t,
    ) -> c_int,
>;

/// Calls `params->canon_user` for one name.
///
/// # Safety
/// `conn` and `oparams` must be the connection and out params libsasl2 passed
/// for the current step, with `canon` from the same connection's params.
pub unsafe fn canon_user(
    canon: CanonUser,
    conn: *mut sys::sasl_conn_t,
    name: &str,
    flags: c_int,
    oparams: *mut sys::sasl_out_params_t,
) -> c_int {
    let Some(canon) = canon else {
        return sys::SASL_FAIL;
    };
    if name.as_bytes().contains(&0) {
        return sys::SASL_BADPROT;
    }
    let mut buf = [0u8; 1025];
    let heap;
    let ptr = if name.len() < buf.len() {
        buf[..name.len()].copy_from_slice(name.as_bytes());
        buf.as_ptr().cast::<c_char>()
    } else {
        heap = CString::new(name).unwrap_or_default();
        heap.as_ptr()
    };
    // SAFETY: libsasl2's canon_user copies the name (`ptr`, valid for the
    // call) into connection-owned buffers referenced from oparams, which the
    // caller guarantees are this step's.
    unsafe { canon(conn, ptr, name.len() as c_uint, flags as c_uint, oparams) }
}

/// Marks a finished exchange in the out params (no security layer).
pub fn set_done(o: &mut sys::sasl_out_params_t) {
    o.doneflag = 1;
    o.mech_ssf = 0;
    o.maxoutbuf = 0;
    o.encode_context = ptr::null_mut();
    o.encode = None;
    o.decode_context = ptr::null_mut();
    o.decode = None;
    o.param_version = 0;
}
