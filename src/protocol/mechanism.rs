//! The four mechanisms: their SASL names and the one list, in the order of
//! the plugin tables.

use std::ffi::CStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    OAuthBearer,
    XOAuth2,
    OAuth10a,
    /// The original KITTEN draft's HTTP-style mechanism.
    OAuth,
}

impl Mechanism {
    /// Every mechanism, in the order libsasl2 is given them.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::OAuthBearer,
        Mechanism::XOAuth2,
        Mechanism::OAuth10a,
        Mechanism::OAuth,
    ];

    /// The SASL name, as a C string (for the plugin tables).
    pub fn c_name(self) -> &'static CStr {
        match self {
            Mechanism::OAuthBearer => c"OAUTHBEARER",
            Mechanism::XOAuth2 => c"XOAUTH2",
            Mechanism::OAuth10a => c"OAUTH10A",
            Mechanism::OAuth => c"OAUTH",
        }
    }

    /// The SASL name.
    pub fn name(self) -> &'static str {
        // The C names are ASCII literals.
        self.c_name().to_str().unwrap_or_default()
    }

    /// The mechanism called `name` (SASL names are case-insensitive).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_c_names_agree() {
        let names: Vec<&str> = Mechanism::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names, ["OAUTHBEARER", "XOAUTH2", "OAUTH10A", "OAUTH"]);
        for m in Mechanism::ALL {
            assert_eq!(m.c_name().to_bytes(), m.name().as_bytes());
            assert_eq!(Mechanism::from_name(&m.name().to_lowercase()), Some(m));
        }
        assert_eq!(Mechanism::from_name("PLAIN"), None);
    }
}
