//! Every conversion of a raw pointer from libsasl2 into a Rust reference or
//! value happens here, each in an `unsafe fn` whose contract says what the
//! caller must know about the pointer. Everything above this module works on
//! references, so it cannot dereference a pointer it has not been given.

use super::sys;
use super::utils::Utils;
use std::ffi::CStr;
use std::os::raw::{c_char, c_uint, c_void};

/// A writable out pointer libsasl2 passed (an `int *`, a `T **`…), or None for NULL.
///
/// # Safety
/// `p` must be NULL or point to a `T` writable for `'a` that nothing else
/// accesses meanwhile (libsasl2's own locals for the current call).
pub unsafe fn out_ref<'a, T>(p: *mut T) -> Option<&'a mut T> {
    // SAFETY: the caller guarantees `p` is NULL or valid and unaliased for 'a.
    unsafe { p.as_mut() }
}

/// libsasl2's utilities, or None for NULL.
///
/// # Safety
/// `p` must be NULL or point to an initialised `sasl_utils_t` that outlives `'a`
/// (libsasl2's utils for the current call).
pub unsafe fn utils<'a>(p: *const sys::sasl_utils_t) -> Option<Utils<'a>> {
    // SAFETY: the caller guarantees `p` is NULL or valid for 'a.
    unsafe { p.as_ref() }.map(Utils::new)
}

/// A connection's server params, or None for NULL.
///
/// # Safety
/// `p` must be NULL or the params libsasl2 passed for the current call, valid for `'a`.
pub unsafe fn server_params<'a>(
    p: *mut sys::sasl_server_params_t,
) -> Option<&'a sys::sasl_server_params_t> {
    // SAFETY: the caller guarantees `p` is NULL or valid for 'a; we only read.
    unsafe { p.as_ref() }
}

/// A connection's client params, or None for NULL.
///
/// # Safety
/// As [`server_params`].
pub unsafe fn client_params<'a>(
    p: *mut sys::sasl_client_params_t,
) -> Option<&'a sys::sasl_client_params_t> {
    // SAFETY: the caller guarantees `p` is NULL or valid for 'a; we only read.
    unsafe { p.as_ref() }
}

/// The utilities of a server connection's params.
///
/// # Safety
/// As [`server_params`]; `params->utils` is libsasl2's, valid as long.
pub unsafe fn server_utils<'a>(p: *mut sys::sasl_server_params_t) -> Option<Utils<'a>> {
    // SAFETY: the caller's guarantee covers the params and the utils they point at.
    unsafe { server_params(p).and_then(|params| utils(params.utils)) }
}

/// The utilities of a client connection's params.
///
/// # Safety
/// As [`server_utils`].
pub unsafe fn client_utils<'a>(p: *mut sys::sasl_client_params_t) -> Option<Utils<'a>> {
    // SAFETY: the caller's guarantee covers the params and the utils they point at.
    unsafe { client_params(p).and_then(|params| utils(params.utils)) }
}

/// `len` bytes at `data`; an empty slice for NULL with length 0, None for
/// NULL with a length.
///
/// # Safety
/// `data` must be NULL or point to `len` readable bytes that stay valid for `'a`.
pub unsafe fn bytes<'a>(data: *const c_char, len: c_uint) -> Option<&'a [u8]> {
    match (data.is_null(), len) {
        (true, 0) => Some(&[]),
        (true, _) => None,
        // SAFETY: the caller guarantees `len` readable bytes at `data`.
        (false, n) => Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), n as usize) }),
    }
}

/// A copy of a NUL-terminated C string (lossy UTF-8), or None for NULL.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string readable during the call.
pub unsafe fn text(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null, and the caller guarantees a NUL-terminated string.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The bytes of a C string, without copying, or None for NULL.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string that stays valid for `'a`.
pub unsafe fn c_bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null, and the caller guarantees a NUL-terminated string for 'a.
    Some(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// The data of a `sasl_secret_t` (a length, then that many bytes), or None for NULL.
///
/// # Safety
/// `p` must be NULL or point to a `sasl_secret_t` followed by `len` readable
/// bytes, valid for `'a`.
pub unsafe fn secret_bytes<'a>(p: *const sys::sasl_secret_t) -> Option<&'a [u8]> {
    // SAFETY: the caller guarantees `p` is NULL or a valid secret for 'a.
    let s = unsafe { p.as_ref() }?;
    let data = std::ptr::addr_of!(s.data).cast::<u8>();
    // SAFETY: a sasl_secret_t is a length-prefixed buffer of `len` bytes.
    Some(unsafe { std::slice::from_raw_parts(data, s.len as usize) })
}

/// libsasl2's out parameters for a step's output (`serverout`/`clientout`
/// and their length), either of which may be NULL.
pub struct Output<'a> {
    data: Option<&'a mut *const c_char>,
    len: Option<&'a mut c_uint>,
}

impl Output<'_> {
    /// Points libsasl2 at `data`, which must stay where it is until the next
    /// step (it lives in the connection context).
    pub fn set(&mut self, data: &[u8]) {
        if let (Some(out), Some(len)) = (self.data.as_deref_mut(), self.len.as_deref_mut()) {
            *out = data.as_ptr().cast();
            *len = data.len() as c_uint;
        }
    }

    /// No output: what every step reports until it has some.
    pub fn clear(&mut self) {
        if let Some(out) = self.data.as_deref_mut() {
            *out = std::ptr::null();
        }
        if let Some(len) = self.len.as_deref_mut() {
            *len = 0;
        }
    }
}

/// A connection's params, server or client: both point at libsasl2's utils.
pub trait Params {
    fn utils_ptr(&self) -> *const sys::sasl_utils_t;
}

impl Params for sys::sasl_server_params_t {
    fn utils_ptr(&self) -> *const sys::sasl_utils_t {
        self.utils
    }
}

impl Params for sys::sasl_client_params_t {
    fn utils_ptr(&self) -> *const sys::sasl_utils_t {
        self.utils
    }
}

/// The utilities of a connection's params (server or client).
///
/// # Safety
/// As [`server_utils`].
pub unsafe fn params_utils<'a, P: Params>(p: *mut P) -> Option<Utils<'a>> {
    // SAFETY: the caller's guarantee covers the params and the utils they point at.
    unsafe { p.as_ref().and_then(|params| utils(params.utils_ptr())) }
}

/// The arguments of both sides' mech_step, converted in one order: the
/// output slots (cleared first), the params and their utils, the
/// connection's state, the peer's bytes.
pub struct StepArgs<'a, P, C> {
    pub params: &'a P,
    pub utils: Utils<'a>,
    pub conn: &'a mut C,
    pub input: &'a [u8],
    pub out: Output<'a>,
}

/// The pointers libsasl2 passes to both sides' mech_step, as it passes them.
pub struct RawStep<P> {
    pub conn_context: *mut c_void,
    pub params: *mut P,
    pub input: *const c_char,
    pub len: c_uint,
    pub out: *mut *const c_char,
    pub out_len: *mut c_uint,
}

/// A step's arguments, or None when a pointer that must be set is NULL
/// (then the output slots are cleared and the step answers SASL_BADPARAM).
///
/// # Safety
/// What each part's function requires: `params` as [`server_params`],
/// `conn_context` as [`conn_mut`] with `C`, `input`/`len` as [`bytes`],
/// `out`/`out_len` as [`output`], all for `'a`.
pub unsafe fn step_args<'a, P: Params, C>(raw: &RawStep<P>) -> Option<StepArgs<'a, P, C>> {
    // SAFETY: the caller's guarantee, part by part.
    unsafe {
        let out = output(raw.out, raw.out_len);
        let params = raw.params.as_ref()?;
        Some(StepArgs {
            utils: utils(params.utils_ptr())?,
            params,
            conn: conn_mut::<C>(raw.conn_context)?,
            input: bytes(raw.input, raw.len)?,
            out,
        })
    }
}

/// The output slots of a step, cleared.
///
/// # Safety
/// Each pointer must be NULL or writable for `'a` (libsasl2's locals).
pub unsafe fn output<'a>(data: *mut *const c_char, len: *mut c_uint) -> Output<'a> {
    // SAFETY: the caller guarantees both pointers are NULL or writable for 'a.
    let mut out = unsafe {
        Output {
            data: out_ref(data),
            len: out_ref(len),
        }
    };
    out.clear();
    out
}

/// Hands a connection's state to libsasl2 through `conn_context`.
/// Returns false (and drops the state) when `slot` is NULL.
///
/// # Safety
/// `slot` must be NULL or writable; the value written must only be turned back
/// by [`conn_mut`] and [`conn_free`] with the same `T`.
pub unsafe fn conn_store<T>(slot: *mut *mut c_void, state: Box<T>) -> bool {
    // SAFETY: the caller guarantees `slot` is NULL or writable.
    match unsafe { out_ref(slot) } {
        Some(slot) => {
            *slot = Box::into_raw(state).cast();
            true
        }
        None => false,
    }
}

/// The connection state [`conn_store`] handed to libsasl2, or None for NULL.
///
/// # Safety
/// `ctx` must be NULL or a value from `conn_store::<T>` not yet freed, and
/// libsasl2 must not run another call on the same connection meanwhile.
pub unsafe fn conn_mut<'a, T>(ctx: *mut c_void) -> Option<&'a mut T> {
    // SAFETY: the caller guarantees a live Box<T> we made, used by this call alone.
    unsafe { ctx.cast::<T>().as_mut() }
}

/// Drops the connection state [`conn_store`] handed to libsasl2 (NULL: nothing).
///
/// # Safety
/// `ctx` must be NULL or a value from `conn_store::<T>`, freed exactly once.
pub unsafe fn conn_free<T>(ctx: *mut c_void) {
    if !ctx.is_null() {
        // SAFETY: the caller guarantees a Box<T> we made, freed only here, once.
        drop(unsafe { Box::from_raw(ctx.cast::<T>()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_of_null_are_empty_only_without_a_length() {
        // SAFETY: NULL pointers and a local buffer of the given length.
        unsafe {
            assert_eq!(bytes(std::ptr::null(), 0), Some(&[][..]));
            assert_eq!(bytes(std::ptr::null(), 3), None);
            assert_eq!(bytes(c"abc".as_ptr(), 2), Some(&b"ab"[..]));
            assert_eq!(text(std::ptr::null()), None);
            assert_eq!(text(c"imap".as_ptr()).as_deref(), Some("imap"));
        }
    }

    #[test]
    fn output_is_cleared_then_set_and_null_slots_are_skipped() {
        let mut data: *const c_char = c"x".as_ptr();
        let mut len: c_uint = 7;
        // SAFETY: pointers to locals that outlive `out`.
        let mut out = unsafe { output(&mut data, &mut len) };
        out.set(b"hello");
        assert_eq!(len, 5);
        // SAFETY: a NULL length slot and a local.
        let mut out = unsafe { output(&mut data, std::ptr::null_mut()) };
        out.set(b"ignored");
        assert!(data.is_null());
    }

    #[test]
    fn conn_state_round_trips_and_null_slots_refuse_it() {
        let mut slot: *mut c_void = std::ptr::null_mut();
        // SAFETY: a local slot; the value is read back and freed once with the same type.
        unsafe {
            assert!(conn_store(&mut slot, Box::new(41u32)));
            *conn_mut::<u32>(slot).unwrap() += 1;
            assert_eq!(conn_mut::<u32>(slot).copied(), Some(42));
            conn_free::<u32>(slot);
            assert!(!conn_store(std::ptr::null_mut(), Box::new(1u32)));
            conn_free::<u32>(std::ptr::null_mut());
        }
    }
}
