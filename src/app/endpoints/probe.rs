//! The health probe of each endpoint: the service's health API (`HEAD /api/health`, within a
//! bounded timeout) plus, under Entra ID, whether the app's identity is accepted. A background
//! task probes every endpoint at a jittered interval and marks it online or offline; `/api/health`
//! runs the same check live.

use std::sync::Weak;
use std::time::Duration;

use rand::Rng;

use super::Endpoint;
use crate::service::rest::{RestError, HEALTH_TIMEOUT};

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Whether clients may be sent to the endpoint.
    pub online: bool,
    /// `healthy`, `unhealthy` (another status from the health API), `unauthorized` (the service
    /// refused this app's credentials), `unreachable`, `unknown` (no Entra ID token) or
    /// `unchecked` (not probed yet).
    pub state: &'static str,
    /// Under Entra ID: `ok`, or why the identity does not work. `None` with an access key.
    pub identity: Option<String>,
}

impl Health {
    /// Before the first probe: online, as the SDK starts, so that the app can serve at once.
    pub fn unchecked() -> Self {
        Self {
            online: true,
            state: "unchecked",
            identity: None,
        }
    }
}

/// Checks one endpoint now, within `limit` (at most the REST client's health timeout).
pub async fn check(endpoint: &Endpoint, limit: Duration) -> Health {
    let rest = &endpoint.service.rest;
    let mut identity = rest.uses_entra().then(|| "ok".to_string());
    let answer = tokio::time::timeout(limit.min(HEALTH_TIMEOUT), rest.health()).await;
    let state = match answer {
        Err(_) => "unreachable",
        Ok(Ok(true)) => "healthy",
        Ok(Ok(false)) => "unhealthy",
        Ok(Err(RestError::Identity(e))) => {
            identity = Some(e.to_string());
            "unknown"
        }
        Ok(Err(e @ RestError::Service { .. })) => {
            tracing::error!(endpoint = %endpoint.label(), "health: SignalR Service refused this app's credentials; check the endpoint's AccessKey, or the identity's role assignment under AuthType: {e}");
            "unauthorized"
        }
        Ok(Err(_)) => "unreachable",
    };
    // The health API takes no token: under Entra ID, fetching the temporary key shows whether
    // the service accepts the app's token and role (cached, so this is cheap).
    if identity.as_deref() == Some("ok") {
        if let Err(e) = endpoint.service.signer.minter().await {
            identity = Some(e.message);
        }
    }
    let identity_ok = identity.as_deref().is_none_or(|i| i == "ok");
    Health {
        online: state == "healthy" && identity_ok,
        state,
        identity,
    }
}

/// Probes every endpoint, concurrently, every `interval` ±20 %, until the set is dropped.
pub async fn run(endpoints: Weak<Vec<Endpoint>>, interval: Duration) {
    loop {
        let jitter = rand::rng().random_range(0.8..1.2);
        tokio::time::sleep(interval.mul_f64(jitter)).await;
        let Some(list) = endpoints.upgrade() else {
            return;
        };
        let found = futures_util::future::join_all(list.iter().map(|e| check(e, interval))).await;
        for (endpoint, health) in list.iter().zip(found) {
            endpoint.set_health(health);
        }
    }
}
