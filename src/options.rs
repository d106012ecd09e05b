//! The one table of configuration keys, server and client, and what follows
//! from it: the keys the server reads, and the near misses (typos, planned
//! options of later versions) the plugin looks up at init to refuse a
//! configuration whose restriction would otherwise be silently dropped —
//! libsasl2 hands a plugin getopt(name), never the list of keys that are set.

mod lookup;

pub use lookup::{bad, check_url, parse_yes_no, Lookup};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// This build's version, named in messages about other versions' options.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The application's SASL options (getopt; smtpd.conf, imapd.conf…).
    Server,
    /// The client's own file, sasl-oauth.conf.
    Client,
}

/// What a value must look like, for the tools' whole-file check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A whole number (no unit, no trailing text).
    Number,
    YesNo,
}

/// The values a number key takes, and its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub min: i64,
    pub max: i64,
    pub default: i64,
    /// `seconds` or `milliseconds`, as messages name it.
    pub unit: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub struct Opt {
    pub name: &'static str,
    pub side: Side,
    /// The version that introduced the key.
    pub since: &'static str,
    pub kind: Kind,
    /// Client keys only: `<provider>_<name>` is read too (`google_client_id`).
    pub per_provider: bool,
    pub doc: &'static str,
    pub default: &'static str,
    /// Number keys only.
    pub range: Option<Range>,
}

const fn s(
    name: &'static str,
    since: &'static str,
    kind: Kind,
    doc: &'static str,
    default: &'static str,
) -> Opt {
    Opt {
        name,
        side: Side::Server,
        since,
        kind,
        per_provider: false,
        doc,
        default,
        range: None,
    }
}

const fn c(
    name: &'static str,
    since: &'static str,
    kind: Kind,
    per_provider: bool,
    doc: &'static str,
    default: &'static str,
) -> Opt {
    Opt {
        name,
        side: Side::Client,
        since,
        kind,
        per_provider,
        doc,
        default,
        range: None,
    }
}

/// A number key: its default is the range's.
const fn number(mut o: Opt, min: i64, max: i64, unit: &'static str) -> Opt {
    let default = match o.default.as_bytes() {
        [] => 0,
        d => parse_digits(d),
    };
    o.range = Some(Range {
        min,
        max,
        default,
        unit,
    });
    o
}

/// The whole number a table default spells (digits only, checked by a test).
const fn parse_digits(d: &[u8]) -> i64 {
    let (mut i, mut n) = (0, 0i64);
    while i < d.len() {
        n = n * 10 + (d[i] - b'0') as i64;
        i += 1;
    }
    n
}

const S: &str = "seconds";
const MS: &str = "milliseconds";

use Kind::{Number, Text, YesNo};

#[rustfmt::skip]
pub const OPTIONS: &[Opt] = &[
    s("oauth_issuer", "0.1.0", Text, "the accepted iss values, each exactly, space-separated; base of discovery", "none"),
    s("oauth_audience", "0.1.0", Text, "accepted audiences, space-separated", "required for JWTs"),
    s("oauth_jwks_file", "0.1.0", Text, "the provider's JWKS file (several issuers: one per issuer, - for none)", "none"),
    s("oauth_jwks_url", "0.1.0", Text, "the provider's JWKS URL (several issuers: one per issuer, - for none)", "discovered jwks_uri"),
    s("oauth_algorithms", "0.1.0", Text, "accepted JWS algorithms", "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA"),
    s("oauth_introspection_url", "0.1.0", Text, "RFC 7662 endpoint for opaque tokens", "discovered, when oauth_client_id is set"),
    s("oauth_client_id", "0.1.0", Text, "our client id at the introspection endpoint", "none"),
    s("oauth_client_secret", "0.1.0", Text, "our client secret at the introspection endpoint", "none"),
    s("oauth_client_secret_file", "0.1.0", Text, "file holding the client secret, read at start", "none"),
    s("oauth_client_auth_method", "0.1.0", Text, "client_secret_basic or client_secret_post", "client_secret_basic"),
    s("oauth_username_claim", "0.1.0", Text, "claims or introspection fields giving the login name, tried in order", "sub"),
    s("oauth_required_scope", "0.1.0", Text, "scopes that must all be granted", "none"),
    s("oauth_scope", "0.1.0", Text, "scope named in error challenges", "the required scope"),
    s("oauth_openid_configuration", "0.1.0", Text, "URL named in OAUTHBEARER error challenges", "<issuer>/.well-known/openid-configuration"),
    s("oauth_accepted_hosts", "0.1.0", Text, "hosts a client's host field must be one of", "not checked"),
    number(s("oauth_clock_skew", "0.1.0", Number, "seconds of leeway for exp, nbf, iat (0 to 3600)", "60"), 0, 3600, S),
    number(s("oauth_cache_ttl", "0.1.0", Number, "seconds an accepted result is reused (0: off)", "300"), 0, 86_400, S),
    number(s("oauth_timeout", "0.1.0", Number, "milliseconds a call to the identity provider may take", "3000"), 100, 60_000, MS),
    s("oauth_ca_file", "0.1.0", Text, "extra trust anchors (PEM) for the provider's TLS", "none"),
    s("oauth_authorization_endpoint", "0.1.0", Text, "named in the OAUTH mechanism's challenge", "from discovery"),
    s("oauth_token_endpoint", "0.1.0", Text, "named in the OAUTH mechanism's challenge", "from discovery"),
    s("oauth10a_credentials_file", "0.1.0", Text, "OAUTH10A consumer and token credentials", "none (OAUTH10A off)"),
    number(s("oauth10a_max_skew", "0.1.0", Number, "seconds an OAUTH10A timestamp may be off", "300"), 0, 3600, S),
    s("oauth10a_nonce_dir", "0.1.0", Text, "directory where server processes share OAUTH10A nonces", "none (per process)"),
    s("oauth_allow_http", "0.2.0", YesNo, "allow plain http to identity provider URLs on non-loopback hosts", "no"),
    number(s("oauth_jwks_max_age", "0.2.0", Number, "seconds a fetched key set is used before it is fetched again (min 5)", "3600"), 5, 604_800, S),
    number(s("oauth_jwks_max_stale", "0.2.0", Number, "seconds the last good key set may still be used while refetches fail", "86400"), 0, 2_592_000, S),
    s("oauth_required_claims", "0.2.0", Text, "name=value rules every token must meet (dotted names reach into objects)", "none"),
    s("oauth_required_roles", "0.2.0", Text, "roles that must all be in the token's roles claim", "none"),
    s("oauth_roles_claim", "0.2.0", Text, "the claim oauth_required_roles are looked for in (dotted names reach into objects)", "roles"),
    s("oauth_provider", "0.2.0", Text, "keycloak, entra, okta, authentik, zitadel or google: defaults for that provider's tokens", "none"),
    s("oauth_tenant", "0.2.0", Text, "Entra tenant id (a GUID), for the entra profile's issuer", "none"),
    s("oauth_username_format", "0.2.0", Text, "the login name from the claim: %u whole, %n before @, %d after", "%u"),
    s("oauth_username_lowercase", "0.2.0", YesNo, "lowercase the login name", "no"),
    s("oauth_cache_file", "0.2.0", Text, "LMDB file (absolute path) where all processes of this server share validation results and OAUTH10A nonces; opened at start, mode 0600", "none (per-process cache)"),
    s("oauth_cache_url", "0.2.0", Text, "redis:// or rediss:// URL of a Redis or Valkey shared by a fleet of servers: validation results and OAUTH10A nonces", "none"),
    s("oauth_cache_key_file", "0.2.0", Text, "file holding the key (32 bytes or more) that authenticates shared-cache entries; required with oauth_cache_url", "a key kept in oauth_cache_file"),
    s("oauth_introspection_audience", "0.2.0", Text, "required: an introspection answer must name one of oauth_audience; optional", "required"),
    number(c("refresh_window", "0.1.0", Number, false, "seconds before expiry at which a token file is refreshed", "300"), 0, 86_400, S),
    number(c("timeout", "0.1.0", Number, false, "milliseconds a call to the token endpoint may take", "10000"), 100, 120_000, MS),
    c("allow_cmd", "0.1.0", YesNo, false, "whether cmd: passwords may run a command", "no"),
    c("ca_file", "0.1.0", Text, false, "extra trust anchors (PEM) for the token endpoint", "none"),
    c("proxy", "0.1.0", Text, false, "HTTP proxy for the token endpoint", "none"),
    c("allow_http", "0.2.0", YesNo, false, "allow plain http token endpoints and proxies on non-loopback hosts", "no"),
    c("mechanisms", "0.2.0", Text, false, "client mechanisms registered with libsasl2 (OAUTHBEARER XOAUTH2 OAUTH10A OAUTH); unset, password clients keep PLAIN and LOGIN", "none"),
    c("tenant", "0.1.0", Text, true, "Microsoft tenant (id or domain)", "common"),
    c("token_endpoint", "0.1.0", Text, true, "token endpoint, when the provider has no preset", "the provider's preset"),
    c("client_id", "0.1.0", Text, true, "client id for refreshing tokens", "none"),
    c("client_secret", "0.1.0", Text, true, "client secret for refreshing tokens", "none"),
    c("client_secret_file", "0.1.0", Text, true, "file holding the client secret", "none"),
    c("token_auth_method", "0.1.0", Text, true, "client_secret_basic or client_secret_post", "client_secret_basic"),
];

/// Names that documentation of later versions may show but this version does
/// not have: set, they would be ignored, so they are refused.
pub const PLANNED: &[&str] = &[];

const fn count(side: Side) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < OPTIONS.len() {
        if OPTIONS[i].side as u8 == side as u8 {
            n += 1;
        }
        i += 1;
    }
    n
}

const fn names<const N: usize>(side: Side) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut n) = (0, 0);
    while i < OPTIONS.len() {
        if OPTIONS[i].side as u8 == side as u8 {
            out[n] = OPTIONS[i].name;
            n += 1;
        }
        i += 1;
    }
    out
}

const SERVER_NAMES: [&str; count(Side::Server)] = names(Side::Server);
const CLIENT_NAMES: [&str; count(Side::Client)] = names(Side::Client);
/// Every key the server side reads, in the table's order.
pub const SERVER_KEYS: &[&str] = &SERVER_NAMES;
/// Every key of the client's file (per-provider keys without a prefix).
pub const CLIENT_KEYS: &[&str] = &CLIENT_NAMES;

pub fn find(name: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// A name that is not ours but looks like one of ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mistake {
    /// A misspelling of this known key.
    Typo(&'static str),
    /// An option of a later version.
    Planned,
}

/// The one line that names `name` and the fix.
pub fn message(name: &str, mistake: &Mistake) -> String {
    match mistake {
        Mistake::Typo(known) => format!("{name}: unknown option; did you mean {known}?"),
        Mistake::Planned => format!(
            "{name}: not in sasl-oauth {VERSION} (a later version's option); remove it or upgrade"
        ),
    }
}

/// Likely misspellings of `key`: plural/singular, `-` for `_`, url/uri/endpoint
/// swaps, and a doubled `sasl_` prefix (imapd.conf's sasl_sasl_oauth_… reaches
/// us as sasl_oauth_…).
fn variants(key: &str) -> Vec<String> {
    let mut out = vec![format!("{key}s"), format!("sasl_{key}")];
    if let Some(k) = key.strip_suffix('s') {
        out.push(k.to_owned());
    }
    out.push(key.replace('_', "-"));
    for (i, _) in key.match_indices('_') {
        out.push(format!("{}-{}", &key[..i], &key[i + 1..]));
    }
    for (from, to) in [
        ("url", "uri"),
        ("url", "endpoint"),
        ("endpoint", "url"),
        ("endpoint", "uri"),
    ] {
        if key.contains(from) {
            out.push(key.replace(from, to));
        }
    }
    out
}

fn is_known(name: &str) -> bool {
    OPTIONS.iter().any(|o| o.name == name)
}

/// Every near miss of a server key and every planned name, each with what it
/// is; never a known key. Built once.
pub fn near_misses() -> &'static BTreeMap<String, Mistake> {
    static LIST: LazyLock<BTreeMap<String, Mistake>> = LazyLock::new(|| {
        let mut out = BTreeMap::new();
        for p in PLANNED {
            out.insert((*p).to_owned(), Mistake::Planned);
        }
        for key in SERVER_KEYS {
            for v in variants(key) {
                if !is_known(&v) {
                    out.entry(v).or_insert(Mistake::Typo(key));
                }
            }
        }
        out
    });
    &LIST
}

/// The names the server looks up besides its keys, in a fixed order.
pub fn probe_names() -> impl Iterator<Item = &'static str> {
    near_misses().keys().map(String::as_str)
}

/// The first probed name that is set (`is_set` answers for one name), as
/// the line that disables the server.
pub fn first_mistake(is_set: impl Fn(&str) -> bool) -> Option<String> {
    near_misses()
        .iter()
        .find(|(name, _)| is_set(name))
        .map(|(name, m)| message(name, m))
}

/// Levenshtein distance, for the nearest known key of an unknown one.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The known key of `side` nearest to `name`.
pub fn nearest(name: &str, side: Side) -> &'static str {
    OPTIONS
        .iter()
        .filter(|o| o.side == side)
        .min_by_key(|o| distance(name, o.name))
        .map(|o| o.name)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_versions_exist() {
        let mut seen = HashSet::new();
        for o in OPTIONS {
            assert!(seen.insert(o.name), "{} twice", o.name);
            assert!(["0.1.0", "0.2.0"].contains(&o.since), "{}", o.name);
            assert!(!o.doc.is_empty() && !o.default.is_empty(), "{}", o.name);
        }
        for p in PLANNED {
            assert!(!is_known(p), "{p} is planned and known");
        }
        assert_eq!(SERVER_KEYS.len() + CLIENT_KEYS.len(), OPTIONS.len());
        assert!(SERVER_KEYS.contains(&"oauth_required_scope"));
        assert!(CLIENT_KEYS.contains(&"allow_cmd"));
    }

    #[test]
    fn no_known_key_is_a_near_miss() {
        for o in OPTIONS {
            assert!(!near_misses().contains_key(o.name), "{}", o.name);
            assert_eq!(first_mistake(|n| n == o.name), None, "{}", o.name);
        }
    }

    #[test]
    fn the_reported_mistakes_are_there() {
        let m = near_misses();
        for (name, fix) in [
            ("oauth_required_scopes", "oauth_required_scope"),
            ("oauth_audiences", "oauth_audience"),
            ("oauth_algorithm", "oauth_algorithms"),
            ("oauth-issuer", "oauth_issuer"),
            ("oauth_jwks-url", "oauth_jwks_url"),
            ("oauth_jwks_uri", "oauth_jwks_url"),
            ("oauth_introspection_endpoint", "oauth_introspection_url"),
            ("oauth_token_url", "oauth_token_endpoint"),
            ("sasl_oauth_issuer", "oauth_issuer"),
        ] {
            assert_eq!(m.get(name), Some(&Mistake::Typo(fix)), "{name}");
        }
        assert_eq!(m.get("oauth_cache_file"), None, "a key of this version");
        assert_eq!(
            m.get("oauth_cache_files"),
            Some(&Mistake::Typo("oauth_cache_file"))
        );
        assert_eq!(
            m.get("oauth_required_claim"),
            Some(&Mistake::Typo("oauth_required_claims"))
        );
    }

    /// Every generated name, set alone, is reported with itself named; every
    /// known key, set alone or all together, never is.
    #[test]
    fn every_near_miss_is_caught_and_no_known_key_is() {
        for (name, mistake) in near_misses() {
            let line = first_mistake(|n| n == name).unwrap();
            assert!(line.starts_with(&format!("{name}: ")), "{line}");
            match mistake {
                Mistake::Typo(k) => assert!(line.ends_with(&format!("did you mean {k}?"))),
                Mistake::Planned => assert!(line.contains("a later version's option")),
            }
        }
        assert_eq!(first_mistake(is_known), None);
    }

    #[test]
    fn messages() {
        assert_eq!(
            message(
                "oauth_required_scopes",
                &Mistake::Typo("oauth_required_scope")
            ),
            "oauth_required_scopes: unknown option; did you mean oauth_required_scope?"
        );
        assert_eq!(
            message("oauth_required_claims", &Mistake::Planned),
            format!("oauth_required_claims: not in sasl-oauth {VERSION} (a later version's option); remove it or upgrade")
        );
    }

    #[test]
    fn nearest_key_by_edit_distance() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(
            nearest("oauth_requried_scope", Side::Server),
            "oauth_required_scope"
        );
        assert_eq!(nearest("refresh_windw", Side::Client), "refresh_window");
    }

    /// The probe is one getopt per name at init: bounded, and quick to build.
    #[test]
    fn probe_list_is_small_and_quick() {
        let n = near_misses().len();
        assert!(n > 50 && n < 400, "{n} names");
        let set: HashSet<&str> = SERVER_KEYS.iter().copied().collect();
        let start = std::time::Instant::now();
        for _ in 0..100 {
            assert_eq!(first_mistake(|k| set.contains(k)), None);
        }
        let each = start.elapsed() / 100;
        eprintln!("probe of {n} names: {each:?} each");
        assert!(each < std::time::Duration::from_millis(1), "{each:?}");
    }
}
