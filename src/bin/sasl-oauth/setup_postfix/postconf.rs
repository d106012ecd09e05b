//! What `postconf` prints, parsed without I/O: `name = value` lines (main.cf,
//! `postconf -x NAME…`), master.cf services (`postconf -M`, continuation
//! lines already joined) and per-service overrides (`postconf -x -P`:
//! `service/type/name = value`), plus the few list values the checks read.

use std::collections::HashMap;

/// `name = value` lines; other lines (warnings) are ignored.
pub fn parse_params(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Some((name, value)) = line.split_once(" = ").or_else(|| {
            // `postconf` prints an empty value as `name =`.
            line.strip_suffix(" =").map(|n| (n, ""))
        }) {
            let name = name.trim();
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                out.insert(name.to_owned(), value.trim().to_owned());
            }
        }
    }
    out
}

/// One master.cf service, as `postconf -M` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub kind: String,
    pub unprivileged: String,
    pub chroot: String,
    /// The program (`smtp`), without its arguments.
    pub command: String,
    /// The whole line, for the report.
    pub line: String,
}

impl Service {
    /// master.cf's `-` in the chroot column means Postfix's default, which
    /// is `n` since Postfix 3.0.
    pub fn chrooted(&self) -> bool {
        self.chroot == "y"
    }

    /// `n` in the unpriv column: the service runs as root.
    pub fn as_root(&self) -> bool {
        self.unprivileged == "n"
    }
}

pub fn parse_services(text: &str) -> Vec<Service> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || f[0].starts_with('#') || line.starts_with(char::is_whitespace) {
            continue;
        }
        out.push(Service {
            name: f[0].to_owned(),
            kind: f[1].to_owned(),
            unprivileged: f[3].to_owned(),
            chroot: f[4].to_owned(),
            command: f[7].to_owned(),
            line: f.join(" "),
        });
    }
    out
}

/// `service/type/name = value` lines of `postconf -P`: (service, type) → name → value.
pub fn parse_overrides(text: &str) -> HashMap<(String, String), HashMap<String, String>> {
    let mut out: HashMap<(String, String), HashMap<String, String>> = HashMap::new();
    for (key, value) in parse_params_raw(text) {
        let mut parts = key.splitn(3, '/');
        if let (Some(s), Some(t), Some(n)) = (parts.next(), parts.next(), parts.next()) {
            out.entry((s.to_owned(), t.to_owned()))
                .or_default()
                .insert(n.to_owned(), value);
        }
    }
    out
}

/// `key = value` pairs whose key may hold `/` (for `-P`).
fn parse_params_raw(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            line.split_once(" = ")
                .or_else(|| line.strip_suffix(" =").map(|n| (n, "")))
        })
        .filter(|(k, _)| !k.contains(' '))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

/// A Postfix list: words separated by commas and/or white space; `{…}`
/// keeps what it encloses (and its spaces) as part of one word.
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '{' => {
                depth += 1;
                word.push(c);
            }
            '}' if depth > 0 => {
                depth -= 1;
                word.push(c);
            }
            c if depth == 0 && (c == ',' || c.is_whitespace()) => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// `import_environment`: the value given to `NAME` (`NAME=value`), if any.
pub fn imported(import_environment: &str, name: &str) -> Option<String> {
    split_list(import_environment)
        .into_iter()
        .filter_map(|w| {
            w.split_once('=')
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.to_owned())
        })
        .next_back()
}

/// Names in a security options or mechanism filter value, lowercased.
pub fn words_lower(value: &str) -> Vec<String> {
    split_list(value)
        .into_iter()
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

/// A default_transport / relay_transport value (`smtp`, `relay:[host]`):
/// the master.cf service it names.
pub fn transport_service(value: &str) -> &str {
    value.split(':').next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_with_empty_values_and_warnings() {
        let p = parse_params(
            "postconf: warning: main.cf, line 2: overriding earlier entry\nrelayhost = [127.0.0.1]:2525\nsmtp_sasl_mechanism_filter =\nsmtp_sasl_password_maps = static:alice:file:/t.json, texthash:/etc/pw\n",
        );
        assert_eq!(p["relayhost"], "[127.0.0.1]:2525");
        assert_eq!(p["smtp_sasl_mechanism_filter"], "");
        assert_eq!(
            p["smtp_sasl_password_maps"],
            "static:alice:file:/t.json, texthash:/etc/pw"
        );
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn services_as_postconf_m_prints_them() {
        let s = parse_services(
            "smtp       unix  -       -       y       -       -       smtp -o smtp_sasl_security_options=noanonymous\nrelay      unix  -       -       -       -       -       smtp\nvirtual    unix  -       n       n       -       -       virtual\n",
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].name, "smtp");
        assert_eq!(s[0].kind, "unix");
        assert!(s[0].chrooted());
        assert_eq!(s[0].command, "smtp");
        assert!(
            !s[1].chrooted(),
            "'-' is Postfix 3's default chroot, which is n"
        );
        assert!(s[2].as_root());
        assert!(!s[0].as_root());
    }

    #[test]
    fn overrides_by_service() {
        let o = parse_overrides(
            "smtp/unix/smtp_sasl_security_options = noanonymous\nrelay/unix/smtp_sasl_mechanism_filter =\n",
        );
        let smtp = &o[&("smtp".to_owned(), "unix".to_owned())];
        assert_eq!(smtp["smtp_sasl_security_options"], "noanonymous");
        let relay = &o[&("relay".to_owned(), "unix".to_owned())];
        assert_eq!(relay["smtp_sasl_mechanism_filter"], "");
    }

    #[test]
    fn lists_keep_braced_words_whole() {
        assert_eq!(
            split_list("static:a:file:/t.json, texthash:/etc/pw inline:{ [a]:587=b:c, d=e }"),
            [
                "static:a:file:/t.json",
                "texthash:/etc/pw",
                "inline:{ [a]:587=b:c, d=e }"
            ]
        );
        assert_eq!(
            words_lower("noplaintext,  NoAnonymous"),
            ["noplaintext", "noanonymous"]
        );
        assert!(split_list(" , ").is_empty());
    }

    #[test]
    fn imported_environment() {
        let v = "MAIL_CONFIG TZ SASL_PATH=/usr/lib/x SASL_OAUTH_CONF=/etc/relay.conf";
        assert_eq!(
            imported(v, "SASL_OAUTH_CONF").as_deref(),
            Some("/etc/relay.conf")
        );
        assert_eq!(imported(v, "SASL_PATH").as_deref(), Some("/usr/lib/x"));
        assert_eq!(imported(v, "TZ"), None, "imported without a value");
        assert_eq!(imported("", "SASL_PATH"), None);
    }

    #[test]
    fn transports() {
        assert_eq!(transport_service("smtp"), "smtp");
        assert_eq!(transport_service("relay:[mx.example]:25"), "relay");
    }
}
