//! `sasl-oauth`: the command line companion of the plugin (docs/architecture.md §3.3).
//! Errors go to stderr with a non-zero exit; every subcommand has `--help`.

mod args;
mod check;
mod doctor;
mod flows;
mod lint;
mod private_dir;
mod random;
mod setup_postfix;
mod timefmt;
mod token;
mod trace;

use sasloauth::error::printable;
use std::process::ExitCode;

const USAGE: &str = "usage: sasl-oauth COMMAND [OPTIONS]

commands:
  token init     get a first token file (device flow, browser with PKCE, or client credentials)
  token show     show a token file, secrets shortened
  token refresh  refresh a token file now, as the plugin does
  check          validate a token exactly as the plugin's server side would
  doctor         check that libsasl2 finds and loads the plugin, and the configuration
  setup postfix  check (and with --apply fix) a Postfix relay set-up, chroot included
  --version

Run 'sasl-oauth COMMAND --help' for a command's options and an example.";

/// What a command returns: Ok(true) all well, Ok(false) a negative verdict
/// (exit 1), Err a usage or operational error (exit 2, message on stderr).
pub type Outcome = Result<bool, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["token", "init", ..] => token::init(&args[2..]),
        ["token", "show", ..] => token::show(&args[2..]),
        ["token", "refresh", ..] => token::refresh(&args[2..]),
        ["token", ..] => {
            println!("{}", token::USAGE);
            Ok(words.len() > 1)
        }
        ["check", ..] => check::run(&args[1..]),
        ["doctor", rest @ ..] if rest.contains(&"--postfix") => setup_postfix::run(&args[1..]),
        ["doctor", ..] => doctor::run(&args[1..]),
        ["setup", "postfix", ..] => setup_postfix::run(&args[2..]),
        ["setup", ..] => {
            println!("usage: sasl-oauth setup postfix …  (takes --help)");
            Ok(words.len() > 1)
        }
        [setup_postfix::probe::COMMAND, ..] => setup_postfix::probe::main(&args[1..]),
        ["--version"] | ["-V"] => {
            println!("sasl-oauth {}", env!("CARGO_PKG_VERSION"));
            Ok(true)
        }
        ["--help"] | ["-h"] | ["help"] => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            // Messages may quote a provider or a token: filtered, line by line.
            let lines: Vec<String> = e.lines().map(|l| printable(l, 1000)).collect();
            eprintln!("sasl-oauth: {}", lines.join("\n"));
            ExitCode::from(2)
        }
    }
}
