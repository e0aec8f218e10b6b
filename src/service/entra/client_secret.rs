//! App registration tokens with a client secret (`AuthType=azure.app;ClientSecret=…`, or
//! `AZURE_CLIENT_SECRET` in the default chain): the client credentials grant at the authority
//! ([`super::authority`]).

use super::{authority, AccessToken, EntraError, Resource};
use crate::service::secret::Secret;

pub use authority::DEFAULT_AUTHORITY;

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
        Self {
            authority: authority::from_env(),
            tenant_id,
            client_id,
            secret,
        }
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        authority::token_endpoint(&self.authority, &self.tenant_id)
    }

    /// Fetches a token for the scope of `resource`.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: Resource,
    ) -> Result<AccessToken, EntraError> {
        authority::request_token(
            http,
            &self.token_endpoint(),
            resource,
            &self.client_id,
            &[("client_secret", self.secret.expose())],
        )
        .await
    }
}
