//! Every algorithm the fixtures sign with (tokens/{rs256,ps256,es256,es384,eddsa}.jwt)
//! through the plugin's validator, built from the fixtures' server.conf as the
//! server side builds it at init: the good token logs in, the same token with
//! one bit of its signature flipped does not, nor an ECDSA signature under
//! the kid of the other curve's key.

use sasloauth::server::config::ServerConfig;
use sasloauth::server::ServerRuntime;
use sasloauth::validate::{unix_now, TokenValidator};
use serde_json::json;
use testkit::{b64, b64_decode, default_claims, header, FixtureDir, Keys};

const ALGS: [&str; 5] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

struct Fixtures {
    dir: std::path::PathBuf,
    fx: FixtureDir,
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A fixture directory of the test's own (tests run in parallel threads).
fn fixtures(test: &str) -> Fixtures {
    let dir = std::env::temp_dir().join(format!(
        "sasl-oauth-fixture-algs-{test}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = testkit::write_fixtures(&dir).unwrap();
    let fx = FixtureDir::open(&dir).unwrap();
    Fixtures { dir, fx }
}

/// The validator the plugin's server side builds from server.conf.
fn validator(fx: &FixtureDir) -> Box<dyn TokenValidator> {
    let conf = fx.server_conf().unwrap();
    let config = ServerConfig::from_lookup(|k| {
        conf.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(key, _)| key.trim() == k)
            .map(|(_, v)| v.trim().to_owned())
    })
    .unwrap();
    ServerRuntime::from_config(&config)
        .unwrap()
        .validator
        .expect("server.conf configures token validation")
}

/// `token` with bit 0 of its signature's byte `at` flipped.
fn flipped(token: &str, at: usize) -> String {
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let mut sig = b64_decode(sig).unwrap();
    sig[at] ^= 1;
    format!("{signed}.{}", b64(&sig))
}

#[test]
fn each_fixture_algorithm_validates_and_a_flipped_signature_bit_does_not() {
    let f = fixtures("flipped");
    let v = validator(&f.fx);
    let now = unix_now();
    for alg in ALGS {
        let token = f.fx.token(&alg.to_ascii_lowercase()).unwrap();
        let header = b64_decode(token.split('.').next().unwrap()).unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header["alg"], alg, "{alg}: the fixture's header");
        assert_eq!(
            header["kid"],
            testkit::kid_for(alg),
            "{alg}: the fixture's kid"
        );
        let id = v
            .validate(&token, now)
            .unwrap_or_else(|e| panic!("{alg}: refused: {}", e.reason));
        assert_eq!(id.authid, "alice", "{alg}");
        for at in [0, 7, 40] {
            let err = v
                .validate(&flipped(&token, at), now)
                .expect_err(&format!("{alg}: signature byte {at} flipped, accepted"));
            assert!(
                err.reason.contains("signature"),
                "{alg}, byte {at}: {}",
                err.reason
            );
        }
    }
}

#[test]
fn an_es384_signature_is_refused_under_the_p256_key_and_a_p256_one_under_the_p384_key() {
    let f = fixtures("curves");
    let v = validator(&f.fx);
    let keys = Keys::load(&f.dir.join("keys")).unwrap();
    let now = unix_now();
    // Signed with the key the alg names (testkit's sign picks it by alg),
    // under the kid of the other curve's key.
    for (alg, kid) in [("ES384", "ec-1"), ("ES256", "ec384-1")] {
        let h = json!({"alg": alg, "kid": kid, "typ": "at+jwt"});
        let token = keys.sign(&h, &default_claims("alice")).unwrap();
        let err = v
            .validate(&token, now)
            .expect_err(&format!("{alg} under kid {kid}: accepted"));
        assert!(err.reason.contains("kid"), "{alg} {kid}: {}", err.reason);
    }
    // The same two, each under its own key's kid, log in.
    for alg in ["ES384", "ES256"] {
        let token = keys.sign(&header(alg), &default_claims("alice")).unwrap();
        assert!(v.validate(&token, now).is_ok(), "{alg}");
    }
    assert_eq!(f.fx.jwk("ec384-1").unwrap()["crv"], "P-384");
}
