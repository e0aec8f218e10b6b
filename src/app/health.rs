//! `GET /api/health`: checks every endpoint (its health API, and under Entra ID whether the
//! app's identity is accepted) and records the result as the probe would; the answer is reused
//! for `SIGNALR_HEALTH_CACHE_SECONDS` (default 5).
//!
//! With one endpoint the answer is as it always was, `{"service": state}` (plus `"identity"`
//! under Entra ID): `200` when `healthy`, else `503` with `unhealthy` (another status from the
//! health API), `unauthorized` (the service refused this app's credentials: a configuration
//! problem, logged as an error), `unreachable`, or `unknown` when no Entra ID token could be
//! had. Every answer also lists `"endpoints"`: each endpoint's `name`, `type`, `endpoint` (its
//! URL), `state`, `online` and, under Entra ID, `identity`. With several endpoints `service` is
//! `healthy` when all are, `degraded` when some are (still `200`: the app can serve), and
//! `unavailable` with `503` when none is. When Web PubSub is reached with Entra ID,
//! `"webpubsub": {"service", "identity"}` reports it the same way (and alone, when SignalR is
//! not configured). No key or token is ever part of the answer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::endpoints::probe;
use super::health_cache::HealthAnswer;
use super::AppState;

/// Handler of `/api/health`: the answer of `check`, reused for a few seconds
/// ([`super::health_cache`]).
pub async fn route(State(s): State<AppState>) -> Response {
    match s.health_cache().answer(|| check(&s)).await {
        Ok((status, body)) => (status, axum::Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Checks every endpoint now.
async fn check(s: &AppState) -> HealthAnswer {
    let webpubsub = crate::app::webpubsub::health::entra_state(s.webpubsub()).await;
    let endpoints = match (s.endpoints(), webpubsub.as_ref()) {
        (Ok(endpoints), _) => endpoints,
        (Err(e), None) => return Err(e),
        (Err(_), Some((ok, webpubsub))) => {
            let status = if *ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            return Ok((status, json!({ "webpubsub": webpubsub })));
        }
    };
    let list = endpoints.all();
    let found = futures_util::future::join_all(
        list.iter()
            .map(|e| probe::check(e, crate::service::rest::HEALTH_TIMEOUT)),
    )
    .await;
    let mut listed: Vec<Value> = Vec::new();
    for (endpoint, health) in list.iter().zip(&found) {
        if list.len() > 1 {
            endpoint.set_health(health.clone());
        }
        let mut entry = endpoint.describe();
        entry["state"] = json!(health.state);
        entry["online"] = json!(health.online);
        if let Some(identity) = &health.identity {
            entry["identity"] = json!(identity);
        }
        listed.push(entry);
    }
    let online = found.iter().filter(|h| h.online).count();
    let webpubsub_ok = webpubsub.as_ref().is_none_or(|(ok, _)| *ok);
    let status = if online > 0 && webpubsub_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = match found.as_slice() {
        [only] => match &only.identity {
            Some(identity) => json!({ "service": only.state, "identity": identity }),
            None => json!({ "service": only.state }),
        },
        _ if online == found.len() => json!({ "service": "healthy" }),
        _ if online > 0 => json!({ "service": "degraded" }),
        _ => json!({ "service": "unavailable" }),
    };
    body["endpoints"] = Value::Array(listed);
    if let Some((_, webpubsub)) = webpubsub {
        body["webpubsub"] = webpubsub;
    }
    Ok((status, body))
}
