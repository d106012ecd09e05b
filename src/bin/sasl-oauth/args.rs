//! The command line, defined once (clap derive): parsing, `--help`, usage
//! errors (exit 2), and the man page and shell completions come from it.
//! Unknown options are errors, so a typo never silently changes behaviour.
//!
//! A new subcommand: a variant of [`Command`] (or of a group such as
//! [`TokenCommand`]) with its own `…Args` struct, and its arm in main.rs.

use clap::{ArgAction, ArgGroup, Args, Subcommand};
use sasloauth::secret::Secret;
use std::io::Read;
use std::path::PathBuf;

/// `--version`: the crate's version and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SASL_OAUTH_COMMIT"),
    ")"
);

/// The process's command line: a user's [`Command`], or the build's hidden
/// `gen-docs` and `setup postfix`'s own probe.
#[derive(Subcommand, Debug)]
pub enum Top {
    #[command(flatten)]
    Run(Command),
    /// writes the man pages and shell completions (make man, make check-docs)
    #[command(hide = true, override_usage = "sasl-oauth gen-docs DIR")]
    GenDocs(GenDocsArgs),
    /// the check of token files as the smtp user, run by `setup postfix`
    #[command(name = "__probe-postfix", hide = true)]
    ProbePostfix(ProbeArgs),
}

/// The commands a user runs (the help, the man page and the completions).
#[derive(Subcommand, Debug)]
pub enum Command {
    /// token files for the plugin's client side
    #[command(
        subcommand,
        subcommand_required = true,
        arg_required_else_help = true,
        override_usage = "sasl-oauth token (init|show|refresh) …  (each takes --help)"
    )]
    Token(TokenCommand),
    Check(CheckArgs),
    Doctor(DoctorArgs),
    /// set-ups checked (and fixed) for a server program
    #[command(
        subcommand,
        subcommand_required = true,
        arg_required_else_help = true,
        override_usage = "sasl-oauth setup postfix …  (takes --help)"
    )]
    Setup(SetupCommand),
}

#[derive(Subcommand, Debug)]
pub enum SetupCommand {
    Postfix(SetupPostfixArgs),
}

/// check (and with --apply fix) a Postfix relay set-up, chroot included
///
/// Checks a Postfix relay that logs in with this plugin, as its smtp client
/// meets it, and prints each finding with the command or main.cf line that
/// fixes it:
///   - master.cf: the smtp transport, whether it runs chrooted (and where);
///   - main.cf: smtp_sasl_auth_enable, relayhost, smtp_sasl_mechanism_filter,
///     the security options of the TLS level (noplaintext hides bearer tokens);
///   - the client configuration (SASL_OAUTH_CONF from import_environment, else
///     /etc/sasl2/sasl-oauth.conf): its mechanisms line;
///   - every file: token file in smtp_sasl_password_maps, as user postfix from
///     inside the chroot: it can be read, it is a token file that can be
///     refreshed, its directory takes a new file and a rename, its lock file
///     opens and locks; a client_secret_file it needs; the resolver's files;
///   - trust anchors: built in, read before the chroot (nothing to copy).
///
/// Run as root (the checks switch to the smtp client's user). Exit status 0
/// only when a relay through this set-up would work.
#[derive(Args, Debug, Default)]
#[command(
    verbatim_doc_comment,
    override_usage = "sasl-oauth setup postfix [--config-dir DIR] [--apply [--token-file FILE]] [--json]",
    after_help = "examples:
  sasl-oauth setup postfix
  sasl-oauth setup postfix --apply --token-file token.json
  sasl-oauth doctor --postfix --config-dir /etc/postfix-relay"
)]
pub struct SetupPostfixArgs {
    /// a Postfix instance of its own (postconf -c DIR)
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// install the token file into the chroot (from the same path outside it, or --token-file), owner postfix, mode 0600, in a directory of its own (0700); give its directory and lock file to postfix
    #[arg(long)]
    pub apply: bool,
    /// the token file --apply installs
    #[arg(long, value_name = "FILE", requires = "apply")]
    pub token_file: Option<PathBuf>,
    /// the findings as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// ROOT, then token:PATH and read:PATH items
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    Init(Box<InitArgs>),
    Show(ShowArgs),
    Refresh(RefreshArgs),
}

/// validate a token exactly as the plugin's server side would
///
/// Validates a token exactly as the plugin's server side would, with the oauth_*
/// options of FILE: a SASL option file such as /etc/sasl2/imap.conf or
/// /etc/postfix/sasl/smtpd.conf, or (--imapd-conf, or --config with a file named
/// imapd.conf) Cyrus imapd.conf, with sasl_oauth_* keys. Prints the configuration,
/// each check passed, and the verdict. Every line of FILE is checked first: an
/// unknown oauth_* key, a later version's option, a client option, a value that is
/// not the number or yes/no expected, or a key set twice is an error (exit 2).
/// Exit status 0 only when the token would be accepted; 1 when it would be refused.
/// What the token says (kid, claims) is printed with control characters as '?'.
#[derive(Args, Debug)]
#[command(
    verbatim_doc_comment,
    override_usage = "sasl-oauth check (--config FILE | --imapd-conf FILE) (--token-file FILE | --token-file - | --token TOKEN)",
    group(ArgGroup::new("file").required(true).args(["config", "imapd_conf"])),
    after_help = "examples:
  sasl-oauth check --config /etc/postfix/sasl/smtpd.conf --token-file /tmp/token.jwt
  printf %s \"$TOKEN\" | sasl-oauth check --config /etc/imapd.conf --token-file -"
)]
pub struct CheckArgs {
    /// a SASL option file (oauth_* keys); a file named imapd.conf is read as Cyrus imapd.conf
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Cyrus imapd.conf, whatever its name (sasl_oauth_* keys)
    #[arg(long, value_name = "FILE")]
    pub imapd_conf: Option<PathBuf>,
    /// the token, from a file; '-' reads standard input
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<String>,
    /// the token on the command line, where every local user sees it (ps): works, with a warning
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

/// check that libsasl2 finds and loads the plugin, and the configuration
///
/// Checks, and says what to do about each problem:
///   - where libsasl2 looks for plugins (SASL_PATH, else the system directory),
///   - whether libsasloauth.so is there and loads through libsasl2, and which
///     mechanisms each side then offers (needs saslpluginviewer, from sasl2-bin),
///   - with --app or --config: whether the application's SASL options parse, and
///     which mechanisms the server offers with them (or the missing key),
///   - whether the issuer's discovery document and key set can be fetched,
///   - every line of the file (and of the client's file, $SASL_OAUTH_CONF or
///     /etc/sasl2/sasl-oauth.conf): unknown or misplaced keys, a later version's
///     options, bad numbers or yes/no values, keys set twice.
///
/// --app knows smtpd (Postfix), imap (Cyrus imapd.conf), slapd, and otherwise
/// reads /etc/sasl2/NAME.conf. Exit status 0 only when every check passed.
#[derive(Args, Debug)]
#[command(
    verbatim_doc_comment,
    override_usage = "sasl-oauth doctor [--app NAME | --config FILE | --imapd-conf FILE] [--plugin-dir DIR] [--json]
       sasl-oauth doctor --postfix [--config-dir DIR] [--json]",
    group(ArgGroup::new("file").args(["app", "config", "imapd_conf"])),
    after_help = "examples:
  sasl-oauth doctor --app smtpd
  sasl-oauth doctor --config /etc/imapd.conf --json"
)]
pub struct DoctorArgs {
    /// the application whose SASL configuration to check: smtpd, imap, slapd, or NAME for /etc/sasl2/NAME.conf
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// the application's SASL option file
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Cyrus imapd.conf, whatever its name (sasl_oauth_* keys)
    #[arg(long, value_name = "FILE")]
    pub imapd_conf: Option<PathBuf>,
    /// the plugin directory to check instead of SASL_PATH or the system's
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// the checks as JSON
    #[arg(long)]
    pub json: bool,
    /// check a Postfix relay set-up instead, as 'setup postfix' does
    #[arg(long, conflicts_with_all = ["app", "config", "imapd_conf", "plugin_dir"])]
    pub postfix: bool,
    /// with --postfix: a Postfix instance of its own (postconf -c DIR)
    #[arg(long, value_name = "DIR", requires = "postfix")]
    pub config_dir: Option<PathBuf>,
}

impl DoctorArgs {
    /// `doctor --postfix`: the checks of `setup postfix`, never --apply.
    pub fn as_setup_postfix(&self) -> SetupPostfixArgs {
        SetupPostfixArgs {
            config_dir: self.config_dir.clone(),
            json: self.json,
            ..Default::default()
        }
    }
}

/// get a first token file (device flow, browser with PKCE, or client credentials)
///
/// Gets a first token file for the plugin's client side (file:/path passwords),
/// by device authorization (RFC 8628) unless --browser or --client-credentials.
/// Providers: google, microsoft (--tenant ID or domain; default common),
/// microsoft-usgov, microsoft-china, or any OpenID issuer URL (discovery).
/// With --postfix the file goes where Postfix's smtp client opens it: the
/// token file smtp_sasl_password_maps names for the relay host (else
/// /etc/sasl-oauth/token.json), inside the smtp chroot when smtp is chrooted,
/// owned by postfix in a directory of its own (mode 0700).
/// The file is written with mode 0600, atomically; an existing file is kept
/// unless --force.
#[derive(Args, Debug)]
#[command(
    verbatim_doc_comment,
    override_usage = "sasl-oauth token init --provider NAME|ISSUER-URL --client-id ID
           (--output FILE | --postfix [--config-dir DIR])
           [--client-secret-file F | --client-secret S] [--tenant T] [--scope S]
           [--resource R] [--user NAME] [--browser | --client-credentials]
           [--force] [--ca-file PEM] [--timeout MS] [--wait SECONDS]",
    group(ArgGroup::new("flow").args(["device", "browser", "client_credentials"])),
    group(ArgGroup::new("destination").required(true).args(["output", "postfix"])),
    after_help = "examples:
  sasl-oauth token init --provider microsoft --tenant contoso.onmicrosoft.com \\
      --client-id 00000000-0000-0000-0000-000000000000 --user relay@contoso.com \\
      --postfix
  sasl-oauth token init --provider https://id.example.com/realms/mail \\
      --client-id imap-relay --client-secret-file /etc/relay.secret \\
      --client-credentials --output /etc/sasl-oauth/relay.json"
)]
pub struct InitArgs {
    /// google, microsoft, microsoft-usgov, microsoft-china, or an issuer URL
    #[arg(long, value_name = "NAME|ISSUER-URL", required = true)]
    pub provider: String,
    /// the OAuth client (application) id registered at the provider
    #[arg(long, value_name = "ID", required = true)]
    pub client_id: String,
    /// the token file to write (mode 0600)
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// write the file where Postfix's smtp client opens it (inside its chroot), owned by postfix
    #[arg(long)]
    pub postfix: bool,
    /// with --postfix: a Postfix instance of its own (postconf -c DIR)
    #[arg(long, value_name = "DIR", requires = "postfix")]
    pub config_dir: Option<PathBuf>,
    /// the client secret, from a file ('-': standard input)
    #[arg(long, value_name = "F", conflicts_with = "client_secret")]
    pub client_secret_file: Option<String>,
    /// the client secret on the command line: works, with a warning: every local user sees it (ps)
    #[arg(long, value_name = "S")]
    pub client_secret: Option<String>,
    /// Microsoft's tenant: an id or a domain (default common)
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// the scopes to ask for (default: the provider's mail scopes)
    #[arg(long, value_name = "S")]
    pub scope: Option<String>,
    /// the resource indicator (RFC 8707) to ask for
    #[arg(long, value_name = "R")]
    pub resource: Option<String>,
    /// the mailbox user the token is for (kept in the file)
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// device authorization (RFC 8628), the default: prints a web address and a code to enter there from any browser, then waits
    #[arg(long)]
    pub device: bool,
    /// authorization code with PKCE: prints an address to open in a browser on this machine; listens on 127.0.0.1
    #[arg(long)]
    pub browser: bool,
    /// the application's own token (Microsoft 365 app-only IMAP/POP/SMTP), with a client secret
    #[arg(long)]
    pub client_credentials: bool,
    /// replace an existing file
    #[arg(long)]
    pub force: bool,
    /// trust anchors (PEM) for the provider's HTTPS, instead of the system's
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// each HTTP request's timeout in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u64,
    /// how long to wait for the browser's answer (--browser), in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub wait: u64,
    /// how the client authenticates at the token endpoint
    #[arg(long, value_name = "METHOD", value_parser = ["client_secret_basic", "client_secret_post"])]
    pub token_auth_method: Option<String>,
}

/// show a token file, secrets shortened
///
/// Shows a token file: provider, user, grant, scopes and expiry; secrets are
/// shortened. Exit status 1 when the access token has expired and cannot be
/// refreshed (no refresh_token and no client credentials grant).
#[derive(Args, Debug)]
#[command(
    verbatim_doc_comment,
    override_usage = "sasl-oauth token show FILE [--json]",
    after_help = "example:
  sasl-oauth token show /var/spool/postfix/etc/sasl-oauth/token.json"
)]
pub struct ShowArgs {
    /// the token file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// the file's contents as JSON, secrets shortened
    #[arg(long)]
    pub json: bool,
}

/// refresh a token file now, as the plugin does
///
/// Refreshes the access token now, exactly as the plugin does (same lock,
/// atomic replace, mode and owner kept; a rotated refresh token is saved). Uses
/// the client configuration /etc/sasl2/sasl-oauth.conf (or $SASL_OAUTH_CONF).
#[derive(Args, Debug)]
#[command(
    verbatim_doc_comment,
    override_usage = "sasl-oauth token refresh FILE",
    after_help = "example:
  sasl-oauth token refresh /var/spool/postfix/etc/sasl-oauth/token.json"
)]
pub struct RefreshArgs {
    /// the token file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct GenDocsArgs {
    /// where man/ and completions/ are written
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The full command line definition, with the help layout and the top-level
/// list of commands filled in from the subcommands themselves.
pub fn command() -> clap::Command {
    finish(Top::augment_subcommands(root()))
}

/// The commands a user runs, without the hidden ones: for the completions
/// (clap_complete lists hidden commands too).
pub fn public_command() -> clap::Command {
    finish(Command::augment_subcommands(root()))
}

/// The top level: name, version, the one help option of every command.
fn root() -> clap::Command {
    clap::Command::new("sasl-oauth")
        .version(VERSION)
        .about("the command line companion of the sasl-oauth SASL plugin")
        .disable_help_flag(true)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            clap::Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .global(true)
                .display_order(900)
                .help("this help"),
        )
}

fn finish(cmd: clap::Command) -> clap::Command {
    let listing = commands(&cmd, "")
        .iter()
        .map(|(name, about)| format!("  {name:<14} {about}"))
        .collect::<Vec<_>>()
        .join("\n");
    let top = format!(
        "usage: {{usage}}\n\ncommands:\n{listing}\n  --version\n\n\
         Run 'sasl-oauth COMMAND --help' for a command's options and an example."
    );
    layout(cmd.term_width(80))
        .override_usage("sasl-oauth COMMAND [OPTIONS]")
        .help_template(top)
}

/// The leaf commands, with their one-line description, as "token init".
pub fn commands(cmd: &clap::Command, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("{prefix}{}", sub.get_name());
        if sub.has_subcommands() {
            out.extend(commands(sub, &format!("{name} ")));
        } else {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            out.push((name, about));
        }
    }
    out
}

/// Every command's help: usage, description, arguments, options, examples.
fn layout(cmd: clap::Command) -> clap::Command {
    let positionals = cmd.get_positionals().next().is_some();
    let template = format!(
        "usage: {{usage}}\n\n{}\n\n{}options:\n{{options}}{}",
        literal(&description(&cmd)),
        if positionals {
            "arguments:\n{positionals}\n\n"
        } else {
            ""
        },
        // The examples as written, never rewrapped.
        cmd.get_after_help()
            .map(|e| format!("\n\n{}", literal(&e.to_string())))
            .unwrap_or_default()
    );
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut cmd = cmd.help_template(template);
    for name in names {
        cmd = cmd.mut_subcommand(name, layout);
    }
    cmd
}

/// Text shown as it is in a help template.
fn literal(text: &str) -> String {
    text.replace('{', "{{")
}

/// A command's description: its doc comment after the one-line summary
/// (which the list of commands and the man page's NAME show), else the summary.
pub fn description(cmd: &clap::Command) -> String {
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let long = cmd.get_long_about().map(|a| a.to_string());
    match long {
        Some(l) => l
            .strip_prefix(&about)
            .unwrap_or(&l)
            .trim_start_matches('\n')
            .to_owned(),
        None => about,
    }
}

/// Parses the process's arguments; a usage error (exit 2) or `--help` and
/// `--version` (exit 0) end the process here, as clap prints them.
pub fn parse() -> Top {
    use clap::FromArgMatches;
    let matches = command().get_matches();
    Top::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// A secret given as `--NAME VALUE`, or read from `--NAME-file FILE` (`-`:
/// standard input), without the line end. The first form is visible to
/// every local user (ps, /proc/PID/cmdline): it still works, with a warning.
pub fn secret(
    name: &str,
    value: Option<&str>,
    file: Option<&str>,
) -> Result<Option<Secret>, String> {
    let file_flag = format!("{name}-file");
    let mut text = match (value, file) {
        (Some(_), Some(_)) => return Err(format!("give only one of --{name} and --{file_flag}")),
        (None, None) => return Ok(None),
        (Some(v), None) => {
            eprintln!("warning: --{name} shows its value to every local user (ps): use --{file_flag} FILE, or --{file_flag} - for standard input");
            return Ok(Some(Secret::from(v)));
        }
        (None, Some("-")) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("--{file_flag} -: standard input: {e}"))?;
            s
        }
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?,
    };
    let len = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(len);
    Ok(Some(Secret::new(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn the_top_level_help_lists_every_leaf_command() {
        let names: Vec<String> = commands(&command(), "")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "token init",
                "token show",
                "token refresh",
                "check",
                "doctor",
                "setup postfix"
            ]
        );
    }
}
