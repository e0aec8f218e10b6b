//! `POST /api/upstream`: the service's upstream webhook (`docs/protocol.md` §5). The
//! signature is checked before anything else; then the content type, the `X-ASRS-*` headers and
//! the body. Connection events are logged, can join groups and are forwarded to the app's webhook;
//! client invocations run the built-in topic methods ([`super::topics`]) or are forwarded, and
//! those with an `invocationId` are answered with a framed hub-protocol completion.

// Public so that the fuzz targets (`fuzz/`) parse upstream requests with the route's own code.
pub mod connection_event;
pub mod request;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::forward::{Webhook, WebhookEvent};
use super::negotiate::{self, Unfilled};
use super::topics::{self, HubMethod};
use super::{body, webhook_auth, AppState};
use crate::service::hub_protocol::{self, msgpack, HubMessage, Protocol};
use crate::service::names;
use crate::service::rest::RestClient;
use crate::service::Secret;
use connection_event::ConnectionEvent;
use request::{check_content_type, check_signature, BodyFormat, Request};

/// The upstream settings.
#[derive(Debug, Clone, Default)]
pub struct UpstreamSettings {
    /// Access keys accepted in signatures besides the connection string's (key rotation).
    pub secondary_keys: Vec<Secret>,
    /// Group templates a connection joins on connect, over `{userId}`, `{connectionId}` and claims.
    pub connect_groups: Vec<String>,
    /// Where events are forwarded, and the secret that signs them.
    pub forward: Option<Webhook>,
}

/// Handler of `/api/upstream`.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match handle(&state, &headers, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let keys_known = state.access_keys().len() + state.settings().upstream.secondary_keys.len() > 0;
    let bearer = state.webhooks().upstream.as_ref();
    webhook_auth::authorize(bearer, headers, keys_known, || {
        check_signature(state, headers)
    })
    .await?;
    let rest = caller_rest(state, headers);
    let format = check_content_type(headers)?;
    let request = Request::from_headers(headers)?;
    let bytes = body::read(body).await?;
    let raw = match format {
        BodyFormat::Json => ConnectionEvent::json(&bytes)?,
        BodyFormat::MessagePack => ConnectionEvent::from_msgpack(&bytes)?,
    };
    let message = ConnectionEvent::read(&raw)?;
    request.check_matches(&message)?;
    let settings = state.settings();
    let event = WebhookEvent {
        hub: &request.hub,
        category: &request.category,
        event: &request.event,
        connection_id: &request.connection_id,
        user_id: request.user_id.as_deref(),
        claims: request.claims.as_ref(),
        body: &raw,
    };
    match message {
        ConnectionEvent::Connected => {
            tracing::info!(hub = %request.hub, connection = %request.connection_id, user = ?request.user_id, "client connected");
            join_groups(state, &rest, &request).await;
            if let Some(webhook) = &settings.upstream.forward {
                let _ = webhook.forward(&event).await;
            }
            Ok(StatusCode::OK.into_response())
        }
        ConnectionEvent::Disconnected { error } => {
            tracing::info!(hub = %request.hub, connection = %request.connection_id, user = ?request.user_id, error = ?error, "client disconnected");
            if let Some(webhook) = &settings.upstream.forward {
                let _ = webhook.forward(&event).await;
            }
            Ok(StatusCode::OK.into_response())
        }
        ConnectionEvent::Invocation {
            invocation_id,
            target,
            arguments,
        } => {
            let outcome = invoke(state, &rest, &request, target, arguments, &event).await;
            if let Err(error) = &outcome {
                tracing::info!(hub = %request.hub, connection = %request.connection_id, method = %target, "hub method failed: {error}");
            }
            Ok(match invocation_id {
                Some(id) => {
                    let (protocol, content_type) = match format {
                        BodyFormat::Json => (Protocol::Json, "application/json"),
                        BodyFormat::MessagePack => (Protocol::MessagePack, msgpack::CONTENT_TYPE),
                    };
                    let completion = HubMessage::Completion {
                        invocation_id: id.to_string(),
                        outcome: outcome.map(Some),
                    };
                    let body = hub_protocol::encode(&completion, protocol);
                    let mut response = (StatusCode::OK, body).into_response();
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                    response
                }
                None => StatusCode::OK.into_response(),
            })
        }
    }
}

/// The REST client of the endpoint that sent this request: the one whose access key signed it
/// (the first endpoint when none did, e.g. under Entra ID or with a secondary key). Built-in
/// methods and connect-time groups act there, where the connection lives.
fn caller_rest(state: &AppState, headers: &HeaderMap) -> Result<RestClient, ApiError> {
    let endpoints = state.endpoints()?;
    let signature = headers.get("x-asrs-signature").map(HeaderValue::as_bytes);
    let connection_id = headers
        .get("x-asrs-connection-id")
        .map_or(&[][..], HeaderValue::as_bytes);
    Ok(endpoints
        .caller(signature, connection_id)
        .service
        .rest
        .clone())
}

/// Runs a built-in method, or forwards an unknown one to the webhook.
async fn invoke(
    state: &AppState,
    rest: &Result<RestClient, ApiError>,
    request: &Request,
    target: &str,
    arguments: &[Value],
    event: &WebhookEvent<'_>,
) -> Result<Value, String> {
    let settings = state.settings();
    match HubMethod::parse(target, arguments) {
        Some(Ok(method)) => {
            let rest = rest.as_ref().map_err(|e| {
                tracing::error!("hub method {target} cannot run: {}", e.message);
                format!("{target} failed: the app cannot reach SignalR Service")
            })?;
            let caller = topics::ClientConnection {
                hub: &request.hub,
                connection_id: &request.connection_id,
                user_id: request.user_id.as_deref(),
            };
            method
                .apply(rest, &settings.topics, caller)
                .await
                .map_err(|e| e.to_string())
        }
        Some(Err(e)) => Err(e.to_string()),
        None => match &settings.upstream.forward {
            Some(webhook) => webhook.forward(event).await,
            None => Err(format!(
                "unknown method {target:?}: this app offers subscribe, unsubscribe, publish and publishToTopic"
            )),
        },
    }
}

/// Joins the connection to the configured groups; failures are logged, never fatal.
async fn join_groups(state: &AppState, rest: &Result<RestClient, ApiError>, request: &Request) {
    let templates = &state.settings().upstream.connect_groups;
    if templates.is_empty() {
        return;
    }
    let rest = match rest {
        Ok(rest) => rest,
        Err(e) => {
            tracing::error!("cannot join groups on connect: {}", e.message);
            return;
        }
    };
    for template in templates {
        let group = negotiate::render_with(template, |name| match name {
            "userId" => request
                .user_id
                .clone()
                .ok_or(Unfilled::Missing(name.into())),
            "connectionId" => Ok(request.connection_id.clone()),
            claim => match &request.claims {
                None => Err(Unfilled::Ambiguous(
                    claim.into(),
                    "X-ASRS-User-Claims could not be read unambiguously",
                )),
                Some(claims) => match claims.single(claim) {
                    Ok(Some(value)) => Ok(value.to_string()),
                    Ok(None) => Err(Unfilled::Missing(claim.into())),
                    Err(_) => Err(Unfilled::Ambiguous(
                        claim.into(),
                        "the claim has more than one value",
                    )),
                },
            },
        });
        let group = match group {
            Ok(group) => group,
            Err(e @ Unfilled::Missing(_)) => {
                tracing::debug!(template, "group not joined on connect: {e}");
                continue;
            }
            Err(e @ Unfilled::Ambiguous(..)) => {
                tracing::warn!(template, connection = %request.connection_id, "group not joined on connect: {e}");
                continue;
            }
        };
        if let Err(e) = names::validate_group(&group) {
            tracing::warn!(template, "group not joined on connect: {e}");
            continue;
        }
        match rest
            .add_connection_to_group(&request.hub, &group, &request.connection_id)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(group, connection = %request.connection_id, "group not joined: the connection is gone")
            }
            Err(e) => tracing::error!(group, "group not joined on connect: {e}"),
        }
    }
}
