//! Presets for the providers whose mail servers take OAuth today: their token,
//! device and authorization endpoints, and the scopes each mail service needs.
//! Microsoft's national clouds have their own hosts; the tenant is configurable.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: &'static str,
    pub token_endpoint: String,
    pub device_authorization_endpoint: Option<String>,
    pub authorization_endpoint: String,
    /// Scopes for a user's token (IMAP, POP, SMTP; with offline access).
    pub user_scope: &'static str,
    /// Scope for an application's own token (client credentials).
    pub app_scope: Option<&'static str>,
}

/// Microsoft clouds: (name, login host, Exchange Online resource host).
const MICROSOFT_CLOUDS: &[(&str, &str, &str)] = &[
    (
        "microsoft",
        "login.microsoftonline.com",
        "outlook.office365.com",
    ),
    (
        "microsoft-usgov",
        "login.microsoftonline.us",
        "outlook.office365.us",
    ),
    (
        "microsoft-china",
        "login.chinacloudapi.cn",
        "partner.outlook.cn",
    ),
];

pub const NAMES: &[&str] = &["google", "microsoft", "microsoft-usgov", "microsoft-china"];

/// The preset called `name`; `tenant` is a Microsoft tenant (id or domain;
/// default `common`, or `organizations` for app-only tokens).
pub fn preset(name: &str, tenant: Option<&str>) -> Option<Provider> {
    if name == "google" {
        return Some(Provider {
            name: "google",
            token_endpoint: "https://oauth2.googleapis.com/token".into(),
            device_authorization_endpoint: Some("https://oauth2.googleapis.com/device/code".into()),
            authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            user_scope: "https://mail.google.com/",
            app_scope: None,
        });
    }
    let &(name, login, exchange) = MICROSOFT_CLOUDS.iter().find(|(n, _, _)| *n == name)?;
    let tenant = tenant.filter(|t| !t.is_empty()).unwrap_or("common");
    let base = format!("https://{login}/{tenant}/oauth2/v2.0");
    let (user_scope, app_scope) = match exchange {
        "outlook.office365.com" => (
            "offline_access https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send",
            "https://outlook.office365.com/.default",
        ),
        "outlook.office365.us" => (
            "offline_access https://outlook.office365.us/IMAP.AccessAsUser.All https://outlook.office365.us/POP.AccessAsUser.All https://outlook.office365.us/SMTP.Send",
            "https://outlook.office365.us/.default",
        ),
        _ => (
            "offline_access https://partner.outlook.cn/IMAP.AccessAsUser.All https://partner.outlook.cn/POP.AccessAsUser.All https://partner.outlook.cn/SMTP.Send",
            "https://partner.outlook.cn/.default",
        ),
    };
    Some(Provider {
        name,
        token_endpoint: format!("{base}/token"),
        device_authorization_endpoint: Some(format!("{base}/devicecode")),
        authorization_endpoint: format!("{base}/authorize"),
        user_scope,
        app_scope: Some(app_scope),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google() {
        let p = preset("google", None).unwrap();
        assert_eq!(p.token_endpoint, "https://oauth2.googleapis.com/token");
        assert_eq!(p.user_scope, "https://mail.google.com/");
    }

    #[test]
    fn microsoft_with_and_without_tenant() {
        assert_eq!(
            preset("microsoft", None).unwrap().token_endpoint,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        let p = preset("microsoft", Some("contoso.onmicrosoft.com")).unwrap();
        assert_eq!(
            p.device_authorization_endpoint.as_deref(),
            Some(
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"
            )
        );
        assert!(p.user_scope.contains("SMTP.Send") && p.user_scope.contains("offline_access"));
        assert_eq!(p.app_scope, Some("https://outlook.office365.com/.default"));
    }

    #[test]
    fn national_clouds() {
        assert!(preset("microsoft-usgov", Some("t"))
            .unwrap()
            .token_endpoint
            .starts_with("https://login.microsoftonline.us/t/"));
        assert!(preset("microsoft-china", None)
            .unwrap()
            .user_scope
            .contains("partner.outlook.cn"));
    }

    #[test]
    fn unknown_name() {
        assert_eq!(preset("yahoo", None), None);
        for n in NAMES {
            assert!(preset(n, None).is_some(), "{n}");
        }
    }
}
