//! Reads SASL option files as libsasl2 does (`key: value` lines, `#`
//! comments, keys lowercased), for the command line tool. Cyrus imapd.conf
//! spells our keys `sasl_oauth_…`: that prefix is accepted too.

use crate::error::Error;
use std::collections::HashMap;
use std::path::Path;

pub fn parse(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let key = key.strip_prefix("sasl_").unwrap_or(&key).to_owned();
        out.insert(key, value.trim().to_owned());
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
}
