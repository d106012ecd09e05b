//! Client side of the plugin: `sasl_client_plug_init` and the mechanism
//! callbacks, with libsasl2's callback-or-prompt dance for the credentials.

use super::guard::{code, guard};
use super::table::{self, ClientTable, Table};
use super::utils::{self, Level, Utils};
use super::{security_flags, sys, FEATURES, PLUG_VERSION};
use crate::client::config::ClientConfig;
use crate::client::exchange::ClientExchange;
use crate::client::{ClientStep, Credentials, Mechanism, Target};
use crate::error::Error;
use crate::secret::Secret;
use crate::token::{self, ClientRuntime, TokenSource};
use crate::validate::unix_now;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::ptr;
use std::sync::{Arc, RwLock};

static TABLE: ClientTable = ClientTable::new();

/// The client configuration and HTTP client, built at the last plugin init
/// (None when the configuration file is broken: plain tokens still work).
static RUNTIME: RwLock<Option<Arc<ClientRuntime>>> = RwLock::new(None);

/// Per-connection state, owned by libsasl2 through `conn_context`.
struct ClientConn {
    client: ClientExchange,
    first_sent: bool,
    /// Where the token came from, and the token sent, for a refresh after a refusal.
    source: Option<(Box<dyn TokenSource>, Secret)>,
    /// Prompts we handed to the application; read back at the next step.
    prompts: Vec<sys::sasl_interact_t>,
    /// The last message; libsasl2 reads it after the step returns. Wiped on drop.
    out: zeroize::Zeroizing<Vec<u8>>,
}

fn build_table() -> Table<sys::sasl_client_plug_t> {
    let plug = |i: usize| sys::sasl_client_plug_t {
        mech_name: table::mech_name(table::MECHANISMS[i]).as_ptr(),
        max_ssf: 0,
        security_flags: security_flags(table::MECHANISMS[i]),
        features: FEATURES,
        required_prompts: ptr::null(),
        glob_context: table::glob_context(i),
        mech_new: Some(mech_new),
        mech_step: Some(mech_step),
        mech_dispose: Some(mech_dispose),
        mech_free: Some(mech_free),
        ..Default::default()
    };
    Table((0..table::MECHANISMS.len()).map(plug).collect())
}

/// Client entry point, called by libsasl2 (sasl_client_init) when it loads the
/// plugin: reads the client configuration file and returns the four client
/// mechanisms, which need no configuration (the token comes from
/// SASL_CB_PASS or a prompt).
///
/// # Safety
/// Called by libsasl2 with a valid `utils` and writable out pointers.
#[no_mangle]
pub unsafe extern "C" fn sasl_client_plug_init(
    utils: *const sys::sasl_utils_t,
    maxversion: c_int,
    out_version: *mut c_int,
    pluglist: *mut *mut sys::sasl_client_plug_t,
    plugcount: *mut c_int,
) -> c_int {
    guard(
        || (),
        || {
            if Utils::from_ptr(utils).is_none()
                || out_version.is_null()
                || pluglist.is_null()
                || plugcount.is_null()
            {
                return sys::SASL_BADPARAM;
            }
            if maxversion < PLUG_VERSION {
                return sys::SASL_BADVERS;
            }
            // Configuration and trust anchors are read now: Postfix's smtp
            // client chroots after SASL init.
            let rt = ClientConfig::load().and_then(ClientRuntime::new);
            let rt = match rt {
                Ok(rt) => Some(Arc::new(rt)),
                Err(e) => {
                    if let Some(u) = Utils::from_ptr(utils) {
                        u.log(
                            Level::Err,
                            &format!(
                                "client configuration: {} (file: and cmd: secrets will fail)",
                                e.reason
                            ),
                        );
                    }
                    None
                }
            };
            if let Some(u) = Utils::from_ptr(utils) {
                // Environment variables ignored in a setuid/setgid process.
                for note in crate::secure_env::take_notes() {
                    u.log(Level::Warn, &note);
                }
            }
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

unsafe extern "C" fn mech_new(
    glob_context: *mut c_void,
    _cparams: *mut sys::sasl_client_params_t,
    conn_context: *mut *mut c_void,
) -> c_int {
    guard(
        || (),
        || {
            let (Some(mech), false) = (table::mechanism(glob_context), conn_context.is_null())
            else {
                return sys::SASL_BADPARAM;
            };
            let conn = Box::new(ClientConn {
                client: ClientExchange::new(mech),
                first_sent: false,
                source: None,
                prompts: Vec::new(),
                out: Default::default(),
            });
            // SAFETY: checked non-null; only mech_step and mech_dispose turn it back into a Box.
            unsafe { *conn_context = Box::into_raw(conn).cast() };
            sys::SASL_OK
        },
    )
}

/// libsasl2 stores every callback as `int (*)(void)`; each id has its real type.
type GenericProc = unsafe extern "C" fn() -> c_int;
/// `sasl_getsimple_t` (SASL_CB_USER, SASL_CB_AUTHNAME).
type GetSimple = unsafe extern "C" fn(*mut c_void, c_int, *mut *const c_char, *mut c_uint) -> c_int;
/// `sasl_getsecret_t` (SASL_CB_PASS).
type GetSecret = unsafe extern "C" fn(
    *mut sys::sasl_conn_t,
    *mut c_void,
    c_int,
    *mut *mut sys::sasl_secret_t,
) -> c_int;

/// One credential: a value, a request to prompt for it, or absent.
enum Got<T> {
    Value(T),
    Prompt,
    Absent,
}

/// `SASL_CB_USER` / `SASL_CB_AUTHNAME` through the application's getsimple callback.
fn get_simple(u: Utils, id: c_int) -> Result<Got<String>, c_int> {
    let (f, context) = match u.callback(id) {
        Ok(Some(cb)) => cb,
        Ok(None) => return Ok(Got::Prompt),
        Err(_) => return Ok(Got::Absent),
    };
    // SAFETY: libsasl2 stored this proc for `id`, whose type is sasl_getsimple_t.
    let f = unsafe { std::mem::transmute::<GenericProc, GetSimple>(f) };
    let mut result: *const c_char = ptr::null();
    // SAFETY: the getsimple contract: writes a NUL-terminated string it owns; len may be NULL.
    let rc = unsafe { f(context, id, &mut result, ptr::null_mut()) };
    match rc {
        sys::SASL_OK if result.is_null() => Ok(Got::Absent),
        // SAFETY: a non-null result is a C string owned by the application.
        sys::SASL_OK => Ok(Got::Value(
            unsafe { CStr::from_ptr(result) }
                .to_string_lossy()
                .into_owned(),
        )),
        sys::SASL_INTERACT => Ok(Got::Prompt),
        rc => Err(rc),
    }
}

/// `SASL_CB_PASS`: the access token.
fn get_secret(u: Utils) -> Result<Got<Secret>, c_int> {
    let (f, context) = match u.callback(sys::SASL_CB_PASS) {
        Ok(Some(cb)) => cb,
        Ok(None) => return Ok(Got::Prompt),
        Err(_) => return Ok(Got::Absent),
    };
    // SAFETY: libsasl2 stored this proc for SASL_CB_PASS, whose type is sasl_getsecret_t.
    let f = unsafe { std::mem::transmute::<GenericProc, GetSecret>(f) };
    let mut secret: *mut sys::sasl_secret_t = ptr::null_mut();
    // SAFETY: the getsecret contract: writes a pointer to a secret it owns.
    let rc = unsafe { f(u.conn(), context, sys::SASL_CB_PASS, &mut secret) };
    if rc != sys::SASL_OK {
        return if rc == sys::SASL_INTERACT {
            Ok(Got::Prompt)
        } else {
            Err(rc)
        };
    }
    // SAFETY: a non-null secret has `len` bytes of data after its len field.
    let Some(s) = (unsafe { secret.as_ref() }) else {
        return Ok(Got::Absent);
    };
    let data = ptr::addr_of!(s.data).cast::<u8>();
    // SAFETY: as above; sasl_secret_t is a length-prefixed buffer.
    let bytes = unsafe { std::slice::from_raw_parts(data, s.len as usize) };
    Ok(Got::Value(secret_text(bytes)))
}

/// A secret from the application's bytes, with no unwiped copy left behind.
fn secret_text(bytes: &[u8]) -> Secret {
    Secret::new(String::from_utf8_lossy(bytes).into_owned())
}

/// Results the application wrote into our prompts, by callback id; the copy
/// (a token, for SASL_CB_PASS) is wiped when dropped.
fn prompt_result(
    prompts: &[sys::sasl_interact_t],
    id: c_int,
) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let p = prompts
        .iter()
        .find(|p| p.id == id as std::os::raw::c_ulong)?;
    // SAFETY: the application set `result` to `len` readable bytes (or left it NULL).
    unsafe { utils::bytes(p.result.cast(), p.len) }.map(|b| zeroize::Zeroizing::new(b.to_vec()))
}

fn make_prompt(id: c_int) -> sys::sasl_interact_t {
    let (challenge, prompt): (&CStr, &CStr) = match id {
        sys::SASL_CB_USER => (
            c"Authorization Name",
            c"Authorization name (empty: same as the token's identity)",
        ),
        sys::SASL_CB_AUTHNAME => (c"Authentication Name", c"User name"),
        _ => (c"Password", c"OAuth 2.0 access token"),
    };
    sys::sasl_interact_t {
        id: id as _,
        challenge: challenge.as_ptr(),
        prompt: prompt.as_ptr(),
        defresult: ptr::null(),
        result: ptr::null(),
        len: 0,
    }
}

/// Gathers the credentials from earlier prompts or the callbacks; returns the
/// ids still to prompt for when the application asked to be prompted.
fn credentials(
    u: Utils,
    answered: &[sys::sasl_interact_t],
) -> Result<Result<Credentials, Vec<c_int>>, c_int> {
    let text = |b: zeroize::Zeroizing<Vec<u8>>| String::from_utf8_lossy(&b).into_owned();
    let mut need = Vec::new();
    let mut simple = |id: c_int| -> Result<Option<String>, c_int> {
        if let Some(v) = prompt_result(answered, id) {
            return Ok(Some(text(v)).filter(|s| !s.is_empty()));
        }
        Ok(match get_simple(u, id)? {
            Got::Value(v) => Some(v).filter(|s| !s.is_empty()),
            Got::Prompt => {
                need.push(id);
                None
            }
            Got::Absent => None,
        })
    };
    let authzid = simple(sys::SASL_CB_USER)?;
    let authid = simple(sys::SASL_CB_AUTHNAME)?;
    let token = match prompt_result(answered, sys::SASL_CB_PASS) {
        Some(v) => Some(secret_text(&v)),
        None => match get_secret(u)? {
            Got::Value(s) => Some(s),
            Got::Prompt => {
                need.push(sys::SASL_CB_PASS);
                None
            }
            Got::Absent => None,
        },
    };
    if !need.is_empty() {
        return Ok(Err(need));
    }
    Ok(Ok(Credentials {
        authid,
        authzid,
        token: token.unwrap_or_default(),
        oauth1: None,
    }))
}

/// Host and port of the server, as OAUTHBEARER sends them.
fn target(params: &sys::sasl_client_params_t, u: Utils) -> Target {
    // SAFETY: serverFQDN is NULL or the C string given to sasl_client_new, owned by the connection.
    let host = unsafe { params.serverFQDN.as_ref() }
        .map(|p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        .filter(|h| !h.is_empty());
    let port = u
        .string_prop(sys::SASL_IPREMOTEPORT)
        .and_then(|s| s.rsplit_once(';').and_then(|(_, p)| p.parse().ok()));
    Target { host, port }
}

unsafe extern "C" fn mech_step(
    conn_context: *mut c_void,
    cparams: *mut sys::sasl_client_params_t,
    serverin: *const c_char,
    serverinlen: c_uint,
    prompt_need: *mut *mut sys::sasl_interact_t,
    clientout: *mut *const c_char,
    clientoutlen: *mut c_uint,
    oparams: *mut sys::sasl_out_params_t,
) -> c_int {
    utils::clear_output(clientout, clientoutlen);
    // SAFETY: libsasl2 passes the params of this connection, valid for the call.
    let params = unsafe { cparams.as_ref() };
    let u = params.and_then(|p| Utils::from_ptr(p.utils));
    guard(
        || {
            if let Some(u) = u {
                u.seterror("internal error (panic) in sasl-oauth", true)
            }
        },
        || {
            // SAFETY: conn_context is the Box made in mech_new; calls on one connection are serialised.
            let conn = unsafe { conn_context.cast::<ClientConn>().as_mut() };
            let (Some(params), Some(u), Some(conn)) = (params, u, conn) else {
                return sys::SASL_BADPARAM;
            };
            // SAFETY: libsasl2 guarantees serverinlen readable bytes at serverin.
            let Some(input) = (unsafe { utils::bytes(serverin, serverinlen) }) else {
                return sys::SASL_BADPARAM;
            };
            let step = if conn.first_sent {
                let step = conn.client.challenge(input);
                let refused = match &step {
                    ClientStep::Send { note: Some(n), .. } if conn.client.token_refused() => {
                        Some(n.clone())
                    }
                    _ => None,
                };
                if let Some(rc) = refused.and_then(|note| retry_with_new_token(conn, u, &note)) {
                    return rc;
                }
                step
            } else {
                match first_step(conn, params, u, prompt_need, oparams) {
                    Ok(step) => step,
                    Err(rc) => return rc,
                }
            };
            match step {
                ClientStep::Send { message, note } => {
                    if let Some(note) = note {
                        // Logged too: Postfix's smtp client shows it in the mail log.
                        u.seterror(&note, true);
                    }
                    conn.out = message;
                    utils::set_output(clientout, clientoutlen, &conn.out);
                    sys::SASL_CONTINUE
                }
                ClientStep::Done => {
                    utils::set_done(oparams);
                    sys::SASL_OK
                }
                ClientStep::Failure(e) => {
                    u.seterror(&e.reason, true);
                    code(e.kind)
                }
            }
        },
    )
}

/// Credentials (possibly by prompting), canonicalisation, and the first message.
fn first_step(
    conn: &mut ClientConn,
    params: &sys::sasl_client_params_t,
    u: Utils,
    prompt_need: *mut *mut sys::sasl_interact_t,
    oparams: *mut sys::sasl_out_params_t,
) -> Result<ClientStep, c_int> {
    // The prompts the application answered, if this is the call after SASL_INTERACT.
    let answered = std::mem::take(&mut conn.prompts);
    if !prompt_need.is_null() {
        // SAFETY: prompt_need is libsasl2's pointer to the application's pointer; it may
        // point at our previous prompts, which we took back above and no longer expose.
        unsafe { *prompt_need = ptr::null_mut() };
    }
    let mut creds = match credentials(u, &answered)? {
        Ok(c) => c,
        Err(need) => {
            if prompt_need.is_null() {
                u.seterror(
                    "credentials needed but the application cannot be prompted",
                    true,
                );
                return Err(sys::SASL_INTERACT);
            }
            conn.prompts = need.into_iter().map(make_prompt).collect();
            // The list ends with an all-zero SASL_CB_LIST_END entry.
            conn.prompts.push(sys::sasl_interact_t {
                id: sys::SASL_CB_LIST_END as std::os::raw::c_ulong,
                challenge: ptr::null(),
                prompt: ptr::null(),
                defresult: ptr::null(),
                result: ptr::null(),
                len: 0,
            });
            // SAFETY: checked non-null; the array lives in our context until the next step.
            unsafe { *prompt_need = conn.prompts.as_mut_ptr() };
            return Err(sys::SASL_INTERACT);
        }
    };
    // libsasl2 requires both names to be canonicalised before a client SASL_OK.
    let authid = creds.authid.as_deref().or(creds.authzid.as_deref());
    let authzid = creds.authzid.as_deref().or(authid);
    if let (Some(authid), Some(authzid)) = (authid, authzid) {
        let conn_ptr = u.conn();
        for (name, flag) in [
            (authzid, sys::SASL_CU_AUTHZID),
            (authid, sys::SASL_CU_AUTHID),
        ] {
            let rc = utils::canon_user(params.canon_user, conn_ptr, name, flag as c_int, oparams);
            if rc != sys::SASL_OK {
                return Ok(ClientStep::Failure(Error::param(format!(
                    "canonicalising the user name failed (SASL code {rc})"
                ))));
            }
        }
    }
    // The secret may name a token file or command rather than be the token.
    let rt = RUNTIME.read().ok().and_then(|r| r.clone());
    let mut source = match token::from_secret(std::mem::take(&mut creds.token), rt.as_ref()) {
        Ok(s) => s,
        Err(e) => return Ok(ClientStep::Failure(e)),
    };
    let now = unix_now();
    // OAUTH10A signs with OAuth 1.0a credentials; the others send a bearer token.
    let got = match conn.client.mechanism() {
        Mechanism::OAuth10a => source.oauth1().map(|c| creds.oauth1 = Some(c)),
        _ => source.token(now).map(|t| creds.token = t),
    };
    log_notes(source.as_mut(), u);
    if let Err(e) = got {
        return Ok(ClientStep::Failure(e));
    }
    let step = conn.client.first(&creds, &target(params, u), now);
    conn.first_sent = matches!(step, ClientStep::Send { .. });
    conn.source = Some((source, creds.token));
    Ok(step)
}

/// What the token source did that the log should show (never a secret).
fn log_notes(source: &mut dyn TokenSource, u: Utils) {
    for note in source.take_notes() {
        u.log(Level::Warn, &note);
    }
}

/// The server refused our token as invalid: when its source can give a new
/// one (a token file), get it and return SASL_TRYAGAIN so that the
/// application logs in again. Once per exchange; a token refused right after
/// it was obtained is not refreshed again, so this never loops.
fn retry_with_new_token(conn: &mut ClientConn, u: Utils, note: &str) -> Option<c_int> {
    let (source, used) = conn.source.as_mut()?;
    let verdict = source.after_rejection(used, unix_now());
    log_notes(source.as_mut(), u);
    match verdict {
        Ok(true) => {
            conn.source = None;
            u.seterror(
                &format!("{note}; the token file was refreshed: retry the login"),
                true,
            );
            Some(sys::SASL_TRYAGAIN)
        }
        Ok(false) => None,
        Err(e) => {
            u.log(
                Level::Warn,
                &format!("{note}; refreshing the token failed: {}", e.reason),
            );
            None
        }
    }
}

unsafe extern "C" fn mech_dispose(conn_context: *mut c_void, _utils: *const sys::sasl_utils_t) {
    guard(
        || (),
        || {
            if !conn_context.is_null() {
                // SAFETY: a non-null conn_context is the Box made in mech_new, disposed once.
                drop(unsafe { Box::from_raw(conn_context.cast::<ClientConn>()) });
            }
            sys::SASL_OK
        },
    );
}

unsafe extern "C" fn mech_free(_glob_context: *mut c_void, _utils: *const sys::sasl_utils_t) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_answers_are_copied_into_buffers_wiped_on_drop() {
        let answer = b"file:/etc/token.json";
        let mut p = make_prompt(sys::SASL_CB_PASS);
        p.result = answer.as_ptr().cast();
        p.len = answer.len() as c_uint;
        let got: Option<zeroize::Zeroizing<Vec<u8>>> = prompt_result(&[p], sys::SASL_CB_PASS);
        assert_eq!(got.as_deref().map(Vec::as_slice), Some(&answer[..]));
        assert!(prompt_result(&[p], sys::SASL_CB_USER).is_none());
        assert_eq!(secret_text(b"tok\xff").expose(), "tok\u{fffd}");
    }
}
