//! Environment variables that change the plugin's behaviour, read only when
//! the process is not set-id (uid == euid and gid == egid), as glibc's
//! `secure_getenv` and libsasl2's `SASL_PATH` do: in a setuid program the
//! environment belongs to the unprivileged caller.
//!
//! An ignored variable is noted once; the ffi layer logs the notes at plugin
//! init (there is no SASL log to write to here).

use std::collections::HashSet;
use std::ffi::OsString;
use std::sync::Mutex;

/// Notes not yet logged, and every variable already noted (noted once).
struct Notes {
    pending: Vec<String>,
    seen: HashSet<String>,
}

static NOTES: Mutex<Option<Notes>> = Mutex::new(None);

/// Whether the process runs with credentials other than its caller's.
pub fn is_set_id() -> bool {
    use rustix::process::{getegid, geteuid, getgid, getuid};
    getuid() != geteuid() || getgid() != getegid()
}

/// `name` from the environment, or None in a set-id process (noted once).
pub fn var_os(name: &str) -> Option<OsString> {
    lookup(name, is_set_id())
}

/// As `var_os`, with the set-id verdict given (for tests).
pub fn lookup(name: &str, set_id: bool) -> Option<OsString> {
    let value = std::env::var_os(name)?;
    if set_id {
        note(
            name,
            &format!("{name} ignored: the process is setuid or setgid"),
        );
        return None;
    }
    Some(value)
}

/// Records `msg` under `key` unless `key` was noted before.
pub fn note(key: &str, msg: &str) {
    let mut slot = NOTES.lock().unwrap_or_else(|p| p.into_inner());
    let notes = slot.get_or_insert_with(|| Notes {
        pending: Vec::new(),
        seen: HashSet::new(),
    });
    if notes.seen.insert(key.to_owned()) {
        notes.pending.push(msg.to_owned());
    }
}

/// The notes made since the last call, for the log.
pub fn take_notes() -> Vec<String> {
    let mut slot = NOTES.lock().unwrap_or_else(|p| p.into_inner());
    slot.as_mut()
        .map(|n| std::mem::take(&mut n.pending))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_id_process_reads_no_variable_and_says_so_once() {
        // PATH is set in any test environment.
        assert!(lookup("PATH", false).is_some());
        assert!(lookup("PATH", true).is_none());
        assert!(lookup("PATH", true).is_none());
        let notes = take_notes();
        let about_path: Vec<_> = notes.iter().filter(|n| n.starts_with("PATH ")).collect();
        assert_eq!(about_path.len(), 1, "{notes:?}");
        assert!(about_path[0].contains("setuid"));
    }

    #[test]
    fn tests_do_not_run_set_id() {
        assert!(!is_set_id());
    }
}
