//! The Web PubSub part of `GET /api/health` when the app reaches Web PubSub with Microsoft Entra
//! ID: `{"service", "identity"}` like the SignalR part. The service's health API takes no token,
//! so after it answers, generating a one-minute client token for the default hub shows whether
//! the service accepts the app's Entra token and role (what negotiate needs).

use std::time::Duration;

use serde_json::{json, Value};

use super::WebPubSub;
use crate::service::rest::RestError;
use crate::service::webpubsub::ClientTokenOptions;

/// `Some((ok, {"service", "identity"}))` under Entra ID; `None` when Web PubSub is not
/// configured or uses an access key (nothing to report beyond the routes themselves).
pub async fn entra_state(webpubsub: &WebPubSub) -> Option<(bool, Value)> {
    let service = webpubsub.service().ok()?;
    if !service.rest.uses_entra() {
        return None;
    }
    let mut identity = "ok".to_string();
    let state = match service.rest.health().await {
        Ok(true) => "healthy",
        Ok(false) => "unhealthy",
        Err(RestError::Identity(e)) => {
            identity = e.to_string();
            "unknown"
        }
        Err(e @ RestError::Service { .. }) => {
            identity = e.to_string();
            "unauthorized"
        }
        Err(_) => "unreachable",
    };
    if state == "healthy" {
        let probe = ClientTokenOptions {
            lifetime: Some(Duration::from_secs(60)),
            ..Default::default()
        };
        if let Err(e) = service
            .tokens
            .access(&webpubsub.settings().hub, &probe)
            .await
        {
            tracing::error!("health: Web PubSub refused this app's Entra ID token or role: {e}");
            identity = e.to_string();
        }
    }
    let ok = state == "healthy" && identity == "ok";
    Some((ok, json!({ "service": state, "identity": identity })))
}
