//! Password maps (`smtp_sasl_password_maps`), parsed without I/O: which
//! tables a value names, how their entries are listed, and what a
//! `user:password` entry says about a token file.

/// One table of a map list (`hash:/etc/postfix/sasl_passwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// As written, for `postmap` and the report.
    pub spec: String,
    /// `hash`, `static`, … (`proxy:` removed).
    pub kind: String,
    /// What follows `kind:`.
    pub name: String,
}

impl Table {
    pub fn parse(spec: &str) -> Option<Table> {
        let (kind, name) = spec.split_once(':')?;
        let (kind, name) = match kind {
            "proxy" => name.split_once(':')?,
            _ => (kind, name),
        };
        Some(Table {
            spec: spec.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `static:VALUE` (or `static:{VALUE}`): the value every key gets.
    pub fn static_value(&self) -> Option<&str> {
        if self.kind != "static" {
            return None;
        }
        let v = self.name.trim();
        Some(
            v.strip_prefix('{')
                .and_then(|v| v.strip_suffix('}'))
                .map_or(v, str::trim),
        )
    }

    /// Whether `postmap -s` can list it (a table with a file or inline entries).
    pub fn listable(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "hash" | "btree" | "lmdb" | "cdb" | "dbm" | "sdbm" | "texthash" | "inline"
        )
    }

    /// A table whose entries live in a file Postfix reads (hash: its source).
    pub fn file(&self) -> Option<&str> {
        (self.listable() && self.kind != "inline").then_some(self.name.as_str())
    }
}

/// `postmap -s` / `postmap -q` output: `key<TAB or spaces>value` lines.
pub fn parse_entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_end();
            let (k, v) = l.split_once(['\t', ' '])?;
            Some((k.to_owned(), v.trim().to_owned()))
        })
        .filter(|(k, _)| !k.is_empty() && !k.starts_with('#'))
        .collect()
}

/// The secret of a password map entry, as the plugin reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// `file:/path`: the path as the smtp client sees it.
    File(String),
    /// `cmd:…`.
    Command,
    /// Anything else: a password, or an access token pasted in.
    Other,
}

/// `user:password` (the user name ends at the first `:`); None without a `:`.
pub fn split_entry(value: &str) -> Option<(&str, Password)> {
    let (user, secret) = value.split_once(':')?;
    let password = if let Some(p) = secret.strip_prefix("file:") {
        Password::File(p.to_owned())
    } else if secret.starts_with("cmd:") {
        Password::Command
    } else {
        Password::Other
    };
    Some((user, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        let t = Table::parse("static:alice:file:/t.json").unwrap();
        assert_eq!(t.kind, "static");
        assert_eq!(t.static_value(), Some("alice:file:/t.json"));
        assert!(!t.listable());
        let t = Table::parse("static:{ alice:file:/t.json }").unwrap();
        assert_eq!(t.static_value(), Some("alice:file:/t.json"));
        let t = Table::parse("proxy:hash:/etc/postfix/sasl_passwd").unwrap();
        assert_eq!(
            (t.kind.as_str(), t.name.as_str()),
            ("hash", "/etc/postfix/sasl_passwd")
        );
        assert_eq!(t.file(), Some("/etc/postfix/sasl_passwd"));
        assert_eq!(t.spec, "proxy:hash:/etc/postfix/sasl_passwd");
        let t = Table::parse("inline:{ a=b:c }").unwrap();
        assert!(t.listable());
        assert_eq!(t.file(), None);
        assert!(!Table::parse("ldap:/etc/postfix/ldap.cf")
            .unwrap()
            .listable());
        assert_eq!(Table::parse("nocolon"), None);
    }

    #[test]
    fn entries_as_postmap_prints_them() {
        let e = parse_entries("[127.0.0.1]:2525\tcarol:file:/t2.json\nfoo bar:baz\n\n");
        assert_eq!(
            e,
            [
                (
                    "[127.0.0.1]:2525".to_owned(),
                    "carol:file:/t2.json".to_owned()
                ),
                ("foo".to_owned(), "bar:baz".to_owned())
            ]
        );
    }

    #[test]
    fn passwords() {
        assert_eq!(
            split_entry("alice:file:/etc/sasl-oauth/token.json"),
            Some(("alice", Password::File("/etc/sasl-oauth/token.json".into())))
        );
        assert_eq!(
            split_entry("relay@contoso.com:cmd:/usr/bin/get-token"),
            Some(("relay@contoso.com", Password::Command))
        );
        assert_eq!(split_entry("bob:hunter2"), Some(("bob", Password::Other)));
        assert_eq!(split_entry("nopassword"), None);
    }
}
