//! Reads SASL option files as libsasl2 does (`key: value` lines, `#`
//! comments, keys lowercased), for the command line tool. Cyrus imapd.conf
//! spells our keys `sasl_oauth_…`: that prefix is accepted too.

use crate::error::Error;
use std::collections::HashMap;
use std::path::Path;

/// One `key: value` line as written: for diagnostics that name lines and
/// see every repetition of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based.
    pub number: usize,
    /// Lowercased, any `sasl_` prefix kept.
    pub key: String,
    pub value: String,
}

/// Every `key: value` line in order, duplicates included.
pub fn parse_lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        out.push(Line {
            number: i + 1,
            key: key.trim().to_ascii_lowercase(),
            value: value.trim().to_owned(),
        });
    }
    out
}

pub fn parse(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in parse_lines(text) {
        let key = line
            .key
            .strip_prefix("sasl_")
            .unwrap_or(&line.key)
            .to_owned();
        out.insert(key, line.value);
    }
    out
}

pub fn load(path: &Path) -> Result<HashMap<String, String>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?;
    Ok(parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_conf_and_imapd_conf_forms() {
        let m = parse("# comment\npwcheck_method: auxprop\nOAuth_Issuer: https://i/\n\nsasl_oauth_audience:  imap  \nbroken line\n");
        assert_eq!(
            m.get("oauth_issuer").map(String::as_str),
            Some("https://i/")
        );
        assert_eq!(m.get("oauth_audience").map(String::as_str), Some("imap"));
        assert_eq!(m.get("pwcheck_method").map(String::as_str), Some("auxprop"));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn lines_keep_numbers_prefixes_and_repetitions() {
        let l = parse_lines(
            "# c\nOAuth_Issuer: a\n\nsasl_oauth_issuer:  b \nbroken\noauth_issuer: c\n",
        );
        let got: Vec<(usize, &str, &str)> = l
            .iter()
            .map(|l| (l.number, l.key.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (2, "oauth_issuer", "a"),
                (4, "sasl_oauth_issuer", "b"),
                (6, "oauth_issuer", "c")
            ]
        );
    }
}
