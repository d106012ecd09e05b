//! `sasl-oauth`: the command line companion of the plugin (docs/architecture.md §3.3).
//! Errors go to stderr with a non-zero exit; every subcommand has `--help`.
//! The command line is defined in args.rs; each command is a module here.

mod args;
mod check;
mod docs;
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

/// What a command returns: Ok(true) all well, Ok(false) a negative verdict
/// (exit 1), Err a usage or operational error (exit 2, message on stderr).
pub type Outcome = Result<bool, String>;

fn main() -> ExitCode {
    use args::{Command, SetupCommand, TokenCommand, Top};
    let command = match args::parse() {
        Top::Run(command) => command,
        Top::GenDocs(a) => return exit(docs::run(&a)),
        Top::ProbePostfix(a) => return exit(setup_postfix::probe::main(&a.args)),
    };
    let result = match command {
        Command::Token(TokenCommand::Init(a)) => token::init(&a),
        Command::Token(TokenCommand::Show(a)) => token::show(&a),
        Command::Token(TokenCommand::Refresh(a)) => token::refresh(&a),
        Command::Check(a) => check::run(&a),
        Command::Doctor(a) if a.postfix => setup_postfix::run(&a.as_setup_postfix()),
        Command::Doctor(a) => doctor::run(&a),
        Command::Setup(SetupCommand::Postfix(a)) => setup_postfix::run(&a),
    };
    exit(result)
}

fn exit(result: Outcome) -> ExitCode {
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
