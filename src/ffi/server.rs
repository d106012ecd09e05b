//! Server side of the plugin: `sasl_server_plug_init` and the mechanism callbacks.

use super::guard::{code, guard};
use super::table::{self, ServerTable, Table};
use super::utils::{self, Level, Utils};
use super::{security_flags, sys, FEATURES, PLUG_VERSION};
use crate::error::{printable, ErrorKind};
use crate::options;
use crate::server::config::{self, ServerConfig};
use crate::server::exchange::Exchange;
use crate::server::{Identities, ServerRuntime, Step};
use crate::validate::unix_now;
use std::collections::HashSet;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::sync::{Arc, Mutex, RwLock};

/// The server runtime built at the last plugin init; None when the server
/// side is not (correctly) configured, so its mechanisms are not offered.
static RUNTIME: RwLock<Option<Arc<ServerRuntime>>> = RwLock::new(None);
static TABLE: ServerTable = ServerTable::new();

/// The options the last runtime was built from (at init, or through a
/// connection's own getopt when the application gives options only per
/// connection), and what they built (None: invalid, already logged).
type Built = (Vec<Option<String>>, Option<Arc<ServerRuntime>>);
static LAST_BUILT: Mutex<Option<Built>> = Mutex::new(None);

/// Every key the configuration reads, then every near miss of one (typos,
/// later versions' options), in a fixed order.
fn option_values(u: Utils) -> Vec<Option<String>> {
    config::SERVER_KEYS
        .iter()
        .copied()
        .chain(options::probe_names())
        .map(|k| u.getopt(k))
        .collect()
}

/// Builds (or reuses) the runtime for this set of option values.
fn build(u: Utils, values: Vec<Option<String>>) -> Option<Arc<ServerRuntime>> {
    let mut last = LAST_BUILT.lock().ok()?;
    if let Some((seen, rt)) = last.as_ref() {
        if *seen == values {
            return rt.clone();
        }
    }
    let (known, probed) = values.split_at(config::SERVER_KEYS.len().min(values.len()));
    // A near miss set means a restriction we would silently drop: refuse it.
    let set: HashSet<&str> = options::probe_names()
        .zip(probed)
        .filter_map(|(name, v)| v.as_ref().map(|_| name))
        .collect();
    if let Some(line) = options::first_mistake(|name| set.contains(name)) {
        u.log(Level::Err, &format!("server mechanisms disabled: {line}"));
        *last = Some((values, None));
        return None;
    }
    let keys = config::SERVER_KEYS.iter().copied();
    let lookup: Vec<(&str, Option<String>)> = keys.zip(known.iter().cloned()).collect();
    // Nothing set at all is a server that does not use us: a note, not an error.
    let level = if known.iter().all(Option::is_none) {
        Level::Note
    } else {
        Level::Err
    };
    let rt = configure(u, level, |k| {
        lookup
            .iter()
            .find(|(key, _)| *key == k)
            .and_then(|(_, v)| v.clone())
    });
    *last = Some((values, rt.clone()));
    rt
}

/// The runtime for a connection: the one built at init, else one from the
/// connection's own options.
fn runtime(u: Utils) -> Option<Arc<ServerRuntime>> {
    if let Some(rt) = RUNTIME.read().ok().and_then(|r| r.clone()) {
        return Some(rt);
    }
    let values = option_values(u);
    if values.iter().all(Option::is_none) {
        return None;
    }
    build(u, values)
}

/// Per-connection state, owned by libsasl2 through `conn_context`.
struct ServerConn {
    exchange: Exchange,
    runtime: Arc<ServerRuntime>,
    /// The last challenge; libsasl2 reads it after the step returns.
    out: Vec<u8>,
}

fn build_table() -> Table<sys::sasl_server_plug_t> {
    let plug = |i: usize| sys::sasl_server_plug_t {
        mech_name: table::mech_name(table::MECHANISMS[i]).as_ptr(),
        max_ssf: 0,
        security_flags: security_flags(table::MECHANISMS[i]),
        features: FEATURES,
        glob_context: table::glob_context(i),
        mech_new: Some(mech_new),
        mech_step: Some(mech_step),
        mech_dispose: Some(mech_dispose),
        mech_free: Some(mech_free),
        mech_avail: Some(mech_avail),
        ..Default::default()
    };
    Table((0..table::MECHANISMS.len()).map(plug).collect())
}

/// Reads and validates the configuration, loads the key set. A bad or missing
/// key disables the server mechanisms with one log line naming it.
fn configure(
    u: Utils,
    level: Level,
    get: impl Fn(&str) -> Option<String>,
) -> Option<Arc<ServerRuntime>> {
    let built =
        ServerConfig::from_lookup(get).and_then(|config| ServerRuntime::from_config(&config));
    match built {
        Ok(rt) => {
            if rt.oauth10a.as_ref().is_some_and(|v| !v.shares_nonces()) {
                u.log(
                    Level::Warn,
                    "OAUTH10A: without oauth10a_nonce_dir, a nonce replayed to another server process is not detected",
                );
            }
            Some(Arc::new(rt))
        }
        Err(e) => {
            u.log(level, &format!("server mechanisms disabled: {}", e.reason));
            None
        }
    }
}

/// Server entry point, called by libsasl2 (sasl_server_init) when it loads the
/// plugin: reads and checks the oauth_* options and the files they name, and
/// returns the OAUTHBEARER, XOAUTH2, OAUTH10A and OAUTH server mechanisms
/// (each offered only when configured).
///
/// # Safety
/// Called by libsasl2 with a valid `utils` and writable out pointers.
#[no_mangle]
pub unsafe extern "C" fn sasl_server_plug_init(
    utils: *const sys::sasl_utils_t,
    maxversion: c_int,
    out_version: *mut c_int,
    pluglist: *mut *mut sys::sasl_server_plug_t,
    plugcount: *mut c_int,
) -> c_int {
    let u = Utils::from_ptr(utils);
    guard(
        || {
            if let Some(u) = u {
                u.log(
                    Level::Err,
                    "internal error (panic) in sasl_server_plug_init",
                )
            }
        },
        || {
            let Some(u) = u else {
                return sys::SASL_BADPARAM;
            };
            if maxversion < PLUG_VERSION {
                u.seterror("libsasl2 plugin API too old (need version 4)", true);
                return sys::SASL_BADVERS;
            }
            if out_version.is_null() || pluglist.is_null() || plugcount.is_null() {
                return sys::SASL_BADPARAM;
            }
            // Forget what an earlier init built: files may have changed since.
            if let Ok(mut last) = LAST_BUILT.lock() {
                *last = None;
            }
            let rt = build(u, option_values(u));
            if let Ok(mut slot) = RUNTIME.write() {
                *slot = rt;
            }
            let t = TABLE.get_or_init(build_table);
            // SAFETY: the three out pointers were checked non-null above.
            unsafe {
                *out_version = PLUG_VERSION;
                *pluglist = t.as_mut_ptr();
                *plugcount = t.len();
            }
            sys::SASL_OK
        },
    )
}

unsafe extern "C" fn mech_avail(
    glob_context: *mut c_void,
    sparams: *mut sys::sasl_server_params_t,
    _conn_context: *mut *mut c_void,
) -> c_int {
    // SAFETY: libsasl2 passes the params of the connection being set up.
    let u = unsafe { sparams.as_ref() }.and_then(|p| Utils::from_ptr(p.utils));
    guard(
        || (),
        || {
            let offered = match (u.and_then(runtime), table::mechanism(glob_context)) {
                (Some(rt), Some(mech)) => rt.offers(mech),
                _ => false,
            };
            if offered {
                sys::SASL_OK
            } else {
                sys::SASL_NOMECH
            }
        },
    )
}

/// A string of the connection's params (`service`, `serverFQDN`): NULL or
/// the C string given to sasl_server_new, owned by the connection.
fn conn_text(text: *const c_char) -> Option<String> {
    // SAFETY: `text` is NULL or a NUL-terminated string that libsasl2 keeps
    // alive for the connection, longer than this call.
    unsafe { text.as_ref() }.map(|p| {
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned()
    })
}

/// The service name of the connection (`imap`, `smtp`…): the OAUTH challenge's realm.
fn service(params: &sys::sasl_server_params_t) -> String {
    conn_text(params.service).unwrap_or_default()
}

/// The server's name as the application gave it to sasl_server_new (libsasl2
/// fills in the host name when it gave none): the host OAUTH10A signatures must name.
fn server_fqdn(params: &sys::sasl_server_params_t) -> Option<String> {
    conn_text(params.serverFQDN).filter(|n| !n.is_empty())
}

unsafe extern "C" fn mech_new(
    glob_context: *mut c_void,
    sparams: *mut sys::sasl_server_params_t,
    _challenge: *const c_char,
    _challen: c_uint,
    conn_context: *mut *mut c_void,
) -> c_int {
    // SAFETY: libsasl2 passes valid params for the connection being created.
    let params = unsafe { sparams.as_ref() };
    let u = params.and_then(|p| Utils::from_ptr(p.utils));
    guard(
        || report_panic(u),
        || {
            let (Some(u), Some(mech), false) =
                (u, table::mechanism(glob_context), conn_context.is_null())
            else {
                return sys::SASL_BADPARAM;
            };
            let Some(runtime) = runtime(u) else {
                u.seterror(
                    "server side not configured (see the log at plugin init)",
                    true,
                );
                return sys::SASL_UNAVAIL;
            };
            // Only the OAUTH mechanism names the service (as its realm).
            let realm = match mech {
                crate::server::Mechanism::OAuth => params.map(service).unwrap_or_default(),
                _ => String::new(),
            };
            let conn = Box::new(ServerConn {
                exchange: Exchange::new(mech, &realm)
                    .with_server_name(params.and_then(server_fqdn)),
                runtime,
                out: Vec::new(),
            });
            // SAFETY: conn_context was checked non-null; libsasl2 hands it back
            // to mech_step and mech_dispose, which alone turn it back into a Box.
            unsafe { *conn_context = Box::into_raw(conn).cast() };
            sys::SASL_OK
        },
    )
}

fn report_panic(u: Option<Utils>) {
    if let Some(u) = u {
        u.seterror("internal error (panic) in sasl-oauth; login refused", true);
    }
}

unsafe extern "C" fn mech_step(
    conn_context: *mut c_void,
    sparams: *mut sys::sasl_server_params_t,
    clientin: *const c_char,
    clientinlen: c_uint,
    serverout: *mut *const c_char,
    serveroutlen: *mut c_uint,
    oparams: *mut sys::sasl_out_params_t,
) -> c_int {
    utils::clear_output(serverout, serveroutlen);
    // SAFETY: libsasl2 passes the params of this connection, valid for the call.
    let params = unsafe { sparams.as_ref() };
    let u = params.and_then(|p| Utils::from_ptr(p.utils));
    guard(
        || report_panic(u),
        || {
            // SAFETY: conn_context is the Box we made in mech_new (or NULL);
            // libsasl2 serialises calls on one connection.
            let conn = unsafe { conn_context.cast::<ServerConn>().as_mut() };
            let (Some(params), Some(u), Some(conn)) = (params, u, conn) else {
                return sys::SASL_BADPARAM;
            };
            // SAFETY: libsasl2 guarantees clientinlen readable bytes at clientin.
            let Some(input) = (unsafe { utils::bytes(clientin, clientinlen) }) else {
                return sys::SASL_BADPARAM;
            };
            let had_refusal = conn.exchange.pending_refusal().is_some();
            let step = conn.exchange.step(input, &conn.runtime, unix_now());
            // Warnings of a validation that may still have succeeded (stale keys).
            for line in crate::validate::notice::take() {
                u.log(Level::Warn, &line);
            }
            match step {
                Step::Continue(challenge) => {
                    if let Some(refusal) = conn.exchange.pending_refusal() {
                        // FAIL level: what servers such as Postfix log by default.
                        u.log(
                            Level::Fail,
                            &format!("login refused: {}", refusal.log_text()),
                        );
                    }
                    conn.out = challenge;
                    utils::set_output(serverout, serveroutlen, &conn.out);
                    sys::SASL_CONTINUE
                }
                Step::Success(ids) => finish(params, u, &ids, oparams),
                Step::Failure(e) => {
                    // The client may see errdetail; the log line may say more.
                    // A refusal was already logged with its challenge.
                    u.seterror(&e.reason, false);
                    if !had_refusal {
                        u.log(Level::Fail, &e.log_text());
                    }
                    if e.kind == ErrorKind::Unavailable {
                        u.log(
                            Level::Warn,
                            "temporary failure: the login was refused, the client may retry",
                        );
                    }
                    code(e.kind)
                }
            }
        },
    )
}

/// Canonicalises both identities and fills oparams. The authid was proven by
/// the token, so libsasl2 must not look for a password for it.
fn finish(
    params: &sys::sasl_server_params_t,
    u: Utils,
    ids: &Identities,
    oparams: *mut sys::sasl_out_params_t,
) -> c_int {
    // EXTERNALLY_VERIFIED: a user database (auxprop) that lacks the name, or
    // no user database at all, is not a failure. The authid was proven by the
    // token; the authzid is judged by the proxy policy libsasl2 applies next.
    let cu = |flags: u32| (flags | sys::SASL_CU_EXTERNALLY_VERIFIED as u32) as c_int;
    let conn = u.conn();
    let canon =
        |name: &str, flags| utils::canon_user(params.canon_user, conn, name, flags, oparams);
    let rc = match ids.authzid.as_deref().filter(|a| *a != ids.authid) {
        None => canon(
            &ids.authid,
            cu((sys::SASL_CU_AUTHID | sys::SASL_CU_AUTHZID) as u32),
        ),
        Some(authzid) => match canon(authzid, cu(sys::SASL_CU_AUTHZID as u32)) {
            sys::SASL_OK => canon(&ids.authid, cu(sys::SASL_CU_AUTHID as u32)),
            rc => rc,
        },
    };
    if rc != sys::SASL_OK {
        let who = printable(&ids.authid, 100);
        let why = match ids.authzid.as_deref().filter(|a| *a != ids.authid) {
            Some(authzid) if rc == sys::SASL_NOAUTHZ => format!(
                "'{who}' may not act as '{}' (the application's authorization policy refused it)",
                printable(authzid, 100)
            ),
            Some(authzid) => format!(
                "the identities '{who}' (token) and '{}' (requested) were not accepted by the application (SASL code {rc})",
                printable(authzid, 100)
            ),
            None => format!("the identity '{who}' was not accepted by the application (SASL code {rc})"),
        };
        u.seterror(&why, true);
        return rc;
    }
    utils::set_done(oparams);
    sys::SASL_OK
}

unsafe extern "C" fn mech_dispose(conn_context: *mut c_void, _utils: *const sys::sasl_utils_t) {
    guard(
        || (),
        || {
            if !conn_context.is_null() {
                // SAFETY: a non-null conn_context is the Box made in mech_new;
                // libsasl2 disposes each context exactly once.
                drop(unsafe { Box::from_raw(conn_context.cast::<ServerConn>()) });
            }
            sys::SASL_OK
        },
    );
}

unsafe extern "C" fn mech_free(_glob_context: *mut c_void, _utils: *const sys::sasl_utils_t) {
    // The runtime is replaced at the next init; the tables are static.
}
