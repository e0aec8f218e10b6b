//! Microsoft Entra ID tokens for an app whose connection string has `AuthType=azure.msi`,
//! `azure.app` or `azure` (`docs/protocol.md` §7): where a token comes from ([`TokenSource`]:
//! [`managed_identity`], [`client_secret`], [`certificate`], [`workload_identity`]), how it is cached ([`EntraCredential`]) and the temporary access key the
//! service hands to an Entra-authorised app for signing client tokens ([`access_key`]).
//!
//! The official `azure_identity` crate is not used: it needs `azure_core` on reqwest 0.13 with
//! aws-lc-rs (a C build) beside our reqwest 0.12/ring, roughly doubling the TLS stack, and its
//! Rust MSRV is 1.88. The protocols are small form/query requests, written here and tested
//! against local stand-ins (`tests/suite/entra.rs`, `tests/suite/entra_authority.rs`).

pub mod access_key;
pub mod authority;
pub mod certificate;
pub mod client_secret;
pub mod default_chain;
pub mod developer_cli;
pub mod managed_identity;
pub mod pkcs12;
mod resource;
pub mod signer;
mod source;
pub mod workload_identity;

pub use resource::Resource;
pub use source::TokenSource;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio::sync::Mutex;

use super::secret::Secret;

/// The scope the SDK asks for (`Constants.AsrsDefaultScope`).
pub const SIGNALR_SCOPE: &str = "https://signalr.azure.com/.default";
/// The same as a managed-identity `resource` (the scope without `/.default`).
pub const SIGNALR_RESOURCE: &str = "https://signalr.azure.com";
/// The scope the Web PubSub SDKs ask for (`credentialScopes` of `@azure/web-pubsub`).
pub const WEBPUBSUB_SCOPE: &str = "https://webpubsub.azure.com/.default";
/// The same as a managed-identity `resource`, and the `aud` the service checks.
pub const WEBPUBSUB_RESOURCE: &str = "https://webpubsub.azure.com";
/// A cached token is replaced this long before it expires (as `azure_identity` does).
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// Attempts per token fetch, and the pause after the first failure (doubled each time).
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// How long one request to an identity endpoint may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An Entra access token and when it expires.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The bearer token.
    pub token: Secret,
    /// When it stops being valid.
    pub expires_at: SystemTime,
}

/// Why no token could be had. Messages never contain a token or secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntraError {
    /// The identity endpoint could not be reached or did not answer in time.
    #[error("the identity endpoint {endpoint} cannot be reached: {reason}")]
    Unreachable {
        /// The endpoint, without query.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// The identity endpoint answered with an error status.
    #[error(
        "the identity endpoint {endpoint} refused the token request with HTTP {status}: {hint}"
    )]
    Refused {
        /// The endpoint, without query.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// What to check.
        hint: String,
    },
    /// The answer was not a token response.
    #[error("the identity endpoint {endpoint} answered something that is not a token response: {reason}")]
    BadAnswer {
        /// The endpoint, without query.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// The environment does not describe a usable identity.
    #[error("{0}")]
    NotConfigured(String),
}

/// A token source with a cache: a token for one [`Resource`] is re-used until
/// [`REFRESH_BEFORE_EXPIRY`] before it expires; one fetch is in flight at a time (callers wait
/// for it); a failed fetch is retried with backoff before the error is returned. Cheap to clone:
/// clones share the cache.
#[derive(Debug, Clone)]
pub struct EntraCredential {
    source: TokenSource,
    resource: Resource,
    http: reqwest::Client,
    cached: Arc<Mutex<Option<AccessToken>>>,
}

impl EntraCredential {
    /// A credential fetching SignalR tokens from `source` (see [`Self::for_resource`]); each
    /// request may take [`REQUEST_TIMEOUT`].
    pub fn new(source: TokenSource) -> Result<Self, EntraError> {
        Self::with_timeout(source, REQUEST_TIMEOUT)
    }

    /// A credential whose requests may take `timeout` each (at most three are made per fetch).
    pub fn with_timeout(source: TokenSource, timeout: Duration) -> Result<Self, EntraError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                EntraError::NotConfigured(format!("cannot create the HTTP client: {e}"))
            })?;
        Ok(Self {
            source,
            resource: Resource::SIGNALR,
            http,
            cached: Arc::default(),
        })
    }

    /// The same source, for tokens of `resource` (with a cache of its own).
    pub fn for_resource(self, resource: Resource) -> Self {
        Self {
            resource,
            cached: Arc::default(),
            ..self
        }
    }

    /// The resource its tokens are for.
    pub fn resource(&self) -> Resource {
        self.resource
    }

    /// A valid token: the cached one, or a fresh one.
    pub async fn token(&self) -> Result<AccessToken, EntraError> {
        // Holding the lock across the fetch keeps one fetch in flight.
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref() {
            if SystemTime::now() + REFRESH_BEFORE_EXPIRY < token.expires_at {
                return Ok(token.clone());
            }
        }
        let mut wait = FIRST_BACKOFF;
        let mut attempt = 1;
        let token = loop {
            match self.source.fetch(&self.http, self.resource).await {
                Ok(token) => break token,
                Err(e) if attempt >= ATTEMPTS || matches!(e, EntraError::NotConfigured(_)) => {
                    return Err(e)
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "Entra token fetch failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
            }
        };
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Forgets the cached token (e.g. after the service answered 401 to it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

/// The JSON token answer of every protocol: `access_token` plus `expires_on` (epoch seconds,
/// a string for managed identity) or `expires_in` (seconds, authority endpoint).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_on: Option<serde_json::Value>,
    expires_in: Option<serde_json::Value>,
}

/// Reads a token answer; `endpoint` names the source in errors.
async fn read_token(
    response: reqwest::Response,
    endpoint: &str,
) -> Result<AccessToken, EntraError> {
    let status = response.status();
    if !status.is_success() {
        let hint = match status.as_u16() {
            400 => "the identity is not assigned to this resource, or the client id is wrong",
            401 | 403 => "the request was not authorised; check IDENTITY_HEADER / the client secret",
            404 => "no identity endpoint at this address; check IDENTITY_ENDPOINT / AZURE_AUTHORITY_HOST",
            _ => "the identity service failed; it is retried",
        };
        return Err(EntraError::Refused {
            endpoint: endpoint.to_string(),
            status: status.as_u16(),
            hint: hint.to_string(),
        });
    }
    let bad = |reason: &str| EntraError::BadAnswer {
        endpoint: endpoint.to_string(),
        reason: reason.to_string(),
    };
    let body: TokenResponse = response
        .json()
        .await
        .map_err(|_| bad("the body is not the expected JSON"))?;
    let token = body
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("access_token is missing"))?;
    let number = |v: &serde_json::Value| match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let expires_at = if let Some(on) = body.expires_on.as_ref().and_then(number) {
        UNIX_EPOCH + Duration::from_secs(on)
    } else if let Some(seconds) = body.expires_in.as_ref().and_then(number) {
        SystemTime::now() + Duration::from_secs(seconds)
    } else {
        return Err(bad("neither expires_on nor expires_in is a number"));
    };
    Ok(AccessToken {
        token: Secret::new(token),
        expires_at,
    })
}

/// `reqwest` errors name the URL including its query; keep only the reason.
fn unreachable(endpoint: &str, error: &reqwest::Error) -> EntraError {
    let reason = if error.is_timeout() {
        "it did not answer in time".to_string()
    } else if error.is_connect() {
        "connection refused or failed".to_string()
    } else {
        "the request failed".to_string()
    };
    EntraError::Unreachable {
        endpoint: endpoint.to_string(),
        reason,
    }
}
