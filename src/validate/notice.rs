//! Warnings a validator raises while a login still succeeds (keys used past
//! their refresh time because the provider cannot be reached). They are kept
//! for the thread that validated, and the FFI shim logs them after the step:
//! validators hold no logger.

use std::cell::RefCell;

/// At most this many wait for the shim; later ones are dropped (each kind is
/// rate-limited where it is raised).
const MAX_PENDING: usize = 8;

thread_local! {
    static PENDING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Queues a warning for the server's log.
pub fn warn(line: String) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < MAX_PENDING {
            p.push(line);
        }
    });
}

/// The warnings queued on this thread since the last call.
pub fn take() -> Vec<String> {
    PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_taken_once_and_bounded() {
        take();
        for i in 0..20 {
            warn(format!("w{i}"));
        }
        let got = take();
        assert_eq!(got.len(), MAX_PENDING);
        assert_eq!(got[0], "w0");
        assert!(take().is_empty());
    }
}
