//! The plugin tables handed to libsasl2. They must outlive every use libsasl2
//! makes of them, so they are built once and never freed (the library is
//! linked with -z nodelete, so not even sasl_done unmaps them).

use super::sys;
use crate::protocol::Mechanism;
use std::os::raw::c_void;
use std::sync::OnceLock;

/// The mechanisms, in the order of the tables; a table entry's glob_context
/// points at its element, so a callback knows its mechanism.
pub static MECHANISMS: [Mechanism; 4] = Mechanism::ALL;

pub fn mech_name(m: Mechanism) -> &'static std::ffi::CStr {
    m.c_name()
}

/// `glob_context` value for a mechanism: a pointer into the static array.
pub fn glob_context(i: usize) -> *mut c_void {
    (&MECHANISMS[i] as *const Mechanism).cast_mut().cast()
}

/// Reads back the mechanism from a glob_context we set.
pub fn mechanism(glob_context: *mut c_void) -> Option<Mechanism> {
    MECHANISMS
        .iter()
        .find(|m| std::ptr::eq(*m as *const Mechanism, glob_context.cast::<Mechanism>()))
        .copied()
}

/// A table of plug structs shared with C. They hold raw pointers to static
/// data only and are never written after construction.
pub struct Table<T>(pub Box<[T]>);

// SAFETY: the tables are immutable after OnceLock initialisation and point only
// at 'static data (C string literals, the MECHANISMS array, fn pointers).
unsafe impl<T> Sync for Table<T> {}
// SAFETY: as above; nothing in them is tied to a thread.
unsafe impl<T> Send for Table<T> {}

impl<T> Table<T> {
    /// libsasl2 takes `T **` but only reads through it.
    pub fn as_mut_ptr(&self) -> *mut T {
        self.0.as_ptr().cast_mut()
    }
    pub fn len(&self) -> i32 {
        self.0.len() as i32
    }
}

pub type ServerTable = OnceLock<Table<sys::sasl_server_plug_t>>;
pub type ClientTable = OnceLock<Table<sys::sasl_client_plug_t>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_context_round_trips() {
        assert_eq!(mechanism(glob_context(0)), Some(Mechanism::OAuthBearer));
        assert_eq!(mechanism(glob_context(1)), Some(Mechanism::XOAuth2));
        assert_eq!(mechanism(glob_context(3)), Some(Mechanism::OAuth));
        assert_eq!(mechanism(std::ptr::null_mut()), None);
    }
}
