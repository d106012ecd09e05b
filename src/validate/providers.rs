//! Provider profiles (`oauth_provider`): what a provider's tokens always look
//! like, as defaults for options the file does not set. Data only, nothing
//! secret; every value is an ordinary option's and can be set in the file
//! instead. Sources, per provider, are cited beside each entry.

/// One provider's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// `oauth_issuer`, with `{tenant}` for `oauth_tenant`; None: it names
    /// the administrator's own host, so the file must set it.
    pub issuer: Option<&'static str>,
    /// What `oauth_issuer` looks like, for the message when it is missing.
    pub issuer_form: &'static str,
    /// `oauth_username_claim`: where the login name is.
    pub username_claim: &'static str,
    /// `oauth_roles_claim`: where `oauth_required_roles` are looked for.
    pub roles_claim: &'static str,
}

#[rustfmt::skip]
pub const PROFILES: &[Profile] = &[
    // https://www.keycloak.org/docs/latest/server_admin/ ("Oidc token and
    // SAML assertion mappings"): preferred_username, realm_access.roles.
    Profile { name: "keycloak", issuer: None, issuer_form: "https://<host>/realms/<realm>",
              username_claim: "preferred_username", roles_claim: "realm_access.roles" },
    // https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference:
    // v2.0 iss https://login.microsoftonline.com/{tid}/v2.0, scp, roles,
    // preferred_username (v2.0), upn (v1.0 and optional).
    Profile { name: "entra", issuer: Some("https://login.microsoftonline.com/{tenant}/v2.0"),
              issuer_form: "https://login.microsoftonline.com/<tenant-id>/v2.0",
              username_claim: "preferred_username upn", roles_claim: "roles" },
    // https://developer.okta.com/docs/reference/api/oidc/#access-token:
    // iss https://<org>.okta.com/oauth2/<server>, sub is the user's login,
    // scp an array; groups by a custom claim named groups.
    Profile { name: "okta", issuer: None, issuer_form: "https://<org>.okta.com/oauth2/default",
              username_claim: "sub", roles_claim: "groups" },
    // https://docs.goauthentik.io/docs/add-secure-apps/providers/oauth2/:
    // iss https://<host>/application/o/<slug>/, preferred_username, groups.
    Profile { name: "authentik", issuer: None, issuer_form: "https://<host>/application/o/<slug>/",
              username_claim: "preferred_username", roles_claim: "groups" },
    // https://zitadel.com/docs/apis/openidoauth/claims: the user name is in
    // introspection answers (username, preferred_username), project roles
    // in urn:zitadel:iam:org:project:roles (an object keyed by role).
    Profile { name: "zitadel", issuer: None, issuer_form: "https://<instance>.zitadel.cloud",
              username_claim: "preferred_username username",
              roles_claim: "urn:zitadel:iam:org:project:roles" },
    // https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload:
    // iss https://accounts.google.com, email, email_verified, hd.
    Profile { name: "google", issuer: Some("https://accounts.google.com"),
              issuer_form: "https://accounts.google.com",
              username_claim: "email", roles_claim: "roles" },
];

pub fn find(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

/// A tenant id as Entra puts it in `iss`: a GUID, never a domain name or
/// `common`/`organizations` (tokens name the tenant's id, so an issuer built
/// from anything else would refuse every token).
pub fn is_tenant_id(t: &str) -> bool {
    let groups: Vec<&str> = t.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Profile {
    /// The profile's default for `key`, if it has one.
    pub fn value(&self, key: &str, tenant: Option<&str>) -> Option<String> {
        match key {
            "oauth_issuer" => match (self.issuer?, tenant) {
                (i, _) if !i.contains("{tenant}") => Some(i.to_owned()),
                (i, Some(t)) => Some(i.replace("{tenant}", t)),
                (_, None) => None,
            },
            "oauth_username_claim" => Some(self.username_claim.to_owned()),
            "oauth_roles_claim" => Some(self.roles_claim.to_owned()),
            _ => None,
        }
    }

    pub fn needs_tenant(&self) -> bool {
        self.issuer.is_some_and(|i| i.contains("{tenant}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_six() {
        let names: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "keycloak",
                "entra",
                "okta",
                "authentik",
                "zitadel",
                "google"
            ]
        );
    }

    #[test]
    fn entra_issuer_from_the_tenant() {
        let e = find("entra").unwrap();
        let t = "9188040d-6c67-4c5b-b112-36a304b66dad";
        assert_eq!(
            e.value("oauth_issuer", Some(t)).as_deref(),
            Some("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")
        );
        assert_eq!(e.value("oauth_issuer", None), None);
        assert!(e.needs_tenant() && !find("google").unwrap().needs_tenant());
        assert_eq!(
            find("google")
                .unwrap()
                .value("oauth_issuer", None)
                .as_deref(),
            Some("https://accounts.google.com")
        );
        assert!(is_tenant_id(t));
        for bad in [
            "common",
            "organizations",
            "contoso.onmicrosoft.com",
            "9188040d-6c67-4c5b-b112-36a304b66da",
            "g188040d-6c67-4c5b-b112-36a304b66dad",
        ] {
            assert!(!is_tenant_id(bad), "{bad}");
        }
    }

    #[test]
    fn no_profile_sets_anything_secret_or_outside_its_keys() {
        for p in PROFILES {
            for key in crate::options::SERVER_KEYS {
                let v = p.value(key, Some("9188040d-6c67-4c5b-b112-36a304b66dad"));
                let allowed = ["oauth_issuer", "oauth_username_claim", "oauth_roles_claim"];
                assert!(
                    v.is_none() || allowed.contains(key),
                    "{} sets {key}",
                    p.name
                );
            }
        }
    }
}
