//! Parsing of `AzureSignalRConnectionString` and the URLs derived from it (`docs/protocol.md` §1):
//! where clients connect, where REST calls go, and the audience base that tokens are minted for.
//! Errors name the key and say what is wrong but never repeat a value: a missing `;` makes the
//! next pair part of the value (`Version=1.0AccessKey=…`), so echoing any value could print the
//! access key. No `Debug` output contains the access key or client secret. URLs with credentials (`user:password@host`) are refused, so none reaches a token, a negotiate
//! answer or a log line.

use std::collections::HashMap;
use std::fmt;

use url::Url;

use super::secret::Secret;

/// The well-known development access key of Microsoft's emulator, which the embedded emulator also
/// uses, so connection strings written for it work unchanged. Never use it for anything reachable from elsewhere.
pub const DEV_ACCESS_KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";

/// A parsed, validated connection string.
#[derive(Clone, Debug)]
pub struct ConnectionString {
    endpoint: Url,
    client_endpoint: Option<Url>,
    server_endpoint: Option<Url>,
    access_key: Option<Secret>,
    version: Option<String>,
    auth: AuthType,
}

/// How the app authenticates to the service (the `AuthType` key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthType {
    /// Tokens signed with `AccessKey` (no `AuthType`, or a value that is not an Entra ID one).
    AccessKey,
    /// `AuthType=azure`: the default Azure credential chain; the identity-based settings may
    /// name the client and tenant (else `AZURE_CLIENT_ID` / `AZURE_TENANT_ID`).
    DefaultAzure {
        /// Client id of the app registration or user-assigned identity.
        client_id: Option<String>,
        /// Tenant of the app registration.
        tenant_id: Option<String>,
    },
    /// Workload identity (identity-based settings, `credential=workloadidentity`): a federated
    /// token file traded at the authority; absent values come from `AZURE_CLIENT_ID`,
    /// `AZURE_TENANT_ID` and `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity {
        /// Client id of the federated app registration or identity.
        client_id: Option<String>,
        /// Its tenant.
        tenant_id: Option<String>,
        /// Path of the federated token file.
        token_file: Option<String>,
    },
    /// `AuthType=azure.msi` (or legacy `aad` with only `ClientId` or nothing): a managed identity,
    /// user-assigned when a client id is given.
    ManagedIdentity {
        /// `ClientId` of a user-assigned identity.
        client_id: Option<String>,
    },
    /// `AuthType=azure.app` (or legacy `aad` with tenant and credential): an app registration.
    Application {
        /// `ClientId` of the app registration.
        client_id: String,
        /// `TenantId` of the app registration.
        tenant_id: String,
        /// `ClientSecret` or `ClientCert`.
        credential: AppCredential,
    },
}

/// The credential of an app registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppCredential {
    /// `ClientSecret`.
    Secret(Secret),
    /// `ClientCert`: a path to a certificate file (PEM or PFX).
    Certificate(String),
    /// A certificate named by its SHA-1 thumbprint (identity-based `clientCertificate`), read
    /// from where App Service loads certificates (`docs/protocol.md` §7).
    CertificateThumbprint(String),
}

/// Why a connection string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionStringError {
    /// A required key is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A recognised key appears more than once (keys are case-insensitive).
    #[error("{0} appears more than once (keys are case-insensitive)")]
    Duplicate(&'static str),
    /// An unrecognised key appears more than once. It is not named: it may be a pasted secret.
    #[error("an unrecognised key appears more than once (keys are case-insensitive)")]
    DuplicateUnknown,
    /// A key has a value that is not allowed.
    #[error("{key}: {problem}")]
    Invalid {
        /// The key, as the documentation spells it.
        key: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
}

const KNOWN_KEYS: [&str; 11] = [
    "Endpoint",
    "AccessKey",
    "Version",
    "Port",
    "ClientEndpoint",
    "ServerEndpoint",
    "AuthType",
    "ClientId",
    "TenantId",
    "ClientSecret",
    "ClientCert",
];

impl ConnectionString {
    /// Parses a connection string: `;`-separated `Key=Value` pairs, keys case-insensitive, values
    /// split at the first `=` (so base64 keys ending in `=` are fine), empty segments ignored.
    pub fn parse(text: &str) -> Result<Self, ConnectionStringError> {
        let pairs = Pairs::parse(text, &KNOWN_KEYS)?;
        let get = |key: &str| pairs.get(key);

        let mut endpoint = parse_url(
            "Endpoint",
            &get("Endpoint").ok_or(ConnectionStringError::Missing("Endpoint"))?,
        )?;
        endpoint.set_path("");
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        pairs.set_port(&mut endpoint)?;
        let client_endpoint = get("ClientEndpoint")
            .map(|v| parse_base_url("ClientEndpoint", &v))
            .transpose()?;
        let server_endpoint = get("ServerEndpoint")
            .map(|v| parse_base_url("ServerEndpoint", &v))
            .transpose()?;

        let version = get("Version");
        if let Some(v) = &version {
            if !version_supported(v) {
                return Err(invalid(
                    "Version",
                    "is not supported; use 1.0 (1.<digits>, optionally with a suffix)",
                ));
            }
        }

        let auth = parse_auth(&get("AuthType"), &get)?;
        let access_key = get("AccessKey").map(Secret::new);
        if auth == AuthType::AccessKey && access_key.is_none() {
            return Err(ConnectionStringError::Missing("AccessKey"));
        }
        Ok(Self {
            endpoint,
            client_endpoint,
            server_endpoint,
            access_key,
            version,
            auth,
        })
    }

    /// The endpoint after `Port` is applied, without a trailing slash, e.g. `http://localhost:8888`.
    pub fn endpoint(&self) -> String {
        trim_slash(&self.endpoint)
    }

    /// Base URL handed to clients, ending in `/`: `ClientEndpoint` when set, else the endpoint
    /// (with its port).
    pub fn client_base(&self) -> String {
        format!(
            "{}/",
            trim_slash(self.client_endpoint.as_ref().unwrap_or(&self.endpoint))
        )
    }

    /// Base URL of REST calls, ending in `/`: `ServerEndpoint` when set, else the endpoint (with its port).
    pub fn server_base(&self) -> String {
        format!(
            "{}/",
            trim_slash(self.server_endpoint.as_ref().unwrap_or(&self.endpoint))
        )
    }

    /// Base of every token audience: `{scheme}://{host}/` of `Endpoint`, never with a port or path.
    pub fn audience_base(&self) -> String {
        let host = self.endpoint.host_str().unwrap_or_default();
        format!("{}://{}/", self.endpoint.scheme(), host)
    }

    /// The access key, when the connection string uses one.
    pub fn access_key(&self) -> Option<&Secret> {
        self.access_key.as_ref()
    }

    /// The `Version` value, when given.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// How the app authenticates to the service.
    pub fn auth(&self) -> &AuthType {
        &self.auth
    }

    /// The same service, authenticated as `auth` (the identity-based settings build their
    /// connection this way; an access key is dropped unless `auth` uses it).
    pub fn with_auth(mut self, auth: AuthType) -> Self {
        if auth != AuthType::AccessKey {
            self.access_key = None;
        }
        self.auth = auth;
        self
    }
}

impl fmt::Display for ConnectionString {
    /// Prints the connection string with secrets replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint={}", self.endpoint())?;
        if self.access_key.is_some() {
            f.write_str(";AccessKey=***")?;
        }
        if let Some(v) = &self.version {
            write!(f, ";Version={v}")?;
        }
        if let Some(u) = &self.client_endpoint {
            write!(f, ";ClientEndpoint={}", trim_slash(u))?;
        }
        if let Some(u) = &self.server_endpoint {
            write!(f, ";ServerEndpoint={}", trim_slash(u))?;
        }
        f.write_str(";")
    }
}

/// The `;`-separated `Key=Value` pairs of a connection string, read the same way for both
/// services: keys are case-insensitive and kept under their spelling in the known keys (others
/// lower-cased), values are trimmed and split at the first `=` (so base64 keys ending in `=` are
/// fine), and segments without `=` or without a key are ignored.
pub(crate) struct Pairs(HashMap<String, String>);

impl Pairs {
    /// Splits `text` into pairs. A key given twice (in any letter case) is refused; an
    /// unrecognised one is not named, as it may be a pasted secret.
    pub(crate) fn parse(text: &str, known: &[&'static str]) -> Result<Self, ConnectionStringError> {
        let mut pairs = HashMap::new();
        for segment in text.split(';') {
            let Some((key, value)) = segment.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            let known = known.iter().find(|k| k.eq_ignore_ascii_case(key));
            let canonical = known.map_or_else(|| key.to_ascii_lowercase(), |k| (*k).to_string());
            if pairs.insert(canonical, value.trim().to_string()).is_some() {
                return Err(known.map_or(ConnectionStringError::DuplicateUnknown, |k| {
                    ConnectionStringError::Duplicate(k)
                }));
            }
        }
        Ok(Self(pairs))
    }

    /// The value of `key` (spelled as in the known keys), when given and not empty.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).filter(|v| !v.is_empty()).cloned()
    }

    /// Applies `Port`, when given, to `endpoint`: a whole number from 1 to 65535.
    pub(crate) fn set_port(&self, endpoint: &mut Url) -> Result<(), ConnectionStringError> {
        if let Some(port) = self.get("Port") {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| invalid("Port", "must be a whole number from 1 to 65535"))?;
            // An http or https URL always accepts a port.
            let _ = endpoint.set_port(Some(port));
        }
        Ok(())
    }
}

/// The `AuthType` of a connection string and the keys it needs (`ClientId`, `TenantId`,
/// `ClientSecret`, `ClientCert`), as the SignalR SDK reads them; Web PubSub's connection string
/// reads them the same way.
pub(crate) fn parse_auth(
    kind: &Option<String>,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<AuthType, ConnectionStringError> {
    let kind = kind.as_deref().map(str::to_ascii_lowercase);
    let app = |client_id: String, tenant_id: String| -> Result<AuthType, ConnectionStringError> {
        let credential = match (get("ClientSecret"), get("ClientCert")) {
            (Some(secret), _) => AppCredential::Secret(Secret::new(secret)),
            (None, Some(path)) => AppCredential::Certificate(path),
            (None, None) => {
                return Err(ConnectionStringError::Missing("ClientSecret or ClientCert"))
            }
        };
        Ok(AuthType::Application {
            client_id,
            tenant_id,
            credential,
        })
    };
    match kind.as_deref() {
        Some("azure") => Ok(AuthType::DefaultAzure {
            client_id: None,
            tenant_id: None,
        }),
        Some("azure.msi") => Ok(AuthType::ManagedIdentity {
            client_id: get("ClientId"),
        }),
        Some("azure.app") => {
            let client_id = get("ClientId").ok_or(ConnectionStringError::Missing("ClientId"))?;
            let tenant_id = get("TenantId").ok_or(ConnectionStringError::Missing("TenantId"))?;
            app(client_id, tenant_id)
        }
        Some("aad") => match (get("ClientId"), get("TenantId")) {
            (Some(client_id), Some(tenant_id))
                if get("ClientSecret").is_some() || get("ClientCert").is_some() =>
            {
                app(client_id, tenant_id)
            }
            (client_id, _) => Ok(AuthType::ManagedIdentity { client_id }),
        },
        _ => Ok(AuthType::AccessKey),
    }
}

fn parse_url(key: &'static str, value: &str) -> Result<Url, ConnectionStringError> {
    let url = Url::parse(value.trim_end_matches('/')).map_err(|_| {
        invalid(
            key,
            "is not an absolute URL (is a ';' missing before the next key?); \
             use e.g. https://<name>.service.signalr.net",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(key, "must be an http or https URL with a host"));
    }
    // `user:password@` would be sent nowhere useful (the service authenticates with AccessKey
    // or AuthType) but would show in the negotiate `url` and the start-up log.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            key,
            "must not contain credentials (user:password@ before the host); remove them: \
             the service is authenticated with AccessKey or AuthType",
        ));
    }
    Ok(url)
}

/// A URL that request paths are appended to: a path prefix is kept (a gateway may serve the
/// service under one), a query or fragment would end up in the middle of every request URL.
fn parse_base_url(key: &'static str, value: &str) -> Result<Url, ConnectionStringError> {
    let url = parse_url(key, value)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(key, "must not have a query (?…) or fragment (#…)"));
    }
    Ok(url)
}

/// `key` has a value that is not allowed: `problem` says what is expected.
pub(crate) fn invalid(key: &'static str, problem: &str) -> ConnectionStringError {
    ConnectionStringError::Invalid {
        key,
        problem: problem.to_string(),
    }
}

/// `^1\.\d+(?:[\w-.]+)?$`, as the SDK checks.
fn version_supported(v: &str) -> bool {
    let Some(rest) = v.strip_prefix("1.") else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    digits > 0
        && rest[digits..]
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn trim_slash(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}
