//! `sasl-oauth cache purge`: the administrator's kill switch. Opens the
//! shared store a server configuration names and removes cached results, of
//! one login name (through the store's index of names) or all of them.

use crate::args::PurgeArgs;
use crate::Outcome;
use sasloauth::config_file;
use sasloauth::validate::store::lmdb::LmdbStore;
use sasloauth::validate::store::redis::{RedisStore, RedisTarget};
use sasloauth::validate::store::Store;
use std::path::Path;
use std::time::Duration;

/// The store `options` name, opened for an administrator.
fn open_store(
    options: &std::collections::HashMap<String, String>,
) -> Result<Box<dyn Store>, String> {
    let get = |k: &str| options.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    match (get("oauth_cache_file"), get("oauth_cache_url")) {
        (Some(_), Some(_)) => Err("set only one of oauth_cache_file and oauth_cache_url".into()),
        (Some(file), None) => LmdbStore::open_for_admin(Path::new(file))
            .map(|s| Box::new(s) as Box<dyn Store>)
            .map_err(|e| format!("oauth_cache_file: {e}")),
        (None, Some(url)) => {
            let target = RedisTarget::parse(url).map_err(|e| format!("oauth_cache_url: {e}"))?;
            let timeout = get("oauth_timeout")
                .and_then(|t| t.parse().ok())
                .unwrap_or(3000u64);
            let tls = match target.tls {
                true => Some(
                    sasloauth::http::tls_config(get("oauth_ca_file").map(Path::new))
                        .map_err(|e| e.reason.into_owned())?,
                ),
                false => None,
            };
            Ok(Box::new(RedisStore::new(
                target,
                Duration::from_millis(timeout),
                tls,
            )))
        }
        (None, None) => Err("the configuration sets neither oauth_cache_file nor oauth_cache_url: there is no shared cache to purge (per-process caches end with their processes, or after oauth_cache_ttl)".into()),
    }
}

pub fn purge(a: &PurgeArgs) -> Outcome {
    let path = a
        .imapd_conf
        .as_ref()
        .or(a.config.as_ref())
        .ok_or("--config is required (see --help)")?;
    let options = config_file::load(path).map_err(|e| e.reason.into_owned())?;
    sasloauth::ffi::lmdb_env::install();
    let store = open_store(&options)?;
    let (removed, whose) = match &a.user {
        Some(user) => (store.purge_user(user), format!("of {user}")),
        None => (store.purge_all(), "in all".to_owned()),
    };
    let n = removed.map_err(|e| format!("{}: {e}", store.describe()))?;
    println!(
        "removed {n} cached result{} {whose} from {}",
        if n == 1 { "" } else { "s" },
        store.describe()
    );
    Ok(true)
}
