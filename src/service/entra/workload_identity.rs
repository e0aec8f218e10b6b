//! Workload identity (AKS and other federated platforms): the platform writes a federated token
//! to `AZURE_FEDERATED_TOKEN_FILE` and rotates it; the app trades it at the authority for an
//! Entra token, sending it as a JWT client assertion (`client_assertion_type` =
//! `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`) with `AZURE_CLIENT_ID` at
//! `AZURE_TENANT_ID`. The file is read again on every fetch, so a rotated token is picked up
//! (`docs/protocol.md` §7).

use std::path::PathBuf;

use super::{authority, AccessToken, EntraError, Resource};

/// A federated identity: an app registration (or user-assigned identity) trusting the
/// platform's token issuer.
#[derive(Debug, Clone)]
pub struct WorkloadIdentity {
    /// Authority host, without trailing `/`.
    pub authority: String,
    /// `AZURE_TENANT_ID`.
    pub tenant_id: String,
    /// `AZURE_CLIENT_ID`.
    pub client_id: String,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub token_file: PathBuf,
}

impl WorkloadIdentity {
    /// The identity with the authority from `AZURE_AUTHORITY_HOST` when set.
    pub fn new(tenant_id: String, client_id: String, token_file: PathBuf) -> Self {
        Self {
            authority: authority::from_env(),
            tenant_id,
            client_id,
            token_file,
        }
    }

    /// Fetches a token for the scope of `resource` with the federated token now in the file.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: Resource,
    ) -> Result<AccessToken, EntraError> {
        // The file is small and local; the platform replaces it before the token in it expires.
        let assertion = std::fs::read_to_string(&self.token_file).map_err(|e| {
            EntraError::NotConfigured(format!(
                "AZURE_FEDERATED_TOKEN_FILE: cannot read {}: {}",
                self.token_file.display(),
                e.kind()
            ))
        })?;
        let assertion = assertion.trim();
        if assertion.is_empty() {
            return Err(EntraError::NotConfigured(format!(
                "AZURE_FEDERATED_TOKEN_FILE: {} is empty; the platform writes the federated token there",
                self.token_file.display()
            )));
        }
        authority::request_token(
            http,
            &authority::token_endpoint(&self.authority, &self.tenant_id),
            resource,
            &self.client_id,
            &[
                ("client_assertion_type", authority::JWT_BEARER),
                ("client_assertion", assertion),
            ],
        )
        .await
    }
}
