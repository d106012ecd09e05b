//! `sasl-oauth setup postfix` (also `doctor --postfix`): checks a Postfix
//! relay set-up as its smtp client meets it, from inside the chroot as user
//! postfix, and says how to fix each problem; `--apply` installs the token
//! file into the chroot with the right owner and mode.
//!
//! `instance.rs` asks postconf and postmap; `postconf.rs` and `maps.rs`
//! parse what they print; `probe.rs` checks the token files as the smtp
//! user; `checks.rs` turns all that into findings (`report.rs`);
//! `apply.rs` changes files.

mod apply;
mod checks;
mod instance;
mod maps;
mod postconf;
pub mod probe;
mod report;

use crate::args::SetupPostfixArgs;
use crate::Outcome;
use checks::{ClientView, SmtpUser, TokenPlace};
use instance::{Instance, Transport};
use maps::{Password, Table};
use report::Report;
use sasloauth::client::config::{ClientConfig, DEFAULT_PATH as CLIENT_DEFAULT_PATH};
use sasloauth::config_file;
use std::path::{Path, PathBuf};

/// The token file installed by `--apply` or `token init --postfix` when
/// no map names one, as the smtp client sees it.
const DEFAULT_TOKEN: &str = "/etc/sasl-oauth/token.json";

pub fn run(a: &SetupPostfixArgs) -> Outcome {
    let inst = Instance::load(a.config_dir.as_deref())?;
    let user = smtp_user(&inst)?;
    let mut r = Report::default();
    let apply_cmd = format!("sasl-oauth setup postfix{} --apply", config_dir_arg(&inst));
    check_plugin(&inst, &mut r);
    let client = client_view(&inst);
    for t in inst.transports() {
        match t {
            Err(e) => r.fail("smtp transport", e, vec![]),
            Ok(t) => check_transport(&inst, &t, &client, &user, a, &apply_cmd, &mut r),
        }
    }
    trust_anchors(&client, &mut r);
    if a.json {
        println!("{:#}", r.json());
    } else {
        r.print();
    }
    Ok(r.failed() == 0)
}

/// The user the smtp client runs as: mail_owner.
fn smtp_user(inst: &Instance) -> Result<SmtpUser, String> {
    let name = match inst.param("mail_owner") {
        "" => "postfix",
        n => n,
    };
    let (uid, gid) = instance::user_ids(name)?;
    let group = std::process::Command::new("id")
        .arg("-gn")
        .arg(name)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| gid.to_string());
    Ok(SmtpUser {
        name: name.to_owned(),
        group,
        uid,
        gid,
    })
}

fn check_plugin(inst: &Instance, r: &mut Report) {
    let imported = postconf::imported(inst.param("import_environment"), "SASL_PATH");
    let (dir, why) = match &imported {
        Some(p) => (
            PathBuf::from(p.split(':').next().unwrap_or("")),
            "SASL_PATH in import_environment",
        ),
        None => (crate::doctor::system_plugin_dir(), "libsasl2's directory"),
    };
    let so = dir.join("libsasloauth.so");
    match so.is_file() {
        true => r.ok("plugin", format!("{} ({why})", so.display())),
        false => r.fail(
            "plugin",
            format!(
                "{} is missing ({why}): Postfix's smtp client cannot load the plugin",
                so.display()
            ),
            vec!["make install (or install -m 0644 libsasloauth.so into that directory)".into()],
        ),
    }
}

/// The client configuration the smtp client reads at start (before the chroot).
fn client_view(inst: &Instance) -> ClientView {
    let path = postconf::imported(inst.param("import_environment"), "SASL_OAUTH_CONF")
        .map_or_else(|| PathBuf::from(CLIENT_DEFAULT_PATH), PathBuf::from);
    let exists = path.exists();
    let values = match exists {
        true => config_file::load(&path).map_err(|e| e.reason.into_owned()),
        false => Ok(Default::default()),
    };
    let has_line = values.as_ref().is_ok_and(|v| v.contains_key("mechanisms"));
    let config = values.and_then(|v| {
        ClientConfig::from_values(v, Some(path.clone())).map_err(|e| e.reason.into_owned())
    });
    ClientView {
        path,
        exists,
        config,
        has_line,
    }
}

fn trust_anchors(client: &ClientView, r: &mut Report) {
    let ca = client.config.as_ref().ok().and_then(|c| c.ca_file.clone());
    match ca {
        None => r.ok(
            "trust anchors",
            "built-in web roots and the system's, read when the plugin loads (before the chroot): nothing to copy into it",
        ),
        Some(ca) => match std::fs::File::open(&ca) {
            Ok(_) => r.ok(
                "trust anchors",
                format!("ca_file {} (read before the chroot, with the built-in roots): nothing to copy", ca.display()),
            ),
            Err(e) => r.fail("trust anchors", format!("ca_file {}: {e}", ca.display()), vec![]),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn check_transport(
    inst: &Instance,
    t: &Transport,
    client: &ClientView,
    user: &SmtpUser,
    a: &SetupPostfixArgs,
    apply_cmd: &str,
    r: &mut Report,
) {
    let queue = PathBuf::from(inst.param("queue_directory"));
    let chroot = t.service.chrooted().then(|| queue.clone());
    r.info(
        "smtp transport",
        match &chroot {
            Some(q) => format!(
                "master.cf '{}': chrooted in {}",
                t.service.line,
                q.display()
            ),
            None => format!("master.cf '{}': not chrooted", t.service.line),
        },
    );
    checks::sasl_enabled(t, r);
    checks::relayhost(t, r);
    checks::mechanisms(t, client, r);
    let mut places = token_places(inst, t, chroot.as_deref(), r);
    if a.apply {
        apply_places(
            t,
            chroot.as_deref(),
            &mut places,
            user,
            a.token_file.as_deref(),
            r,
        );
    }
    if places.is_empty() {
        return;
    }
    // As the smtp client runs: mail_owner, unless master.cf's unpriv says n.
    let smtp = match t.service.as_root() {
        true => SmtpUser {
            uid: 0,
            gid: 0,
            name: "root".into(),
            group: "root".into(),
        },
        false => SmtpUser {
            name: user.name.clone(),
            group: user.group.clone(),
            ..*user
        },
    };
    let root = chroot.clone().unwrap_or_else(|| PathBuf::from("/"));
    let paths: Vec<String> = places.iter().map(|p| p.path.clone()).collect();
    let answer = match probe::run_as(&root, smtp.uid, smtp.gid, &paths, &[]) {
        Ok(a) => a,
        Err(e) => return r.fail("token file", format!("not checked: {e}"), vec![]),
    };
    let mut reads: Vec<(String, &'static str, Option<PathBuf>)> = Vec::new();
    for (place, probe) in places.iter().zip(&answer.tokens) {
        checks::token_file(t, place, probe, &smtp, apply_cmd, r);
        if let Some(Ok(facts)) = &probe.parsed {
            reads.extend(files_a_refresh_reads(facts, client, chroot.is_some()));
        }
    }
    check_reads(&root, &smtp, reads, r);
}

/// The files a refresh reads inside the chroot, opened as the smtp user.
fn check_reads(
    root: &Path,
    smtp: &SmtpUser,
    mut reads: Vec<(String, &'static str, Option<PathBuf>)>,
    r: &mut Report,
) {
    reads.sort();
    reads.dedup();
    if reads.is_empty() {
        return;
    }
    let paths: Vec<String> = reads.iter().map(|(p, _, _)| p.clone()).collect();
    match probe::run_as(root, smtp.uid, smtp.gid, &[], &paths) {
        Err(e) => r.fail("chroot files", format!("not checked: {e}"), vec![]),
        Ok(answer) => {
            for ((path, what, source), probe) in reads.iter().zip(&answer.reads) {
                let host = root.join(path.trim_start_matches('/'));
                checks::chroot_read(what, probe, &host, source.as_deref(), smtp, r);
            }
        }
    }
}

/// The files a refresh of this token file opens inside the chroot: the
/// resolver's (a token endpoint by name), a client_secret_file; each with
/// the host file to copy in.
fn files_a_refresh_reads(
    facts: &probe::TokenFacts,
    client: &ClientView,
    chrooted: bool,
) -> Vec<(String, &'static str, Option<PathBuf>)> {
    let mut reads = Vec::new();
    if chrooted {
        if let Some(f) = facts
            .endpoint_host
            .as_deref()
            .and_then(checks::resolver_file)
        {
            reads.push((f.into(), "resolver", Some(PathBuf::from(f))));
        }
    }
    if !facts.has_client_secret {
        let secret_file = client.config.as_ref().ok().and_then(|c| {
            c.get(facts.provider.as_deref(), "client_secret_file")
                .map(str::to_owned)
        });
        if let Some(f) = secret_file {
            let outside = chrooted.then(|| PathBuf::from(&f));
            reads.push((f, "client secret file", outside));
        }
    }
    reads
}

/// `--apply`: every token file of the maps (or, when none is named, the
/// default place for `--token-file`, with the map line to add).
fn apply_places(
    t: &Transport,
    chroot: Option<&Path>,
    places: &mut Vec<TokenPlace>,
    user: &SmtpUser,
    source: Option<&Path>,
    r: &mut Report,
) {
    if let (true, Some(src)) = (places.is_empty(), source) {
        places.push(default_place(chroot));
        let user_name = sasloauth::token::file::read(src)
            .ok()
            .and_then(|f| f.user)
            .unwrap_or_else(|| "USER".into());
        r.info(
            "apply",
            format!("no map names a token file: installing it as {DEFAULT_TOKEN}"),
        );
        r.fail(
            "password maps",
            "the map must name the installed token file",
            vec![t.fix(
                "smtp_sasl_password_maps",
                &format!("static:{user_name}:file:{DEFAULT_TOKEN}"),
            )],
        );
    }
    for p in places.iter() {
        apply::apply(p, source, user, r);
    }
    // What was changed: seen again by the probe.
    for p in places.iter_mut() {
        p.exists_outside = chroot.is_some() && Path::new(&p.path).exists();
    }
}

/// The place `--apply` and `token init --postfix` use when no map names a file.
fn default_place(chroot: Option<&Path>) -> TokenPlace {
    let spec = format!("static:USER:file:{DEFAULT_TOKEN}");
    let mut p = TokenPlace {
        path: DEFAULT_TOKEN.into(),
        table: Table::parse(&spec).expect("a static table"),
        key: "*".into(),
        chroot: chroot.map(Path::to_owned),
        exists_outside: false,
        dedicated_dir: true,
    };
    p.dedicated_dir = dedicated(&p);
    p
}

/// Whether the token file's directory holds nothing but it, its lock and
/// its temporary files (or does not exist).
fn dedicated(place: &TokenPlace) -> bool {
    let host = place.host_path();
    let Some(name) = host.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(place.host_dir()) else {
        return !place.host_dir().exists();
    };
    let lock = format!("{name}.lock");
    let tmp = format!(".{name}.");
    entries.flatten().all(|e| {
        let n = e.file_name();
        let n = n.to_string_lossy();
        n == name || n == lock || (n.starts_with(&tmp) && n.ends_with(".tmp"))
    })
}

/// The relay host's entry, then every `file:` token file of the maps.
fn token_places(
    inst: &Instance,
    t: &Transport,
    chroot: Option<&Path>,
    r: &mut Report,
) -> Vec<TokenPlace> {
    let maps = t.get("smtp_sasl_password_maps");
    let tables: Vec<Table> = postconf::split_list(maps)
        .iter()
        .filter_map(|s| Table::parse(s))
        .collect();
    if tables.is_empty() {
        r.fail(
            "password maps",
            format!(
                "{} is empty: the smtp client has no login to give",
                t.origin("smtp_sasl_password_maps")
            ),
            vec![t.fix(
                "smtp_sasl_password_maps",
                &format!("static:USER:file:{DEFAULT_TOKEN}"),
            )],
        );
        return Vec::new();
    }
    let mut places: Vec<TokenPlace> = Vec::new();
    let mut add = |table: &Table, key: &str, path: String| {
        if !places.iter().any(|p| p.path == path) {
            places.push(token_place(table, key, path, chroot));
        }
    };
    if let Some((table, key, path)) = relay_entry(inst, t, &tables, r) {
        add(&table, &key, path);
    }
    for table in &tables {
        match inst.entries(table) {
            Err(e) => r.warn("password maps", e, vec![]),
            Ok(entries) => {
                for (key, value) in entries {
                    if let Some((_, Password::File(p))) = maps::split_entry(&value) {
                        add(table, &key, p);
                    }
                }
            }
        }
    }
    places
}

fn token_place(table: &Table, key: &str, path: String, chroot: Option<&Path>) -> TokenPlace {
    let mut p = TokenPlace {
        exists_outside: chroot.is_some() && Path::new(&path).exists(),
        path,
        table: table.clone(),
        key: key.to_owned(),
        chroot: chroot.map(Path::to_owned),
        dedicated_dir: true,
    };
    p.dedicated_dir = dedicated(&p);
    p
}

/// The relay host's password, looked up as Postfix does (the first table
/// with an entry for relayhost as written): its table, key and token file.
fn relay_entry(
    inst: &Instance,
    t: &Transport,
    tables: &[Table],
    r: &mut Report,
) -> Option<(Table, String, String)> {
    let relay = t.get("relayhost").split([',', ' ']).next().unwrap_or("");
    if relay.is_empty() {
        return None;
    }
    let mut found = None;
    for table in tables {
        match inst.lookup(relay, table) {
            Ok(Some(v)) => {
                found = Some((table, v));
                break;
            }
            Ok(None) => {}
            Err(e) => r.warn("password maps", e, vec![]),
        }
    }
    let Some((table, v)) = found else {
        let maps = t.get("smtp_sasl_password_maps");
        let fix = match tables.iter().find(|t| t.file().is_some()) {
            Some(tb) if tb.kind == "texthash" => format!(
                "add the line '{relay} USER:file:{DEFAULT_TOKEN}' to {}",
                tb.name
            ),
            Some(tb) => format!(
                "add the line '{relay} USER:file:{DEFAULT_TOKEN}' to {}, then run postmap {}",
                tb.name, tb.spec
            ),
            None => t.fix(
                "smtp_sasl_password_maps",
                &format!("static:USER:file:{DEFAULT_TOKEN}"),
            ),
        };
        r.fail(
            "password maps",
            format!("no entry for {relay} in {maps}: Postfix looks the relay host up exactly as relayhost writes it"),
            vec![fix],
        );
        return None;
    };
    match maps::split_entry(&v) {
        Some((user, Password::File(p))) => {
            r.ok("password maps", format!("{relay}: user {user}, token file {p} (from {})", table.spec));
            return Some((table.clone(), relay.to_owned(), p));
        }
        Some((user, Password::Command)) => r.info("password maps", format!("{relay}: user {user}, a cmd: password (runs inside the chroot)")),
        Some((user, Password::Other)) => r.warn(
            "password maps",
            format!("{relay}: user {user} with a fixed password: sent as an access token, it stops working within the hour"),
            vec![format!("sasl-oauth token init --postfix{} …", config_dir_arg(inst))],
        ),
        None => r.fail("password maps", format!("{relay}: the entry in {} is not user:password", table.spec), vec![]),
    }
    None
}

fn config_dir_arg(inst: &Instance) -> String {
    inst.config_dir
        .as_ref()
        .map(|d| format!(" --config-dir {}", d.display()))
        .unwrap_or_default()
}

/// Where `token init --postfix` writes: the relay host's token file (or
/// the default place), as seen from the host, and the lines to print.
pub struct Destination {
    place: TokenPlace,
    user: SmtpUser,
    /// The fix naming the file in the map, when no map does yet.
    pub map_line: Option<String>,
}

impl Destination {
    pub fn find(config_dir: Option<&Path>, user_name: Option<&str>) -> Result<Destination, String> {
        let inst = Instance::load(config_dir)?;
        let user = smtp_user(&inst)?;
        let t = inst
            .transports()
            .into_iter()
            .next()
            .ok_or("no smtp transport in master.cf")??;
        let queue = PathBuf::from(inst.param("queue_directory"));
        let chroot = t.service.chrooted().then_some(queue);
        let mut scratch = Report::default();
        let mut places = token_places(&inst, &t, chroot.as_deref(), &mut scratch);
        let (place, map_line) = match places.is_empty() {
            false => (places.remove(0), None),
            true => (
                default_place(chroot.as_deref()),
                Some(t.fix(
                    "smtp_sasl_password_maps",
                    &format!(
                        "static:{}:file:{DEFAULT_TOKEN}",
                        user_name.unwrap_or("USER")
                    ),
                )),
            ),
        };
        Ok(Destination {
            place,
            user,
            map_line,
        })
    }

    pub fn host_path(&self) -> PathBuf {
        self.place.host_path()
    }

    /// The path in the map (inside the chroot when smtp is chrooted).
    pub fn map_path(&self) -> &str {
        &self.place.path
    }

    pub fn write(&self, bytes: &[u8], replace: bool) -> Result<(), String> {
        let mut r = Report::default();
        apply::install(&self.place, bytes, replace, &self.user, &mut r)?;
        for f in &r.findings {
            println!("{}", f.detail);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_of_its_own_holds_only_the_token_file_its_lock_and_temporary_files() {
        let q = std::env::temp_dir().join(format!("sasl-oauth-dedicated-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&q);
        let table = Table::parse("static:a:file:/etc/sasl-oauth/token.json").unwrap();
        let place = || token_place(&table, "*", "/etc/sasl-oauth/token.json".into(), Some(&q));
        assert!(
            place().dedicated_dir,
            "a directory not there yet is ours to make"
        );
        let dir = q.join("etc/sasl-oauth");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["token.json", "token.json.lock", ".token.json.4242.tmp"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let p = place();
        assert!(p.dedicated_dir);
        assert_eq!(p.host_path(), dir.join("token.json"));
        assert!(!p.exists_outside || Path::new("/etc/sasl-oauth/token.json").exists());
        std::fs::write(dir.join("resolv.conf"), "").unwrap();
        assert!(
            !place().dedicated_dir,
            "a directory with other files is not given away"
        );
        std::fs::remove_dir_all(&q).unwrap();
    }
}
