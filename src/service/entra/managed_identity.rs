//! Managed identity tokens, as `azure_identity` 1.0 gets them (`docs/protocol.md` §7.2):
//! App Service / Functions when `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set
//! (`GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…[&client_id=…]` with header
//! `X-IDENTITY-HEADER`), else the instance metadata service (IMDS, VMs and containers:
//! `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=…`
//! with header `Metadata: true`). `SIGNALR_IMDS_ENDPOINT` replaces the IMDS address (tests,
//! proxies).

use super::{read_token, unreachable, AccessToken, EntraError, Resource};
use crate::service::secret::Secret;

/// The IMDS token endpoint.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// Environment variable replacing [`IMDS_ENDPOINT`].
pub const IMDS_OVERRIDE_VAR: &str = "SIGNALR_IMDS_ENDPOINT";

/// Which managed-identity protocol to speak.
#[derive(Debug, Clone)]
pub enum ManagedIdentityProtocol {
    /// App Service / Functions: the endpoint and the header value the platform sets.
    AppService {
        /// `IDENTITY_ENDPOINT`.
        endpoint: String,
        /// `IDENTITY_HEADER`.
        header: Secret,
    },
    /// The instance metadata service at this endpoint.
    Imds {
        /// The token endpoint URL.
        endpoint: String,
    },
}

/// A managed identity: system-assigned, or user-assigned by client id.
#[derive(Debug, Clone)]
pub struct ManagedIdentity {
    /// How to reach the identity endpoint.
    pub protocol: ManagedIdentityProtocol,
    /// `ClientId` of a user-assigned identity.
    pub client_id: Option<String>,
}

impl ManagedIdentity {
    /// The identity the environment offers, as `azure_identity` detects it: App Service when
    /// both `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set, else IMDS.
    pub fn from_env(client_id: Option<String>) -> Result<Self, EntraError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let protocol = match (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) {
            (Some(endpoint), Some(header)) => ManagedIdentityProtocol::AppService {
                endpoint,
                header: Secret::new(header),
            },
            (Some(_), None) => {
                return Err(EntraError::NotConfigured(
                    "IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not; both come from the App Service platform (turn on the managed identity), or unset both to use IMDS".into(),
                ))
            }
            _ => ManagedIdentityProtocol::Imds {
                endpoint: var(IMDS_OVERRIDE_VAR).unwrap_or_else(|| IMDS_ENDPOINT.to_string()),
            },
        };
        Ok(Self {
            protocol,
            client_id,
        })
    }

    /// Fetches a token for `resource`.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: Resource,
    ) -> Result<AccessToken, EntraError> {
        let (endpoint, request) = match &self.protocol {
            ManagedIdentityProtocol::AppService { endpoint, header } => (
                endpoint,
                http.get(endpoint)
                    .query(&[("api-version", "2019-08-01"), ("resource", resource.id())])
                    .header("X-IDENTITY-HEADER", header.expose()),
            ),
            ManagedIdentityProtocol::Imds { endpoint } => (
                endpoint,
                http.get(endpoint)
                    .query(&[("api-version", "2018-02-01"), ("resource", resource.id())])
                    .header("Metadata", "true"),
            ),
        };
        let request = match &self.client_id {
            Some(id) => request.query(&[("client_id", id)]),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(endpoint, &e))?;
        read_token(response, endpoint).await
    }
}
