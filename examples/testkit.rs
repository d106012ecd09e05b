//! Test kit: makes throw-away signing keys, a JWKS, a server configuration and
//! JWTs (good and hostile) for the C harness, the real-server scripts and
//! `make demo`. Nothing here is part of the plugin.
//!
//! ```text
//! testkit fixtures DIR
//! testkit mint --keys DIR [--sub S] [--alg RS256|PS256|ES256|EdDSA] [--exp-in SECONDS]
//!              [--aud A] [--iss I] [--scope S] [--kid K] [--typ T]
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{exit, Command};
use std::time::{SystemTime, UNIX_EPOCH};

const ISSUER: &str = "https://issuer.example.test";
const AUDIENCE: &str = "sasl-oauth-test";
const SCOPE: &str = "openid mail";
const REQUIRED_SCOPE: &str = "mail";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn die(msg: &str) -> ! {
    eprintln!("testkit: {msg}");
    exit(2)
}

struct Keys {
    rsa: RsaKeyPair,
    rsa_other: RsaKeyPair,
    ec: EcdsaKeyPair,
    ed: Ed25519KeyPair,
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| die(&format!("{}: {e}", path.display())))
}

/// ring cannot generate RSA keys; openssl can (it writes PKCS#1 DER).
fn openssl_rsa(path: &Path) {
    let ok = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-outform",
            "DER",
            "-out",
        ])
        .arg(path)
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        die("openssl genpkey failed (is openssl installed?)");
    }
}

fn generate(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| die(&format!("{}: {e}", dir.display())));
    let rng = SystemRandom::new();
    openssl_rsa(&dir.join("rsa.der"));
    openssl_rsa(&dir.join("rsa-other.der"));
    let ec =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    std::fs::write(dir.join("ec.pk8.der"), ec.as_ref()).unwrap();
    let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    std::fs::write(dir.join("ed.pk8.der"), ed.as_ref()).unwrap();
}

fn load(dir: &Path) -> Keys {
    let rng = SystemRandom::new();
    let rsa = |f: &str| {
        RsaKeyPair::from_der(&read(&dir.join(f))).unwrap_or_else(|e| die(&format!("{f}: {e}")))
    };
    Keys {
        rsa: rsa("rsa.der"),
        rsa_other: rsa("rsa-other.der"),
        ec: EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &read(&dir.join("ec.pk8.der")),
            &rng,
        )
        .unwrap_or_else(|e| die(&format!("ec.pk8.der: {e}"))),
        ed: Ed25519KeyPair::from_pkcs8(&read(&dir.join("ed.pk8.der")))
            .unwrap_or_else(|e| die(&format!("ed.pk8.der: {e}"))),
    }
}

fn rsa_jwk(kp: &RsaKeyPair, kid: &str) -> Value {
    let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(kp.public());
    json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&c.n), "e": b64(&c.e)})
}

fn jwks(k: &Keys) -> Value {
    let point = k.ec.public_key().as_ref();
    json!({"keys": [
        rsa_jwk(&k.rsa, "rsa-1"),
        {"kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig", "x": b64(&point[1..33]), "y": b64(&point[33..])},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "use": "sig", "x": b64(k.ed.public_key().as_ref())},
    ]})
}

/// Signs `header.claims` with the key the header's alg names.
fn sign(k: &Keys, header: &Value, claims: &Value) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let rng = SystemRandom::new();
    let rsa_sign = |kp: &RsaKeyPair, alg: &'static dyn signature::RsaEncoding| {
        let mut sig = vec![0; kp.public().modulus_len()];
        kp.sign(alg, &rng, signed.as_bytes(), &mut sig).unwrap();
        sig
    };
    let other = header["kid"] == "rsa-unknown";
    let sig = match header["alg"].as_str().unwrap_or("") {
        "RS256" => rsa_sign(
            if other { &k.rsa_other } else { &k.rsa },
            &signature::RSA_PKCS1_SHA256,
        ),
        "PS256" => rsa_sign(&k.rsa, &signature::RSA_PSS_SHA256),
        "ES256" => {
            k.ec.sign(&rng, signed.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec()
        }
        "EdDSA" => k.ed.sign(signed.as_bytes()).as_ref().to_vec(),
        "HS256" => {
            // The classic confusion attack: HMAC keyed with the server's RSA public key.
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k.rsa.public().as_ref());
            ring::hmac::sign(&key, signed.as_bytes()).as_ref().to_vec()
        }
        "none" => Vec::new(),
        other => die(&format!("unknown alg {other}")),
    };
    format!("{signed}.{}", b64(&sig))
}

fn kid_for(alg: &str) -> &'static str {
    match alg {
        "ES256" => "ec-1",
        "EdDSA" => "ed-1",
        _ => "rsa-1",
    }
}

fn default_claims(sub: &str) -> Value {
    let t = now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "scope": SCOPE, "iat": t, "exp": t + 3600,
           "client_id": "sasl-oauth-testkit", "jti": format!("{sub}-{t}")})
}

fn header(alg: &str) -> Value {
    json!({"alg": alg, "kid": kid_for(alg), "typ": "at+jwt"})
}

fn fixtures(dir: &Path) {
    let keys_dir = dir.join("keys");
    generate(&keys_dir);
    let k = load(&keys_dir);
    let dir = std::fs::canonicalize(dir).unwrap();
    std::fs::write(
        dir.join("jwks.json"),
        serde_json::to_vec_pretty(&jwks(&k)).unwrap(),
    )
    .unwrap();
    let conf = format!(
        "oauth_issuer: {ISSUER}\noauth_audience: {AUDIENCE}\noauth_jwks_file: {}\noauth_required_scope: {REQUIRED_SCOPE}\n",
        dir.join("jwks.json").display()
    );
    std::fs::write(dir.join("server.conf"), conf).unwrap();
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let t = now();
    let with = |f: &dyn Fn(&mut Value, &mut Value)| {
        let (mut h, mut c) = (header("RS256"), default_claims("alice"));
        f(&mut h, &mut c);
        sign(&k, &h, &c)
    };
    let mut out: Vec<(&str, String)> = vec![];
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        out.push((alg, sign(&k, &header(alg), &default_claims("alice"))));
    }
    out.push(("bob", sign(&k, &header("RS256"), &default_claims("bob"))));
    out.push((
        "expired",
        with(&|_, c| {
            c["exp"] = json!(t - 3600);
            c["iat"] = json!(t - 7200);
        }),
    ));
    out.push(("notyet", with(&|_, c| c["nbf"] = json!(t + 3600))));
    out.push((
        "wrong-iss",
        with(&|_, c| c["iss"] = json!("https://evil.example.test")),
    ));
    out.push(("wrong-aud", with(&|_, c| c["aud"] = json!("other-service"))));
    out.push(("no-scope", with(&|_, c| c["scope"] = json!("openid"))));
    out.push((
        "alg-none",
        with(&|h, _| *h = json!({"alg": "none", "typ": "at+jwt"})),
    ));
    out.push(("hs256-rsakey", with(&|h, _| h["alg"] = json!("HS256"))));
    out.push(("unknown-kid", with(&|h, _| h["kid"] = json!("rsa-unknown"))));
    out.push(("wrong-typ", with(&|h, _| h["typ"] = json!("secevent+jwt"))));
    let good = sign(&k, &header("RS256"), &default_claims("alice"));
    let (signed, sig) = good.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig[7] ^= 0x01;
    out.push(("bad-sig", format!("{signed}.{}", b64(&sig))));
    for (name, token) in out {
        let file = name.to_ascii_lowercase();
        std::fs::write(tokens.join(format!("{file}.jwt")), token).unwrap();
    }
    println!("fixtures written to {}", dir.display());
}

fn mint(args: &[String]) {
    let opt = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let keys = opt("--keys")
        .map(PathBuf::from)
        .unwrap_or_else(|| die("mint needs --keys DIR"));
    let k = load(&keys);
    let alg = opt("--alg").unwrap_or_else(|| "RS256".into());
    let mut h = header(&alg);
    let mut c = default_claims(&opt("--sub").unwrap_or_else(|| "alice".into()));
    if let Some(e) = opt("--exp-in") {
        let secs: i64 = e.parse().unwrap_or_else(|_| die("--exp-in takes seconds"));
        c["exp"] = json!(now() + secs);
        if secs < 0 {
            c["iat"] = json!(now() + secs - 3600);
        }
    }
    for (flag, claim) in [("--aud", "aud"), ("--iss", "iss"), ("--scope", "scope")] {
        if let Some(v) = opt(flag) {
            c[claim] = json!(v);
        }
    }
    for (flag, field) in [("--kid", "kid"), ("--typ", "typ")] {
        if let Some(v) = opt(flag) {
            h[field] = json!(v);
        }
    }
    println!("{}", sign(&k, &h, &c));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fixtures") => fixtures(Path::new(args.get(1).unwrap_or_else(|| die("fixtures needs DIR")))),
        Some("mint") => mint(&args[1..]),
        _ => die("usage: testkit fixtures DIR | testkit mint --keys DIR [--sub S] [--alg A] [--exp-in SECS] [--aud A] [--iss I] [--scope S] [--kid K] [--typ T]"),
    }
}
