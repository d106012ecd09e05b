//! A small command line parser: `--flag value`, `--switch`, positionals.
//! Unknown flags are errors, so a typo never silently changes behaviour.

use sasloauth::secret::Secret;
use std::collections::HashMap;
use std::io::Read;

pub struct Args {
    pub positional: Vec<String>,
    values: HashMap<String, String>,
    switches: Vec<String>,
}

impl Args {
    pub fn parse(args: &[String], with_value: &[&str], switches: &[&str]) -> Result<Args, String> {
        let mut out = Args {
            positional: Vec::new(),
            values: HashMap::new(),
            switches: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (name, None),
                };
                if with_value.contains(&name) {
                    let v = match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| format!("--{name} needs a value"))?,
                    };
                    out.values.insert(name.to_owned(), v);
                } else if switches.contains(&name) && inline.is_none() {
                    out.switches.push(name.to_owned());
                } else {
                    return Err(format!("unknown option --{name} (see --help)"));
                }
            } else {
                out.positional.push(a.clone());
            }
        }
        Ok(out)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required (see --help)"))
    }
}

/// Whether any argument asks for help.
pub fn wants_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "--help" || a == "-h")
}

/// A secret given as `--NAME VALUE`, or read from `--NAME-file FILE` (`-`:
/// standard input), without the line end. The first form is visible to
/// every local user (ps, /proc/PID/cmdline): it still works, with a warning.
pub fn secret(a: &Args, name: &str) -> Result<Option<Secret>, String> {
    let file = format!("{name}-file");
    let mut text = match (a.get(name), a.get(&file)) {
        (Some(_), Some(_)) => return Err(format!("give only one of --{name} and --{file}")),
        (None, None) => return Ok(None),
        (Some(v), None) => {
            eprintln!("warning: --{name} shows its value to every local user (ps): use --{file} FILE, or --{file} - for standard input");
            return Ok(Some(Secret::from(v)));
        }
        (None, Some("-")) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("--{file} -: standard input: {e}"))?;
            s
        }
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?,
    };
    let len = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(len);
    Ok(Some(Secret::new(text)))
}
