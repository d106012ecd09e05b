//! Reading keys through the option table: a name must be in the table for
//! the side reading it, and its kind, range and default are the table's, so
//! a key cannot be read as unset because one list was edited and not another.

use super::{find, Opt, Range, Side};
use crate::error::Error;
use std::path::PathBuf;

/// An error naming the key, as the single log line of a disabled server.
pub fn bad(key: &str, why: impl std::fmt::Display) -> Error {
    Error::config(format!("{key}: {why}"))
}

/// yes/no (true/false, on/off, 1/0 too).
pub fn parse_yes_no(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Keys of one side, read with `get` (a key's value when it is set).
pub struct Lookup<F> {
    side: Side,
    get: F,
}

impl<F: Fn(&str) -> Option<String>> Lookup<F> {
    pub fn new(side: Side, get: F) -> Self {
        Lookup { side, get }
    }

    /// The table's entry for `name`; reading any other name is refused.
    pub fn opt(&self, name: &str) -> Result<&'static Opt, Error> {
        find(name)
            .filter(|o| o.side == self.side)
            .ok_or_else(|| Error::internal(format!("{name}: read but not in the option table")))
    }

    /// The value as set, if it is.
    pub fn text(&self, name: &str) -> Result<Option<String>, Error> {
        self.opt(name)?;
        Ok((self.get)(name))
    }

    /// The value as set, or the table's default.
    pub fn text_or_default(&self, name: &str) -> Result<String, Error> {
        let opt = self.opt(name)?;
        Ok(self.text(name)?.unwrap_or_else(|| opt.default.to_owned()))
    }

    pub fn path(&self, name: &str) -> Result<Option<PathBuf>, Error> {
        Ok(self.text(name)?.map(PathBuf::from))
    }

    /// A space-, comma- or tab-separated list; empty when unset.
    pub fn words(&self, name: &str) -> Result<Vec<String>, Error> {
        Ok(self
            .text(name)?
            .map(|v| {
                v.split([' ', ',', '\t'])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A whole number in the table's range, or the table's default.
    pub fn number(&self, name: &str) -> Result<i64, Error> {
        let range = self
            .opt(name)?
            .range
            .ok_or_else(|| Error::internal(format!("{name}: read as a number but has no range")))?;
        match self.text(name)? {
            None => Ok(range.default),
            Some(v) => self.in_range(name, &v, range),
        }
    }

    /// The server's messages name the range from 0 and a minimum apart; the
    /// client's name both ends.
    fn in_range(&self, name: &str, v: &str, r: Range) -> Result<i64, Error> {
        let n = v.parse::<i64>().ok();
        let Range { min, max, unit, .. } = r;
        match self.side {
            Side::Server => {
                let n = n.filter(|n| (0..=max).contains(n)).ok_or_else(|| {
                    bad(name, format!("must be a number of {unit} from 0 to {max}"))
                })?;
                match n < min {
                    true => Err(bad(name, format!("must be at least {min} {unit}"))),
                    false => Ok(n),
                }
            }
            Side::Client => n
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| bad(name, format!("must be {unit} from {min} to {max}"))),
        }
    }

    /// yes or no, or the table's default.
    pub fn yes_no(&self, name: &str) -> Result<bool, Error> {
        let opt = self.opt(name)?;
        let value = self.text(name)?;
        let v = value.as_deref().unwrap_or(opt.default);
        parse_yes_no(v).ok_or_else(|| bad(name, "must be yes or no"))
    }

    /// One of `choices` by name, or the table's default.
    pub fn choice<T: Copy>(&self, name: &str, choices: &[(&str, T)]) -> Result<T, Error> {
        let opt = self.opt(name)?;
        let value = self.text(name)?;
        let v = value.as_deref().unwrap_or(opt.default);
        match choices.iter().find(|(n, _)| *n == v) {
            Some((_, t)) => Ok(*t),
            None => {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                Err(bad(name, format!("must be {}", names.join(" or "))))
            }
        }
    }

    /// An http(s) URL; plain http only to loopback unless `allow_http`.
    pub fn url(&self, name: &str, allow_http: bool) -> Result<Option<String>, Error> {
        self.text(name)?
            .map(|v| check_url(name, v, allow_http))
            .transpose()
    }

    /// A list of http(s) URLs, each as `url` checks it; empty when unset.
    pub fn urls(&self, name: &str, allow_http: bool) -> Result<Vec<String>, Error> {
        self.words(name)?
            .into_iter()
            .map(|v| check_url(name, v, allow_http))
            .collect()
    }
}

/// `value` of key `name` is an http(s) URL the plain-http rule allows.
pub fn check_url(name: &str, value: String, allow_http: bool) -> Result<String, Error> {
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err(bad(name, "must be an http(s) URL"));
    }
    crate::url_policy::check(&value, allow_http).map_err(|why| bad(name, why))?;
    Ok(value)
}

impl<F: Fn(&str) -> Option<String>> Lookup<F> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Kind, OPTIONS};

    fn one(
        side: Side,
        name: &'static str,
        value: &'static str,
    ) -> Lookup<impl Fn(&str) -> Option<String>> {
        Lookup::new(side, move |k: &str| (k == name).then(|| value.to_owned()))
    }

    #[test]
    fn a_name_not_in_the_table_is_never_read() {
        let l = one(Side::Server, "oauth_issuer", "x");
        assert!(l.text("oauth_isuer").is_err());
        // A client key is not a server key.
        assert!(l.text("refresh_window").is_err());
        assert_eq!(l.text("oauth_issuer").unwrap().as_deref(), Some("x"));
    }

    #[test]
    fn every_table_default_is_what_a_lookup_of_nothing_gives() {
        for o in OPTIONS {
            let none = Lookup::new(o.side, |_: &str| None);
            match o.kind {
                Kind::Number => {
                    let r = o.range.unwrap();
                    assert_eq!(o.default, r.default.to_string(), "{}", o.name);
                    assert!(r.min <= r.default && r.default <= r.max, "{}", o.name);
                    assert_eq!(none.number(o.name).unwrap(), r.default);
                }
                Kind::YesNo => assert!(!none.yes_no(o.name).unwrap(), "{}", o.name),
                Kind::Text => assert!(o.range.is_none(), "{}", o.name),
            }
        }
    }

    #[test]
    fn numbers_use_the_tables_range() {
        let r = one(Side::Server, "oauth_timeout", "99").number("oauth_timeout");
        assert_eq!(
            r.unwrap_err().reason,
            "oauth_timeout: must be at least 100 milliseconds"
        );
        let r = one(Side::Server, "oauth_timeout", "60001").number("oauth_timeout");
        assert_eq!(
            r.unwrap_err().reason,
            "oauth_timeout: must be a number of milliseconds from 0 to 60000"
        );
        let r = one(Side::Client, "timeout", "99").number("timeout");
        assert_eq!(
            r.unwrap_err().reason,
            "timeout: must be milliseconds from 100 to 120000"
        );
        assert_eq!(
            one(Side::Client, "timeout", "100")
                .number("timeout")
                .unwrap(),
            100
        );
    }

    #[test]
    fn choices_and_yes_no() {
        let pick = [("client_secret_basic", 1), ("client_secret_post", 2)];
        let l = one(Side::Server, "oauth_client_auth_method", "private_key_jwt");
        assert_eq!(
            l.choice("oauth_client_auth_method", &pick)
                .unwrap_err()
                .reason,
            "oauth_client_auth_method: must be client_secret_basic or client_secret_post"
        );
        let none = Lookup::new(Side::Server, |_: &str| None);
        assert_eq!(none.choice("oauth_client_auth_method", &pick).unwrap(), 1);
        assert!(one(Side::Client, "allow_cmd", "ON")
            .yes_no("allow_cmd")
            .unwrap());
        assert_eq!(parse_yes_no("maybe"), None);
    }
}
