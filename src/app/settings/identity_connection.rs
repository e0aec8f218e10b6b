//! The identity-based form of the connection setting, as the Functions SignalR extension (1.7+)
//! reads it through `Microsoft.Extensions.Azure` (`docs/protocol.md` §7):
//! `AzureSignalRConnectionString__serviceUri` (required) plus `__credential`
//! (`managedidentity` or `workloadidentity`; absent = a client secret when one is given, else a
//! certificate by thumbprint when `__clientCertificate` is given, else the default chain),
//! `__clientId`, `__tenantId`, `__clientSecret`, `__clientCertificate` (+ `__clientCertificateStoreName`)
//! and `__tokenFilePath`.
//! Errors name the setting that is missing or in conflict; no value is ever repeated.

use super::value::{err, SettingsError};
use crate::service::connection_string::{AppCredential, AuthType};
use crate::service::{ConnectionString, Secret};

/// The prefix: the connection setting's name and the configuration separator `__`.
pub const PREFIX: &str = "AzureSignalRConnectionString__";

const SERVICE_URI: &str = "AzureSignalRConnectionString__serviceUri";
const CREDENTIAL: &str = "AzureSignalRConnectionString__credential";
const CLIENT_ID: &str = "AzureSignalRConnectionString__clientId";
const TENANT_ID: &str = "AzureSignalRConnectionString__tenantId";
const CLIENT_SECRET: &str = "AzureSignalRConnectionString__clientSecret";
const TOKEN_FILE: &str = "AzureSignalRConnectionString__tokenFilePath";
const CERTIFICATE: &str = "AzureSignalRConnectionString__clientCertificate";
const STORE_NAME: &str = "AzureSignalRConnectionString__clientCertificateStoreName";
const RESOURCE_ID: &str = "AzureSignalRConnectionString__managedIdentityResourceId";
/// Read by the extension but without effect here (one tenant per app registration; App Service
/// on Linux puts the certificates of both store locations in one directory).
const IGNORED: [&str; 2] = [
    "additionallyAllowedTenants",
    "clientCertificateStoreLocation",
];
const KNOWN: [&str; 9] = [
    SERVICE_URI,
    CREDENTIAL,
    CLIENT_ID,
    TENANT_ID,
    CLIENT_SECRET,
    TOKEN_FILE,
    CERTIFICATE,
    STORE_NAME,
    RESOURCE_ID,
];

/// The `AzureSignalRConnectionString__*` settings found in the environment: the part after
/// the prefix and the value (kept as a [`Secret`]: `clientSecret` is one).
#[derive(Debug, Clone, Default)]
pub struct IdentityConnection(pub Vec<(String, Secret)>);

impl IdentityConnection {
    /// The settings with the prefix (matched case-insensitively, as Functions configuration is).
    pub fn from_env() -> Self {
        Self(
            // `vars_os`: `vars` panics on a name or value that is not UTF-8.
            std::env::vars_os()
                .filter_map(|(name, value)| {
                    let (name, value) = (name.into_string().ok()?, value.into_string().ok()?);
                    let prefix = name.get(..PREFIX.len())?;
                    prefix
                        .eq_ignore_ascii_case(PREFIX)
                        .then(|| (name[PREFIX.len()..].to_string(), Secret::new(value)))
                })
                .collect(),
        )
    }

    /// The service these settings describe, or `None` when there are none.
    pub fn parse(&self) -> Result<Option<ConnectionString>, SettingsError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let mut values: Vec<(&'static str, &Secret)> = Vec::new();
        for (key, value) in &self.0 {
            if IGNORED.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                continue;
            }
            let Some(name) = KNOWN
                .iter()
                .find(|k| k[PREFIX.len()..].eq_ignore_ascii_case(key))
            else {
                return Err(err(
                    "AzureSignalRConnectionString__*",
                    format!("{PREFIX}{key} is not an identity-based setting; use serviceUri, credential, clientId, tenantId, clientSecret, clientCertificate or tokenFilePath"),
                ));
            };
            if values.iter().any(|(n, _)| n == name) {
                return Err(err(
                    name,
                    "is set more than once (names are case-insensitive)",
                ));
            }
            if !value.expose().trim().is_empty() {
                values.push((name, value));
            }
        }
        let get = |name: &str| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.expose().trim().to_string())
        };
        let uri = get(SERVICE_URI).ok_or_else(|| {
            err(SERVICE_URI, "is missing: set it to https://<name>.service.signalr.net (the other AzureSignalRConnectionString__ settings need it)")
        })?;
        if uri.contains(';') {
            return Err(err(SERVICE_URI, "must be a URL such as https://<name>.service.signalr.net, not a connection string (put a connection string in AzureSignalRConnectionString instead)"));
        }
        if get(STORE_NAME).is_some_and(|n| !n.eq_ignore_ascii_case("my")) {
            return Err(err(STORE_NAME, "must be My (or absent): App Service loads certificates (WEBSITE_LOAD_CERTIFICATES) into that store"));
        }
        if get(RESOURCE_ID).is_some() {
            return Err(err(RESOURCE_ID, "is not supported; name the user-assigned identity by AzureSignalRConnectionString__clientId"));
        }
        let conflict = |setting: &'static str, with: &str| {
            err(setting, format!("cannot be used with {CREDENTIAL}={with}"))
        };
        let client_id = get(CLIENT_ID);
        let tenant_id = get(TENANT_ID);
        let auth = match get(CREDENTIAL).map(|c| c.to_ascii_lowercase()).as_deref() {
            Some("managedidentity") => {
                for setting in [CLIENT_SECRET, CERTIFICATE, TOKEN_FILE, TENANT_ID] {
                    if get(setting).is_some() {
                        return Err(conflict(setting, "managedidentity"));
                    }
                }
                AuthType::ManagedIdentity { client_id }
            }
            Some("workloadidentity") => {
                for setting in [CLIENT_SECRET, CERTIFICATE] {
                    if get(setting).is_some() {
                        return Err(conflict(setting, "workloadidentity"));
                    }
                }
                AuthType::WorkloadIdentity {
                    client_id,
                    tenant_id,
                    token_file: get(TOKEN_FILE),
                }
            }
            Some(_) => {
                return Err(err(
                    CREDENTIAL,
                    "must be managedidentity or workloadidentity (or absent: a client secret when clientSecret is set, else the default credential chain)",
                ))
            }
            None => match get(CLIENT_SECRET) {
                Some(secret) => AuthType::Application {
                    client_id: client_id.ok_or_else(|| {
                        err(CLIENT_ID, "is missing: a client secret needs the app registration's client id")
                    })?,
                    tenant_id: tenant_id.ok_or_else(|| {
                        err(TENANT_ID, "is missing: a client secret needs the app registration's tenant id")
                    })?,
                    credential: AppCredential::Secret(Secret::new(secret)),
                },
                // As `Microsoft.Extensions.Azure`: a secret wins over a certificate.
                None if get(CERTIFICATE).is_some() => AuthType::Application {
                    client_id: client_id.ok_or_else(|| {
                        err(CLIENT_ID, "is missing: a client certificate needs the app registration's client id")
                    })?,
                    tenant_id: tenant_id.ok_or_else(|| {
                        err(TENANT_ID, "is missing: a client certificate needs the app registration's tenant id")
                    })?,
                    credential: AppCredential::CertificateThumbprint(
                        get(CERTIFICATE).unwrap_or_default(),
                    ),
                },
                None if get(TOKEN_FILE).is_some() => {
                    return Err(err(
                        TOKEN_FILE,
                        format!("needs {CREDENTIAL}=workloadidentity"),
                    ))
                }
                None => AuthType::DefaultAzure {
                    client_id,
                    tenant_id,
                },
            },
        };
        let connection = ConnectionString::parse(&format!("Endpoint={uri};AuthType=azure;"))
            .map_err(|e| {
                err(
                    SERVICE_URI,
                    e.to_string().replace("Endpoint:", "").trim().to_string(),
                )
            })?;
        Ok(Some(connection.with_auth(auth)))
    }
}
