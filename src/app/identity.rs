//! Placeholder for the caller identity (being built on the identity branch).

use std::time::Duration;

/// Identity settings.
#[derive(Clone, Debug, Default)]
pub struct IdentitySettings {
    /// Trust Easy Auth headers.
    pub easy_auth: bool,
    /// Which header is the user id.
    pub easy_auth_user_id: EasyAuthUserId,
    /// OIDC.
    pub oidc: Option<OidcSettings>,
    /// Anonymous → 401.
    pub require_authentication: bool,
}
/// Which header is the user id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EasyAuthUserId {
    /// x-ms-client-principal-id
    #[default]
    PrincipalId,
    /// x-ms-client-principal-name
    PrincipalName,
}
/// OIDC settings.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// iss
    pub issuer: String,
    /// aud
    pub audiences: Vec<String>,
    /// metadata
    pub metadata_url: Option<String>,
    /// claim
    pub user_id_claim: String,
    /// leeway
    pub leeway: Duration,
}
/// Source.
#[derive(Clone, Debug, PartialEq)]
pub enum IdentitySource {
    /// none
    Anonymous,
    /// easy auth
    EasyAuth,
    /// bearer
    Bearer,
}
/// Caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// user id
    pub user_id: Option<String>,
    /// claims
    pub claims: Vec<(String, serde_json::Value)>,
    /// roles
    pub roles: Vec<String>,
    /// source
    pub source: IdentitySource,
}
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IdentityError(String);
impl IdentityError {
    /// status
    pub fn status(&self) -> u16 {
        401
    }
}
/// Authenticator.
#[derive(Clone)]
pub struct Authenticator(IdentitySettings);
impl Authenticator {
    /// new
    pub fn new(settings: IdentitySettings, _http: reqwest::Client) -> Self {
        Self(settings)
    }
    /// authenticate
    pub async fn authenticate(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<Caller, IdentityError> {
        let user_id = if self.0.easy_auth {
            headers
                .get("x-ms-client-principal-id")
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        } else {
            None
        };
        Ok(Caller {
            user_id,
            claims: vec![],
            roles: vec![],
            source: IdentitySource::Anonymous,
        })
    }
}
