//! The identity-based form of a connection setting, as the Functions SignalR extension (1.7+)
//! and Web PubSub extension (1.10+) read it through `Microsoft.Extensions.Azure`
//! (`docs/protocol.md` §7, `docs/webpubsub.md` §6): `<setting>__serviceUri` (required) plus
//! `__credential` (`managedidentity` or `workloadidentity`; absent = a client secret when one is
//! given, else a certificate by thumbprint when `__clientCertificate` is given, else the default
//! chain), `__clientId`, `__tenantId`, `__clientSecret`, `__clientCertificate` (+
//! `__clientCertificateStoreName`) and `__tokenFilePath`, with `<setting>` = `AzureSignalRConnectionString` ([`IdentityNames::SIGNALR`]) or
//! `WebPubSubConnectionString` ([`IdentityNames::WEBPUBSUB`]). Errors name the setting that is missing or in
//! conflict; no value is ever repeated.

use super::value::{err, SettingsError};
use crate::service::connection_string::{AppCredential, AuthType};
use crate::service::{ConnectionString, Secret};

/// The names of one connection's identity-based settings (each `<setting>__<key>`).
#[derive(Debug)]
pub struct IdentityNames {
    /// The connection setting, e.g. `AzureSignalRConnectionString`.
    pub setting: &'static str,
    /// `<setting>__`.
    pub prefix: &'static str,
    /// `<setting>__*`, naming the group in errors.
    pub any: &'static str,
    service_uri: &'static str,
    credential: &'static str,
    client_id: &'static str,
    tenant_id: &'static str,
    client_secret: &'static str,
    token_file: &'static str,
    certificate: &'static str,
    store_name: &'static str,
    resource_id: &'static str,
    /// What `serviceUri` looks like for this service.
    example: &'static str,
}

macro_rules! identity_names {
    ($setting:literal, $example:literal) => {
        IdentityNames {
            setting: $setting,
            prefix: concat!($setting, "__"),
            any: concat!($setting, "__*"),
            service_uri: concat!($setting, "__serviceUri"),
            credential: concat!($setting, "__credential"),
            client_id: concat!($setting, "__clientId"),
            tenant_id: concat!($setting, "__tenantId"),
            client_secret: concat!($setting, "__clientSecret"),
            token_file: concat!($setting, "__tokenFilePath"),
            certificate: concat!($setting, "__clientCertificate"),
            store_name: concat!($setting, "__clientCertificateStoreName"),
            resource_id: concat!($setting, "__managedIdentityResourceId"),
            example: $example,
        }
    };
}

/// Read by the extension but without effect here (one tenant per app registration; App Service
/// on Linux puts the certificates of both store locations in one directory).
const IGNORED: [&str; 2] = [
    "additionallyAllowedTenants",
    "clientCertificateStoreLocation",
];

impl IdentityNames {
    /// `AzureSignalRConnectionString__*`.
    pub const SIGNALR: Self = identity_names!(
        "AzureSignalRConnectionString",
        "https://<name>.service.signalr.net"
    );
    /// `WebPubSubConnectionString__*`.
    pub const WEBPUBSUB: Self = identity_names!(
        "WebPubSubConnectionString",
        "https://<name>.webpubsub.azure.com"
    );

    fn known(&self) -> [&'static str; 9] {
        [
            self.store_name,
            self.service_uri,
            self.credential,
            self.client_id,
            self.tenant_id,
            self.client_secret,
            self.token_file,
            self.certificate,
            self.resource_id,
        ]
    }
}

/// The `<setting>__*` settings found in the environment: the part after the prefix and the
/// value (kept as a [`Secret`]: `clientSecret` is one).
#[derive(Debug, Clone, Default)]
pub struct IdentityConnection(pub Vec<(String, Secret)>);

/// What identity-based settings describe: the `serviceUri` and how to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityBased {
    /// `serviceUri`, trimmed.
    pub service_uri: String,
    /// The credential.
    pub auth: AuthType,
}

impl IdentityConnection {
    /// The SignalR settings (`AzureSignalRConnectionString__*`) in the environment.
    pub fn from_env() -> Self {
        Self::from_env_for(&IdentityNames::SIGNALR)
    }

    /// The settings with the prefix of `names` (matched case-insensitively, as Functions
    /// configuration is).
    pub fn from_env_for(names: &IdentityNames) -> Self {
        let prefix = names.prefix;
        Self(
            // `vars_os`: `vars` panics on a name or value that is not UTF-8.
            std::env::vars_os()
                .filter_map(|(name, value)| {
                    let (name, value) = (name.into_string().ok()?, value.into_string().ok()?);
                    let found = name.get(..prefix.len())?;
                    found
                        .eq_ignore_ascii_case(prefix)
                        .then(|| (name[prefix.len()..].to_string(), Secret::new(value)))
                })
                .collect(),
        )
    }

    /// The SignalR service these settings describe, or `None` when there are none.
    pub fn parse(&self) -> Result<Option<ConnectionString>, SettingsError> {
        let Some(found) = self.identity(&IdentityNames::SIGNALR)? else {
            return Ok(None);
        };
        let connection =
            ConnectionString::parse(&format!("Endpoint={};AuthType=azure;", found.service_uri))
                .map_err(|e| {
                    err(
                        IdentityNames::SIGNALR.service_uri,
                        e.to_string().replace("Endpoint:", "").trim().to_string(),
                    )
                })?;
        Ok(Some(connection.with_auth(found.auth)))
    }

    /// The endpoint and credential the settings named by `names` describe, or `None` when
    /// there are none.
    pub fn identity(&self, names: &IdentityNames) -> Result<Option<IdentityBased>, SettingsError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let values = self.named(names)?;
        let get = |name: &str| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.expose().trim().to_string())
        };
        let service_uri = service_uri(names, &get)?;
        let auth = credential(names, &get)?;
        Ok(Some(IdentityBased { service_uri, auth }))
    }

    /// The settings given (not blank), each under its name in `names`: an unknown one, or one
    /// given twice in any letter case, is the error.
    fn named(&self, names: &IdentityNames) -> Result<Vec<(&'static str, &Secret)>, SettingsError> {
        let known = names.known();
        let mut values: Vec<(&'static str, &Secret)> = Vec::new();
        for (key, value) in &self.0 {
            if IGNORED.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                continue;
            }
            let Some(name) = known
                .iter()
                .find(|k| k[names.prefix.len()..].eq_ignore_ascii_case(key))
            else {
                return Err(err(
                    names.any,
                    format!("{}{key} is not an identity-based setting; use serviceUri, credential, clientId, tenantId, clientSecret, clientCertificate or tokenFilePath", names.prefix),
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
        Ok(values)
    }
}

/// `serviceUri`, required and a URL (not a connection string). A certificate store other than
/// `My` and `managedIdentityResourceId` are refused here too, before the credential is read.
fn service_uri(
    names: &IdentityNames,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<String, SettingsError> {
    let (setting, example) = (names.setting, names.example);
    let uri = get(names.service_uri).ok_or_else(|| {
        err(
            names.service_uri,
            format!("is missing: set it to {example} (the other {setting}__ settings need it)"),
        )
    })?;
    if uri.contains(';') {
        return Err(err(names.service_uri, format!("must be a URL such as {example}, not a connection string (put a connection string in {setting} instead)")));
    }
    if get(names.store_name).is_some_and(|n| !n.eq_ignore_ascii_case("my")) {
        return Err(err(names.store_name, "must be My (or absent): App Service loads certificates (WEBSITE_LOAD_CERTIFICATES) into that store"));
    }
    if get(names.resource_id).is_some() {
        return Err(err(
            names.resource_id,
            format!(
                "is not supported; name the user-assigned identity by {}",
                names.client_id
            ),
        ));
    }
    Ok(uri)
}

/// The credential the settings name (`credential`, else a client secret, else a certificate,
/// else the default chain), with the settings each one cannot be combined with refused.
fn credential(
    names: &IdentityNames,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<AuthType, SettingsError> {
    let conflict = |setting: &'static str, with: &str| {
        err(
            setting,
            format!("cannot be used with {}={with}", names.credential),
        )
    };
    let client_id = get(names.client_id);
    let tenant_id = get(names.tenant_id);
    let auth = match get(names.credential).map(|c| c.to_ascii_lowercase()).as_deref() {
            Some("managedidentity") => {
                for setting in [
                    names.client_secret,
                    names.certificate,
                    names.token_file,
                    names.tenant_id,
                ] {
                    if get(setting).is_some() {
                        return Err(conflict(setting, "managedidentity"));
                    }
                }
                AuthType::ManagedIdentity { client_id }
            }
            Some("workloadidentity") => {
                for setting in [names.client_secret, names.certificate] {
                    if get(setting).is_some() {
                        return Err(conflict(setting, "workloadidentity"));
                    }
                }
                AuthType::WorkloadIdentity {
                    client_id,
                    tenant_id,
                    token_file: get(names.token_file),
                }
            }
            Some(_) => {
                return Err(err(
                    names.credential,
                    "must be managedidentity or workloadidentity (or absent: a client secret when clientSecret is set, else the default credential chain)",
                ))
            }
            None => match get(names.client_secret) {
                Some(secret) => AuthType::Application {
                    client_id: client_id.ok_or_else(|| {
                        err(names.client_id, "is missing: a client secret needs the app registration's client id")
                    })?,
                    tenant_id: tenant_id.ok_or_else(|| {
                        err(names.tenant_id, "is missing: a client secret needs the app registration's tenant id")
                    })?,
                    credential: AppCredential::Secret(Secret::new(secret)),
                },
                // As `Microsoft.Extensions.Azure`: a secret wins over a certificate.
                None if get(names.certificate).is_some() => AuthType::Application {
                    client_id: client_id.ok_or_else(|| {
                        err(names.client_id, "is missing: a client certificate needs the app registration's client id")
                    })?,
                    tenant_id: tenant_id.ok_or_else(|| {
                        err(names.tenant_id, "is missing: a client certificate needs the app registration's tenant id")
                    })?,
                    credential: AppCredential::CertificateThumbprint(
                        get(names.certificate).unwrap_or_default(),
                    ),
                },
                None if get(names.token_file).is_some() => {
                    return Err(err(
                        names.token_file,
                        format!("needs {}=workloadidentity", names.credential),
                    ))
                }
                None => AuthType::DefaultAzure {
                    client_id,
                    tenant_id,
                },
            },
        };
    Ok(auth)
}
