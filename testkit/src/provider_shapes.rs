//! Key sets and access tokens shaped like Okta's, authentik's and Zitadel's,
//! member for member as each provider documents them (cited beside each), for
//! the logins of c-tests/test_providers.c with the README's lines. The keys
//! are the fixture keys (rsa, ec) under each provider's kind of `kid`.

use super::{now, write, Keys, Result};
use ring::signature::KeyPair;
use serde_json::{json, Value};
use std::path::Path;

pub const OKTA_ISSUER: &str = "https://example.okta.com/oauth2/default";
pub const OKTA_KID: &str = "X7sVq2cUQ3k9mBzTn4pJd0hWfL8eRgYa1oCiKu5vE6M";
pub const AUTHENTIK_ISSUER: &str = "https://auth.example.com/application/o/mail/";
pub const AUTHENTIK_KID: &str = "4f0b8c1d2e3a49b5a6c7d8e9f0a1b2c3";
pub const ZITADEL_ISSUER: &str = "https://mail-example.zitadel.cloud";
pub const ZITADEL_KID: &str = "301234567890120001";
/// The Zitadel project (the audience) and its API application (the client).
pub const ZITADEL_PROJECT: &str = "301234567890123456";
pub const ZITADEL_CLIENT: &str = "301234567890123457";

impl Keys {
    fn rsa_public(&self) -> (String, String) {
        let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.rsa.public());
        (super::b64(&c.n), super::b64(&c.e))
    }

    /// `GET /oauth2/default/v1/keys`: RSA keys with kty, alg, kid, use, e, n
    /// (https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/orgas/oauthkeys).
    pub fn jwks_okta(&self) -> Value {
        let (n, e) = self.rsa_public();
        json!({"keys": [{"kty": "RSA", "alg": "RS256", "kid": OKTA_KID, "use": "sig", "e": e, "n": n}]})
    }

    /// `GET /application/o/<slug>/jwks/` with an EC signing key: alg, kid,
    /// kty, use, x, y, crv, then the certificate members x5c, x5t, x5t#S256
    /// (authentik/providers/oauth2/views/jwks.py, JWKSView.get_jwk_for_key).
    pub fn jwks_authentik(&self) -> Value {
        let point = self.ec.public_key().as_ref();
        json!({"keys": [{"alg": "ES256", "kid": AUTHENTIK_KID, "kty": "EC", "use": "sig",
            "x": super::b64(&point[1..33]), "y": super::b64(&point[33..]), "crv": "P-256",
            "x5c": ["MIIBfzCCASWgAwIBAgIUTestOnlyNotACertificate"],
            "x5t": "dGVzdC1vbmx5LXNoYTE", "x5t#S256": "dGVzdC1vbmx5LXNoYTI1Ng"}]})
    }

    /// `GET /oauth/v2/keys`: RSA keys with use, kty, kid (a numeric id), alg,
    /// n, e (https://zitadel.com/docs/apis/openidoauth/endpoints, jwks_uri).
    pub fn jwks_zitadel(&self) -> Value {
        let (n, e) = self.rsa_public();
        json!({"keys": [{"use": "sig", "kty": "RSA", "kid": ZITADEL_KID, "alg": "RS256", "n": n, "e": e}]})
    }
}

/// Okta custom authorization server access token: header kid and alg only;
/// ver, jti `AT.…`, iss, aud, iat, exp, cid, uid, scp (an array), auth_time,
/// sub (the user's Okta login), and `groups` when the authorization server
/// has a groups claim
/// (https://developer.okta.com/docs/reference/api/oidc/#access-token).
fn okta(k: &Keys, iss: &str, groups: Value) -> Result<String> {
    let t = now();
    k.sign(
        &json!({"kid": OKTA_KID, "alg": "RS256"}),
        &json!({"ver": 1, "jti": format!("AT.okta-{t}"), "iss": iss, "aud": "api://mail",
                "iat": t, "exp": t + 3600, "cid": "0oa1mailclient5d7", "uid": "00u1alice4h7",
                "scp": ["openid", "mail"], "auth_time": t - 30, "sub": "alice@example.com",
                "groups": groups}),
    )
}

/// authentik access token: the ID token's claims (iss, sub, aud = client id,
/// exp, iat, auth_time, acr, amr, sid, and the scope mappings' email,
/// email_verified, name, given_name, preferred_username, nickname, groups)
/// plus azp and uid, no `scope`; header alg, kid, typ JWT
/// (authentik/providers/oauth2/id_token.py, IDToken.to_access_token;
/// https://docs.goauthentik.io/add-secure-apps/providers/oauth2/).
fn authentik(k: &Keys, iss: &str, groups: Value) -> Result<String> {
    let t = now();
    k.sign(
        &json!({"alg": "ES256", "kid": AUTHENTIK_KID, "typ": "JWT"}),
        &json!({"iss": iss, "sub": "8b4b2c1a6f0e4d3c9a7e5f1b2d3c4a5b6e7f8091a2b3c4d5e6f708192a3b4c5d",
                "aud": "mail-client-id", "exp": t + 3600, "iat": t, "auth_time": t - 30,
                "acr": "goauthentik.io/providers/oauth2/default", "amr": ["pwd"],
                "sid": "0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
                "email": "alice@example.com", "email_verified": true, "name": "Alice Smith",
                "given_name": "Alice Smith", "preferred_username": "alice", "nickname": "alice",
                "groups": groups, "azp": "mail-client-id", "uid": "Qm9vZ2llV29vZ2llU2VjcmV0"}),
    )
}

/// Zitadel JWT access token: aud (the client ids and the project id),
/// client_id, azp, exp, iat, iss, jti, nbf, sub, and the project roles as
/// an object keyed by role, each naming the granting organisation
/// (`urn:zitadel:iam:org:project:roles`); no user name, which an Action of
/// the complement-token flow adds as `preferred_username`
/// (https://zitadel.com/docs/apis/openidoauth/claims).
fn zitadel(k: &Keys, iss: &str, role: &str, name: Option<&str>) -> Result<String> {
    let t = now();
    let mut c = json!({"aud": [ZITADEL_CLIENT, ZITADEL_PROJECT], "client_id": ZITADEL_CLIENT,
        "azp": ZITADEL_CLIENT, "exp": t + 3600, "iat": t, "iss": iss,
        "jti": format!("30123456789012{t}"), "nbf": t, "sub": "301234567890123458",
        "urn:zitadel:iam:org:project:roles": {role: {"301234567890120000": "mail-example.zitadel.cloud"}}});
    if let Some(n) = name {
        c["preferred_username"] = json!(n);
    }
    k.sign(&json!({"alg": "RS256", "kid": ZITADEL_KID}), &c)
}

/// Writes jwks-okta.json, jwks-authentik.json, jwks-zitadel.json and the
/// Zitadel client secret file; returns the tokens (tokens/NAME.jwt).
pub fn write_all(dir: &Path, k: &Keys) -> Result<Vec<(&'static str, String)>> {
    for (file, set) in [
        ("jwks-okta.json", k.jwks_okta()),
        ("jwks-authentik.json", k.jwks_authentik()),
        ("jwks-zitadel.json", k.jwks_zitadel()),
    ] {
        write(&dir.join(file), set.to_string().as_bytes())?;
    }
    write(
        &dir.join("zitadel-secret"),
        b"test-only-zitadel-client-secret\n",
    )?;
    let mail = json!(["Everyone", "mail-users"]);
    let alice = Some("alice@mail-example.zitadel.cloud");
    Ok(vec![
        ("okta", okta(k, OKTA_ISSUER, mail.clone())?),
        ("okta-no-group", okta(k, OKTA_ISSUER, json!(["Everyone"]))?),
        (
            "okta-other-server",
            okta(
                k,
                "https://example.okta.com/oauth2/aus1payroll",
                mail.clone(),
            )?,
        ),
        ("authentik", authentik(k, AUTHENTIK_ISSUER, mail.clone())?),
        (
            "authentik-no-group",
            authentik(k, AUTHENTIK_ISSUER, json!(["authentik Admins"]))?,
        ),
        (
            "authentik-other-app",
            authentik(k, "https://auth.example.com/application/o/wiki/", mail)?,
        ),
        ("zitadel", zitadel(k, ZITADEL_ISSUER, "mail", alice)?),
        (
            "zitadel-no-role",
            zitadel(k, ZITADEL_ISSUER, "wiki", alice)?,
        ),
        (
            "zitadel-other-instance",
            zitadel(k, "https://other-example.zitadel.cloud", "mail", alice)?,
        ),
        ("zitadel-no-name", zitadel(k, ZITADEL_ISSUER, "mail", None)?),
    ])
}
