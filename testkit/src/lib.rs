//! The one fixture source of sasl-oauth's tests: throw-away signing keys, a
//! JWKS, a server configuration and JWTs (good and hostile). Rust tests and
//! benches use this library; the C harness and the e2e scripts use it through
//! the `testkit` command line (src/main.rs). Nothing here is part of the plugin.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

mod provider_shapes;

pub const ISSUER: &str = "https://issuer.example.test";
pub const AUDIENCE: &str = "sasl-oauth-test";
pub const SCOPE: &str = "openid mail";
pub const REQUIRED_SCOPE: &str = "mail";
/// A second issuer, with its own key set (jwks-b.json), for the tests of
/// several issuers: its key has issuer A's Ed25519 kid, `ed-1`.
pub const ISSUER_B: &str = "https://issuer-b.example.test";
/// The Entra tenant of the provider-shaped tokens.
pub const ENTRA_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Every failure is a one-line message for the test's output.
pub type Result<T> = std::result::Result<T, String>;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_decode(text: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| format!("base64url: {e}"))
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `base64url(header).base64url(claims).base64url(sign(signing input))`: the
/// compact JWS of any bytes (hostile ones too), signed by `sign`.
pub fn jws(header: &[u8], claims: &[u8], sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let signed = format!("{}.{}", b64(header), b64(claims));
    let sig = sign(signed.as_bytes());
    format!("{signed}.{}", b64(&sig))
}

/// The keys a fixture directory holds (`keys/`), by the name the `sign`
/// command and the C harness use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyName {
    /// keys/rsa.der, RS256, kid rsa-1 in the JWKS.
    Rsa,
    /// keys/ed.pk8.der, EdDSA, kid ed-1 in the JWKS.
    Ed,
    /// keys/evil.pk8.der, EdDSA: an attacker's key, in no JWKS.
    Evil,
}

impl KeyName {
    pub fn parse(name: &str) -> Result<KeyName> {
        match name {
            "rsa" => Ok(KeyName::Rsa),
            "ed" => Ok(KeyName::Ed),
            "evil" => Ok(KeyName::Evil),
            other => Err(format!("unknown key {other:?} (rsa, ed, evil)")),
        }
    }
}

pub struct Keys {
    rsa: RsaKeyPair,
    rsa_other: RsaKeyPair,
    ec: EcdsaKeyPair,
    ec384: EcdsaKeyPair,
    ed: Ed25519KeyPair,
    evil: Ed25519KeyPair,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).map_err(|e| format!("{}: {e}", path.display()))
}

/// ring cannot generate RSA keys; openssl can (it writes PKCS#1 DER).
fn openssl_rsa(path: &Path) -> Result<()> {
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
    if ok {
        Ok(())
    } else {
        Err("openssl genpkey failed (is openssl installed?)".into())
    }
}

fn ed25519_pkcs8(rng: &SystemRandom) -> Result<Vec<u8>> {
    Ed25519KeyPair::generate_pkcs8(rng)
        .map(|k| k.as_ref().to_vec())
        .map_err(|e| format!("Ed25519 key: {e}"))
}

fn ed25519_from(dir: &Path, file: &str) -> Result<Ed25519KeyPair> {
    Ed25519KeyPair::from_pkcs8(&read(&dir.join(file))?).map_err(|e| format!("{file}: {e}"))
}

fn ecdsa_pkcs8(
    alg: &'static signature::EcdsaSigningAlgorithm,
    rng: &SystemRandom,
) -> Result<Vec<u8>> {
    EcdsaKeyPair::generate_pkcs8(alg, rng)
        .map(|k| k.as_ref().to_vec())
        .map_err(|e| format!("ECDSA key: {e}"))
}

fn ecdsa_from(
    alg: &'static signature::EcdsaSigningAlgorithm,
    dir: &Path,
    file: &str,
    rng: &SystemRandom,
) -> Result<EcdsaKeyPair> {
    EcdsaKeyPair::from_pkcs8(alg, &read(&dir.join(file))?, rng).map_err(|e| format!("{file}: {e}"))
}

/// The JWK of an ECDSA key: its uncompressed point `04 || x || y` split.
fn ec_jwk(kp: &EcdsaKeyPair, crv: &str, kid: &str) -> Value {
    let point = &kp.public_key().as_ref()[1..];
    let (x, y) = point.split_at(point.len() / 2);
    json!({"kty": "EC", "crv": crv, "kid": kid, "use": "sig", "x": b64(x), "y": b64(y)})
}

impl Keys {
    /// Writes a new key set into `dir`.
    pub fn generate(dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let rng = SystemRandom::new();
        openssl_rsa(&dir.join("rsa.der"))?;
        openssl_rsa(&dir.join("rsa-other.der"))?;
        let p256 = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        write(&dir.join("ec.pk8.der"), &ecdsa_pkcs8(p256, &rng)?)?;
        let p384 = &signature::ECDSA_P384_SHA384_FIXED_SIGNING;
        write(&dir.join("ec384.pk8.der"), &ecdsa_pkcs8(p384, &rng)?)?;
        write(&dir.join("ed.pk8.der"), &ed25519_pkcs8(&rng)?)?;
        write(&dir.join("evil.pk8.der"), &ed25519_pkcs8(&rng)?)
    }

    pub fn load(dir: &Path) -> Result<Keys> {
        let rng = SystemRandom::new();
        let rsa =
            |f: &str| RsaKeyPair::from_der(&read(&dir.join(f))?).map_err(|e| format!("{f}: {e}"));
        Ok(Keys {
            rsa: rsa("rsa.der")?,
            rsa_other: rsa("rsa-other.der")?,
            ec: ecdsa_from(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                dir,
                "ec.pk8.der",
                &rng,
            )?,
            ec384: ecdsa_from(
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                dir,
                "ec384.pk8.der",
                &rng,
            )?,
            ed: ed25519_from(dir, "ed.pk8.der")?,
            evil: ed25519_from(dir, "evil.pk8.der")?,
        })
    }

    /// The public keys the server trusts (not rsa-other, not evil).
    pub fn jwks(&self) -> Value {
        json!({"keys": [
            rsa_jwk(&self.rsa, "rsa-1"),
            ec_jwk(&self.ec, "P-256", "ec-1"),
            ec_jwk(&self.ec384, "P-384", "ec384-1"),
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "use": "sig", "x": b64(self.ed.public_key().as_ref())},
        ]})
    }

    /// The signature of `input` with a named key (RS256 for rsa, EdDSA for the others).
    /// Issuer B's key set: the `evil` key under issuer A's Ed25519 kid.
    pub fn jwks_b(&self) -> Value {
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "use": "sig",
                         "x": b64(self.evil.public_key().as_ref())}]})
    }

    /// A set shaped like Keycloak's (`/realms/R/protocol/openid-connect/certs`):
    /// the RS256 signing key, and beside it an RSA-OAEP encryption key
    /// (`use: enc`), both with the certificate members Keycloak adds.
    pub fn jwks_keycloak(&self) -> Value {
        let with_cert = |mut jwk: Value, alg: &str, use_: &str| {
            jwk["alg"] = json!(alg);
            jwk["use"] = json!(use_);
            jwk["x5c"] = json!(["MIICmzCCAYMCBgGTestOnly"]);
            jwk["x5t"] = json!("dGVzdC1vbmx5");
            jwk["x5t#S256"] = json!("dGVzdC1vbmx5LXNoYTI1Ng");
            jwk
        };
        json!({"keys": [
            with_cert(rsa_jwk(&self.rsa, "rsa-1"), "RS256", "sig"),
            with_cert(rsa_jwk(&self.rsa_other, "kc-enc"), "RSA-OAEP", "enc"),
        ]})
    }

    pub fn signature(&self, key: KeyName, input: &[u8]) -> Vec<u8> {
        match key {
            KeyName::Rsa => rsa_sign(&self.rsa, &signature::RSA_PKCS1_SHA256, input),
            KeyName::Ed => self.ed.sign(input).as_ref().to_vec(),
            KeyName::Evil => self.evil.sign(input).as_ref().to_vec(),
        }
    }

    /// The raw public key (a JWK's `x`, base64url) of an Ed25519 key.
    pub fn public_x(&self, key: KeyName) -> Result<String> {
        match key {
            KeyName::Ed => Ok(b64(self.ed.public_key().as_ref())),
            KeyName::Evil => Ok(b64(self.evil.public_key().as_ref())),
            KeyName::Rsa => Err("rsa has no x".into()),
        }
    }

    /// Signs `header.claims` with the key the header's alg names (kid
    /// rsa-unknown: a key outside the JWKS).
    pub fn sign(&self, header: &Value, claims: &Value) -> Result<String> {
        // Keys outside jwks.json: an unknown kid, the Keycloak set's encryption key.
        let other = header["kid"] == "rsa-unknown" || header["kid"] == "kc-enc";
        let rng = SystemRandom::new();
        let alg = header["alg"].as_str().unwrap_or("").to_owned();
        let (h, c) = (header.to_string(), claims.to_string());
        let mut failure = None;
        let token = jws(h.as_bytes(), c.as_bytes(), |signed| match alg.as_str() {
            "RS256" => rsa_sign(
                if other { &self.rsa_other } else { &self.rsa },
                &signature::RSA_PKCS1_SHA256,
                signed,
            ),
            "PS256" => rsa_sign(&self.rsa, &signature::RSA_PSS_SHA256, signed),
            "ES256" | "ES384" => {
                let key = if alg == "ES256" {
                    &self.ec
                } else {
                    &self.ec384
                };
                match key.sign(&rng, signed) {
                    Ok(sig) => sig.as_ref().to_vec(),
                    Err(e) => {
                        failure = Some(format!("{alg}: {e}"));
                        Vec::new()
                    }
                }
            }
            "EdDSA" => self.ed.sign(signed).as_ref().to_vec(),
            "HS256" => {
                // The classic confusion attack: HMAC keyed with the server's RSA public key.
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.rsa.public().as_ref());
                ring::hmac::sign(&key, signed).as_ref().to_vec()
            }
            "none" => Vec::new(),
            other => {
                failure = Some(format!("unknown alg {other}"));
                Vec::new()
            }
        });
        failure.map_or(Ok(token), Err)
    }
}

fn rsa_sign(kp: &RsaKeyPair, alg: &'static dyn signature::RsaEncoding, input: &[u8]) -> Vec<u8> {
    let mut sig = vec![0; kp.public().modulus_len()];
    kp.sign(alg, &SystemRandom::new(), input, &mut sig)
        .expect("an RSA signature of a 2048-bit fixture key");
    sig
}

fn rsa_jwk(kp: &RsaKeyPair, kid: &str) -> Value {
    let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(kp.public());
    json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&c.n), "e": b64(&c.e)})
}

pub fn kid_for(alg: &str) -> &'static str {
    match alg {
        "ES256" => "ec-1",
        "ES384" => "ec384-1",
        "EdDSA" => "ed-1",
        _ => "rsa-1",
    }
}

/// The claims of a good fixture token for `sub`, valid for an hour.
pub fn default_claims(sub: &str) -> Value {
    let t = now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "scope": SCOPE, "iat": t, "exp": t + 3600,
           "client_id": "sasl-oauth-testkit", "jti": format!("{sub}-{t}")})
}

/// The header of a good fixture token signed with `alg`.
pub fn header(alg: &str) -> Value {
    json!({"alg": alg, "kid": kid_for(alg), "typ": "at+jwt"})
}

/// The client configuration the C tests point SASL_OAUTH_CONF at: every
/// client mechanism registered.
pub const CLIENT_CONF: &str = "mechanisms: OAUTHBEARER XOAUTH2 OAUTH10A OAUTH\n";

/// Writes `dir`: keys/, jwks.json, server.conf, client.conf and tokens/NAME.jwt (good
/// tokens for each algorithm and one per refusal the server must give).
/// Returns the directory, made absolute.
pub fn write_fixtures(dir: &Path) -> Result<PathBuf> {
    let keys_dir = dir.join("keys");
    Keys::generate(&keys_dir)?;
    let k = Keys::load(&keys_dir)?;
    let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let jwks = serde_json::to_vec_pretty(&k.jwks()).map_err(|e| e.to_string())?;
    write(&dir.join("jwks.json"), &jwks)?;
    let conf = format!(
        "oauth_issuer: {ISSUER}\noauth_audience: {AUDIENCE}\noauth_jwks_file: {}\noauth_required_scope: {REQUIRED_SCOPE}\n",
        dir.join("jwks.json").display()
    );
    write(&dir.join("server.conf"), conf.as_bytes())?;
    // The client side registers its mechanisms only when its file names them.
    write(&dir.join("client.conf"), CLIENT_CONF.as_bytes())?;
    write(&dir.join("jwks-b.json"), k.jwks_b().to_string().as_bytes())?;
    write(
        &dir.join("jwks-keycloak.json"),
        k.jwks_keycloak().to_string().as_bytes(),
    )?;
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).map_err(|e| format!("{}: {e}", tokens.display()))?;
    let shaped = provider_shapes::write_all(&dir, &k)?;
    for (name, token) in fixture_tokens(&k)?
        .into_iter()
        .chain(provider_tokens(&k)?)
        .chain(shaped)
    {
        write(
            &tokens.join(format!("{}.jwt", name.to_ascii_lowercase())),
            token.as_bytes(),
        )?;
    }
    Ok(dir)
}

fn fixture_tokens(k: &Keys) -> Result<Vec<(&'static str, String)>> {
    let t = now();
    let with = |f: &dyn Fn(&mut Value, &mut Value)| {
        let (mut h, mut c) = (header("RS256"), default_claims("alice"));
        f(&mut h, &mut c);
        k.sign(&h, &c)
    };
    let mut out: Vec<(&str, String)> = vec![];
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        out.push((alg, k.sign(&header(alg), &default_claims("alice"))?));
    }
    out.push(("bob", k.sign(&header("RS256"), &default_claims("bob"))?));
    out.push((
        "expired",
        with(&|_, c| {
            c["exp"] = json!(t - 3600);
            c["iat"] = json!(t - 7200);
        })?,
    ));
    out.push(("notyet", with(&|_, c| c["nbf"] = json!(t + 3600))?));
    out.push((
        "wrong-iss",
        with(&|_, c| c["iss"] = json!("https://evil.example.test"))?,
    ));
    out.push((
        "wrong-aud",
        with(&|_, c| c["aud"] = json!("other-service"))?,
    ));
    out.push(("no-scope", with(&|_, c| c["scope"] = json!("openid"))?));
    out.push((
        "alg-none",
        with(&|h, _| *h = json!({"alg": "none", "typ": "at+jwt"}))?,
    ));
    out.push(("hs256-rsakey", with(&|h, _| h["alg"] = json!("HS256"))?));
    out.push((
        "unknown-kid",
        with(&|h, _| h["kid"] = json!("rsa-unknown"))?,
    ));
    out.push(("wrong-typ", with(&|h, _| h["typ"] = json!("secevent+jwt"))?));
    let good = k.sign(&header("RS256"), &default_claims("alice"))?;
    let (signed, sig) = good.rsplit_once('.').ok_or("a JWS without dots")?;
    let mut sig = b64_decode(sig)?;
    sig[7] ^= 0x01;
    out.push(("bad-sig", format!("{signed}.{}", b64(&sig))));
    Ok(out)
}

/// A fixture directory written by `write_fixtures` (`make fixtures`), read
/// back: its tokens and the keys of its JWKS.
/// Tokens shaped like the providers' (tokens/NAME.jwt), for the tests of
/// claim rules, user-name mapping, several issuers and mixed key sets.
fn provider_tokens(k: &Keys) -> Result<Vec<(&'static str, String)>> {
    let rsa = |f: &dyn Fn(&mut Value)| {
        let mut c = default_claims("f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
        f(&mut c);
        k.sign(&header("RS256"), &c)
    };
    // Keycloak's access token: preferred_username, realm roles, groups
    // (https://www.keycloak.org/docs/latest/server_admin/#_oidc_token_role_mappings).
    let keycloak = |roles: Value| {
        move |c: &mut Value| {
            c["preferred_username"] = json!("Alice.Smith@Example.COM");
            c["email_verified"] = json!(true);
            c["realm_access"] = json!({"roles": roles.clone()});
            c["groups"] = json!(["/staff", "mail-users"]);
        }
    };
    let b = |key: KeyName| {
        let mut c = default_claims("bob");
        c["iss"] = json!(ISSUER_B);
        let header = json!({"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt"}).to_string();
        jws(header.as_bytes(), c.to_string().as_bytes(), |input| {
            k.signature(key, input)
        })
    };
    // Entra v2.0 access token of a user (no `scope`: `scp`; app roles in
    // `roles`), https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference.
    let entra = |tenant: &'static str| {
        move |c: &mut Value| {
            let obj = c.as_object_mut().expect("claims are an object");
            obj.remove("scope");
            obj.insert(
                "iss".into(),
                json!(format!("https://login.microsoftonline.com/{tenant}/v2.0")),
            );
            obj.insert("tid".into(), json!(tenant));
            obj.insert("scp".into(), json!("mail Mail.Send"));
            obj.insert("roles".into(), json!(["Mail.Send"]));
            obj.insert("preferred_username".into(), json!("Alice@Contoso.example"));
            obj.insert("ver".into(), json!("2.0"));
        }
    };
    // Google: iss https://accounts.google.com, email, email_verified, hd
    // (https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload).
    let google = |verified: bool| {
        move |c: &mut Value| {
            c["iss"] = json!("https://accounts.google.com");
            c["email"] = json!("alice@example.com");
            c["email_verified"] = json!(verified);
            c["hd"] = json!("example.com");
        }
    };
    // Signed by the private half of the Keycloak set's encryption key.
    let enc = k.sign(
        &json!({"alg": "RS256", "kid": "kc-enc", "typ": "JWT"}),
        &default_claims("alice"),
    )?;
    Ok(vec![
        (
            "keycloak",
            rsa(&keycloak(json!(["offline_access", "mail"])))?,
        ),
        (
            "keycloak-no-role",
            rsa(&keycloak(json!(["offline_access"])))?,
        ),
        ("issuer-b", b(KeyName::Evil)),
        ("issuer-b-signed-by-a", b(KeyName::Ed)),
        ("keycloak-enc-key", enc),
        ("entra", rsa(&entra(ENTRA_TENANT))?),
        (
            "entra-other-tenant",
            rsa(&entra("72f988bf-86f1-41af-91ab-2d7cd011db47"))?,
        ),
        ("google", rsa(&google(true))?),
        ("google-unverified", rsa(&google(false))?),
    ])
}

pub struct FixtureDir {
    pub dir: PathBuf,
    jwks: Value,
}

impl FixtureDir {
    pub fn open(dir: &Path) -> Result<FixtureDir> {
        let jwks = serde_json::from_slice(&read(&dir.join("jwks.json"))?)
            .map_err(|e| format!("jwks.json: {e}"))?;
        Ok(FixtureDir {
            dir: dir.to_path_buf(),
            jwks,
        })
    }

    /// tokens/NAME.jwt, trimmed.
    pub fn token(&self, name: &str) -> Result<String> {
        let bytes = read(&self.dir.join("tokens").join(format!("{name}.jwt")))?;
        String::from_utf8(bytes)
            .map(|t| t.trim().to_owned())
            .map_err(|_| format!("{name}.jwt is not UTF-8"))
    }

    /// The JWK of `kid`.
    pub fn jwk(&self, kid: &str) -> Result<&Value> {
        self.jwks["keys"]
            .as_array()
            .and_then(|ks| ks.iter().find(|k| k["kid"] == kid))
            .ok_or_else(|| format!("no key {kid} in jwks.json"))
    }

    /// A base64url member of the JWK of `kid`, decoded.
    pub fn jwk_bytes(&self, kid: &str, field: &str) -> Result<Vec<u8>> {
        let text = self.jwk(kid)?[field]
            .as_str()
            .ok_or_else(|| format!("JWK {kid}: field {field} missing"))?;
        b64_decode(text).map_err(|e| format!("JWK {kid} field {field}: {e}"))
    }

    pub fn server_conf(&self) -> Result<String> {
        String::from_utf8(read(&self.dir.join("server.conf"))?)
            .map_err(|_| "server.conf is not UTF-8".into())
    }
}

/// A fresh Ed25519 key for a test that writes its own JWKS.
pub struct Ed25519Key {
    key: Ed25519KeyPair,
    kid: String,
}

impl Ed25519Key {
    pub fn generate(kid: &str) -> Ed25519Key {
        let pk8 = ed25519_pkcs8(&SystemRandom::new()).expect("an Ed25519 key");
        Ed25519Key {
            key: Ed25519KeyPair::from_pkcs8(&pk8).expect("ring reads the key it wrote"),
            kid: kid.to_owned(),
        }
    }

    /// A JWKS holding this key alone.
    pub fn jwks(&self) -> String {
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": self.kid,
                         "x": b64(self.key.public_key().as_ref())}]})
        .to_string()
    }

    /// A JWT of `claims` (JSON text), header `{"alg":"EdDSA","kid":KID}`.
    pub fn sign(&self, claims: &str) -> String {
        let header = json!({"alg": "EdDSA", "kid": self.kid}).to_string();
        jws(header.as_bytes(), claims.as_bytes(), |input| {
            self.key.sign(input).as_ref().to_vec()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_of_a_fresh_key_verifies_with_its_jwks_key() {
        let k = Ed25519Key::generate("k1");
        let token = k.sign(r#"{"sub":"alice"}"#);
        let (signed, sig) = token.rsplit_once('.').unwrap();
        let jwks: Value = serde_json::from_str(&k.jwks()).unwrap();
        let x = b64_decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
        let verified = signature::UnparsedPublicKey::new(&signature::ED25519, &x)
            .verify(signed.as_bytes(), &b64_decode(sig).unwrap());
        assert!(verified.is_ok());
        assert!(signature::UnparsedPublicKey::new(&signature::ED25519, &x)
            .verify(b"other", &b64_decode(sig).unwrap())
            .is_err());
    }

    #[test]
    fn es384_tokens_verify_with_the_p384_key_of_the_jwks() {
        let dir = std::env::temp_dir().join(format!("testkit-keys-{}", std::process::id()));
        Keys::generate(&dir).unwrap();
        let keys = Keys::load(&dir).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let jwks = keys.jwks();
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid_for("ES384"))
            .unwrap();
        assert_eq!((&jwk["kty"], &jwk["crv"]), (&json!("EC"), &json!("P-384")));
        let coord = |f: &str| b64_decode(jwk[f].as_str().unwrap()).unwrap();
        let (x, y) = (coord("x"), coord("y"));
        assert_eq!((x.len(), y.len()), (48, 48));
        let point = [&[4u8][..], &x, &y].concat();
        let token = keys
            .sign(&header("ES384"), &default_claims("alice"))
            .unwrap();
        let (signed, sig) = token.rsplit_once('.').unwrap();
        let mut sig = b64_decode(sig).unwrap();
        let key = signature::UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, &point);
        assert!(key.verify(signed.as_bytes(), &sig).is_ok());
        sig[10] ^= 1;
        assert!(key.verify(signed.as_bytes(), &sig).is_err());
    }

    #[test]
    fn key_names_are_the_three_the_c_harness_uses() {
        assert_eq!(KeyName::parse("rsa"), Ok(KeyName::Rsa));
        assert_eq!(KeyName::parse("ed"), Ok(KeyName::Ed));
        assert_eq!(KeyName::parse("evil"), Ok(KeyName::Evil));
        assert!(KeyName::parse("ec").is_err());
    }
}
