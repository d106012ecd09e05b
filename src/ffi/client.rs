//! Client side of the plugin: `sasl_client_plug_init` and the mechanism
//! callbacks, with libsasl2's callback-or-prompt dance for the credentials.

use super::guard::{boundary, code};
use super::table::{self, ClientTable, Table};
use super::utils::{self, Level, Utils};
use super::{ptr, security_flags, sys, FEATURES};
use crate::client::config::ClientConfig;
use crate::client::exchange::Ending;
use crate::client::session::ClientSession;
use crate::client::{ClientStep, Credentials, Message, Target};
use crate::error::Error;
use crate::token::ClientRuntime;
use crate::validate::unix_now;
use std::borrow::Cow;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::sync::{Arc, RwLock};

/// One table per set of mechanisms (bit i: `table::MECHANISMS[i]`): each
/// init publishes the configured set's, and a table once handed to libsasl2
/// is never freed or changed.
static TABLES: [ClientTable; 1 << table::MECHANISMS.len()] =
    [const { ClientTable::new() }; 1 << table::MECHANISMS.len()];

/// The client configuration and HTTP client, built at the last plugin init
/// (None when the configuration file is broken: then no mechanism is registered).
static RUNTIME: RwLock<Option<Arc<ClientRuntime>>> = RwLock::new(None);

/// Per-connection state, owned by libsasl2 through `conn_context`.
struct ClientConn {
    session: ClientSession,
    /// Prompts we handed to the application; read back at the next step.
    prompts: Vec<sys::sasl_interact_t>,
    /// The last message: libsasl2 reads it after the step returns, and the
    /// application has sent it before the next step. Wiped when dropped.
    out: Message,
}

/// The table of the mechanisms in `set`, built the first time it is asked for.
fn table_of(set: usize) -> &'static Table<sys::sasl_client_plug_t> {
    TABLES[set].get_or_init(|| build_table(set))
}

/// The bit set of `mechs`, as `TABLES` indexes it.
fn bits(mechs: &[crate::protocol::Mechanism]) -> usize {
    (0..table::MECHANISMS.len())
        .filter(|&i| mechs.contains(&table::MECHANISMS[i]))
        .fold(0, |set, i| set | 1 << i)
}

fn build_table(set: usize) -> Table<sys::sasl_client_plug_t> {
    let plug = |i: usize| sys::sasl_client_plug_t {
        mech_name: table::mech_name(table::MECHANISMS[i]).as_ptr(),
        max_ssf: 0,
        security_flags: security_flags(table::MECHANISMS[i]),
        features: FEATURES,
        required_prompts: std::ptr::null(),
        glob_context: table::glob_context(i),
        mech_new: Some(mech_new),
        mech_step: Some(mech_step),
        mech_dispose: Some(mech_dispose),
        mech_free: Some(mech_free),
        ..Default::default()
    };
    Table(
        (0..table::MECHANISMS.len())
            .filter(|i| set & 1 << i != 0)
            .map(plug)
            .collect(),
    )
}

/// Client entry point, called by libsasl2 (sasl_client_init) when it loads the
/// plugin: reads the client configuration file and returns the client
/// mechanisms its `mechanisms` line names, none without one. libsasl2 ranks
/// client mechanisms once, at load, and ours tie with PLAIN and LOGIN: were
/// they always registered, a password client could pick one of them and send
/// its password as a token (docs/platform.md §1.8). Zero mechanisms with
/// SASL_OK is what libsasl2 takes without logging an error.
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
    let init = |u: Utils<'_>| {
        // Configuration and trust anchors are read now: Postfix's smtp
        // client chroots after SASL init.
        let rt = match ClientConfig::load().and_then(ClientRuntime::new) {
            Ok(rt) => Some(Arc::new(rt)),
            Err(e) => {
                u.log(
                    Level::Err,
                    &format!(
                        "client configuration: {} (no client mechanism registered)",
                        e.reason
                    ),
                );
                None
            }
        };
        // Environment variables ignored in a setuid/setgid process.
        for note in crate::secure_env::take_notes() {
            u.log(Level::Warn, &note);
        }
        // A broken file registers nothing: fail closed.
        let set = rt.as_ref().map_or(0, |rt| bits(&rt.config.mechanisms));
        if let Ok(mut slot) = RUNTIME.write() {
            *slot = rt;
        }
        table_of(set)
    };
    // SAFETY: libsasl2 passes NULL or its utils, and its out pointers to its locals.
    unsafe {
        super::plug_init(
            "sasl_client_plug_init",
            utils,
            maxversion,
            out_version,
            pluglist,
            plugcount,
            init,
        )
    }
}

unsafe extern "C" fn mech_new(
    glob_context: *mut c_void,
    cparams: *mut sys::sasl_client_params_t,
    conn_context: *mut *mut c_void,
) -> c_int {
    boundary(
        "client mech_new",
        // SAFETY: libsasl2 passes the params of the connection being created.
        || unsafe { ptr::client_utils(cparams) },
        || {
            // SAFETY: as above.
            let u = unsafe { ptr::client_utils(cparams) };
            let Some((_, mech)) = super::new_args(u, glob_context, conn_context) else {
                return sys::SASL_BADPARAM;
            };
            // SAFETY: as above.
            let flags = unsafe { ptr::client_params(cparams) }.map_or(0, |p| p.flags);
            let ending = Ending::from_flags(flags, sys::SASL_SUCCESS_DATA as u32);
            let conn = Box::new(ClientConn {
                session: ClientSession::new(mech).with_ending(ending),
                prompts: Vec::new(),
                out: Default::default(),
            });
            // SAFETY: libsasl2 hands conn_context back to mech_step and
            // mech_dispose only, which turn it back as a ClientConn.
            if unsafe { ptr::conn_store(conn_context, conn) } {
                sys::SASL_OK
            } else {
                sys::SASL_BADPARAM
            }
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

/// `SASL_CB_USER` / `SASL_CB_AUTHNAME` through the application's getsimple
/// callback, borrowed: valid until the next getsimple call on the connection.
fn get_simple<'a>(u: Utils<'a>, id: c_int) -> Result<Got<Cow<'a, str>>, c_int> {
    let (f, context) = match u.callback(id) {
        Ok(Some(cb)) => cb,
        Ok(None) => return Ok(Got::Prompt),
        Err(_) => return Ok(Got::Absent),
    };
    // SAFETY: libsasl2 stored this proc for `id`, whose type is sasl_getsimple_t.
    let f = unsafe { std::mem::transmute::<GenericProc, GetSimple>(f) };
    let mut result: *const c_char = std::ptr::null();
    // SAFETY: the getsimple contract: writes a NUL-terminated string it owns; len may be NULL.
    let rc = unsafe { f(context, id, &mut result, std::ptr::null_mut()) };
    match rc {
        sys::SASL_OK => {
            // SAFETY: NULL or a C string the application keeps until its
            // next getsimple on this connection, or the connection's end.
            let value = unsafe { ptr::c_bytes(result) };
            Ok(value.map_or(Got::Absent, |b| Got::Value(text(b))))
        }
        sys::SASL_INTERACT => Ok(Got::Prompt),
        rc => Err(rc),
    }
}

/// The application's text, borrowed when it is UTF-8 (the usual case, which
/// the strict check finds quicker than a lossy decode), else with U+FFFD for
/// each invalid sequence.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// `SASL_CB_PASS`: the access token (or the `file:`/`cmd:` naming its source),
/// borrowed from the application, not copied.
fn get_secret<'a>(u: Utils<'a>) -> Result<Got<&'a [u8]>, c_int> {
    let (f, context) = match u.callback(sys::SASL_CB_PASS) {
        Ok(Some(cb)) => cb,
        Ok(None) => return Ok(Got::Prompt),
        Err(_) => return Ok(Got::Absent),
    };
    // SAFETY: libsasl2 stored this proc for SASL_CB_PASS, whose type is sasl_getsecret_t.
    let f = unsafe { std::mem::transmute::<GenericProc, GetSecret>(f) };
    let mut secret: *mut sys::sasl_secret_t = std::ptr::null_mut();
    // SAFETY: the getsecret contract: writes a pointer to a secret it owns.
    let rc = unsafe { f(u.conn(), context, sys::SASL_CB_PASS, &mut secret) };
    if rc != sys::SASL_OK {
        return if rc == sys::SASL_INTERACT {
            Ok(Got::Prompt)
        } else {
            Err(rc)
        };
    }
    // SAFETY: NULL or the application's secret, which it keeps until its
    // next getsecret on this connection.
    Ok(unsafe { ptr::secret_bytes(secret) }.map_or(Got::Absent, Got::Value))
}

/// What the application wrote into our prompts, by callback id: its own
/// bytes, not a copy (a token, for SASL_CB_PASS, is not left behind).
fn prompt_result<'a>(prompts: &[sys::sasl_interact_t], id: c_int) -> Option<&'a [u8]> {
    let p = prompts
        .iter()
        .find(|p| p.id == id as std::os::raw::c_ulong)?;
    // SAFETY: the application set `result` to `len` readable bytes (or left
    // it NULL), which it keeps for the step that reads them.
    unsafe { ptr::bytes(p.result.cast(), p.len) }
}

fn make_prompt(id: c_int) -> sys::sasl_interact_t {
    let (challenge, prompt): (&CStr, &CStr) = match id {
        sys::SASL_CB_USER => (
            c"Authorization Name",
            c"Authorization name (empty: same as the token's identity)",
        ),
        sys::SASL_CB_AUTHNAME => (c"Authentication Name", c"User name"),
        sys::SASL_CB_LIST_END => return list_end(),
        _ => (c"Password", c"OAuth 2.0 access token"),
    };
    sys::sasl_interact_t {
        id: id as _,
        challenge: challenge.as_ptr(),
        prompt: prompt.as_ptr(),
        ..list_end()
    }
}

/// The all-zero SASL_CB_LIST_END entry that ends a prompt list.
fn list_end() -> sys::sasl_interact_t {
    sys::sasl_interact_t {
        id: sys::SASL_CB_LIST_END as std::os::raw::c_ulong,
        challenge: std::ptr::null(),
        prompt: std::ptr::null(),
        defresult: std::ptr::null(),
        result: std::ptr::null(),
        len: 0,
    }
}

/// Gathers the credentials from earlier prompts or the callbacks; returns the
/// ids still to prompt for when the application asked to be prompted.
fn credentials<'a>(
    u: Utils<'a>,
    answered: &[sys::sasl_interact_t],
) -> Result<Result<Credentials<'a>, Vec<c_int>>, c_int> {
    let mut need = Vec::new();
    let mut simple = |id: c_int| -> Result<Option<Cow<'a, str>>, c_int> {
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
    // A copy, when there is one: the next getsimple may reuse its buffer.
    let authzid = simple(sys::SASL_CB_USER)?.map(|a| Cow::Owned(a.into_owned()));
    let authid = simple(sys::SASL_CB_AUTHNAME)?;
    let secret = match prompt_result(answered, sys::SASL_CB_PASS) {
        Some(v) => Some(v),
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
        secret: secret.unwrap_or_default(),
    }))
}

/// The server's host name, as OAUTHBEARER sends it.
fn server_host(params: &sys::sasl_client_params_t) -> Option<Cow<'_, str>> {
    // SAFETY: serverFQDN is NULL or the C string given to sasl_client_new, owned by the connection.
    let host = unsafe { ptr::c_bytes(params.serverFQDN) }?;
    Some(text(host)).filter(|h| !h.is_empty())
}

/// The server's port, from its address ("addr;port": SASL_IPREMOTEPORT, of
/// sasl_client_new or sasl_setprop), which libsasl2 keeps in the params too.
/// Read there: sasl_getprop formats an error detail when there is none.
fn server_port(params: &sys::sasl_client_params_t) -> Option<u16> {
    // SAFETY: ipremoteport is NULL or libsasl2's copy of the address, a C
    // string owned by the connection.
    let addr = unsafe { ptr::c_bytes(params.ipremoteport) }?;
    text(addr)
        .rsplit_once(';')
        .and_then(|(_, p)| p.parse().ok())
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
    let step = |args: ptr::StepArgs<'_, sys::sasl_client_params_t, ClientConn>| {
        // SAFETY: the prompt slot and out params libsasl2 passed to this step.
        unsafe { step(args, prompt_need, oparams) }
    };
    // SAFETY: libsasl2 passes this step's out pointers (each may be NULL),
    // the params of this connection, `serverinlen` readable bytes at `serverin` and
    // the context we made in mech_new, all valid for the call.
    unsafe {
        super::mech_step::<_, ClientConn>(
            "client mech_step",
            ptr::RawStep {
                conn_context,
                params: cparams,
                input: serverin,
                len: serverinlen,
                out: clientout,
                out_len: clientoutlen,
            },
            step,
        )
    }
}

/// One step of a client connection, its arguments converted.
///
/// # Safety
/// The prompt slot and out params are libsasl2's for this step (each may be NULL).
unsafe fn step(
    args: ptr::StepArgs<'_, sys::sasl_client_params_t, ClientConn>,
    prompt_need: *mut *mut sys::sasl_interact_t,
    oparams: *mut sys::sasl_out_params_t,
) -> c_int {
    let ptr::StepArgs {
        params,
        utils: u,
        conn,
        input,
        mut out,
    } = args;
    // The application sent the last message before this step: wiped now.
    conn.out = Message::default();
    let step = if conn.session.first_sent() {
        conn.session.challenge(input, unix_now)
    } else {
        // SAFETY: libsasl2's prompt slot and out params for this step.
        let step = unsafe { first_step(conn, params, u, prompt_need, oparams) };
        match step {
            Ok(step) => step,
            Err(rc) => return rc,
        }
    };
    log_notes(&mut conn.session, u);
    // SAFETY: libsasl2's out params for this step (NULL: none).
    let done = unsafe { ptr::out_ref(oparams) };
    answer(step, u, conn, &mut out, done)
}

/// What a step's outcome tells libsasl2 and the application.
fn answer(
    step: ClientStep,
    u: Utils,
    conn: &mut ClientConn,
    out: &mut ptr::Output,
    oparams: Option<&mut sys::sasl_out_params_t>,
) -> c_int {
    match step {
        ClientStep::Send { message, note } => {
            if let Some(note) = note {
                // Logged too: Postfix's smtp client shows it in the mail log.
                u.seterror(&note, true);
            }
            conn.out = message;
            out.set(&conn.out);
            sys::SASL_CONTINUE
        }
        ClientStep::SendLast { message } => {
            conn.out = message;
            out.set(&conn.out);
            oparams.map(utils::set_done);
            sys::SASL_OK
        }
        ClientStep::Done => {
            oparams.map(utils::set_done);
            sys::SASL_OK
        }
        ClientStep::Retry(text) => {
            u.seterror(&text, true);
            sys::SASL_TRYAGAIN
        }
        ClientStep::Failure(e) => {
            u.seterror(&e.reason, true);
            code(e.kind)
        }
    }
}

/// Credentials (possibly by prompting), canonicalisation, and the first message.
///
/// # Safety
/// `prompt_need` and `oparams` are libsasl2's for this step (each may be NULL).
unsafe fn first_step(
    conn: &mut ClientConn,
    params: &sys::sasl_client_params_t,
    u: Utils,
    prompt_need: *mut *mut sys::sasl_interact_t,
    oparams: *mut sys::sasl_out_params_t,
) -> Result<ClientStep, c_int> {
    // The prompts the application answered, if this is the call after SASL_INTERACT.
    let answered = std::mem::take(&mut conn.prompts);
    // SAFETY: libsasl2's pointer to the application's pointer (or NULL); it may
    // point at our previous prompts, which we took back above and no longer expose.
    let mut prompt_need = unsafe { ptr::out_ref(prompt_need) };
    if let Some(p) = prompt_need.as_deref_mut() {
        *p = std::ptr::null_mut();
    }
    let creds = match credentials(u, &answered)? {
        Ok(c) => c,
        Err(need) => {
            let Some(p) = prompt_need else {
                u.seterror(
                    "credentials needed but the application cannot be prompted",
                    true,
                );
                return Err(sys::SASL_INTERACT);
            };
            conn.prompts = need.into_iter().map(make_prompt).collect();
            conn.prompts.push(list_end());
            // The array lives in our context until the next step.
            *p = conn.prompts.as_mut_ptr();
            return Err(sys::SASL_INTERACT);
        }
    };
    // SAFETY: the caller's guarantee: this step's oparams, with this connection's params.
    if let Err(e) = unsafe { canonicalise(&creds, params, u, oparams) } {
        return Ok(ClientStep::Failure(e));
    }
    let host = server_host(params);
    let target = Target {
        host: host.as_deref(),
        port: server_port(params),
    };
    let rt = || RUNTIME.read().ok().and_then(|r| r.clone());
    Ok(conn.session.start(&creds, &target, rt, unix_now))
}

/// libsasl2 requires both names to be canonicalised before a client SASL_OK.
///
/// # Safety
/// `oparams` is libsasl2's for this step, `params` this connection's.
unsafe fn canonicalise(
    creds: &Credentials<'_>,
    params: &sys::sasl_client_params_t,
    u: Utils,
    oparams: *mut sys::sasl_out_params_t,
) -> Result<(), Error> {
    let authid = creds.authid.as_deref().or(creds.authzid.as_deref());
    let authzid = creds.authzid.as_deref().or(authid);
    let (Some(authid), Some(authzid)) = (authid, authzid) else {
        return Ok(());
    };
    // One call for both when they are the same name, as the server side does.
    let names: &[(&str, c_int)] = if authid == authzid {
        &[(authid, sys::SASL_CU_AUTHID | sys::SASL_CU_AUTHZID)]
    } else {
        &[
            (authzid, sys::SASL_CU_AUTHZID),
            (authid, sys::SASL_CU_AUTHID),
        ]
    };
    for &(name, flag) in names {
        // SAFETY: the caller's guarantee; conn and canon_user are this connection's.
        let rc = unsafe { utils::canon_user(params.canon_user, u.conn(), name, flag, oparams) };
        if rc != sys::SASL_OK {
            return Err(Error::param(format!(
                "canonicalising the user name failed (SASL code {rc})"
            )));
        }
    }
    Ok(())
}

/// What the token source did that the log should show (never a secret).
fn log_notes(session: &mut ClientSession, u: Utils) {
    for note in session.take_notes() {
        u.log(Level::Warn, &note);
    }
}

unsafe extern "C" fn mech_dispose(conn_context: *mut c_void, utils: *const sys::sasl_utils_t) {
    boundary(
        "client mech_dispose",
        // SAFETY: libsasl2 passes NULL or its utils, valid for this call.
        || unsafe { ptr::utils(utils) },
        // SAFETY: a non-null conn_context is the ClientConn made in mech_new,
        // disposed once.
        || unsafe { ptr::conn_free::<ClientConn>(conn_context) },
    )
}

unsafe extern "C" fn mech_free(_glob_context: *mut c_void, utils: *const sys::sasl_utils_t) {
    // SAFETY: libsasl2 passes NULL or its utils, valid for this call.
    boundary("client mech_free", || unsafe { ptr::utils(utils) }, || ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_answers_are_read_where_the_application_wrote_them() {
        let answer = b"file:/etc/token.json";
        let mut p = make_prompt(sys::SASL_CB_PASS);
        p.result = answer.as_ptr().cast();
        p.len = answer.len() as c_uint;
        let got = prompt_result(&[p], sys::SASL_CB_PASS).unwrap();
        assert_eq!(got, &answer[..]);
        assert_eq!(got.as_ptr(), answer.as_ptr(), "not a copy");
        assert!(prompt_result(&[p], sys::SASL_CB_USER).is_none());
    }
}
