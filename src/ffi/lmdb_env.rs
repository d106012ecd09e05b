//! Opening an LMDB environment (oauth_cache_file), the one call of heed that
//! is unsafe: LMDB forbids two handles on one file in one process, and its
//! memory map must not be changed behind its back. The store
//! (crate::validate::store::lmdb) keeps one handle per process (closing the
//! inherited one before a child reopens) and checks the file's size before
//! each use, so that a truncated file is noticed instead of read.

use heed::{Env, EnvFlags, EnvOpenOptions, WithoutTls};
use std::path::Path;

/// Opens `path` (a file, not a directory) with a map of `map_size` bytes.
pub(crate) fn open(
    path: &Path,
    map_size: usize,
    max_readers: u32,
) -> heed::Result<Env<WithoutTls>> {
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options
        .map_size(map_size)
        .max_dbs(4)
        .max_readers(max_readers);
    // SAFETY: NO_SUB_DIR only changes how the path is read (a file and its
    // "-lock" sibling); it does not enable any of LMDB's unsafe modes.
    unsafe {
        options.flags(EnvFlags::NO_SUB_DIR);
    }
    // SAFETY: the only caller (LmdbStore) opens a path once per process: it
    // holds the handle for the process's life and drops the parent's handle
    // before a forked child opens again; heed refuses a second open of one
    // path besides. The map is not modified by this process outside LMDB.
    unsafe { options.open(path) }
}
