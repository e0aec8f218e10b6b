//! The caller of a request as far as it could be verified: user id, claims, roles and source.

use serde_json::Value;

/// Where the caller's identity came from.
#[derive(Clone, Debug, PartialEq)]
pub enum IdentitySource {
    /// No credentials (or none that are trusted).
    Anonymous,
    /// App Service authentication headers.
    EasyAuth,
    /// A validated OIDC bearer token.
    Bearer,
}

/// The caller of a request, as far as it could be verified.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The user id for the client token; `None` for anonymous callers.
    pub user_id: Option<String>,
    /// Every claim, in order; a type may repeat. Values are strings for Easy Auth, any JSON for
    /// bearer tokens (arrays stay arrays).
    pub claims: Vec<(String, Value)>,
    /// The caller's roles.
    pub roles: Vec<String>,
    /// Where this came from.
    pub source: IdentitySource,
}

impl Caller {
    /// A caller without credentials.
    pub fn anonymous() -> Self {
        Self {
            user_id: None,
            claims: Vec::new(),
            roles: Vec::new(),
            source: IdentitySource::Anonymous,
        }
    }
}
