//! App registration tokens with a client secret (`AuthType=azure.app`): the OAuth 2.0 client
//! credentials grant against `{authority}/{tenant}/oauth2/v2.0/token`, the authority being
//! `AZURE_AUTHORITY_HOST` (sovereign clouds) or `https://login.microsoftonline.com`
//! (`docs/protocol.md` §9.2).

use super::{read_token, unreachable, AccessToken, EntraError, SIGNALR_SCOPE};
use crate::service::secret::Secret;

/// The public cloud's authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// An app registration and its secret.
#[derive(Debug, Clone)]
pub struct ClientSecret {
    /// Authority host, without trailing `/`.
    pub authority: String,
    /// `TenantId`.
    pub tenant_id: String,
    /// `ClientId`.
    pub client_id: String,
    /// `ClientSecret`.
    pub secret: Secret,
}

impl ClientSecret {
    /// The registration, with the authority from `AZURE_AUTHORITY_HOST` when set.
    pub fn from_env(tenant_id: String, client_id: String, secret: Secret) -> Self {
        let authority = std::env::var("AZURE_AUTHORITY_HOST")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_AUTHORITY.to_string());
        Self {
            authority: authority.trim_end_matches('/').to_string(),
            tenant_id,
            client_id,
            secret,
        }
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant_id)
    }

    /// Fetches a token for the SignalR scope.
    pub async fn fetch(&self, http: &reqwest::Client) -> Result<AccessToken, EntraError> {
        let endpoint = self.token_endpoint();
        let response = http
            .post(&endpoint)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.secret.expose()),
                ("scope", SIGNALR_SCOPE),
            ])
            .send()
            .await
            .map_err(|e| unreachable(&endpoint, &e))?;
        read_token(response, &endpoint).await
    }
}
