//! The claims rules every accepted token must meet, whichever way it was
//! checked (a JWT verified locally, or an introspection answer): one policy,
//! shared by the validators of one configuration.

/// What the configuration asks of every token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimsPolicy {
    /// The expected `iss`, exactly; required for JWTs.
    pub issuer: Option<String>,
    /// A token's `aud` must name one of these (when any are set).
    pub audiences: Vec<String>,
    /// The claim or introspection field giving the login name.
    pub username_claim: String,
    /// Scopes that must all be granted.
    pub required_scopes: Vec<String>,
    /// Seconds of leeway for exp, nbf and iat.
    pub clock_skew: i64,
}
