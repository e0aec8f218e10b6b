//! Parsing of `WebPubSubConnectionString` (`docs/webpubsub.md` §1, §6): `Endpoint`, then either
//! `AccessKey` or an `AuthType` with its keys (`azure.msi` [+ `ClientId`], `azure.app` +
//! `ClientId`, `TenantId`, `ClientSecret` or `ClientCert`, `azure`), read as the SignalR
//! connection string reads them ([`crate::service::connection_string`]); optional `Port` and
//! `Version`; `;`-separated, keys case-insensitive, values split at the first `=`. The key signs
//! with the UTF-8 bytes of its string, as every SDK does. Errors name the key and never repeat a
//! value (a missing `;` can glue the access key onto another value).

use url::Url;

use crate::service::connection_string::{
    invalid, parse_auth, AuthType, ConnectionStringError, Pairs,
};
use crate::service::Secret;

/// A parsed, validated Web PubSub connection string.
#[derive(Clone, Debug)]
pub struct WebPubSubConnectionString {
    endpoint: Url,
    access_key: Option<Secret>,
    auth: AuthType,
}

const KNOWN_KEYS: [&str; 9] = [
    "Endpoint",
    "AccessKey",
    "Port",
    "Version",
    "AuthType",
    "ClientId",
    "TenantId",
    "ClientSecret",
    "ClientCert",
];

impl WebPubSubConnectionString {
    /// Parses a connection string such as
    /// `Endpoint=https://<name>.webpubsub.azure.com;AccessKey=<key>;Version=1.0;` or
    /// `Endpoint=https://<name>.webpubsub.azure.com;AuthType=azure.msi;Version=1.0;`.
    ///
    /// An `Endpoint` without a scheme gets `https://` (as the JS SDK does); `Port` replaces the
    /// endpoint's port; `Version` is accepted and ignored (as the Python SDK does); unknown keys
    /// are ignored; a key given twice is refused. With an `AuthType`, an `AccessKey` is optional
    /// and only checks the signature of events.
    pub fn parse(text: &str) -> Result<Self, ConnectionStringError> {
        let pairs = Pairs::parse(text, &KNOWN_KEYS)?;
        let get = |key: &str| pairs.get(key);
        let endpoint = get("Endpoint").ok_or(ConnectionStringError::Missing("Endpoint"))?;
        let mut endpoint = parse_endpoint(&endpoint)?;
        pairs.set_port(&mut endpoint)?;
        let auth = parse_auth(&get("AuthType"), &get)?;
        let access_key = get("AccessKey").map(Secret::new);
        if auth == AuthType::AccessKey && access_key.is_none() {
            return Err(ConnectionStringError::Invalid {
                key: "AccessKey",
                problem:
                    "is missing; give the access key, or authenticate with Microsoft Entra ID \
                          instead (AuthType=azure.msi for a managed identity, see the README)"
                        .into(),
            });
        }
        Ok(Self {
            endpoint,
            access_key,
            auth,
        })
    }

    /// The endpoint with its port, without a trailing slash, e.g. `https://x.webpubsub.azure.com`
    /// or `http://localhost:8080`.
    pub fn endpoint(&self) -> String {
        self.endpoint.as_str().trim_end_matches('/').to_string()
    }

    /// The endpoint's host (no port), lower-cased: what `WebHook-Request-Origin` names.
    pub fn host(&self) -> String {
        self.endpoint
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    /// The endpoint's host with its port when it has one that is not the scheme's default.
    pub fn authority(&self) -> String {
        match self.endpoint.port() {
            Some(port) => format!("{}:{port}", self.host()),
            None => self.host(),
        }
    }

    /// `ws` for an `http` endpoint, `wss` otherwise (the extension's rule).
    pub fn websocket_scheme(&self) -> &'static str {
        if self.endpoint.scheme() == "http" {
            "ws"
        } else {
            "wss"
        }
    }

    /// The access key, when the connection string has one (always under `AuthType` absent).
    pub fn access_key(&self) -> Option<&Secret> {
        self.access_key.as_ref()
    }

    /// How the app authenticates to the service.
    pub fn auth(&self) -> &AuthType {
        &self.auth
    }

    /// Whether the app authenticates with Microsoft Entra ID (any `AuthType`).
    pub fn uses_entra(&self) -> bool {
        self.auth != AuthType::AccessKey
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

impl std::fmt::Display for WebPubSubConnectionString {
    /// The connection string with the key replaced by `***` and no other secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoint={}", self.endpoint())?;
        if self.access_key.is_some() {
            f.write_str(";AccessKey=***")?;
        }
        let auth = match &self.auth {
            AuthType::AccessKey => None,
            AuthType::ManagedIdentity { .. } => Some("azure.msi"),
            AuthType::Application { .. } => Some("azure.app"),
            AuthType::DefaultAzure { .. } | AuthType::WorkloadIdentity { .. } => Some("azure"),
        };
        if let Some(auth) = auth {
            write!(f, ";AuthType={auth}")?;
        }
        f.write_str(";Version=1.0;")
    }
}

fn parse_endpoint(value: &str) -> Result<Url, ConnectionStringError> {
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("https://{value}")
    };
    let mut url = Url::parse(with_scheme.trim_end_matches('/')).map_err(|_| {
        invalid(
            "Endpoint",
            "is not an absolute URL (is a ';' missing before the next key?); use e.g. https://<name>.webpubsub.azure.com",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(
            "Endpoint",
            "must be an http or https URL with a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "Endpoint",
            "must not contain credentials (user:password@ before the host); the service is authenticated with AccessKey or AuthType",
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "Endpoint",
            "must be scheme://host[:port] with no path, query or fragment",
        ));
    }
    url.set_path("");
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form_with_port_and_case_insensitive_keys() {
        let cs = WebPubSubConnectionString::parse(
            "endpoint=https://X.webpubsub.azure.com/;ACCESSKEY=a=b;port=8443;Version=1.0;",
        )
        .expect("valid");
        assert_eq!(cs.endpoint(), "https://x.webpubsub.azure.com:8443");
        assert_eq!(cs.host(), "x.webpubsub.azure.com");
        assert_eq!(cs.access_key().map(Secret::expose), Some("a=b"));
        assert_eq!(cs.websocket_scheme(), "wss");
        let local = WebPubSubConnectionString::parse("Endpoint=http://localhost:8080;AccessKey=k")
            .expect("valid");
        assert_eq!(local.endpoint(), "http://localhost:8080");
        assert_eq!(local.authority(), "localhost:8080");
        assert_eq!(local.websocket_scheme(), "ws");
        let bare = WebPubSubConnectionString::parse("Endpoint=x.webpubsub.azure.com;AccessKey=k")
            .expect("valid");
        assert_eq!(bare.endpoint(), "https://x.webpubsub.azure.com");
    }

    #[test]
    fn errors_name_the_key_and_never_echo_values() {
        let secret = "TOPSECRETKEYVALUE";
        for (text, key) in [
            (format!("AccessKey={secret}"), "Endpoint"),
            ("Endpoint=https://x".to_string(), "AccessKey"),
            (
                format!("Endpoint=https://x;AccessKey={secret};Port=0"),
                "Port",
            ),
            (format!("Endpoint=nope://x{secret};AccessKey=k"), "Endpoint"),
            (
                format!("Endpoint=https://x/path;AccessKey={secret}"),
                "Endpoint",
            ),
            (
                format!("Endpoint=https://x;AccessKey={secret};accesskey=b"),
                "AccessKey",
            ),
            (
                format!("Endpoint=https://u:{secret}@x;AccessKey=k"),
                "Endpoint",
            ),
        ] {
            let error = WebPubSubConnectionString::parse(&text)
                .unwrap_err()
                .to_string();
            assert!(error.starts_with(key), "{error}");
            assert!(!error.contains(secret), "{error}");
        }
        let cs =
            WebPubSubConnectionString::parse(&format!("Endpoint=https://x;AccessKey={secret}"))
                .expect("valid");
        assert!(!format!("{cs} {cs:?}").contains(secret));
    }
}
