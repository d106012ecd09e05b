//! One Postfix instance as its own tools see it: `postconf` (main.cf and
//! master.cf, `-c DIR` for a private instance) and `postmap` (map entries).
//! The parsing is in `postconf.rs` and `maps.rs`; here only the commands.

use super::maps::{self, Table};
use super::postconf::{self, Service};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The main.cf parameters the checks read (expanded by `postconf -x`).
const PARAMS: &[&str] = &[
    "config_directory",
    "queue_directory",
    "mail_owner",
    "relayhost",
    "default_transport",
    "relay_transport",
    "relay_domains",
    "import_environment",
    "smtp_sasl_auth_enable",
    "smtp_sasl_type",
    "smtp_sasl_password_maps",
    "smtp_sasl_mechanism_filter",
    "smtp_sasl_security_options",
    "smtp_sasl_tls_security_options",
    "smtp_sasl_tls_verified_security_options",
    "smtp_tls_security_level",
    "smtp_sender_dependent_authentication",
];

/// By absolute path where Debian installs them: a directory early in $PATH
/// must not choose what reads the configuration as root.
fn program(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    match sbin.is_file() {
        true => sbin,
        false => PathBuf::from(name),
    }
}

pub struct Instance {
    /// `--config-dir`, for `postconf -c` / `postmap -c` and the fixes.
    pub config_dir: Option<PathBuf>,
    pub params: HashMap<String, String>,
    pub services: Vec<Service>,
    overrides: HashMap<(String, String), HashMap<String, String>>,
}

/// One smtp transport's view: main.cf with its master.cf `-o` overrides.
pub struct Transport {
    pub service: Service,
    pub settings: HashMap<String, String>,
    pub overridden: HashSet<String>,
    /// `postconf` or `postconf -c DIR`, for the fix lines.
    pub postconf: String,
}

impl Transport {
    pub fn get(&self, name: &str) -> &str {
        self.settings.get(name).map_or("", String::as_str)
    }

    /// The command that sets `name` to `value` where this transport reads it.
    pub fn fix(&self, name: &str, value: &str) -> String {
        match self.overridden.contains(name) {
            true => format!(
                "{} -P '{}/{}/{name}={value}'",
                self.postconf, self.service.name, self.service.kind
            ),
            false => format!("{} -e '{name} = {value}'", self.postconf),
        }
    }

    /// Where the setting comes from, for the report.
    pub fn origin(&self, name: &str) -> String {
        match self.overridden.contains(name) {
            true => format!("master.cf {} -o {name}", self.service.name),
            false => format!("main.cf {name}"),
        }
    }
}

impl Instance {
    pub fn load(config_dir: Option<&Path>) -> Result<Instance, String> {
        let mut inst = Instance {
            config_dir: config_dir.map(Path::to_owned),
            params: HashMap::new(),
            services: Vec::new(),
            overrides: HashMap::new(),
        };
        let mut args = vec!["-x"];
        args.extend_from_slice(PARAMS);
        inst.params = postconf::parse_params(&inst.postconf_output(&args)?);
        inst.services = postconf::parse_services(&inst.postconf_output(&["-M"])?);
        inst.overrides = postconf::parse_overrides(&inst.postconf_output(&["-x", "-P"])?);
        Ok(inst)
    }

    fn command(&self, name: &str) -> Command {
        let mut c = Command::new(program(name));
        if let Some(d) = &self.config_dir {
            c.arg("-c").arg(d);
        }
        c
    }

    fn postconf_output(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .command("postconf")
            .args(args)
            .output()
            .map_err(|e| format!("cannot run postconf: {e} (is Postfix installed?)"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "postconf {} failed: {}",
                args.join(" "),
                err.lines().last().unwrap_or("")
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// `postconf` as the fix lines must say it.
    pub fn postconf_prefix(&self) -> String {
        match &self.config_dir {
            Some(d) => format!("postconf -c {}", d.display()),
            None => "postconf".into(),
        }
    }

    /// The smtp transports mail to the relay host may take: default_transport's
    /// service, and relay_transport's when relay_domains is set.
    pub fn transports(&self) -> Vec<Result<Transport, String>> {
        let mut names = vec![postconf::transport_service(self.param("default_transport"))];
        if !self.param("relay_domains").is_empty() {
            names.push(postconf::transport_service(self.param("relay_transport")));
        }
        names.dedup();
        names
            .into_iter()
            .map(|n| {
                match self
                    .services
                    .iter()
                    .find(|s| s.name == n && s.kind == "unix")
                {
                    None => Err(format!(
                        "transport '{n}' (default_transport) has no unix service in master.cf"
                    )),
                    Some(s) => Ok(self.transport(s)),
                }
            })
            .collect()
    }

    fn transport(&self, service: &Service) -> Transport {
        let mut settings = self.params.clone();
        let mut overridden = HashSet::new();
        if let Some(o) = self
            .overrides
            .get(&(service.name.clone(), service.kind.clone()))
        {
            for (k, v) in o {
                settings.insert(k.clone(), v.clone());
                overridden.insert(k.clone());
            }
        }
        Transport {
            service: service.clone(),
            settings,
            overridden,
            postconf: self.postconf_prefix(),
        }
    }

    /// `postmap -q KEY TABLE`: Ok(None) when the table has no entry for KEY.
    pub fn lookup(&self, key: &str, table: &Table) -> Result<Option<String>, String> {
        if let Some(v) = table.static_value() {
            return Ok(Some(v.to_owned()));
        }
        let out = self
            .command("postmap")
            .arg("-q")
            .arg(key)
            .arg(&table.spec)
            .output()
            .map_err(|e| format!("cannot run postmap: {e}"))?;
        match out.status.code() {
            Some(0) => Ok(Some(
                String::from_utf8_lossy(&out.stdout).trim_end().to_owned(),
            )),
            Some(1) => Ok(None),
            _ => Err(format!(
                "postmap -q {key} {}: {}",
                table.spec,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            )),
        }
    }

    /// Every entry of a table: `postmap -s` (a static table has one value
    /// for every key, shown as key `*`).
    pub fn entries(&self, table: &Table) -> Result<Vec<(String, String)>, String> {
        if let Some(v) = table.static_value() {
            return Ok(vec![("*".into(), v.to_owned())]);
        }
        if !table.listable() {
            return Err(format!(
                "{}: entries of {} tables cannot be listed; check their file: paths yourself",
                table.spec, table.kind
            ));
        }
        let out = self
            .command("postmap")
            .arg("-s")
            .arg(&table.spec)
            .output()
            .map_err(|e| format!("cannot run postmap: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "postmap -s {}: {}",
                table.spec,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            ));
        }
        Ok(maps::parse_entries(&String::from_utf8_lossy(&out.stdout)))
    }
}

/// The uid and gid of a user, by `id` (so that NSS users work too).
pub fn user_ids(name: &str) -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .arg(flag)
            .arg(name)
            .output()
            .map_err(|e| format!("cannot run id: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("no user '{name}' (mail_owner)"))
    };
    Ok((id("-u")?, id("-g")?))
}
