//! Server side of the plugin: `sasl_server_plug_init` and the mechanism callbacks.

use super::guard::{boundary, code};
use super::server_options::{Getopt, Options, RuntimeCache};
use super::table::{self, ServerTable, Table};
use super::utils::{self, Level, Utils};
use super::{ptr, security_flags, sys, FEATURES};
use crate::error::{printable, ErrorKind};
use crate::options;
use crate::server::config::ServerConfig;
use crate::server::exchange::Exchange;
use crate::server::{Identities, ServerRuntime, Step};
use crate::validate::unix_now;
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::sync::{Arc, LazyLock, RwLock};

/// The server runtime built at the last plugin init; None when the server
/// side is not (correctly) configured, so its mechanisms are not offered.
static RUNTIME: RwLock<Option<Arc<ServerRuntime>>> = RwLock::new(None);
static TABLE: ServerTable = ServerTable::new();

/// What each option set built, at init or through a connection's own getopt
/// (when the application gives options only per connection).
static BUILT: LazyLock<RuntimeCache<ServerRuntime>> = LazyLock::new(RuntimeCache::new);

/// The options `u` sees: the config file, the application's global getopt,
/// and the connection's own, when `u` is a connection's.
impl Getopt for Utils<'_> {
    fn read(&mut self, name: &CStr, buf: &mut Vec<u8>) -> bool {
        self.getopt_with(name, |v| v.map(|v| buf.extend_from_slice(v)).is_some())
    }
}

/// The runtime for a set of options, built once per distinct set (its
/// trace: docs/architecture.md §4.4). `at_init`: the options of plugin init,
/// where a server that sets nothing is told so in a note.
fn runtime_for(
    u: Utils,
    options: &mut Options<'_, Utils>,
    at_init: bool,
) -> Option<Arc<ServerRuntime>> {
    BUILT.get_or_build(options, |options| build(u, options, at_init))
}

/// Reads and validates the configuration, loads the key set. A bad or missing
/// key disables the server mechanisms with one log line naming it.
fn build(u: Utils, options: &mut Options<'_, Utils>, at_init: bool) -> Option<Arc<ServerRuntime>> {
    let config = {
        let options = RefCell::new(&mut *options);
        ServerConfig::from_lookup(|k| options.borrow_mut().get(k))
    };
    let error = match config {
        // A near miss set means a restriction we would silently drop: refuse it.
        Ok(config) => match near_miss(u) {
            Some(line) => return disabled(u, Level::Err, &line),
            None => return start(u, &config),
        },
        Err(e) => e,
    };
    // Nothing set at all is a server that does not use us: a note at init,
    // nothing on a connection.
    let empty = options.is_empty();
    if empty && !at_init {
        return None;
    }
    match near_miss(u) {
        Some(line) => disabled(u, Level::Err, &line),
        None if empty => disabled(u, Level::Note, &error.reason),
        None => disabled(u, Level::Err, &error.reason),
    }
}

/// The first near miss of an option name that `u`'s getopt has a value for.
fn near_miss(u: Utils) -> Option<String> {
    options::first_mistake(|name| {
        CString::new(name).is_ok_and(|key| u.getopt_with(&key, |v| v.is_some()))
    })
}

fn disabled(u: Utils, level: Level, why: &str) -> Option<Arc<ServerRuntime>> {
    u.log(level, &format!("server mechanisms disabled: {why}"));
    None
}

/// The runtime of a valid configuration (its files read now).
fn start(u: Utils, config: &ServerConfig) -> Option<Arc<ServerRuntime>> {
    match ServerRuntime::from_config(config) {
        Ok(rt) => {
            if rt.oauth10a.as_ref().is_some_and(|v| !v.shares_nonces()) {
                u.log(
                    Level::Warn,
                    "OAUTH10A: without oauth10a_nonce_dir, a nonce replayed to another server process is not detected",
                );
            }
            Some(Arc::new(rt))
        }
        Err(e) => disabled(u, Level::Err, &e.reason),
    }
}

/// The runtime for a connection: the one built at init, else one from the
/// connection's own options.
fn runtime(u: Utils) -> Option<Arc<ServerRuntime>> {
    if let Some(rt) = RUNTIME.read().ok().and_then(|r| r.clone()) {
        return Some(rt);
    }
    Options::with(u, |options| runtime_for(u, options, false))
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
    let init = |u: Utils<'_>| {
        // Forget what an earlier init built: files may have changed since.
        BUILT.clear();
        let rt = Options::with(u, |options| runtime_for(u, options, true));
        if let Ok(mut slot) = RUNTIME.write() {
            *slot = rt;
        }
        TABLE.get_or_init(build_table)
    };
    // SAFETY: libsasl2 passes NULL or its utils, and its out pointers to its locals.
    unsafe {
        super::plug_init(
            "sasl_server_plug_init",
            utils,
            maxversion,
            out_version,
            pluglist,
            plugcount,
            init,
        )
    }
}

/// Whether the mechanism is offered on this connection. When it is, the
/// connection's state is made here and handed to libsasl2, which then skips
/// mech_new (and disposes of a state it does not use): the connection's
/// options are read once per login.
unsafe extern "C" fn mech_avail(
    glob_context: *mut c_void,
    sparams: *mut sys::sasl_server_params_t,
    conn_context: *mut *mut c_void,
) -> c_int {
    boundary(
        "server mech_avail",
        // SAFETY: libsasl2 passes the params of the connection being set up.
        || unsafe { ptr::server_utils(sparams) },
        || {
            // SAFETY: as above; libsasl2 passes its slot for a context (or NULL).
            let (params, u, slot) = unsafe {
                (
                    ptr::server_params(sparams),
                    ptr::server_utils(sparams),
                    ptr::out_ref(conn_context),
                )
            };
            let (Some(params), Some(u), Some(mech)) = (params, u, table::mechanism(glob_context))
            else {
                return sys::SASL_NOMECH;
            };
            // An earlier mech_avail of this connection made its state already.
            if slot.as_deref().is_some_and(|c| !c.is_null()) {
                return sys::SASL_OK;
            }
            let Some(runtime) = runtime(u).filter(|rt| rt.offers(mech)) else {
                return sys::SASL_NOMECH;
            };
            if let Some(slot) = slot {
                let conn = new_conn(params, mech, runtime);
                // SAFETY: libsasl2 hands the context to mech_step and
                // mech_dispose only, which turn it back as a ServerConn.
                unsafe { ptr::conn_store(slot, conn) };
            }
            sys::SASL_OK
        },
    )
}

/// A connection's state for `mech`.
fn new_conn(
    params: &sys::sasl_server_params_t,
    mech: crate::server::Mechanism,
    runtime: Arc<ServerRuntime>,
) -> Box<ServerConn> {
    // Only the OAUTH mechanism names the service (as its realm).
    let realm = match mech {
        crate::server::Mechanism::OAuth => service(params),
        _ => String::new(),
    };
    Box::new(ServerConn {
        exchange: Exchange::new(mech, &realm).with_server_name(server_fqdn(params)),
        runtime,
        out: Vec::new(),
    })
}

/// A string of the connection's params (`service`, `serverFQDN`): NULL or
/// the C string given to sasl_server_new, owned by the connection.
fn conn_text(text: *const c_char) -> Option<String> {
    // SAFETY: `text` is NULL or a NUL-terminated string that libsasl2 keeps
    // alive for the connection, longer than this call.
    unsafe { ptr::text(text) }
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
    boundary(
        "server mech_new",
        // SAFETY: libsasl2 passes the params of the connection being created.
        || unsafe { ptr::server_utils(sparams) },
        || {
            // SAFETY: as above.
            let (params, u) = unsafe { (ptr::server_params(sparams), ptr::server_utils(sparams)) };
            let (Some(params), Some((u, mech))) =
                (params, super::new_args(u, glob_context, conn_context))
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
            let conn = new_conn(params, mech, runtime);
            // SAFETY: libsasl2 hands conn_context back to mech_step and
            // mech_dispose only, which turn it back as a ServerConn.
            if unsafe { ptr::conn_store(conn_context, conn) } {
                sys::SASL_OK
            } else {
                sys::SASL_BADPARAM
            }
        },
    )
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
    let step = |args: ptr::StepArgs<'_, sys::sasl_server_params_t, ServerConn>| {
        // SAFETY: the out params libsasl2 passed to this step.
        unsafe { step(args, oparams) }
    };
    // SAFETY: libsasl2 passes this step's out pointers (each may be NULL),
    // the params of this connection, `clientinlen` readable bytes at `clientin` and
    // the context we made in mech_new, all valid for the call.
    unsafe {
        super::mech_step::<_, ServerConn>(
            "server mech_step",
            ptr::RawStep {
                conn_context,
                params: sparams,
                input: clientin,
                len: clientinlen,
                out: serverout,
                out_len: serveroutlen,
            },
            step,
        )
    }
}

/// One step of a server connection, its arguments converted.
///
/// # Safety
/// The out params are libsasl2's for this step (each may be NULL).
unsafe fn step(
    args: ptr::StepArgs<'_, sys::sasl_server_params_t, ServerConn>,
    oparams: *mut sys::sasl_out_params_t,
) -> c_int {
    let ptr::StepArgs {
        params,
        utils: u,
        conn,
        input,
        mut out,
    } = args;
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
            out.set(&conn.out);
            sys::SASL_CONTINUE
        }
        // SAFETY: libsasl2's out params for this step, with this connection's params.
        Step::Success(ids) => unsafe { finish(params, u, &ids, oparams) },
        Step::Failure(e) => refuse(u, &e, had_refusal),
    }
}

/// Reports a failed step: the client may see errdetail; the log line may
/// say more. A refusal was already logged with its challenge.
fn refuse(u: Utils, e: &crate::error::Error, had_refusal: bool) -> c_int {
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

/// Canonicalises both identities and fills oparams. The authid was proven by
/// the token, so libsasl2 must not look for a password for it.
///
/// # Safety
/// `oparams` is libsasl2's for this step (or NULL), `params` this connection's.
unsafe fn finish(
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
    let canon = |name: &str, flags| {
        // SAFETY: the caller's guarantee; conn and canon_user are this connection's.
        unsafe { utils::canon_user(params.canon_user, conn, name, flags, oparams) }
    };
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
    // SAFETY: the caller's guarantee; canon_user has returned, nothing else holds it.
    if let Some(o) = unsafe { ptr::out_ref(oparams) } {
        utils::set_done(o);
    }
    sys::SASL_OK
}

unsafe extern "C" fn mech_dispose(conn_context: *mut c_void, utils: *const sys::sasl_utils_t) {
    boundary(
        "server mech_dispose",
        // SAFETY: libsasl2 passes NULL or its utils, valid for this call.
        || unsafe { ptr::utils(utils) },
        // SAFETY: a non-null conn_context is the ServerConn made in mech_new;
        // libsasl2 disposes each context exactly once.
        || unsafe { ptr::conn_free::<ServerConn>(conn_context) },
    )
}

/// The runtime is replaced at the next init; the tables are static.
unsafe extern "C" fn mech_free(_glob_context: *mut c_void, utils: *const sys::sasl_utils_t) {
    // SAFETY: libsasl2 passes NULL or its utils, valid for this call.
    boundary("server mech_free", || unsafe { ptr::utils(utils) }, || ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// getopt calls the fake application below has answered, and their keys.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static ASKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// Options an application gives only per connection (a JWKS URL: nothing
    /// to read at build, nothing fetched before a token comes).
    const OPTS: &[(&CStr, &CStr)] = &[
        (c"oauth_issuer", c"https://issuer.example"),
        (c"oauth_audience", c"imap"),
        (c"oauth_jwks_url", c"https://issuer.example/jwks"),
    ];

    /// The keys a build from OPTS does not read: they cannot change it.
    const SKIPPED: &[&str] = &[
        "oauth_client_secret",
        "oauth_client_secret_file",
        "oauth_client_auth_method",
        "oauth10a_max_skew",
        "oauth10a_nonce_dir",
        "oauth_roles_claim",
    ];

    unsafe extern "C" fn getopt(
        _context: *mut c_void,
        _plugin: *const c_char,
        option: *const c_char,
        result: *mut *const c_char,
        len: *mut c_uint,
    ) -> c_int {
        CALLS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the plugin passes a NUL-terminated key and writable out pointers.
        let option = unsafe { CStr::from_ptr(option) };
        ASKED
            .lock()
            .unwrap()
            .push(option.to_string_lossy().into_owned());
        // SAFETY: as above; `len` may be NULL.
        unsafe { answer(OPTS.iter(), option, result, len) }
    }

    /// What a getopt answers: the value of `option` in `table`, or SASL_FAIL.
    ///
    /// # Safety
    /// `result` is writable, `len` NULL or writable.
    unsafe fn answer<'a>(
        mut table: impl Iterator<Item = &'a (&'a CStr, &'a CStr)>,
        option: &CStr,
        result: *mut *const c_char,
        len: *mut c_uint,
    ) -> c_int {
        let Some((_, value)) = table.find(|(k, _)| *k == option) else {
            return sys::SASL_FAIL;
        };
        // SAFETY: the caller's guarantee.
        unsafe {
            *result = value.as_ptr();
            if !len.is_null() {
                *len = value.to_bytes().len() as c_uint;
            }
        }
        sys::SASL_OK
    }

    /// A login reads each option key its set's build read, once (mech_avail
    /// makes the state, so libsasl2 skips mech_new), and a set already seen is
    /// neither built nor probed for near misses again.
    #[test]
    fn a_login_reads_each_key_once_and_a_seen_set_is_not_built_again() {
        let utils = sys::sasl_utils_t {
            getopt: Some(getopt),
            ..Default::default()
        };
        let mut params = sys::sasl_server_params_t {
            utils: &utils,
            service: c"imap".as_ptr(),
            serverFQDN: c"mail.example".as_ptr(),
            ..Default::default()
        };
        let bearer = table::glob_context(0);
        for login in 0..3 {
            CALLS.store(0, Ordering::SeqCst);
            ASKED.lock().unwrap().clear();
            let mut state: *mut c_void = std::ptr::null_mut();
            // SAFETY: params, utils and the state slot are locals that outlive the calls.
            let rc = unsafe { mech_avail(bearer, &mut params, &mut state) };
            assert_eq!(rc, sys::SASL_OK, "login {login}");
            assert!(!state.is_null(), "mech_avail made the state");
            // libsasl2 hands the saved state to a second mech_avail (sasl_listmech, then start).
            // SAFETY: as above.
            let rc = unsafe { mech_avail(bearer, &mut params, &mut state) };
            assert_eq!(rc, sys::SASL_OK);
            let calls = CALLS.load(Ordering::SeqCst);
            if login == 0 {
                assert!(
                    calls > crate::server::config::SERVER_KEYS.len(),
                    "first sight: the probe"
                );
            } else {
                let keys = crate::server::config::SERVER_KEYS;
                let mut asked = ASKED.lock().unwrap().clone();
                asked.sort();
                let mut want: Vec<String> = keys
                    .iter()
                    .filter(|k| !SKIPPED.contains(k))
                    .map(|k| k.to_string())
                    .collect();
                want.sort();
                assert_eq!(asked, want, "login {login}");
                assert_eq!(calls, keys.len() - SKIPPED.len(), "login {login}");
            }
            // SAFETY: the state mech_avail made, disposed once.
            unsafe { mech_dispose(state, &utils) };
        }
    }

    /// Options of the second test: OPTS's keys for another issuer, plus EXTRA.
    static EXTRA: Mutex<Vec<(&CStr, &CStr)>> = Mutex::new(Vec::new());

    unsafe extern "C" fn getopt_extra(
        _context: *mut c_void,
        _plugin: *const c_char,
        option: *const c_char,
        result: *mut *const c_char,
        len: *mut c_uint,
    ) -> c_int {
        // SAFETY: the plugin passes a NUL-terminated key and writable out pointers.
        let option = unsafe { CStr::from_ptr(option) };
        let base = [
            (c"oauth_issuer", c"https://issuer2.example"),
            (c"oauth_audience", c"imap"),
            (c"oauth_jwks_url", c"https://issuer2.example/jwks"),
        ];
        let extra = EXTRA.lock().unwrap();
        // SAFETY: as above; `len` may be NULL.
        unsafe { answer(base.iter().chain(extra.iter()), option, result, len) }
    }

    /// Whether OAUTHBEARER is offered on a connection whose options are the
    /// base ones and `extra`.
    fn offered(extra: &[(&'static CStr, &'static CStr)]) -> bool {
        *EXTRA.lock().unwrap() = extra.to_vec();
        let utils = sys::sasl_utils_t {
            getopt: Some(getopt_extra),
            ..Default::default()
        };
        let mut params = sys::sasl_server_params_t {
            utils: &utils,
            service: c"imap".as_ptr(),
            ..Default::default()
        };
        let mut state: *mut c_void = std::ptr::null_mut();
        // SAFETY: params, utils and the state slot are locals that outlive the calls.
        let rc = unsafe { mech_avail(table::glob_context(0), &mut params, &mut state) };
        // SAFETY: the state mech_avail made (or NULL), disposed once.
        unsafe { mech_dispose(state, &utils) };
        rc == sys::SASL_OK
    }

    /// A set that matches a built runtime on every key its build read gets
    /// it; a key refused or a bad value still disables the mechanisms,
    /// however much of the set is the same as one seen before.
    #[test]
    fn a_set_differing_only_in_a_skipped_key_shares_the_runtime_and_misconfiguration_is_refused() {
        assert!(offered(&[]));
        // Ignored without oauth_client_id (not read): the same runtime.
        assert!(offered(&[(c"oauth_client_secret", c"s")]));
        assert!(offered(&[(c"oauth10a_max_skew", c"not a number")]));
        // Read whether or not their feature is used: refused.
        let tenant = c"9188040d-6c67-4c5b-b112-36a304b66dad";
        assert!(!offered(&[(c"oauth_tenant", tenant)]));
        assert!(!offered(&[(c"oauth_introspection_audience", c"sometimes")]));
        assert!(!offered(&[(c"oauth_jwks_max_age", c"soon")]));
        // A near miss is probed when a set is built: refused in a new set.
        let near_miss = (c"oauth_required_scopes", c"admin");
        assert!(!offered(&[near_miss, (c"oauth_scope", c"mail")]));
        assert!(offered(&[(c"oauth_scope", c"imap")]));
        assert!(offered(&[]));
    }
}
