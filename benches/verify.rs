//! Raw cost of one JWS signature verification, for the fixture tokens, so that
//! a cold handshake can be read as floor + verify + our overhead:
//! - "compare …": the two candidate libraries side by side in one run, for
//!   RS256, PS256, ES256, ES384 and EdDSA: ring (its API parses the key at
//!   every call), aws-lc-rs the same way ("unparsed"), aws-lc-rs with a key
//!   parsed once (`ParsedPublicKey`, "parsed"), and what that parse costs once;
//! - "verify …": the plugin's own verifier (`validate::verifier::VerifyingKey`,
//!   built as a key set load builds it), whichever back end this build has;
//!   "… after disturbing the caches": the same, each call after 1 MiB of
//!   memory and 117 KiB of other code have gone through the caches (what a
//!   handshake's other work does to them), to tell a cold-cache verification
//!   from a hot loop's.
//!
//! Also, for that reading: the plugin's own token validation without libsasl2
//! (uncached, and a cache hit) and the SHA-256 that keys the cache.
//!
//! `cargo bench --bench verify` (harness = false). Fixtures: `make fixtures`;
//! another directory with SASL_OAUTH_FIXTURES=DIR. With
//! SASL_OAUTH_BENCH_TOKENS=DIR (scripts/bench.sh's build/bench, holding
//! tokens-{rs256,ps256,es256,es384,eddsa}.txt), also the cache-miss path on
//! distinct tokens. Prints a table, and lines `V <name>|<median ns>|<min ns>` that
//! scripts/bench.sh reads.

use aws_lc_rs::signature as lc;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use sasloauth::server::config::ServerConfig;
use sasloauth::server::ServerRuntime;
use sasloauth::validate::alg::{Algorithm, Family, ALL};
use sasloauth::validate::jwks::PublicKey;
use sasloauth::validate::verifier::{VerifyingKey, BACKEND};
use sasloauth::validate::{unix_now, TokenValidator};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Samples per measurement; the median is reported.
const SAMPLES: usize = 7;
/// Time one sample should take.
const SAMPLE_TIME: Duration = Duration::from_millis(150);

fn die(msg: String) -> ! {
    eprintln!("verify bench: {msg}");
    std::process::exit(2)
}

/// A fixture file's failure, with the fix.
fn or_die<T>(r: testkit::Result<T>) -> T {
    r.unwrap_or_else(|e| die(format!("{e} (run `make fixtures`)")))
}

/// The signing input and the decoded signature of a compact JWS.
fn parts(token: &str) -> (Vec<u8>, Vec<u8>) {
    let (signed, sig) = token
        .rsplit_once('.')
        .unwrap_or_else(|| die("token is not a JWS".into()));
    let sig = testkit::b64_decode(sig).unwrap_or_else(|e| die(format!("signature: {e}")));
    (signed.as_bytes().to_vec(), sig)
}

/// Median and minimum nanoseconds per call of `f`.
fn measure(mut f: impl FnMut()) -> (f64, f64) {
    // Calibrate: how many calls fill one sample.
    let mut n: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        let e = t.elapsed();
        if e >= SAMPLE_TIME / 4 {
            n = ((n as f64) * SAMPLE_TIME.as_secs_f64() / e.as_secs_f64()).ceil() as u64;
            break;
        }
        n *= 2;
    }
    let mut per: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    per.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (per[SAMPLES / 2], per[0])
}

fn report(name: &str, (median, min): (f64, f64)) {
    println!(
        "{name:<60} {:>10.2} µs   (min {:>8.2} µs)",
        median / 1e3,
        min / 1e3
    );
    println!("V {name}|{median:.1}|{min:.1}");
}

/// A JWS signing input and its decoded signature.
type Signed = (Vec<u8>, Vec<u8>);

/// The algorithms of the fixture tokens (tokens/NAME.jwt) and of the cold
/// runs' distinct tokens (tokens-NAME.txt).
const FIXTURE_ALGS: [(&str, &str); 5] = [
    ("RS256", "rs256"),
    ("PS256", "ps256"),
    ("ES256", "es256"),
    ("ES384", "es384"),
    ("EdDSA", "eddsa"),
];
/// Straight-line code of its own for each K (about 0.45 KiB): run once each,
/// 256 of them take the level-1 instruction cache (and 256 call targets the
/// branch target buffer) away from the verifier, as a handshake's other code does.
#[inline(never)]
fn churn<const K: u64>(mut x: u64) -> u64 {
    macro_rules! round {
        () => {
            x = x.rotate_left((K % 61) as u32 + 1) ^ x.wrapping_mul(K | 1);
            x = x.wrapping_add(K ^ (x >> 7));
        };
    }
    for _ in 0..2 {
        round!();
        round!();
        round!();
        round!();
        round!();
        round!();
        round!();
        round!();
    }
    x
}

macro_rules! churn4 {
    ($v:ident, $k:expr) => {
        $v.push(churn::<{ $k }> as fn(u64) -> u64);
        $v.push(churn::<{ $k + 1 }>);
        $v.push(churn::<{ $k + 2 }>);
        $v.push(churn::<{ $k + 3 }>);
    };
}
macro_rules! churn32 {
    ($v:ident, $k:expr) => {
        churn4!($v, $k);
        churn4!($v, $k + 4);
        churn4!($v, $k + 8);
        churn4!($v, $k + 12);
        churn4!($v, $k + 16);
        churn4!($v, $k + 20);
        churn4!($v, $k + 24);
        churn4!($v, $k + 28);
    };
}

/// What a handshake's other work does to the caches between two verifications
/// (callgrind's model: about 2,300 L1i misses per RS256 handshake, 130 per
/// verification in a hot loop), somewhat harsher: `data` written a cache line
/// at a time (1 MiB: L1d and half of L2), then every churn function once
/// (about 117 KiB of code).
struct Disturb {
    data: Vec<u8>,
    code: Vec<fn(u64) -> u64>,
}

impl Disturb {
    fn new(data_bytes: usize) -> Disturb {
        let mut code: Vec<fn(u64) -> u64> = Vec::new();
        churn32!(code, 0);
        churn32!(code, 32);
        churn32!(code, 64);
        churn32!(code, 96);
        churn32!(code, 128);
        churn32!(code, 160);
        churn32!(code, 192);
        churn32!(code, 224);
        Disturb {
            data: vec![0; data_bytes],
            code,
        }
    }

    #[inline(never)]
    fn run(&mut self) {
        for line in self.data.chunks_mut(64) {
            line[0] = line[0].wrapping_add(1);
        }
        let mut x = black_box(1u64);
        for f in &self.code {
            x = f(x);
        }
        black_box(x);
    }

    /// Median and minimum nanoseconds of `f` alone (timed call by call, the
    /// clock's few tens of ns included), called after each disturbance.
    fn measure(&mut self, mut f: impl FnMut()) -> (f64, f64) {
        const CALLS: u32 = 500;
        let mut per: Vec<f64> = (0..SAMPLES)
            .map(|_| {
                let mut spent = Duration::ZERO;
                for _ in 0..CALLS {
                    self.run();
                    let t = Instant::now();
                    f();
                    spent += t.elapsed();
                }
                spent.as_nanos() as f64 / f64::from(CALLS)
            })
            .collect();
        per.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (per[SAMPLES / 2], per[0])
    }
}

/// `n` calls of `f`, alone in a function that callgrind's --toggle-collect can name.
#[inline(never)]
fn callgrind_loop(f: &dyn Fn() -> bool, n: usize) {
    for _ in 0..n {
        if !black_box(f()) {
            die("a verification failed under callgrind".into());
        }
    }
}

fn main() {
    // SASL_OAUTH_VERIFY_CALLGRIND="ring|aws-lc-rs ALG N": only N verifications
    // with that library (aws-lc-rs: the parsed key), for callgrind's count.
    let only = std::env::var("SASL_OAUTH_VERIFY_CALLGRIND").ok();
    let only: Option<(String, String, usize)> = only.map(|v| {
        let w: Vec<&str> = v.split_whitespace().collect();
        match w[..] {
            [lib, alg, n] => (lib.to_owned(), alg.to_owned(), n.parse().unwrap_or(10)),
            _ => die("SASL_OAUTH_VERIFY_CALLGRIND: LIB ALG N".into()),
        }
    });
    let dir = std::env::var_os("SASL_OAUTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("build/fixtures"));
    let fixtures = or_die(testkit::FixtureDir::open(&dir));
    let token = |name: &str| or_die(fixtures.token(name));
    let jwk = |kid: &str, field: &str| or_die(fixtures.jwk_bytes(kid, field));

    let (n, e) = (jwk("rsa-1", "n"), jwk("rsa-1", "e"));
    // An EC JWK's uncompressed point, 04 || x || y.
    let ec_point = |kid: &str| [vec![4u8], jwk(kid, "x"), jwk(kid, "y")].concat();
    let point = ec_point("ec-1");
    let point384 = ec_point("ec384-1");
    let ed = jwk("ed-1", "x");

    struct Case {
        alg: Algorithm,
        key: PublicKey,
        msg: Vec<u8>,
        sig: Vec<u8>,
    }
    let rsa = PublicKey::Rsa {
        n: n.clone(),
        e: e.clone(),
    };
    let case = |alg: Algorithm, key: &PublicKey, name: &str| {
        let (msg, sig) = parts(&token(name));
        Case {
            alg,
            key: key.clone(),
            msg,
            sig,
        }
    };
    let cases = [
        case(Algorithm::RS256, &rsa, "rs256"),
        case(Algorithm::PS256, &rsa, "ps256"),
        case(
            Algorithm::ES256,
            &PublicKey::Ec {
                family: Family::EcP256,
                point: point.clone(),
            },
            "es256",
        ),
        case(
            Algorithm::ES384,
            &PublicKey::Ec {
                family: Family::EcP384,
                point: point384.clone(),
            },
            "es384",
        ),
        case(Algorithm::EdDSA, &PublicKey::Ed25519(ed.clone()), "eddsa"),
    ];

    println!("ring and aws-lc-rs compared (one call per signature; \"parsed\": a key parsed once)");
    for c in &cases {
        let name = c.alg.name();
        let (msg, sig) = (&c.msg, &c.sig);
        let ring_verify = || -> bool {
            match (&c.key, c.alg.rsa_params(), c.alg.curve_verifier()) {
                (PublicKey::Rsa { n, e }, Some(p), _) => RsaPublicKeyComponents { n, e }
                    .verify(p, black_box(msg), black_box(sig))
                    .is_ok(),
                (PublicKey::Ec { point: k, .. } | PublicKey::Ed25519(k), _, Some(v)) => {
                    UnparsedPublicKey::new(v, k)
                        .verify(black_box(msg), black_box(sig))
                        .is_ok()
                }
                _ => false,
            }
        };
        let lc_rsa = match c.alg {
            Algorithm::RS256 => Some(&lc::RSA_PKCS1_2048_8192_SHA256),
            Algorithm::PS256 => Some(&lc::RSA_PSS_2048_8192_SHA256),
            _ => None,
        };
        let lc_curve: Option<&'static dyn lc::VerificationAlgorithm> = match c.alg {
            Algorithm::ES256 => Some(&lc::ECDSA_P256_SHA256_FIXED),
            Algorithm::ES384 => Some(&lc::ECDSA_P384_SHA384_FIXED),
            Algorithm::EdDSA => Some(&lc::ED25519),
            _ => None,
        };
        let lc_unparsed = || -> bool {
            match (&c.key, lc_rsa, lc_curve) {
                (PublicKey::Rsa { n, e }, Some(p), _) => lc::RsaPublicKeyComponents { n, e }
                    .verify(p, black_box(msg), black_box(sig))
                    .is_ok(),
                (PublicKey::Ec { point: k, .. } | PublicKey::Ed25519(k), _, Some(v)) => {
                    lc::UnparsedPublicKey::new(v, k)
                        .verify(black_box(msg), black_box(sig))
                        .is_ok()
                }
                _ => false,
            }
        };
        let lc_parse = || -> lc::ParsedPublicKey {
            match (&c.key, lc_rsa, lc_curve) {
                (PublicKey::Rsa { n, e }, Some(p), _) => lc::RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(p)
                    .unwrap(),
                (PublicKey::Ec { point: k, .. } | PublicKey::Ed25519(k), _, Some(v)) => {
                    lc::ParsedPublicKey::new(v, k).unwrap()
                }
                _ => die("no aws-lc-rs algorithm".into()),
            }
        };
        let parsed = lc_parse();
        if let Some((lib, alg, calls)) = &only {
            if alg == name {
                match lib.as_str() {
                    "ring" => callgrind_loop(&ring_verify, *calls),
                    _ => callgrind_loop(&|| parsed.verify_sig(msg, sig).is_ok(), *calls),
                }
                return;
            }
            continue;
        }
        let plugin = VerifyingKey::new(&c.key, &[c.alg]).unwrap_or_else(|e| die(e.into()));
        if !ring_verify()
            || !lc_unparsed()
            || parsed.verify_sig(msg, sig).is_err()
            || !plugin.verify(c.alg, msg, sig)
        {
            die(format!("{name}: a verifier refuses the fixture signature"));
        }
        report(
            &format!("compare ring {name}"),
            measure(|| {
                black_box(ring_verify());
            }),
        );
        report(
            &format!("compare aws-lc-rs {name} unparsed"),
            measure(|| {
                black_box(lc_unparsed());
            }),
        );
        report(
            &format!("compare aws-lc-rs {name} parsed"),
            measure(|| {
                let _ = black_box(parsed.verify_sig(black_box(msg), black_box(sig)));
            }),
        );
        report(
            &format!("compare aws-lc-rs {name} key parse, once per key set load"),
            measure(|| {
                black_box(lc_parse());
            }),
        );
        if matches!(c.key, PublicKey::Rsa { .. }) {
            report(
                &format!("compare aws-lc-rs {name} key parse + first verify"),
                measure(|| {
                    let _ = black_box(lc_parse().verify_sig(black_box(msg), black_box(sig)));
                }),
            );
        }
        report(
            &format!("verify {name}"),
            measure(|| {
                black_box(plugin.verify(c.alg, black_box(msg), black_box(sig)));
            }),
        );
        let mut disturb = Disturb::new(1 << 20);
        report(
            &format!("verify {name} after disturbing the caches"),
            disturb.measure(|| {
                black_box(plugin.verify(c.alg, black_box(msg), black_box(sig)));
            }),
        );
    }
    println!("(verify …: the plugin's verifier, back end {BACKEND})");
    // The plugin's verifier for the distinct-token runs below, as a JWKS load builds it.
    let plugin_key = |alg: &str| -> VerifyingKey {
        let key = match alg {
            "RS256" | "PS256" => rsa.clone(),
            "ES256" => PublicKey::Ec {
                family: Family::EcP256,
                point: point.clone(),
            },
            "ES384" => PublicKey::Ec {
                family: Family::EcP384,
                point: point384.clone(),
            },
            _ => PublicKey::Ed25519(ed.clone()),
        };
        VerifyingKey::new(&key, &ALL).unwrap_or_else(|e| die(e.into()))
    };

    // The plugin's validation, built as its server side builds it at init
    // from the options (server.conf), once with the cache and once without.
    let conf = or_die(fixtures.server_conf());
    let runtime = |cache_ttl: Option<&str>| -> Box<dyn TokenValidator> {
        let lookup = |k: &str| -> Option<String> {
            if k == "oauth_cache_ttl" {
                if let Some(ttl) = cache_ttl {
                    return Some(ttl.to_owned());
                }
            }
            conf.lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(key, _)| key.trim() == k)
                .map(|(_, v)| v.trim().to_owned())
        };
        let config =
            ServerConfig::from_lookup(lookup).unwrap_or_else(|e| die(e.reason.into_owned()));
        let rt = ServerRuntime::from_config(&config).unwrap_or_else(|e| die(e.reason.into_owned()));
        rt.validator
            .unwrap_or_else(|| die("server.conf configures no token validation".into()))
    };
    let uncached = runtime(Some("0"));
    let cached = runtime(None);
    let now = unix_now();
    println!("\nsasl-oauth token validation, in process (no libsasl2)");
    for (alg, name) in FIXTURE_ALGS {
        let t = token(name);
        if uncached.validate(&t, now).is_err() {
            die(format!("{name}.jwt is refused by the validator"));
        }
        report(
            &format!("validate {alg} uncached (oauth_cache_ttl 0)"),
            measure(|| {
                let _ = black_box(uncached.validate(black_box(&t), now));
            }),
        );
        report(
            &format!("validate {alg} cache hit"),
            measure(|| {
                let _ = black_box(cached.validate(black_box(&t), now));
            }),
        );
    }
    // The same on the distinct tokens the handshake benchmark's cold runs use
    // (SASL_OAUTH_BENCH_TOKENS): raw verify averaged over them (EdDSA and
    // ECDSA verification time varies a little with the signature), and a
    // cache miss with the insert that follows, each token once into a new cache.
    if let Some(dir) = std::env::var_os("SASL_OAUTH_BENCH_TOKENS").map(PathBuf::from) {
        for (alg, name) in FIXTURE_ALGS {
            let path = dir.join(format!("tokens-{name}.txt"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let tokens: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
            let split: Vec<(Vec<u8>, Vec<u8>)> = tokens.iter().map(|t| parts(t)).collect();
            let ring_raw = |(msg, sig): &(Vec<u8>, Vec<u8>)| {
                match alg {
                    "RS256" => RsaPublicKeyComponents { n: &n, e: &e }.verify(
                        &signature::RSA_PKCS1_2048_8192_SHA256,
                        msg,
                        sig,
                    ),
                    "PS256" => RsaPublicKeyComponents { n: &n, e: &e }.verify(
                        &signature::RSA_PSS_2048_8192_SHA256,
                        msg,
                        sig,
                    ),
                    "ES256" => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
                        .verify(msg, sig),
                    "ES384" => {
                        UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, &point384)
                            .verify(msg, sig)
                    }
                    _ => UnparsedPublicKey::new(&signature::ED25519, &ed).verify(msg, sig),
                }
                .is_ok()
            };
            let key = plugin_key(alg);
            let algorithm = Algorithm::from_name(alg).unwrap();
            let raw = |(msg, sig): &(Vec<u8>, Vec<u8>)| key.verify(algorithm, msg, sig);
            let passes = |f: &mut dyn FnMut() -> f64| -> (f64, f64) {
                let mut per: Vec<f64> = (0..SAMPLES).map(|_| f()).collect();
                per.sort_by(|a, b| a.partial_cmp(b).unwrap());
                (per[SAMPLES / 2], per[0])
            };
            let over_all = |f: &dyn Fn(&Signed) -> bool| -> f64 {
                let t = Instant::now();
                for p in &split {
                    if !black_box(f(black_box(p))) {
                        die(format!("{}: a token does not verify", path.display()));
                    }
                }
                t.elapsed().as_nanos() as f64 / split.len() as f64
            };
            report(
                &format!("verify {alg}, {} distinct tokens", tokens.len()),
                passes(&mut || over_all(&raw)),
            );
            report(
                &format!("compare ring {alg}, {} distinct tokens", tokens.len()),
                passes(&mut || over_all(&ring_raw)),
            );
            report(
                &format!(
                    "validate {alg} uncached (cache off), {} distinct tokens",
                    tokens.len()
                ),
                passes(&mut || {
                    let t = Instant::now();
                    for tok in &tokens {
                        if black_box(uncached.validate(black_box(tok), now)).is_err() {
                            die(format!("{}: a token is refused", path.display()));
                        }
                    }
                    t.elapsed().as_nanos() as f64 / tokens.len() as f64
                }),
            );
            report(
                &format!(
                    "validate {alg} cache miss + insert, {} distinct tokens",
                    tokens.len()
                ),
                passes(&mut || {
                    let cached = runtime(None);
                    let t = Instant::now();
                    for tok in &tokens {
                        if black_box(cached.validate(black_box(tok), now)).is_err() {
                            die(format!("{}: a token is refused", path.display()));
                        }
                    }
                    t.elapsed().as_nanos() as f64 / tokens.len() as f64
                }),
            );
        }
    }
    let t = token("es256");
    // What the server does with the client's message before the token is
    // looked up: the checks every message gets, then the OAUTHBEARER parse.
    let msg = format!("n,,\x01host=server.example.com\x01auth=Bearer {t}\x01\x01");
    if sasloauth::protocol::check_message(msg.as_bytes())
        .and_then(sasloauth::protocol::oauthbearer::parse_client_first)
        .is_err()
    {
        die("the OAUTHBEARER message does not parse".into());
    }
    report(
        "check + parse an OAUTHBEARER message (ES256 token)",
        measure(|| {
            let _ = black_box(
                sasloauth::protocol::check_message(black_box(msg.as_bytes()))
                    .and_then(sasloauth::protocol::oauthbearer::parse_client_first)
                    .is_ok(),
            );
        }),
    );
    report(
        "SHA-256 of an ES256 token (cache key)",
        measure(|| {
            let _ = black_box(sasloauth::validate::store::token_key(black_box(&t)));
        }),
    );
    report(
        "SHA-256 of an ES256 token, ring",
        measure(|| {
            let _ = black_box(ring::digest::digest(
                &ring::digest::SHA256,
                black_box(t.as_bytes()),
            ));
        }),
    );
    report(
        "SHA-256 of an ES256 token, aws-lc-rs",
        measure(|| {
            let _ = black_box(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                black_box(t.as_bytes()),
            ));
        }),
    );
}
