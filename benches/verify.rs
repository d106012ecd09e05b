//! Raw cost of one JWS signature verification with ring (the crypto library the
//! plugin uses), for the fixture tokens RS256, ES256 and EdDSA, so that a cold
//! handshake can be read as floor + verify + our overhead. Also, for that
//! reading: the plugin's own token validation without libsasl2 (uncached, and
//! a cache hit) and the SHA-256 that keys the cache.
//!
//! `cargo bench --bench verify` (harness = false). Fixtures: `make fixtures`;
//! another directory with SASL_OAUTH_FIXTURES=DIR. With
//! SASL_OAUTH_BENCH_TOKENS=DIR (scripts/bench.sh's build/bench, holding
//! tokens-{rs256,es256,eddsa}.txt), also the cache-miss path on distinct
//! tokens. Prints a table, and lines `V <name>|<median ns>|<min ns>` that
//! scripts/bench.sh reads.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use sasloauth::server::config::ServerConfig;
use sasloauth::server::ServerRuntime;
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

fn main() {
    let dir = std::env::var_os("SASL_OAUTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("build/fixtures"));
    let fixtures = or_die(testkit::FixtureDir::open(&dir));
    let token = |name: &str| or_die(fixtures.token(name));
    let jwk = |kid: &str, field: &str| or_die(fixtures.jwk_bytes(kid, field));

    let (n, e) = (jwk("rsa-1", "n"), jwk("rsa-1", "e"));
    let mut point = vec![4u8];
    point.extend(jwk("ec-1", "x"));
    point.extend(jwk("ec-1", "y"));
    let ed = jwk("ed-1", "x");

    println!("ring signature verification (one call of ring's public API per token, key as the JWKS gives it)");
    let (rs_msg, rs_sig) = parts(&token("rs256"));
    let rs = || {
        RsaPublicKeyComponents { n: &n, e: &e }.verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            black_box(&rs_msg),
            black_box(&rs_sig),
        )
    };
    let (es_msg, es_sig) = parts(&token("es256"));
    let es = || {
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
            .verify(black_box(&es_msg), black_box(&es_sig))
    };
    let (ed_msg, ed_sig) = parts(&token("eddsa"));
    let eds = || {
        UnparsedPublicKey::new(&signature::ED25519, &ed)
            .verify(black_box(&ed_msg), black_box(&ed_sig))
    };
    if rs().is_err() || es().is_err() || eds().is_err() {
        die("a fixture token does not verify: run `make fixtures` again".into());
    }
    report(
        "verify RS256",
        measure(|| {
            let _ = black_box(rs());
        }),
    );
    report(
        "verify ES256",
        measure(|| {
            let _ = black_box(es());
        }),
    );
    report(
        "verify EdDSA",
        measure(|| {
            let _ = black_box(eds());
        }),
    );

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
    for (alg, name) in [("RS256", "rs256"), ("ES256", "es256"), ("EdDSA", "eddsa")] {
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
        for (alg, name) in [("RS256", "rs256"), ("ES256", "es256"), ("EdDSA", "eddsa")] {
            let path = dir.join(format!("tokens-{name}.txt"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let tokens: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
            let split: Vec<(Vec<u8>, Vec<u8>)> = tokens.iter().map(|t| parts(t)).collect();
            let raw = |(msg, sig): &(Vec<u8>, Vec<u8>)| match alg {
                "RS256" => RsaPublicKeyComponents { n: &n, e: &e }.verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    msg,
                    sig,
                ),
                "ES256" => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
                    .verify(msg, sig),
                _ => UnparsedPublicKey::new(&signature::ED25519, &ed).verify(msg, sig),
            };
            let passes = |f: &mut dyn FnMut() -> f64| -> (f64, f64) {
                let mut per: Vec<f64> = (0..SAMPLES).map(|_| f()).collect();
                per.sort_by(|a, b| a.partial_cmp(b).unwrap());
                (per[SAMPLES / 2], per[0])
            };
            report(
                &format!("verify {alg}, {} distinct tokens", tokens.len()),
                passes(&mut || {
                    let t = Instant::now();
                    for p in &split {
                        if black_box(raw(black_box(p))).is_err() {
                            die(format!("{}: a token does not verify", path.display()));
                        }
                    }
                    t.elapsed().as_nanos() as f64 / split.len() as f64
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
            let _ = black_box(ring::digest::digest(
                &ring::digest::SHA256,
                black_box(t.as_bytes()),
            ));
        }),
    );
}
