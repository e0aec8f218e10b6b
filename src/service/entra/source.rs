//! Which Entra token source a connection's `AuthType` means, resolved from the connection and
//! the environment as the Azure SDK does. `AuthType=azure` is the default chain in the order of
//! .NET's `DefaultAzureCredential`: environment (client secret, else certificate), workload
//! identity, managed identity, then Azure CLI and Azure Developer CLI
//! ([`super::default_chain`], `docs/protocol.md` §7).

use std::path::PathBuf;

use super::certificate::ClientCertificate;
use super::client_secret::ClientSecret;
use super::default_chain::{self, DefaultChain};
use super::managed_identity::ManagedIdentity;
use super::workload_identity::WorkloadIdentity;
use super::{AccessToken, EntraError, Resource};
use crate::service::connection_string::{AppCredential, AuthType};

/// Where tokens come from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// A managed identity (App Service / Functions or IMDS).
    ManagedIdentity(ManagedIdentity),
    /// An app registration with a client secret.
    ClientSecret(ClientSecret),
    /// An app registration with a certificate.
    Certificate(Box<ClientCertificate>),
    /// A federated token file (workload identity).
    WorkloadIdentity(WorkloadIdentity),
    /// The default chain's sources decided when fetching: a probed managed identity, then
    /// developer tools.
    DefaultChain(Box<DefaultChain>),
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl TokenSource {
    /// The source a connection's `AuthType` asks for, with what the environment adds.
    pub fn from_auth(auth: &AuthType) -> Result<Self, EntraError> {
        match auth {
            AuthType::AccessKey => Err(EntraError::NotConfigured(
                "the connection string uses an AccessKey, not Entra ID".into(),
            )),
            AuthType::ManagedIdentity { client_id } => Ok(Self::ManagedIdentity(
                ManagedIdentity::from_env(client_id.clone())?,
            )),
            AuthType::Application {
                client_id,
                tenant_id,
                credential: AppCredential::Secret(secret),
            } => Ok(Self::ClientSecret(ClientSecret::from_env(
                tenant_id.clone(),
                client_id.clone(),
                secret.clone(),
            ))),
            AuthType::Application {
                client_id,
                tenant_id,
                credential: AppCredential::Certificate(path),
            } => Ok(Self::Certificate(Box::new(ClientCertificate::from_file(
                "ClientCert",
                path,
                tenant_id.clone(),
                client_id.clone(),
            )?))),
            AuthType::Application {
                client_id,
                tenant_id,
                credential: AppCredential::CertificateThumbprint(thumbprint),
            } => Ok(Self::Certificate(Box::new(
                ClientCertificate::from_thumbprint(
                    "AzureSignalRConnectionString__clientCertificate",
                    thumbprint,
                    tenant_id.clone(),
                    client_id.clone(),
                )?,
            ))),
            AuthType::WorkloadIdentity {
                client_id,
                tenant_id,
                token_file,
            } => {
                let pick = |given: &Option<String>, name: &str| {
                    given.clone().or_else(|| var(name)).ok_or_else(|| {
                        EntraError::NotConfigured(format!(
                            "workload identity needs {name} (or the matching identity-based setting); the platform sets it when workload identity is enabled"
                        ))
                    })
                };
                Ok(Self::WorkloadIdentity(WorkloadIdentity::new(
                    pick(tenant_id, "AZURE_TENANT_ID")?,
                    pick(client_id, "AZURE_CLIENT_ID")?,
                    PathBuf::from(pick(token_file, "AZURE_FEDERATED_TOKEN_FILE")?),
                )))
            }
            AuthType::DefaultAzure {
                client_id,
                tenant_id,
            } => default_chain::resolve(
                client_id.clone().or_else(|| var("AZURE_CLIENT_ID")),
                tenant_id.clone().or_else(|| var("AZURE_TENANT_ID")),
            ),
        }
    }

    /// Which kind of source this is, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ManagedIdentity(_) => "managed identity",
            Self::ClientSecret(_) => "client secret",
            Self::Certificate(_) => "client certificate",
            Self::WorkloadIdentity(_) => "workload identity",
            Self::DefaultChain(chain) => chain
                .selected()
                .unwrap_or("default chain (managed identity, then developer tools)"),
        }
    }

    pub(super) async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: Resource,
    ) -> Result<AccessToken, EntraError> {
        match self {
            Self::ManagedIdentity(m) => m.fetch(http, resource).await,
            Self::ClientSecret(c) => c.fetch(http, resource).await,
            Self::Certificate(c) => c.fetch(http, resource).await,
            Self::WorkloadIdentity(w) => w.fetch(http, resource).await,
            Self::DefaultChain(c) => c.fetch(http, resource).await,
        }
    }
}
