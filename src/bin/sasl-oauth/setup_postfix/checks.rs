//! The checks, as pure functions of what was gathered (the transport's
//! settings, the client configuration, the probe's answer): each adds
//! findings with the command or main.cf line that fixes it.

use super::instance::Transport;
use super::maps::Table;
use super::postconf::words_lower;
use super::probe::{LockState, ReadProbe, StatInfo, TokenProbe};
use super::report::Report;
use sasloauth::client::config::ClientConfig;
use sasloauth::protocol::Mechanism;
use std::path::{Path, PathBuf};

// libsasl2's security flags (sasl.h), as Postfix's option names ask for them.
const NOPLAINTEXT: u32 = 0x0001;
const NOACTIVE: u32 = 0x0002;
const NODICTIONARY: u32 = 0x0004;
const NOANONYMOUS: u32 = 0x0010;
const MUTUAL_AUTH: u32 = 0x0020;
const PASS_CREDENTIALS: u32 = 0x0200;

/// The flags the plugin's client mechanisms claim (src/ffi/mod.rs): a
/// bearer token is replayable, so no NOPLAINTEXT; OAUTH10A signs each login.
pub fn mechanism_flags(m: Mechanism) -> u32 {
    match m {
        Mechanism::OAuth10a => NOANONYMOUS | NOPLAINTEXT,
        _ => NOANONYMOUS | PASS_CREDENTIALS,
    }
}

/// What a Postfix security option requires of a mechanism; None: unknown word.
fn required_flag(option: &str) -> Option<u32> {
    Some(match option {
        "noplaintext" => NOPLAINTEXT,
        "noactive" => NOACTIVE,
        "nodictionary" => NODICTIONARY,
        "noanonymous" => NOANONYMOUS,
        "mutual_auth" => MUTUAL_AUTH,
        _ => return None,
    })
}

/// The security option parameters the smtp client applies at this TLS level.
pub fn applicable_security_options(tls_level: &str) -> Vec<&'static str> {
    match tls_level {
        "" | "none" => vec!["smtp_sasl_security_options"],
        "may" => vec![
            "smtp_sasl_security_options",
            "smtp_sasl_tls_security_options",
        ],
        "encrypt" => vec!["smtp_sasl_tls_security_options"],
        "dane" => vec![
            "smtp_sasl_tls_security_options",
            "smtp_sasl_tls_verified_security_options",
        ],
        _ => vec!["smtp_sasl_tls_verified_security_options"],
    }
}

/// Whether the relay host is this machine (a token sent in the clear stays here).
fn loopback_relay(relayhost: &str) -> bool {
    let host = relayhost.trim_start_matches('[');
    let host = host.split([']', ':']).next().unwrap_or("");
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

pub fn sasl_enabled(t: &Transport, r: &mut Report) {
    let topic = "SASL in smtp";
    let enabled = t.get("smtp_sasl_auth_enable").eq_ignore_ascii_case("yes");
    let cyrus = t.get("smtp_sasl_type") == "cyrus";
    if !enabled {
        r.fail(
            topic,
            format!(
                "smtp_sasl_auth_enable is '{}': the smtp client does not log in",
                t.get("smtp_sasl_auth_enable")
            ),
            vec![t.fix("smtp_sasl_auth_enable", "yes")],
        );
    } else if !cyrus {
        r.fail(
            topic,
            format!(
                "smtp_sasl_type is '{}': only Cyrus SASL loads this plugin",
                t.get("smtp_sasl_type")
            ),
            vec![t.fix("smtp_sasl_type", "cyrus")],
        );
    } else {
        r.ok(topic, "smtp_sasl_auth_enable = yes, smtp_sasl_type = cyrus");
    }
}

pub fn relayhost(t: &Transport, r: &mut Report) {
    let relay = t.get("relayhost");
    if relay.is_empty() {
        r.fail(
            "relay host",
            "relayhost is empty: mail goes straight to each domain's MX, not through your provider",
            vec![t.fix("relayhost", "[smtp.office365.com]:587")],
        );
        return;
    }
    r.ok("relay host", format!("relayhost = {relay}"));
    let level = t.get("smtp_tls_security_level");
    if matches!(level, "" | "none" | "may") && !loopback_relay(relay) {
        r.warn(
            "TLS",
            format!("smtp_tls_security_level = {level}: the bearer token may cross the network unencrypted"),
            vec![t.fix("smtp_tls_security_level", "encrypt")],
        );
    }
}

/// The client configuration as the smtp client reads it at start.
pub struct ClientView {
    pub path: PathBuf,
    pub exists: bool,
    pub config: Result<ClientConfig, String>,
    /// Whether the file has a `mechanisms:` line.
    pub has_line: bool,
}

/// Our mechanisms a filter names; None when it names a table (not checkable).
fn filtered(filter: &str) -> Option<Vec<Mechanism>> {
    let words = words_lower(filter);
    if words.iter().any(|w| w.contains(':') || w.contains('/')) {
        return None;
    }
    Some(
        Mechanism::ALL
            .into_iter()
            .filter(|m| words.iter().any(|w| w.eq_ignore_ascii_case(m.name())))
            .collect(),
    )
}

/// The mechanism filter, the client's `mechanisms:` line and the security
/// options together: one of our mechanisms must survive all three.
pub fn mechanisms(t: &Transport, client: &ClientView, r: &mut Report) {
    let filter = t.get("smtp_sasl_mechanism_filter");
    let registered: Vec<Mechanism> = client
        .config
        .as_ref()
        .map(|c| c.mechanisms.clone())
        .unwrap_or_default();
    let named = filtered(filter);
    let suggestion: Vec<Mechanism> = match (&named, registered.is_empty()) {
        (Some(n), _) if !n.is_empty() => n.clone(),
        (_, false) => registered.clone(),
        _ => vec![Mechanism::XOAuth2],
    };
    filter_check(t, named.as_deref(), &suggestion, r);
    client_line(client, &registered, named.as_deref(), &suggestion, r);
    // Security options: which of the chosen mechanisms they let through.
    let candidates: Vec<Mechanism> = match &named {
        Some(n) if !n.is_empty() => n.clone(),
        _ => suggestion.clone(),
    };
    for param in applicable_security_options(t.get("smtp_tls_security_level")) {
        security_option(t, param, &candidates, r);
    }
}

fn upper(ms: &[Mechanism]) -> String {
    ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(" ")
}

/// smtp_sasl_mechanism_filter: it must name one of ours (`named`: None
/// when it is a table).
fn filter_check(
    t: &Transport,
    named: Option<&[Mechanism]>,
    suggestion: &[Mechanism],
    r: &mut Report,
) {
    let filter = t.get("smtp_sasl_mechanism_filter");
    let origin = t.origin("smtp_sasl_mechanism_filter");
    let lower: Vec<String> = suggestion
        .iter()
        .map(|m| m.name().to_ascii_lowercase())
        .collect();
    let fix = || vec![t.fix("smtp_sasl_mechanism_filter", &lower.join(", "))];
    match named {
        None => r.warn(
            "mechanism filter",
            format!("{origin} = {filter} is a table: not checked"),
            vec![],
        ),
        Some(_) if filter.trim().is_empty() => r.fail(
            "mechanism filter",
            format!("{origin} is empty: libsasl2 picks among every mechanism the server offers, PLAIN and LOGIN too, and would send file:… as a password"),
            fix(),
        ),
        Some([]) => r.fail(
            "mechanism filter",
            format!("{origin} = {filter} names none of OAUTHBEARER, XOAUTH2, OAUTH10A, OAUTH"),
            fix(),
        ),
        Some(n) => r.ok("mechanism filter", format!("{origin} = {filter}: {}", upper(n))),
    }
}

/// The client configuration's mechanisms line: it must register one the
/// filter names.
fn client_line(
    client: &ClientView,
    registered: &[Mechanism],
    named: Option<&[Mechanism]>,
    suggestion: &[Mechanism],
    r: &mut Report,
) {
    let shown = client.path.display();
    let line_fix = |ms: &[Mechanism]| match client.has_line {
        false => format!("printf 'mechanisms: {}\\n' >> {shown}", upper(ms)),
        true => format!(
            "sed -i 's/^mechanisms:.*/mechanisms: {}/' {shown}",
            upper(ms)
        ),
    };
    if let Err(e) = &client.config {
        return r.fail(
            "client mechanisms",
            format!("{shown}: {e}: the plugin registers no client mechanism"),
            vec![],
        );
    }
    if registered.is_empty() {
        let why = match client.exists {
            true => "has no mechanisms line",
            false => "does not exist",
        };
        return r.fail(
            "client mechanisms",
            format!("{shown} {why}: the plugin registers no client mechanism"),
            vec![line_fix(suggestion)],
        );
    }
    let unmet = named.is_some_and(|n| !n.is_empty() && !registered.iter().any(|m| n.contains(m)));
    if unmet {
        let mut wanted = registered.to_vec();
        wanted.extend(
            suggestion
                .iter()
                .copied()
                .filter(|m| !registered.contains(m)),
        );
        return r.fail(
            "client mechanisms",
            format!(
                "{shown} registers {}, which the mechanism filter does not name",
                upper(registered)
            ),
            vec![line_fix(&wanted)],
        );
    }
    r.ok(
        "client mechanisms",
        format!("{shown}: mechanisms: {}", upper(registered)),
    );
}

fn security_option(t: &Transport, param: &str, candidates: &[Mechanism], r: &mut Report) {
    let value = t.get(param);
    let words = words_lower(value);
    let mut required = 0;
    for w in &words {
        match required_flag(w) {
            Some(f) => required |= f,
            None => r.warn(
                "security options",
                format!("{param}: unknown option '{w}'"),
                vec![],
            ),
        }
    }
    let pass: Vec<&str> = candidates
        .iter()
        .filter(|m| mechanism_flags(**m) & required == required)
        .map(|m| m.name())
        .collect();
    let origin = t.origin(param);
    if !pass.is_empty() {
        return r.ok(
            "security options",
            format!("{origin} = {value}: lets {} through", pass.join(" ")),
        );
    }
    let kept: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| {
            !matches!(
                *w,
                "noplaintext" | "noactive" | "nodictionary" | "mutual_auth"
            )
        })
        .collect();
    let fixed = match kept.is_empty() {
        true => "noanonymous".to_owned(),
        false => kept.join(", "),
    };
    let names: Vec<&str> = candidates.iter().map(|m| m.name()).collect();
    r.fail(
        "security options",
        format!(
            "{origin} = {value} hides {}: a bearer token is replayable, so the plugin does not claim noplaintext (TLS protects it on the wire)",
            names.join(" and ")
        ),
        vec![t.fix(param, &fixed)],
    );
}

/// Where a token file named in a map lives, seen from the host (as root).
pub struct TokenPlace {
    /// As the map names it (inside the chroot when smtp is chrooted).
    pub path: String,
    /// The map's table and key, for the fixes that change the path.
    pub table: Table,
    pub key: String,
    /// The chroot (queue directory), when smtp is chrooted.
    pub chroot: Option<PathBuf>,
    /// Whether `path` exists outside the chroot, on the host.
    pub exists_outside: bool,
    /// Whether its directory (inside the chroot) holds only this token
    /// file and its lock and temporary files (or does not exist yet), so
    /// that it may be given to the smtp user.
    pub dedicated_dir: bool,
}

impl TokenPlace {
    /// The path on the host of the file the smtp client opens.
    pub fn host_path(&self) -> PathBuf {
        match &self.chroot {
            Some(q) => q.join(self.path.trim_start_matches('/')),
            None => PathBuf::from(&self.path),
        }
    }

    pub fn host_dir(&self) -> PathBuf {
        self.host_path()
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_owned)
    }
}

/// The smtp client's user, for the checks and the fixes.
pub struct SmtpUser {
    pub name: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
}

/// The fix that makes the map name `new` instead of `place.path`.
fn map_path_fix(t: &Transport, place: &TokenPlace, new: &str) -> String {
    match place.table.static_value() {
        Some(_) => {
            let maps = t.get("smtp_sasl_password_maps");
            let fixed = maps.replacen(&format!("file:{}", place.path), &format!("file:{new}"), 1);
            t.fix("smtp_sasl_password_maps", &fixed)
        }
        None => format!(
            "edit {}: give {} the password file:{new}, then run postmap {}",
            place.table.file().unwrap_or(&place.table.spec),
            place.key,
            place.table.spec
        ),
    }
}

fn is_errno(e: &str, errno: i32) -> bool {
    e.ends_with(&format!("(os error {errno})"))
}

fn mode_owner(s: &StatInfo) -> String {
    format!(
        "owner uid {}, group gid {}, mode {:04o}",
        s.uid, s.gid, s.mode
    )
}

/// What the checks of one token file share.
struct FileCheck<'a> {
    t: &'a Transport,
    place: &'a TokenPlace,
    probe: &'a TokenProbe,
    user: &'a SmtpUser,
    apply_cmd: &'a str,
    host: PathBuf,
    /// The path as the map names it, and where that is on the host.
    seen: String,
}

impl FileCheck<'_> {
    /// --apply, or the chown and chmod it would do.
    fn owner_fixes(&self) -> Vec<String> {
        let u = self.user;
        vec![
            self.apply_cmd.to_owned(),
            format!("chown {}:{} {}", u.name, u.group, self.host.display()),
            format!("chmod 600 {}", self.host.display()),
        ]
    }

    fn init_fix(&self, rest: &str) -> Vec<String> {
        vec![format!(
            "sasl-oauth token init --postfix{} {rest}",
            config_dir_arg(self.t)
        )]
    }

    fn directory(&self, r: &mut Report) {
        directory(self.place, self.probe, self.user, self.apply_cmd, r);
    }
}

/// The findings of one token file, from the probe's answer.
pub fn token_file(
    t: &Transport,
    place: &TokenPlace,
    probe: &TokenProbe,
    user: &SmtpUser,
    apply_cmd: &str,
    r: &mut Report,
) {
    let host = place.host_path();
    let seen = match &place.chroot {
        Some(q) => format!(
            "{} (in smtp's chroot {}: {})",
            place.path,
            q.display(),
            host.display()
        ),
        None => place.path.clone(),
    };
    let c = FileCheck {
        t,
        place,
        probe,
        user,
        apply_cmd,
        host,
        seen,
    };
    if host_path_in_map(&c, r) {
        return;
    }
    let Some(stat) = readable(&c, r) else {
        return;
    };
    contents(&c, r);
    owner_and_mode(&c, &stat, r);
    c.directory(r);
}

/// A chrooted smtp client with a map naming the host's path of a file in
/// the chroot: says which path to name.
fn host_path_in_map(c: &FileCheck, r: &mut Report) -> bool {
    let Some(q) = &c.place.chroot else {
        return false;
    };
    let qs = q.display().to_string();
    let Some(inner) = c
        .place
        .path
        .strip_prefix(&qs)
        .filter(|p| p.starts_with('/'))
    else {
        return false;
    };
    r.fail(
        "token file",
        format!("the map names {}, a path on the host: smtp runs chrooted in {qs}, where that file is {inner}", c.place.path),
        vec![map_path_fix(c.t, c.place, inner)],
    );
    true
}

/// Whether the smtp user opens the file; its owner and mode when it does.
fn readable(c: &FileCheck, r: &mut Report) -> Option<StatInfo> {
    let topic = "token file";
    let (who, group) = (&c.user.name, &c.user.group);
    match &c.probe.read {
        Ok(s) => return Some(*s),
        Err(e) if is_errno(e, libc::ENOENT) && c.place.exists_outside => {
            let q = c.place.chroot.as_deref().unwrap_or(Path::new("/"));
            r.fail(
                topic,
                format!("{} is outside smtp's chroot {}: from inside, the file is {}, which does not exist", c.place.path, q.display(), c.host.display()),
                vec![
                    c.apply_cmd.to_owned(),
                    format!("install -d -o {who} -g {group} -m 700 {}", c.place.host_dir().display()),
                    format!("install -o {who} -g {group} -m 600 {} {}", c.place.path, c.host.display()),
                ],
            );
        }
        Err(e) if is_errno(e, libc::ENOENT) => {
            r.fail(
                topic,
                format!("{} does not exist", c.seen),
                c.init_fix("--provider … --client-id … --user …"),
            );
            if c.probe.dir.is_ok() {
                c.directory(r);
            }
        }
        Err(e) => {
            r.fail(
                topic,
                format!("user {who} cannot read {}: {e}", c.seen),
                c.owner_fixes(),
            );
            // The directory and the lock have their own problems: said too.
            c.directory(r);
        }
    }
    None
}

/// What the file says: a token file, and whether it can be refreshed.
fn contents(c: &FileCheck, r: &mut Report) {
    let topic = "token file";
    let seen = &c.seen;
    let facts = match &c.probe.parsed {
        None => return,
        Some(Err(e)) => {
            return r.fail(
                topic,
                format!("{seen} is not a token file: {e}"),
                c.init_fix("--force …"),
            )
        }
        Some(Ok(f)) => f,
    };
    let now = sasloauth::validate::unix_now();
    let expired = facts.expires_at.is_some_and(|e| e <= now);
    match (facts.refreshable, expired) {
        (false, true) => r.fail(
            topic,
            format!("{seen}: the access token has expired and the file has no refresh_token"),
            c.init_fix("--force …"),
        ),
        (false, false) => r.warn(
            topic,
            format!("{seen}: no refresh_token: it stops working when the access token expires"),
            vec![],
        ),
        (true, _) => r.ok(
            topic,
            format!(
                "{seen} reads as user {} and can be refreshed{}",
                c.user.name,
                match facts.expires_at {
                    Some(e) if e <= now =>
                        " (the access token has expired: the first login refreshes it)".to_owned(),
                    Some(e) => format!(" (the access token expires in {} s)", e - now),
                    None => String::new(),
                }
            ),
        ),
    }
}

/// The plugin refuses a file others may write; one others may read, or
/// another user's, works but should change.
fn owner_and_mode(c: &FileCheck, stat: &StatInfo, r: &mut Report) {
    let (seen, who) = (&c.seen, &c.user.name);
    if stat.mode & 0o022 != 0 && stat.uid != c.user.uid {
        r.fail(
            "token file",
            format!(
                "{seen} is writable by group or others and not {who}'s ({}): the plugin refuses it",
                mode_owner(stat)
            ),
            c.owner_fixes(),
        );
    } else if stat.uid != c.user.uid || stat.mode & 0o077 != 0 {
        r.warn(
            "token file",
            format!(
                "{seen}: {} (it holds a refresh token: owner {who}, mode 0600)",
                mode_owner(stat)
            ),
            c.owner_fixes(),
        );
    }
}

fn config_dir_arg(t: &Transport) -> String {
    t.postconf
        .strip_prefix("postconf")
        .map(|rest| rest.replacen(" -c ", " --config-dir ", 1))
        .unwrap_or_default()
}

/// The directory: the plugin refuses one others may write; the refresh
/// needs to create and rename a file there and to take the lock.
fn directory(
    place: &TokenPlace,
    probe: &TokenProbe,
    user: &SmtpUser,
    apply_cmd: &str,
    r: &mut Report,
) {
    let topic = "token directory";
    let hd = place.host_dir();
    let who = &user.name;
    let dir = match &probe.dir {
        Err(e) => {
            return r.fail(
                topic,
                format!("user {who} cannot open {}: {e}", hd.display()),
                dir_fixes(place, user, apply_cmd),
            )
        }
        Ok(d) => *d,
    };
    if dir.mode & 0o022 != 0 && dir.uid != user.uid {
        return r.fail(
            topic,
            format!("{} is writable by group or others and not {who}'s ({}): the plugin refuses token files there", hd.display(), mode_owner(&dir)),
            dir_fixes(place, user, apply_cmd),
        );
    }
    match &probe.write {
        Err(e) => r.fail(
            topic,
            format!(
                "{} ({}): user {who} {e}: a refresh cannot replace the token file",
                hd.display(),
                mode_owner(&dir)
            ),
            dir_fixes(place, user, apply_cmd),
        ),
        Ok(()) => r.ok(
            topic,
            format!("user {who} can create and rename files in {}", hd.display()),
        ),
    }
    lock_file(place, probe, user, apply_cmd, r);
}

/// The directory given to the smtp user, when it holds nothing else; else
/// a directory of the token file's own.
fn dir_fixes(place: &TokenPlace, user: &SmtpUser, apply_cmd: &str) -> Vec<String> {
    let hd = place.host_dir();
    let (who, group) = (&user.name, &user.group);
    if place.dedicated_dir {
        return vec![
            apply_cmd.to_owned(),
            format!("chown {who}:{group} {}", hd.display()),
            format!("chmod 700 {}", hd.display()),
        ];
    }
    let dir = "/etc/sasl-oauth";
    let new_host = match &place.chroot {
        Some(q) => q.join("etc/sasl-oauth"),
        None => PathBuf::from(dir),
    };
    vec![
        format!(
            "# {} holds other files: give the token file a directory of its own",
            hd.display()
        ),
        format!(
            "install -d -o {who} -g {group} -m 700 {}",
            new_host.display()
        ),
        format!("then move the token file there and name file:{dir}/… in the map"),
    ]
}

/// The plugin's lock file beside the token file.
fn lock_file(
    place: &TokenPlace,
    probe: &TokenProbe,
    user: &SmtpUser,
    apply_cmd: &str,
    r: &mut Report,
) {
    let who = &user.name;
    let lock = format!("{}.lock", place.host_path().display());
    match &probe.lock {
        Err(e) => r.fail(
            "lock file",
            format!("user {who}: {e}"),
            vec![
                apply_cmd.to_owned(),
                format!("chown {who}:{} {lock}", user.group),
            ],
        ),
        Ok(LockState::Absent) => r.ok(
            "lock file",
            format!("{lock} does not exist yet: the first refresh creates it"),
        ),
        Ok(LockState::Locked { .. }) => {
            r.ok("lock file", format!("user {who} can take the lock {lock}"))
        }
        Ok(LockState::Held { .. }) => r.ok(
            "lock file",
            format!("{lock} opens; another process holds the lock right now (a refresh)"),
        ),
    }
}

/// The file the refresh needs inside the chroot to find the token
/// endpoint's `host` (nothing for an address): glibc reads /etc/hosts for
/// localhost, /etc/resolv.conf for the DNS. Debian's postfix service copies
/// them into /var/spool/postfix/etc at start; a private instance does not.
pub fn resolver_file(host: &str) -> Option<&'static str> {
    match host {
        h if h.parse::<std::net::IpAddr>().is_ok() || h.starts_with('[') => None,
        "localhost" => Some("/etc/hosts"),
        _ => Some("/etc/resolv.conf"),
    }
}

/// A file the smtp client reads inside its chroot at refresh time
/// (client_secret_file, the resolver's files).
pub fn chroot_read(
    what: &str,
    probe: &ReadProbe,
    host: &Path,
    source: Option<&Path>,
    user: &SmtpUser,
    r: &mut Report,
) {
    match &probe.read {
        Ok(()) => r.ok(
            what,
            format!("user {} reads {} inside the chroot", user.name, probe.path),
        ),
        Err(e) => {
            let mut fixes = Vec::new();
            // The resolver's files are public (root's, 0644); a secret is the smtp user's only.
            match (source, what) {
                (Some(src), "resolver") => fixes.push(format!(
                    "install -D -m 644 {} {}",
                    src.display(),
                    host.display()
                )),
                (Some(src), _) => fixes.push(format!(
                    "install -D -o {} -g {} -m 600 {} {}",
                    user.name,
                    user.group,
                    src.display(),
                    host.display()
                )),
                (None, _) => {}
            }
            r.fail(
                what,
                format!(
                    "user {} cannot read {} inside the chroot ({}): {e}",
                    user.name,
                    probe.path,
                    host.display()
                ),
                fixes,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::postconf::Service;
    use super::*;
    use crate::setup_postfix::report::Verdict;
    use std::collections::{HashMap, HashSet};

    fn transport(settings: &[(&str, &str)], overridden: &[&str]) -> Transport {
        Transport {
            service: Service {
                name: "smtp".into(),
                kind: "unix".into(),
                unprivileged: "-".into(),
                chroot: "y".into(),
                command: "smtp".into(),
                line: String::new(),
            },
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
            overridden: overridden
                .iter()
                .map(|s| s.to_string())
                .collect::<HashSet<_>>(),
            postconf: "postconf -c /srv/pf".into(),
        }
    }

    fn client(text: Option<&str>) -> ClientView {
        let values = sasloauth::config_file::parse(text.unwrap_or(""));
        ClientView {
            path: "/etc/sasl2/sasl-oauth.conf".into(),
            exists: text.is_some(),
            has_line: values.contains_key("mechanisms"),
            config: ClientConfig::from_values(values, None).map_err(|e| e.reason.into_owned()),
        }
    }

    fn verdicts(r: &Report, topic: &str) -> Vec<Verdict> {
        r.findings
            .iter()
            .filter(|f| f.topic == topic)
            .map(|f| f.verdict)
            .collect()
    }

    fn fixes(r: &Report) -> Vec<String> {
        r.findings.iter().flat_map(|f| f.fixes.clone()).collect()
    }

    const DEFAULTS: &[(&str, &str)] = &[
        ("smtp_sasl_security_options", "noplaintext, noanonymous"),
        ("smtp_sasl_tls_security_options", "noplaintext, noanonymous"),
        (
            "smtp_sasl_tls_verified_security_options",
            "noplaintext, noanonymous",
        ),
        ("smtp_tls_security_level", ""),
        ("smtp_sasl_mechanism_filter", ""),
    ];

    #[test]
    fn postfix_defaults_fail_item_by_item_with_their_fixes() {
        let t = transport(DEFAULTS, &[]);
        let mut r = Report::default();
        mechanisms(&t, &client(None), &mut r);
        assert_eq!(verdicts(&r, "mechanism filter"), [Verdict::Fail]);
        assert_eq!(verdicts(&r, "client mechanisms"), [Verdict::Fail]);
        assert_eq!(verdicts(&r, "security options"), [Verdict::Fail]);
        assert_eq!(
            fixes(&r),
            [
                "postconf -c /srv/pf -e 'smtp_sasl_mechanism_filter = xoauth2'",
                "printf 'mechanisms: XOAUTH2\\n' >> /etc/sasl2/sasl-oauth.conf",
                "postconf -c /srv/pf -e 'smtp_sasl_security_options = noanonymous'",
            ]
        );
    }

    #[test]
    fn a_working_set_up_passes() {
        let mut s = DEFAULTS.to_vec();
        s.push(("smtp_sasl_mechanism_filter", "oauthbearer, xoauth2"));
        s.push(("smtp_sasl_security_options", "noanonymous"));
        let t = transport(&s, &[]);
        let mut r = Report::default();
        mechanisms(&t, &client(Some("mechanisms: OAUTHBEARER\n")), &mut r);
        assert_eq!(r.failed(), 0, "{:?}", r.findings);
    }

    #[test]
    fn the_filter_and_the_mechanisms_line_must_meet() {
        let mut s = DEFAULTS.to_vec();
        s.push(("smtp_sasl_mechanism_filter", "xoauth2"));
        s.push(("smtp_sasl_security_options", "noanonymous"));
        let t = transport(&s, &[]);
        let mut r = Report::default();
        mechanisms(&t, &client(Some("mechanisms: OAUTHBEARER\n")), &mut r);
        assert_eq!(verdicts(&r, "client mechanisms"), [Verdict::Fail]);
        assert_eq!(
            fixes(&r),
            ["sed -i 's/^mechanisms:.*/mechanisms: OAUTHBEARER XOAUTH2/' /etc/sasl2/sasl-oauth.conf"]
        );
        // A filter of password mechanisms only.
        let mut s = DEFAULTS.to_vec();
        s.push(("smtp_sasl_mechanism_filter", "plain, login"));
        let mut r = Report::default();
        mechanisms(
            &transport(&s, &[]),
            &client(Some("mechanisms: XOAUTH2\n")),
            &mut r,
        );
        assert_eq!(verdicts(&r, "mechanism filter"), [Verdict::Fail]);
    }

    #[test]
    fn the_security_options_of_the_tls_level_and_master_cf_overrides() {
        let mut s = DEFAULTS.to_vec();
        s.push(("smtp_sasl_mechanism_filter", "xoauth2"));
        s.push(("smtp_tls_security_level", "encrypt"));
        s.push(("smtp_sasl_security_options", "noanonymous"));
        s.push((
            "smtp_sasl_tls_security_options",
            "noanonymous, noplaintext, nodictionary",
        ));
        let t = transport(&s, &["smtp_sasl_tls_security_options"]);
        let mut r = Report::default();
        mechanisms(&t, &client(Some("mechanisms: XOAUTH2\n")), &mut r);
        assert_eq!(verdicts(&r, "security options"), [Verdict::Fail]);
        assert_eq!(
            fixes(&r),
            ["postconf -c /srv/pf -P 'smtp/unix/smtp_sasl_tls_security_options=noanonymous'"]
        );
        assert_eq!(
            applicable_security_options("verify"),
            ["smtp_sasl_tls_verified_security_options"]
        );
        assert_eq!(applicable_security_options("may").len(), 2);
    }

    #[test]
    fn the_resolver_files_a_refresh_needs_in_the_chroot() {
        assert_eq!(resolver_file("127.0.0.1"), None);
        assert_eq!(resolver_file("[::1]"), None);
        assert_eq!(resolver_file("localhost"), Some("/etc/hosts"));
        assert_eq!(
            resolver_file("login.microsoftonline.com"),
            Some("/etc/resolv.conf")
        );
    }

    #[test]
    fn a_file_the_chroot_lacks_is_named_with_its_copy_command() {
        let probe = ReadProbe {
            path: "/etc/resolv.conf".into(),
            read: Err("No such file or directory (os error 2)".into()),
        };
        let mut r = Report::default();
        chroot_read(
            "resolver",
            &probe,
            Path::new("/var/spool/postfix/etc/resolv.conf"),
            Some(Path::new("/etc/resolv.conf")),
            &user(),
            &mut r,
        );
        assert_eq!(r.failed(), 1);
        assert_eq!(
            r.findings[0].fixes,
            ["install -D -m 644 /etc/resolv.conf /var/spool/postfix/etc/resolv.conf"]
        );
    }

    #[test]
    fn oauth10a_claims_noplaintext() {
        let f = mechanism_flags(Mechanism::OAuth10a);
        assert_eq!(f & NOPLAINTEXT, NOPLAINTEXT);
        assert_eq!(mechanism_flags(Mechanism::XOAuth2) & NOPLAINTEXT, 0);
    }

    #[test]
    fn relay_host_and_sasl() {
        let t = transport(&[("smtp_sasl_auth_enable", "no")], &[]);
        let mut r = Report::default();
        sasl_enabled(&t, &mut r);
        relayhost(&t, &mut r);
        assert_eq!(r.failed(), 2);
        let t = transport(
            &[
                ("smtp_sasl_auth_enable", "yes"),
                ("smtp_sasl_type", "cyrus"),
                ("relayhost", "[smtp.office365.com]:587"),
                ("smtp_tls_security_level", "may"),
            ],
            &[],
        );
        let mut r = Report::default();
        sasl_enabled(&t, &mut r);
        relayhost(&t, &mut r);
        assert_eq!(r.failed(), 0);
        assert_eq!(verdicts(&r, "TLS"), [Verdict::Warn]);
        assert!(loopback_relay("[127.0.0.1]:2525"));
        assert!(!loopback_relay("smtp.gmail.com:587"));
    }

    fn place(path: &str, outside: bool) -> TokenPlace {
        TokenPlace {
            path: path.into(),
            table: Table::parse(&format!("static:alice:file:{path}")).unwrap(),
            key: "*".into(),
            chroot: Some("/var/spool/postfix".into()),
            exists_outside: outside,
            dedicated_dir: true,
        }
    }

    fn user() -> SmtpUser {
        SmtpUser {
            name: "postfix".into(),
            group: "postfix".into(),
            uid: 102,
            gid: 105,
        }
    }

    fn probe(read: Result<StatInfo, String>) -> TokenProbe {
        TokenProbe {
            path: "/etc/sasl-oauth/token.json".into(),
            read,
            parsed: None,
            dir: Ok(StatInfo {
                uid: 102,
                gid: 105,
                mode: 0o700,
            }),
            write: Ok(()),
            lock: Ok(LockState::Absent),
        }
    }

    const ENOENT: &str = "No such file or directory (os error 2)";

    #[test]
    fn a_file_outside_the_chroot_and_a_host_path_in_the_map() {
        let t = transport(
            &[(
                "smtp_sasl_password_maps",
                "static:alice:file:/etc/sasl-oauth/token.json",
            )],
            &[],
        );
        let mut r = Report::default();
        token_file(
            &t,
            &place("/etc/sasl-oauth/token.json", true),
            &probe(Err(ENOENT.into())),
            &user(),
            "APPLY",
            &mut r,
        );
        assert_eq!(verdicts(&r, "token file"), [Verdict::Fail]);
        assert!(
            r.findings[0].detail.contains("outside smtp's chroot"),
            "{:?}",
            r.findings
        );
        assert_eq!(
            r.findings[0].fixes[2],
            "install -o postfix -g postfix -m 600 /etc/sasl-oauth/token.json /var/spool/postfix/etc/sasl-oauth/token.json"
        );
        let t = transport(
            &[(
                "smtp_sasl_password_maps",
                "static:alice:file:/var/spool/postfix/etc/t.json",
            )],
            &[],
        );
        let mut r = Report::default();
        token_file(
            &t,
            &place("/var/spool/postfix/etc/t.json", false),
            &probe(Err(ENOENT.into())),
            &user(),
            "APPLY",
            &mut r,
        );
        assert_eq!(
            r.findings[0].fixes,
            ["postconf -c /srv/pf -e 'smtp_sasl_password_maps = static:alice:file:/etc/t.json'"]
        );
    }

    #[test]
    fn owner_mode_directory_and_lock() {
        let t = transport(&[], &[]);
        let mut p = probe(Err("Permission denied (os error 13)".into()));
        let mut r = Report::default();
        token_file(
            &t,
            &place("/etc/sasl-oauth/token.json", false),
            &p,
            &user(),
            "APPLY",
            &mut r,
        );
        assert_eq!(verdicts(&r, "token file"), [Verdict::Fail]);
        assert!(r.findings[0].fixes.contains(
            &"chown postfix:postfix /var/spool/postfix/etc/sasl-oauth/token.json".to_owned()
        ));
        assert_eq!(
            verdicts(&r, "token directory"),
            [Verdict::Ok],
            "the directory is checked too"
        );

        p.read = Ok(StatInfo {
            uid: 0,
            gid: 0,
            mode: 0o644,
        });
        p.dir = Ok(StatInfo {
            uid: 0,
            gid: 0,
            mode: 0o755,
        });
        p.write =
            Err("cannot create a file in the directory: Permission denied (os error 13)".into());
        p.lock = Err(
            "cannot open the lock file token.json.lock: Permission denied (os error 13)".into(),
        );
        let mut r = Report::default();
        token_file(
            &t,
            &place("/etc/sasl-oauth/token.json", false),
            &p,
            &user(),
            "APPLY",
            &mut r,
        );
        assert_eq!(verdicts(&r, "token file"), [Verdict::Warn]);
        assert_eq!(verdicts(&r, "token directory"), [Verdict::Fail]);
        assert_eq!(verdicts(&r, "lock file"), [Verdict::Fail]);

        p.read = Ok(StatInfo {
            uid: 0,
            gid: 0,
            mode: 0o666,
        });
        let mut r = Report::default();
        token_file(
            &t,
            &place("/etc/sasl-oauth/token.json", false),
            &p,
            &user(),
            "APPLY",
            &mut r,
        );
        assert_eq!(
            verdicts(&r, "token file"),
            [Verdict::Fail],
            "shared-writable files are refused"
        );
    }
}
