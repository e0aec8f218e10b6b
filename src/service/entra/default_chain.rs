//! `AuthType=azure`: the default credential chain, in the order of .NET's
//! `DefaultAzureCredential` (`docs/protocol.md` §7): environment (client secret, else
//! certificate), workload identity, managed identity, then the developer tools Azure CLI and
//! Azure Developer CLI. Visual Studio, VS Code, Azure PowerShell and the interactive browser,
//! which the SDK has in between or after, are not tried.
//!
//! The first three are chosen from the environment when the chain is built. With
//! `IDENTITY_ENDPOINT` set (App Service, Functions) the managed identity is the answer and the
//! tools are never tried. Elsewhere the instance metadata service is probed as the SDK does: its
//! first request may take [`PROBE_TIMEOUT`]; no answer, or HTTP 400 (no identity assigned),
//! means "not on Azure" and the tools are tried in turn; any other failure is the chain's answer.
//! The first source that gives a token is kept for every later token, as the SDK does.
//!
//! `AZURE_TOKEN_CREDENTIALS` narrows the chain as in the SDK: `prod` (environment, workload
//! identity, managed identity without a probe), `dev` (the tools), or one credential by its SDK
//! name (`EnvironmentCredential`, `WorkloadIdentityCredential`, `ManagedIdentityCredential`,
//! `AzureCliCredential`, `AzureDeveloperCliCredential`), case-insensitive.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::certificate::ClientCertificate;
use super::client_secret::ClientSecret;
use super::developer_cli::{DeveloperCli, Tool};
use super::managed_identity::{ManagedIdentity, ManagedIdentityProtocol};
use super::workload_identity::WorkloadIdentity;
use super::{AccessToken, EntraError, Resource, TokenSource};
use crate::service::secret::Secret;

/// How long the first request to the instance metadata service may take (the SDK's
/// `InitialImdsConnectionTimeout`).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// The environment variable that narrows the chain.
pub const SELECTION_VAR: &str = "AZURE_TOKEN_CREDENTIALS";

const NONE: usize = usize::MAX;

/// The part of the chain decided when tokens are fetched: a probed managed identity, then
/// developer tools.
#[derive(Debug, Clone)]
pub struct DefaultChain {
    /// The managed identity on the instance metadata service, probed first (none: skipped).
    pub managed_identity: Option<ManagedIdentity>,
    /// The developer tools, in order.
    pub tools: Vec<DeveloperCli>,
    /// How long the managed identity's first request may take.
    pub probe_timeout: Duration,
    /// Which source gave the first token: 0 = managed identity, 1.. = `tools[n - 1]`.
    selected: Arc<AtomicUsize>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The environment credential: `AZURE_CLIENT_SECRET`, else `AZURE_CLIENT_CERTIFICATE_PATH`
/// (with `AZURE_CLIENT_CERTIFICATE_PASSWORD` for a PFX file).
fn environment(client: &str, tenant: &str) -> Result<Option<TokenSource>, EntraError> {
    if let Some(secret) = var("AZURE_CLIENT_SECRET") {
        return Ok(Some(TokenSource::ClientSecret(ClientSecret::from_env(
            tenant.to_string(),
            client.to_string(),
            Secret::new(secret),
        ))));
    }
    if let Some(path) = var("AZURE_CLIENT_CERTIFICATE_PATH") {
        let password = std::env::var("AZURE_CLIENT_CERTIFICATE_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .map(Secret::new);
        return Ok(Some(TokenSource::Certificate(Box::new(
            ClientCertificate::from_file_with_password(
                "AZURE_CLIENT_CERTIFICATE_PATH",
                &path,
                password.as_ref(),
                tenant.to_string(),
                client.to_string(),
            )?,
        ))));
    }
    Ok(None)
}

/// The chain for `AuthType=azure`, with the client and tenant the settings name (else
/// `AZURE_CLIENT_ID` / `AZURE_TENANT_ID`).
pub fn resolve(
    client_id: Option<String>,
    tenant_id: Option<String>,
) -> Result<TokenSource, EntraError> {
    let selection = var(SELECTION_VAR).map(|s| s.trim().to_ascii_lowercase());
    let (prod, dev) = match selection.as_deref() {
        None => (true, true),
        Some("prod") => (true, false),
        Some("dev") => (false, true),
        Some(one) => return single(one, client_id, tenant_id),
    };
    let tools = || {
        vec![
            DeveloperCli::new(Tool::AzureCli, tenant_id.clone()),
            DeveloperCli::new(Tool::AzureDeveloperCli, tenant_id.clone()),
        ]
    };
    if !prod {
        return Ok(TokenSource::DefaultChain(Box::new(DefaultChain::new(
            None,
            tools(),
        ))));
    }
    if let (Some(client), Some(tenant)) = (&client_id, &tenant_id) {
        if let Some(source) = environment(client, tenant)? {
            return Ok(source);
        }
        if let Some(file) = var("AZURE_FEDERATED_TOKEN_FILE") {
            return Ok(TokenSource::WorkloadIdentity(WorkloadIdentity::new(
                tenant.clone(),
                client.clone(),
                PathBuf::from(file),
            )));
        }
    }
    let identity = ManagedIdentity::from_env(client_id.clone())?;
    if !dev || !matches!(identity.protocol, ManagedIdentityProtocol::Imds { .. }) {
        return Ok(TokenSource::ManagedIdentity(identity));
    }
    Ok(TokenSource::DefaultChain(Box::new(DefaultChain::new(
        Some(identity),
        tools(),
    ))))
}

/// `AZURE_TOKEN_CREDENTIALS` naming one credential.
fn single(
    name: &str,
    client_id: Option<String>,
    tenant_id: Option<String>,
) -> Result<TokenSource, EntraError> {
    let tool = |tool| {
        Ok(TokenSource::DefaultChain(Box::new(DefaultChain::new(
            None,
            vec![DeveloperCli::new(tool, tenant_id.clone())],
        ))))
    };
    let needs = |what: &str| {
        EntraError::NotConfigured(format!(
            "{SELECTION_VAR} selects {name}, which needs {what}"
        ))
    };
    match name {
        "azureclicredential" => tool(Tool::AzureCli),
        "azuredeveloperclicredential" => tool(Tool::AzureDeveloperCli),
        "managedidentitycredential" => Ok(TokenSource::ManagedIdentity(
            ManagedIdentity::from_env(client_id)?,
        )),
        "environmentcredential" => {
            let (Some(client), Some(tenant)) = (client_id, tenant_id) else {
                return Err(needs("AZURE_CLIENT_ID and AZURE_TENANT_ID"));
            };
            environment(&client, &tenant)?.ok_or_else(|| {
                needs("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH")
            })
        }
        "workloadidentitycredential" => {
            let (Some(client), Some(tenant), Some(file)) =
                (client_id, tenant_id, var("AZURE_FEDERATED_TOKEN_FILE"))
            else {
                return Err(needs(
                    "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE",
                ));
            };
            Ok(TokenSource::WorkloadIdentity(WorkloadIdentity::new(
                tenant,
                client,
                PathBuf::from(file),
            )))
        }
        "visualstudiocredential"
        | "visualstudiocodecredential"
        | "azurepowershellcredential"
        | "interactivebrowsercredential"
        | "brokercredential" => Err(EntraError::NotConfigured(format!(
            "{SELECTION_VAR} selects a credential this handler does not have; use dev, prod, AzureCliCredential, AzureDeveloperCliCredential, EnvironmentCredential, WorkloadIdentityCredential or ManagedIdentityCredential"
        ))),
        _ => Err(EntraError::NotConfigured(format!(
            "{SELECTION_VAR} must be dev, prod or one credential name (AzureCliCredential, AzureDeveloperCliCredential, EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential)"
        ))),
    }
}

impl DefaultChain {
    /// The chain of these sources, none selected yet.
    pub fn new(managed_identity: Option<ManagedIdentity>, tools: Vec<DeveloperCli>) -> Self {
        Self {
            managed_identity,
            tools,
            probe_timeout: PROBE_TIMEOUT,
            selected: Arc::new(AtomicUsize::new(NONE)),
        }
    }

    /// Which source gave the first token, once one has.
    pub fn selected(&self) -> Option<&'static str> {
        match self.selected.load(Ordering::Relaxed) {
            NONE => None,
            0 => Some("managed identity"),
            n => self.tools.get(n - 1).map(|t| t.tool.name()),
        }
    }

    pub(super) async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: Resource,
    ) -> Result<AccessToken, EntraError> {
        match self.selected.load(Ordering::Relaxed) {
            NONE => {}
            0 => {
                if let Some(identity) = &self.managed_identity {
                    return identity.fetch(http, resource).await;
                }
            }
            n => {
                if let Some(tool) = self.tools.get(n - 1) {
                    return tool.fetch(resource).await;
                }
            }
        }
        let mut reasons = Vec::new();
        if let Some(identity) = &self.managed_identity {
            match tokio::time::timeout(self.probe_timeout, identity.fetch(http, resource)).await {
                Ok(Ok(token)) => {
                    self.selected.store(0, Ordering::Relaxed);
                    return Ok(token);
                }
                Err(_) | Ok(Err(EntraError::Unreachable { .. })) => reasons.push(format!(
                    "managed identity: no instance metadata service answered within {} s (not on an Azure VM or container)",
                    self.probe_timeout.as_secs_f32()
                )),
                Ok(Err(EntraError::Refused { status: 400, .. })) => reasons.push(
                    "managed identity: the instance metadata service has no identity assigned to this resource (HTTP 400)".into(),
                ),
                // The metadata service is there but failed: that is the answer, as in the SDK.
                Ok(Err(e)) => return Err(e),
            }
        }
        for (n, tool) in self.tools.iter().enumerate() {
            match tool.fetch(resource).await {
                Ok(token) => {
                    self.selected.store(n + 1, Ordering::Relaxed);
                    return Ok(token);
                }
                Err(e) => reasons.push(e.to_string()),
            }
        }
        Err(EntraError::NotConfigured(format!(
            "AuthType=azure: no credential of the default chain gave a token ({}); on Azure turn on the managed identity, locally sign in with `az login` or `azd auth login`",
            reasons.join("; ")
        )))
    }
}
