//! `sasl-oauth gen-docs DIR` (hidden): the man pages and shell completions,
//! from the sources the code itself uses, so they cannot drift from it:
//! sasl-oauth(1) from the clap definition (args.rs), sasl-oauth.conf(5) from
//! the client keys of the option table and the token file's field table,
//! sasl-oauth-server(5) from the server keys of the option table.
//! `make man` writes them into the repository; `make check-docs` fails when
//! the checked-in ones differ.

use crate::args;
use clap_complete::Shell;
use roff::{bold, italic, roman, Roff};
use sasloauth::options::{self, Kind, Opt, Side};
use sasloauth::token::file::FIELDS;
use sasloauth::token::providers;
use std::path::Path;

/// The pages' footer: the version only, never the commit (the pages are
/// checked in; they must not change with every commit).
fn source() -> String {
    format!("sasl-oauth {}", options::VERSION)
}

const MANUAL: &str = "sasl-oauth manual";

/// Writes DIR/man/… and DIR/completions/….
pub fn run(a: &args::GenDocsArgs) -> crate::Outcome {
    let man = a.dir.join("man");
    let completions = a.dir.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    write(&man.join("sasl-oauth.1"), &tool_page())?;
    write(&man.join("sasl-oauth.conf.5"), &client_page())?;
    write(&man.join("sasl-oauth-server.5"), &server_page())?;
    for (shell, name) in [
        (Shell::Bash, "sasl-oauth.bash"),
        (Shell::Zsh, "_sasl-oauth"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut args::public_command(), "sasl-oauth", &mut buf);
        write(&completions.join(name), &String::from_utf8_lossy(&buf))?;
    }
    Ok(true)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Roff text with the apostrophe preamble that every render starts with
/// removed, for joining renders into one page.
fn part(r: &Roff) -> String {
    let preamble = Roff::new().render();
    let text = r.render();
    text.strip_prefix(&preamble).unwrap_or(&text).to_owned()
}

/// A page's start: the preamble once, .TH, NAME.
fn head(title: &str, section: &str, name: &str, about: &str) -> Roff {
    let mut r = Roff::new();
    r.control("TH", [title, section, "", &source(), MANUAL]);
    r.control("SH", ["NAME"]);
    r.text([roman(format!("{name} - {about}"))]);
    r
}

/// Help text as roff: paragraphs from blank lines, "- " items as bullets.
fn prose(r: &mut Roff, text: &str) {
    let mut paragraph = String::new();
    let flush = |r: &mut Roff, p: &mut String| {
        if !p.trim().is_empty() {
            r.text([roman(p.trim().to_owned())]);
        }
        p.clear();
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            flush(r, &mut paragraph);
            r.control("PP", []);
        } else if let Some(item) = line.strip_prefix("- ") {
            flush(r, &mut paragraph);
            r.control("IP", ["\\(bu", "2"]);
            paragraph.push_str(item);
        } else {
            paragraph.push(' ');
            paragraph.push_str(line);
        }
    }
    flush(r, &mut paragraph);
}

/// Lines shown as they are (commands, examples).
fn verbatim(r: &mut Roff, text: &str) {
    r.control("PP", []);
    r.control("nf", []);
    r.control("RS", ["4"]);
    for line in text.lines() {
        r.text([roman(line.to_owned())]);
    }
    r.control("RE", []);
    r.control("fi", []);
}

/// sasl-oauth(1): every command with its usage, description, options and
/// examples, from the clap definition.
fn tool_page() -> String {
    let mut top = args::public_command();
    // Built, so that the subcommands have the global options (--help).
    top.build();
    let leaves = args::commands(&top, "");
    let about = top.get_about().map(|a| a.to_string()).unwrap_or_default();
    let mut r = head("SASL-OAUTH", "1", "sasl-oauth", about.as_str());
    r.control("SH", ["SYNOPSIS"]);
    r.control("nf", []);
    for (name, _) in &leaves {
        let usage = find(&top, name).clone().render_usage().to_string();
        let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage);
        let mut lines = usage.lines();
        r.text([bold(lines.next().unwrap_or_default().to_owned())]);
        for more in lines {
            r.text([roman(more.to_owned())]);
        }
    }
    r.text([bold("sasl-oauth --version")]);
    r.control("fi", []);
    r.control("SH", ["DESCRIPTION"]);
    prose(
        &mut r,
        "sasl-oauth is the command line companion of libsasloauth.so, the Cyrus SASL plugin \
         of the OAuth mechanisms OAUTHBEARER, XOAUTH2, OAUTH10A and OAUTH. It gets and \
         refreshes the token files the plugin's client side uses, validates a token exactly \
         as the plugin's server side would, checks that libsasl2 finds and loads the \
         plugin with an application's configuration, and checks a Postfix relay's set-up \
         as its chrooted smtp client meets it.",
    );
    r.control("SH", ["COMMANDS"]);
    let mut out = r.render();
    for (name, about) in &leaves {
        out.push_str(&command_section(find(&top, name), name, about));
    }
    out.push_str(&tool_page_end());
    out
}

/// One command's part of sasl-oauth(1): heading, description, options, examples.
fn command_section(sub: &clap::Command, name: &str, about: &str) -> String {
    let mut s = Roff::new();
    s.control("SS", [format!("sasl-oauth {name}").as_str()]);
    s.text([italic(about.to_owned())]);
    s.control("PP", []);
    prose(&mut s, &args::description(sub));
    let mut out = part(&s);
    // clap_mangen's list of the options, under this command's heading.
    let mut buf = Vec::new();
    let page = clap_mangen::Man::new(sub.clone().bin_name(format!("sasl-oauth {name}")));
    page.render_options_section(&mut buf)
        .expect("writing to memory");
    let options = String::from_utf8_lossy(&buf).replace(".SH OPTIONS\n", ".PP\nOptions:\n");
    let preamble = Roff::new().render();
    out.push_str(options.strip_prefix(&preamble).unwrap_or(&options));
    if let Some(examples) = sub.get_after_help().map(|e| e.to_string()) {
        let mut e = Roff::new();
        let mut lines = examples.lines();
        e.control("PP", []);
        let title = lines.next().unwrap_or_default().trim_end_matches(':');
        e.text([roman(format!("{title}:"))]);
        let lines: Vec<&str> = lines.map(|l| l.strip_prefix("  ").unwrap_or(l)).collect();
        verbatim(&mut e, &lines.join("\n"));
        out.push_str(&part(&e));
    }
    out
}

/// sasl-oauth(1)'s exit status, environment, files and see also.
fn tool_page_end() -> String {
    let mut t = Roff::new();
    t.control("SH", ["EXIT STATUS"]);
    for (code, what) in [
        ("0", "all well: the token would be accepted (check), every check passed (doctor), the file was written, shown or refreshed (token)"),
        ("1", "a negative verdict: the token would be refused (check), a check failed (doctor), the token file has expired and cannot be refreshed (token show)"),
        ("2", "a usage error (an unknown option, a missing argument) or an operational error (an unreadable or invalid configuration file, an identity provider that does not answer)"),
    ] {
        t.control("TP", []);
        t.text([bold(code)]);
        t.text([roman(what)]);
    }
    t.control("SH", ["ENVIRONMENT"]);
    t.control("TP", []);
    t.text([bold("SASL_OAUTH_CONF")]);
    t.text([roman("the client configuration file instead of /etc/sasl2/sasl-oauth.conf (ignored in a set-id process)")]);
    t.control("TP", []);
    t.text([bold("SASL_PATH")]);
    t.text([roman(
        "where libsasl2 (and doctor) look for plugins instead of the system directory",
    )]);
    t.control("SH", ["FILES"]);
    t.control("TP", []);
    t.text([italic("/etc/sasl2/sasl-oauth.conf")]);
    t.text([roman("the client configuration, see sasl-oauth.conf(5)")]);
    t.control("TP", []);
    t.text([italic("/usr/lib/<triplet>/sasl2/libsasloauth.so")]);
    t.text([roman("the plugin")]);
    t.control("SH", ["SEE ALSO"]);
    t.text([roman(
        "sasl-oauth.conf(5), sasl-oauth-server(5), saslpluginviewer(8)",
    )]);
    part(&t)
}

fn find<'a>(top: &'a clap::Command, name: &str) -> &'a clap::Command {
    name.split(' ').fold(top, |c, word| {
        c.find_subcommand(word).expect("a listed command exists")
    })
}

/// One option of the table as a .TP entry: name, meaning, kind, default.
fn option_entry(r: &mut Roff, o: &Opt, shown: &str) {
    r.control("TP", []);
    r.text([bold(shown.to_owned())]);
    let mut text = format!("{}.", capital(o.doc));
    match (o.kind, o.range) {
        (Kind::Number, Some(range)) => text.push_str(&format!(
            " A whole number of {}, {} to {}.",
            range.unit, range.min, range.max
        )),
        (Kind::YesNo, _) => text.push_str(" yes or no."),
        _ => {}
    }
    text.push_str(&format!(" Default: {}.", o.default));
    if o.since != "0.1.0" {
        text.push_str(&format!(" Since {}.", o.since));
    }
    r.text([roman(text)]);
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// sasl-oauth.conf(5): the client's file and token files.
fn client_page() -> String {
    let mut r = head(
        "SASL-OAUTH.CONF",
        "5",
        "sasl-oauth.conf",
        "client configuration and token files of the sasl-oauth SASL plugin",
    );
    r.control("SH", ["SYNOPSIS"]);
    r.text([italic("/etc/sasl2/sasl-oauth.conf")]);
    r.control("SH", ["DESCRIPTION"]);
    prose(
        &mut r,
        "Client-only processes load no SASL configuration file, so the client side of the \
         sasl-oauth plugin reads its own when libsasl2 loads it: /etc/sasl2/sasl-oauth.conf, \
         or the file named by SASL_OAUTH_CONF (ignored in a set-id process). Lines are \
         key: value; # starts a comment. A broken file is logged and no client mechanism is \
         registered; without a mechanisms line none is registered either, so installing the \
         plugin changes nothing for password clients.\n\n\
         The password an application gives the plugin is an access token, file:/path to a \
         token file that the plugin keeps fresh, or cmd:COMMAND (only with allow_cmd: yes), \
         whose first line of output is the token.",
    );
    r.control("SH", ["OPTIONS"]);
    for o in options::OPTIONS.iter().filter(|o| o.side == Side::Client) {
        let shown = if o.per_provider {
            format!("{} (also <provider>_{})", o.name, o.name)
        } else {
            o.name.to_owned()
        };
        option_entry(&mut r, o, &shown);
    }
    r.control("PP", []);
    prose(
        &mut r,
        &format!(
            "Keys marked <provider>_ apply to one provider only when prefixed with its name \
             (microsoft_client_id). Providers known by name: {}.",
            providers::NAMES.join(", ")
        ),
    );
    r.control("SH", ["TOKEN FILES"]);
    prose(
        &mut r,
        "A token file (the password file:/path/token.json) is a JSON object, mode 0600, \
         written by sasl-oauth token init. The plugin refreshes it under a lock on \
         <file>.lock, re-reading it after the lock, and replaces it atomically with its mode \
         and owner kept. Fields it does not know are kept. Each field below may also be set \
         in the file for that file alone, where it names a client option.",
    );
    for (name, what) in FIELDS {
        r.control("TP", []);
        r.text([bold(*name)]);
        r.text([roman(capital(what) + ".")]);
    }
    r.control("SH", ["EXAMPLE"]);
    verbatim(
        &mut r,
        "# /etc/sasl2/sasl-oauth.conf\nmechanisms: OAUTHBEARER XOAUTH2\nmicrosoft_client_id: 00000000-0000-0000-0000-000000000000\nrefresh_window: 300",
    );
    r.control("PP", []);
    r.text([roman(
        "More in /usr/share/doc/libsasl2-modules-oauth/examples/.",
    )]);
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("sasl-oauth(1), sasl-oauth-server(5)")]);
    r.render()
}

/// sasl-oauth-server(5): the server options, where each application keeps them.
fn server_page() -> String {
    let mut r = head(
        "SASL-OAUTH-SERVER",
        "5",
        "sasl-oauth-server",
        "server options of the sasl-oauth SASL plugin",
    );
    r.control("SH", ["DESCRIPTION"]);
    prose(
        &mut r,
        "The server side of the sasl-oauth plugin (OAUTHBEARER, XOAUTH2, OAUTH10A and OAUTH) \
         reads its options through libsasl2, so they live where the application keeps its SASL \
         options, as key: value lines. Keys are lowercase. All are read and checked when the \
         server initialises SASL: a missing or bad value, a misspelt key or a later version's \
         key disables the server mechanisms, which are then not offered, and one log line \
         names the key. Of a key set twice, libsasl2 uses the first. sasl-oauth check and \
         sasl-oauth doctor check whole files with line numbers.",
    );
    r.control("SH", ["WHERE APPLICATIONS KEEP THEM"]);
    for (app, where_) in [
        ("Postfix smtpd", "/etc/postfix/sasl/smtpd.conf on Debian (cyrus_sasl_config_path, when set, names another directory), with mech_list and the oauth_ keys as written below. smtpd reads it before it chroots."),
        ("Cyrus imapd", "/etc/imapd.conf, every key with the prefix sasl_ (sasl_oauth_issuer:, sasl_mech_list:); imapd passes sasl_ keys on to libsasl2 without the prefix."),
        ("OpenLDAP slapd", "/etc/ldap/sasl2/slapd.conf (slapd reads its SASL file only from there); mechanisms that do not claim NOPLAINTEXT also need sasl-secprops none, or TLS."),
        ("Other applications", "/etc/sasl2/APP.conf, where APP is the name the application gives sasl_server_init, or options the application passes through its SASL_CB_GETOPT callback."),
    ] {
        r.control("TP", []);
        r.text([bold(app)]);
        r.text([roman(where_)]);
    }
    r.control("SH", ["OPTIONS"]);
    for o in options::OPTIONS.iter().filter(|o| o.side == Side::Server) {
        let shown = format!("{} (Cyrus imapd.conf: sasl_{})", o.name, o.name);
        option_entry(&mut r, o, &shown);
    }
    if !options::PLANNED.is_empty() {
        r.control("PP", []);
        r.text([roman(format!(
            "Keys of later versions, refused by this one: {}.",
            options::PLANNED.join(", ")
        ))]);
    }
    r.control("SH", ["EXAMPLE"]);
    verbatim(
        &mut r,
        "# /etc/postfix/sasl/smtpd.conf\nmech_list: OAUTHBEARER XOAUTH2\noauth_issuer: https://id.example.com/realms/mail\noauth_audience: smtp",
    );
    r.control("PP", []);
    r.text([roman(
        "More, for Postfix, Cyrus imapd and slapd, in /usr/share/doc/libsasl2-modules-oauth/examples/.",
    )]);
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(
        "sasl-oauth(1), sasl-oauth.conf(5), saslpluginviewer(8)",
    )]);
    r.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tool_page_has_every_command_and_option() {
        let page = tool_page();
        let mut top = args::public_command();
        top.build();
        for (name, _) in args::commands(&top, "") {
            assert!(page.contains(&format!("sasl-oauth {name}")), "{name}");
            for arg in find(&top, &name).get_arguments() {
                if let Some(long) = arg.get_long() {
                    // roff writes a - as \-.
                    let shown = format!("\\-\\-{}", long.replace('-', "\\-"));
                    assert!(page.contains(&shown), "{name} --{long}");
                }
            }
        }
        assert!(page.contains("EXIT STATUS") && page.contains("examples"));
    }

    #[test]
    fn the_section_5_pages_have_every_key() {
        let (client, server) = (client_page(), server_page());
        for o in options::OPTIONS {
            let page = if o.side == Side::Client {
                &client
            } else {
                &server
            };
            assert!(page.contains(&o.name.replace('-', "\\-")), "{}", o.name);
        }
        for (field, _) in FIELDS {
            assert!(client.contains(field), "{field}");
        }
    }
}
