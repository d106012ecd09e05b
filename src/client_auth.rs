//! How an OAuth client proves who it is at a provider's endpoint (RFC 6749
//! §2.3.1): the token endpoint, the device authorization endpoint and the
//! introspection endpoint all take the same two methods.

use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// How the client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded id and secret (every server must
    /// support it).
    #[default]
    Basic,
    /// client_id and client_secret in the form body.
    Post,
}

impl ClientAuth {
    /// The method called `name` in a configuration (`client_secret_basic`,
    /// `client_secret_post`).
    pub fn from_method(name: &str) -> Option<ClientAuth> {
        match name {
            "client_secret_basic" => Some(ClientAuth::Basic),
            "client_secret_post" => Some(ClientAuth::Post),
            _ => None,
        }
    }
}

/// Who the client is at an endpoint.
pub struct ClientIdentity<'a> {
    pub id: &'a str,
    pub secret: Option<&'a Secret>,
    pub auth: ClientAuth,
}

impl<'a> ClientIdentity<'a> {
    /// Adds the credentials that go in the form to `form`, and returns the
    /// Authorization header value when they go in a header instead.
    pub fn authenticate(&self, form: &mut Vec<(&'a str, &'a str)>) -> Option<Secret> {
        match (self.secret, self.auth) {
            (Some(secret), ClientAuth::Basic) => Some(basic_auth(self.id, secret.expose())),
            (Some(secret), ClientAuth::Post) => {
                form.push(("client_id", self.id));
                form.push(("client_secret", secret.expose()));
                None
            }
            // A public client identifies itself in the form (RFC 6749 §3.2.1).
            (None, _) => {
                form.push(("client_id", self.id));
                None
            }
        }
    }
}

/// application/x-www-form-urlencoded, as RFC 6749 §2.3.1 wants for Basic credentials.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The Authorization header value for HTTP Basic client authentication.
pub fn basic_auth(id: &str, secret: &str) -> Secret {
    let pair = format!("{}:{}", form_encode(id), form_encode(secret));
    Secret::new(format!("Basic {}", STANDARD.encode(pair.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(
            basic_auth("id", "s:e cret").expose(),
            format!("Basic {}", STANDARD.encode("id:s%3Ae+cret"))
        );
    }

    #[test]
    fn each_method_puts_the_credentials_in_one_place() {
        let secret = Secret::from("s");
        let mut form = vec![];
        let basic = ClientIdentity {
            id: "c",
            secret: Some(&secret),
            auth: ClientAuth::Basic,
        }
        .authenticate(&mut form);
        assert!(form.is_empty());
        assert_eq!(basic.unwrap().expose(), basic_auth("c", "s").expose());
        let post = ClientIdentity {
            id: "c",
            secret: Some(&secret),
            auth: ClientAuth::Post,
        }
        .authenticate(&mut form);
        assert!(post.is_none());
        assert_eq!(form, [("client_id", "c"), ("client_secret", "s")]);
        form.clear();
        let public = ClientIdentity {
            id: "c",
            secret: None,
            auth: ClientAuth::Basic,
        }
        .authenticate(&mut form);
        assert!(public.is_none());
        assert_eq!(form, [("client_id", "c")]);
        assert_eq!(
            ClientAuth::from_method("client_secret_post"),
            Some(ClientAuth::Post)
        );
        assert_eq!(ClientAuth::from_method("private_key_jwt"), None);
    }
}
