//! The whole-file check of `check` and `doctor`: libsasl2 lets the plugin ask
//! for keys it knows, so a misspelt or foreign key in the file is silently
//! ignored, and with it the restriction it was meant to add. Here every line
//! is read: unknown `oauth_*` keys (with the nearest known one), options of a
//! later version, client keys in a server file and server keys in the client's,
//! values that are not the number or yes/no expected, and repeated keys.

use sasloauth::client::config::DEFAULT_PATH as CLIENT_DEFAULT_PATH;
use sasloauth::config_file::{self, Line};
use sasloauth::options::{self, Kind, Side};
use std::collections::HashMap;
use std::path::Path;

/// How the file's keys reach libsasl2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// A SASL option file (smtpd.conf, /etc/sasl2/NAME.conf): keys as written.
    Sasl,
    /// Cyrus imapd.conf: Cyrus hands libsasl2 only `sasl_` keys, without the prefix.
    Imapd,
}

impl Form {
    /// `--imapd-conf`, or a file named imapd.conf given with `--config`.
    pub fn of(path: &Path, imapd_flag: bool) -> Form {
        if imapd_flag || path.file_name().is_some_and(|n| n == "imapd.conf") {
            Form::Imapd
        } else {
            Form::Sasl
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub text: String,
}

fn ours(name: &str) -> bool {
    name.starts_with("oauth_") || name.starts_with("oauth10a_") || name.starts_with("sasl_oauth")
}

/// A client key, bare or as `<provider>_<key>`.
fn client_key(name: &str) -> Option<&'static options::Opt> {
    options::OPTIONS
        .iter()
        .filter(|o| o.side == Side::Client)
        .find(|o| {
            name == o.name
                || (o.per_provider
                    && name
                        .strip_suffix(o.name)
                        .and_then(|p| p.strip_suffix('_'))
                        .is_some_and(|p| !p.is_empty()))
        })
}

fn server_key(name: &str) -> Option<&'static options::Opt> {
    options::find(name).filter(|o| o.side == Side::Server)
}

/// Why `value` does not fit `kind`, if it does not.
fn bad_value(kind: Kind, value: &str) -> Option<&'static str> {
    match kind {
        Kind::Text => None,
        Kind::Number => value
            .parse::<i64>()
            .is_err()
            .then_some("must be a whole number, with nothing after it"),
        Kind::YesNo => options::parse_yes_no(value)
            .is_none()
            .then_some("must be yes or no"),
    }
}

/// Checks the lines of a known key: its value, and its repetitions.
struct Seen<'a> {
    first: HashMap<String, usize>,
    problems: &'a mut Vec<Problem>,
    /// Which of two lines (first, this) is used, as a clause.
    wins: fn(usize, usize) -> String,
}

impl Seen<'_> {
    fn known(&mut self, line: &Line, name: &str, opt: &options::Opt) {
        if let Some(why) = bad_value(opt.kind, &line.value) {
            self.say(line, format!("{name}: {why} (found '{}')", line.value));
        }
        match self.first.get(name) {
            Some(&first) => {
                let text = format!(
                    "{name}: set twice (lines {first} and {}); {}: keep one",
                    line.number,
                    (self.wins)(first, line.number)
                );
                self.say(line, text);
            }
            None => {
                self.first.insert(name.to_owned(), line.number);
            }
        }
    }

    fn say(&mut self, line: &Line, text: String) {
        self.problems.push(Problem {
            line: line.number,
            text,
        });
    }
}

/// Every problem of a server file's text.
pub fn server_text(text: &str, form: Form) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen = Seen {
        first: HashMap::new(),
        problems: &mut problems,
        // libsasl2's sasl_config_getstring returns the first match (lib/config.c);
        // Cyrus reads imapd.conf itself.
        wins: match form {
            Form::Sasl => |first, _| format!("libsasl2 uses the first (line {first})"),
            Form::Imapd => |_, _| "only one of them is used".to_owned(),
        },
    };
    for line in config_file::parse_lines(text) {
        let name = match form {
            Form::Sasl => line.key.as_str(),
            Form::Imapd => match line.key.strip_prefix("sasl_") {
                Some(n) => n,
                None if ours(&line.key) || client_key(&line.key).is_some() => {
                    let key = &line.key;
                    seen.say(
                        &line,
                        format!(
                            "{key}: Cyrus passes only sasl_ keys to libsasl2: write sasl_{key}"
                        ),
                    );
                    continue;
                }
                // Cyrus's own options.
                None => continue,
            },
        };
        if let Some(opt) = server_key(name) {
            seen.known(&line, name, opt);
        } else if let Some(m) = options::near_misses().get(name) {
            seen.say(&line, options::message(name, m));
        } else if client_key(name).is_some() {
            seen.say(
                &line,
                format!(
                    "{name}: a client option: it belongs in the client's file \
                     (/etc/sasl2/sasl-oauth.conf), not in the server's SASL options"
                ),
            );
        } else if ours(name) {
            let near = options::nearest(name.trim_start_matches("sasl_"), Side::Server);
            seen.say(
                &line,
                format!("{name}: unknown option; did you mean {near}?"),
            );
        }
    }
    problems
}

/// Every problem of the client's file (sasl-oauth.conf): all its keys are ours.
pub fn client_text(text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen = Seen {
        first: HashMap::new(),
        problems: &mut problems,
        // The plugin's own reader keeps the last.
        wins: |_, last| format!("the plugin uses the last (line {last})"),
    };
    for line in config_file::parse_lines(text) {
        let name = line.key.clone();
        if let Some(opt) = client_key(&name) {
            seen.known(&line, &name, opt);
        } else if ours(&name) {
            seen.say(
                &line,
                format!(
                    "{name}: a server option: it belongs in the application's SASL options \
                     (smtpd.conf, imapd.conf…), not in the client's file"
                ),
            );
        } else {
            let near = options::nearest(&name, Side::Client);
            seen.say(
                &line,
                format!("{name}: unknown option; did you mean {near}?"),
            );
        }
    }
    problems
}

/// The problems of a file, each as `FILE:LINE: text`.
pub fn file(path: &Path, check: impl Fn(&str) -> Vec<Problem>) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(check(&text)
        .into_iter()
        .map(|p| format!("{}:{}: {}", path.display(), p.line, p.text))
        .collect())
}

/// doctor's callback: (check name, passed or information, detail).
type Say<'a> = dyn FnMut(&'static str, Option<bool>, String) + 'a;

/// doctor: the version, which decides which options exist.
pub fn say_version(say: &mut Say) {
    say(
        "version",
        None,
        format!(
            "{} (this tool; the plugin built with it reads the same options)",
            sasloauth::version::LINE
        ),
    );
}

/// doctor: every problem of a server file, one FAIL each.
pub fn say_problems(path: &Path, imapd_flag: bool, say: &mut Say) {
    let form = Form::of(path, imapd_flag);
    // An unreadable file is reported by the configuration check itself.
    for p in file(path, |t| server_text(t, form)).unwrap_or_default() {
        say("configuration line", Some(false), p);
    }
}

/// doctor: the client's file, when there is one.
pub fn say_client_file(say: &mut Say) {
    let (path, explicit) = match std::env::var_os("SASL_OAUTH_CONF") {
        Some(p) => (std::path::PathBuf::from(p), true),
        None => (std::path::PathBuf::from(CLIENT_DEFAULT_PATH), false),
    };
    if !explicit && !path.exists() {
        return say(
            "client configuration",
            None,
            format!("{} is absent: defaults", path.display()),
        );
    }
    match file(&path, client_text) {
        Err(e) => say("client configuration", Some(false), e),
        Ok(problems) if problems.is_empty() => say(
            "client configuration",
            Some(true),
            format!("{}: every line is a known client option", path.display()),
        ),
        Ok(problems) => {
            for p in problems {
                say("client configuration", Some(false), p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(p: Vec<Problem>) -> Vec<(usize, String)> {
        p.into_iter().map(|p| (p.line, p.text)).collect()
    }

    #[test]
    fn a_clean_file_has_no_problem() {
        let all: String = options::SERVER_KEYS
            .iter()
            .map(|k| match options::find(k).unwrap().kind {
                Kind::Number => format!("{k}: 10\n"),
                Kind::YesNo => format!("{k}: yes\n"),
                Kind::Text => format!("{k}: x\n"),
            })
            .collect();
        let text = format!("pwcheck_method: auxprop\nmech_list: OAUTHBEARER\n{all}");
        assert_eq!(server_text(&text, Form::Sasl), []);
        let imapd: String = text.lines().map(|l| format!("sasl_{l}\n")).collect();
        let imapd = format!("configdirectory: /var/lib/cyrus\n{imapd}");
        assert_eq!(server_text(&imapd, Form::Imapd), []);
    }

    #[test]
    fn unknown_keys_name_the_nearest_known_one() {
        let p = texts(server_text(
            "oauth_issuer: https://i/\noauth_required_scopes: admin\noauth_requried_scope: x\n",
            Form::Sasl,
        ));
        assert_eq!(
            p,
            [
                (
                    2,
                    "oauth_required_scopes: unknown option; did you mean oauth_required_scope?"
                        .into()
                ),
                (
                    3,
                    "oauth_requried_scope: unknown option; did you mean oauth_required_scope?"
                        .into()
                ),
            ]
        );
    }

    #[test]
    fn planned_options_say_a_later_version_has_them() {
        let p = server_text("oauth_cache_file: {}\n", Form::Sasl);
        assert!(p[0].text.contains("a later version's option"), "{p:?}");
    }

    #[test]
    fn client_keys_in_a_server_file_and_server_keys_in_a_client_file() {
        let p = server_text("refresh_window: 60\ngoogle_client_id: x\n", Form::Sasl);
        assert_eq!(p.len(), 2);
        assert!(
            p.iter().all(|p| p.text.contains("a client option")),
            "{p:?}"
        );
        let p = client_text("oauth_issuer: x\nrefresh_windows: 5\nmicrosoft_tenant: t\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].text.contains("a server option"));
        assert!(p[1].text.ends_with("did you mean refresh_window?"));
    }

    #[test]
    fn values_with_trailing_junk() {
        let p = texts(server_text(
            "oauth_clock_skew: 60s\noauth_allow_http: yes please\n",
            Form::Sasl,
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0]
            .1
            .starts_with("oauth_clock_skew: must be a whole number"));
        assert!(p[1].1.starts_with("oauth_allow_http: must be yes or no"));
        assert_eq!(client_text("allow_cmd: yes\ntimeout: 100ms\n").len(), 1);
    }

    #[test]
    fn repeated_keys_say_which_one_libsasl2_uses() {
        let p = texts(server_text(
            "oauth_audience: imap\n# x\noauth_audience: smtp\n",
            Form::Sasl,
        ));
        assert_eq!(
            p,
            [(
                3,
                "oauth_audience: set twice (lines 1 and 3); libsasl2 uses the first (line 1): keep one"
                    .into()
            )]
        );
    }

    #[test]
    fn imapd_conf_prefixes() {
        let p = texts(server_text(
            "sasl_oauth_issuer: https://i/\noauth_audience: imap\nsasl_sasl_oauth_jwks_file: /j\n",
            Form::Imapd,
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].1.contains("write sasl_oauth_audience"));
        assert_eq!(
            p[1].1,
            "sasl_oauth_jwks_file: unknown option; did you mean oauth_jwks_file?"
        );
        // In a SASL file, the imapd.conf spelling is what the plugin refuses.
        let p = server_text("sasl_oauth_issuer: https://i/\n", Form::Sasl);
        assert!(p[0].text.ends_with("did you mean oauth_issuer?"), "{p:?}");
    }

    /// Every near miss the table generates is reported, in both forms; no
    /// known key ever is.
    #[test]
    fn every_near_miss_is_reported_and_no_known_key_is() {
        for name in options::probe_names() {
            for (text, form) in [
                (format!("{name}: 1\n"), Form::Sasl),
                (format!("sasl_{name}: 1\n"), Form::Imapd),
            ] {
                let p = server_text(&text, form);
                assert_eq!(p.len(), 1, "{text}: {p:?}");
                assert!(p[0].text.starts_with(&format!("{name}: ")), "{p:?}");
            }
        }
        for k in options::SERVER_KEYS {
            assert_eq!(server_text(&format!("{k}: 1\n"), Form::Sasl), [], "{k}");
        }
        for k in options::CLIENT_KEYS {
            assert_eq!(client_text(&format!("{k}: 1\n")), [], "{k}");
        }
    }
}
