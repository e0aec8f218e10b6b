//! Who may call the app's webhooks (`/api/upstream`, `/api/webpubsub/events`): the rule that
//! combines the service's access-key signature with its managed-identity bearer token
//! (`docs/upstream.md`, "Managed identity"). Without an identity setting, the signature is
//! required, as before.
//! With one, the bearer token is required; the signature is checked too whenever the app knows
//! a key the service signs with, and skipped only when it knows none (local auth disabled: no
//! key anywhere).

use axum::http::HeaderMap;

use super::error::ApiError;
use super::identity::{ServiceBearer, ServiceIdentitySettings};

/// The bearer verifiers of both webhooks, built once with their key caches.
#[derive(Debug, Clone, Default)]
pub struct WebhookBearers {
    /// SignalR Service's identity on `/api/upstream`.
    pub upstream: Option<ServiceBearer>,
    /// Web PubSub's identity on `/api/webpubsub/events`.
    pub webpubsub_events: Option<ServiceBearer>,
}

impl WebhookBearers {
    /// The verifiers the settings ask for (`Settings::service_identity`).
    pub fn new(
        upstream: Option<&ServiceIdentitySettings>,
        webpubsub_events: Option<&ServiceIdentitySettings>,
    ) -> Self {
        Self {
            upstream: upstream.map(ServiceBearer::new),
            webpubsub_events: webpubsub_events.map(ServiceBearer::new),
        }
    }
}

/// Ok when the request may come from the service: `signature` (the route's own check) unless a
/// `bearer` is configured and the app knows no key (`keys_known` false), and then the bearer.
pub async fn authorize(
    bearer: Option<&ServiceBearer>,
    headers: &HeaderMap,
    keys_known: bool,
    signature: impl FnOnce() -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let Some(bearer) = bearer else {
        return signature();
    };
    if keys_known {
        signature()?;
    }
    bearer.verify(headers).await.map_err(ApiError::from)
}

/// The abuse-protection handshake (`OPTIONS`): whether Web PubSub sends its bearer token there
/// too is not documented, so a handshake without one passes, and one with a token must verify.
pub async fn authorize_handshake(
    bearer: Option<&ServiceBearer>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    match bearer {
        Some(bearer) if headers.contains_key(axum::http::header::AUTHORIZATION) => {
            bearer.verify(headers).await.map_err(ApiError::from)
        }
        _ => Ok(()),
    }
}
