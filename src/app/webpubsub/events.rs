//! `OPTIONS|POST /api/webpubsub/events`: the CloudEvents handler Azure Web PubSub calls
//! (`docs/webpubsub.md` §5, §7.3–§7.4). `OPTIONS` is the abuse-protection handshake. `POST` is checked by
//! [`super::events_request`] (signature first), then:
//!
//! * `connect` answers what the `WEBPUBSUB_CONNECT_*` policy gives: 401 for a client without a
//!   user id when one is required; else the user id, groups, roles and subprotocol as JSON, or 204
//!   when there is nothing to add;
//! * `connected` / `disconnected` announce `<user> connected` / `<user> disconnected` to everyone
//!   (`WEBPUBSUB_ANNOUNCE_CONNECTIONS`) and are forwarded to `WEBPUBSUB_FORWARD_URL`;
//! * user events named in `WEBPUBSUB_BROADCAST_EVENTS` are sent to everyone with the same
//!   dataType; others are forwarded (when a webhook is set) and answered with the webhook's answer (204 when
//!   it has none).
//!
//! `ce-connectionState` comes back unchanged on the answers to blocking events.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::events_request::{
    check_origin, check_signature, EventKind, EventRequest, ALLOWED_ORIGIN_HEADER,
};
use super::role_template::check_role_values;
use super::settings::ConnectPolicy;
use super::WebPubSubService;
use crate::app::error::ApiError;
use crate::app::negotiate::{render_with, Unfilled};
use crate::app::{body, webhook_auth, AppState};
use crate::service::names;
use crate::service::webpubsub::rest::SendOptions;
use crate::service::webpubsub::Content;

/// `OPTIONS`: the abuse-protection handshake. 200 with `WebHook-Allowed-Origin` naming the
/// configured service; 400 without `WebHook-Request-Origin` or for another service.
pub async fn handshake(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let bearer = state.webhooks().webpubsub_events.as_ref();
    if let Err(e) = webhook_auth::authorize_handshake(bearer, &headers).await {
        return e.into_response();
    }
    let result = state.webpubsub().service().and_then(|service| {
        let origin = check_origin(&headers, &service.connection)?;
        let mut response = StatusCode::OK.into_response();
        response.headers_mut().insert(
            ALLOWED_ORIGIN_HEADER,
            HeaderValue::from_str(&origin).map_err(|_| {
                ApiError::bad_request("InvalidHeader", "WebHook-Request-Origin is not a host name")
            })?,
        );
        Ok(response)
    });
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST`: one event.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(&state, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn handle(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let webpubsub = state.webpubsub();
    let service = webpubsub.service()?;
    let behaviours = &webpubsub.settings().events;
    let keys = service.connection.access_key().into_iter();
    let keys: Vec<_> = keys.chain(&behaviours.secondary_keys).collect();
    let bearer = state.webhooks().webpubsub_events.as_ref();
    webhook_auth::authorize(bearer, headers, !keys.is_empty(), || {
        check_signature(headers, keys)
    })
    .await?;
    check_origin(headers, &service.connection)?;
    let request = EventRequest::from_headers(headers)?;
    let bytes = body::read(body).await?;
    match &request.kind {
        EventKind::Connect => connect(&webpubsub.settings().connect, &request, &bytes),
        EventKind::Connected | EventKind::Disconnected => {
            system_event(state, service, &request, &bytes).await;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        EventKind::User(event) => {
            let content = user_content(headers, &bytes)?;
            if behaviours
                .broadcast
                .iter()
                .any(|b| b.eq_ignore_ascii_case(event))
            {
                service
                    .rest
                    .send_to_all(&request.hub, &content, &SendOptions::default())
                    .await
                    .map_err(|e| {
                        ApiError::from(e).context(format!("broadcasting event {event}"))
                    })?;
            } else if let Some(webhook) = &behaviours.forward {
                let document = forwarded(&request, Some(&content), None);
                let answer = webhook
                    .post(event, &document)
                    .await
                    .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "ForwardFailed", e))?;
                // The webhook's answer is the event's answer, which the service passes back to
                // the client, as the SignalR upstream relays a webhook's result.
                return Ok(with_state(answer_response(answer), &request));
            } else {
                tracing::debug!(event, hub = %request.hub, "Web PubSub user event ignored: no broadcast or forward for it");
            }
            Ok(with_state(StatusCode::NO_CONTENT.into_response(), &request))
        }
    }
}

/// The `connect` answer from the policy and the connect event's JSON body.
pub fn connect(
    policy: &ConnectPolicy,
    request: &EventRequest,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    let body = connect_body(bytes)?;
    let claims = body
        .get("claims")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let user = request.user_id.clone().or_else(|| single(&claims, "sub"));
    if policy.require_user && user.is_none() {
        // The service hands the status to the client's WebSocket upgrade; the text is the detail.
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "a user id is required: negotiate with a signed-in identity",
        )
            .into_response());
    }
    let value = |name: &str| match name {
        "userId" => user.clone().ok_or(Unfilled::Missing(name.into())),
        "connectionId" => Ok(request.connection_id.clone()),
        claim => single(&claims, claim).ok_or(Unfilled::Missing(claim.into())),
    };
    check_role_values(&policy.roles, value)?;
    let groups: Vec<String> = grant(&policy.groups, "group", value)
        .into_iter()
        .filter(|g| {
            names::validate_group(g)
                .map_err(|e| tracing::warn!("group not joined at connect: {e}"))
                .is_ok()
        })
        .collect();
    let roles = grant(&policy.roles, "role", value);
    let asked: Vec<&str> = body
        .get("subprotocols")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let subprotocol = asked
        .into_iter()
        .find(|p| policy.subprotocols.iter().any(|s| s == p));
    if groups.is_empty() && roles.is_empty() && subprotocol.is_none() {
        return Ok(with_state(StatusCode::NO_CONTENT.into_response(), request));
    }
    let mut answer = Map::new();
    if let Some(user) = &user {
        answer.insert("userId".into(), json!(user));
    }
    answer.insert("groups".into(), json!(groups));
    answer.insert("roles".into(), json!(roles));
    if let Some(p) = subprotocol {
        answer.insert("subprotocol".into(), json!(p));
    }
    Ok(with_state(
        (StatusCode::OK, axum::Json(Value::Object(answer))).into_response(),
        request,
    ))
}

/// The connect event's body, which must be a JSON object.
fn connect_body(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) => Err(ApiError::bad_request(
            "InvalidBody",
            "the connect event body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(
            "InvalidBody",
            format!("the connect event body is not JSON: {e}"),
        )),
    }
}

/// The templates (`what`: group or role) filled from the connection's values; one that cannot be
/// filled is not granted (logged at debug).
fn grant(
    templates: &[String],
    what: &str,
    value: impl Fn(&str) -> Result<String, Unfilled> + Copy,
) -> Vec<String> {
    templates
        .iter()
        .filter_map(|template| match render_with(template, value) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(template, "Web PubSub {what} not granted at connect: {e}");
                None
            }
        })
        .collect()
}

/// A claim with exactly one value (the connect body's claims are `{type: [values]}`).
fn single(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::Array(values) if values.len() == 1 => values[0].as_str().map(String::from),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// `connected` / `disconnected`: announce and forward; failures are logged (the service does
/// not wait for these).
async fn system_event(
    state: &AppState,
    service: &WebPubSubService,
    request: &EventRequest,
    bytes: &[u8],
) {
    let behaviours = &state.webpubsub().settings().events;
    let who = request
        .user_id
        .clone()
        .unwrap_or_else(|| request.connection_id.clone());
    let verb = if request.kind == EventKind::Connected {
        "connected"
    } else {
        "disconnected"
    };
    tracing::info!(hub = %request.hub, connection = %request.connection_id, user = ?request.user_id, "Web PubSub client {verb}");
    if behaviours.announce {
        let text = Content::Text(format!("{who} {verb}"));
        if let Err(e) = service
            .rest
            .send_to_all(&request.hub, &text, &SendOptions::default())
            .await
        {
            tracing::warn!("announcing {verb} failed: {e}");
        }
    }
    if let Some(webhook) = &behaviours.forward {
        let body = serde_json::from_slice::<Value>(bytes).unwrap_or(Value::Null);
        let _ = webhook
            .post(verb, &forwarded(request, None, Some(body)))
            .await;
    }
}

/// A webhook's answer as a user event's answer: none = 204, text as `text/plain`, anything else
/// as JSON.
fn answer_response(answer: Value) -> Response {
    match answer {
        Value::Null => StatusCode::NO_CONTENT.into_response(),
        Value::String(text) => (
            StatusCode::OK,
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        other => (StatusCode::OK, axum::Json(other)).into_response(),
    }
}

/// The JSON a forwarded event becomes.
fn forwarded(request: &EventRequest, content: Option<&Content>, body: Option<Value>) -> Value {
    let kind = match &request.kind {
        EventKind::Connect => "connect",
        EventKind::Connected => "connected",
        EventKind::Disconnected => "disconnected",
        EventKind::User(_) => "user",
    };
    let mut document = json!({
        "hub": request.hub,
        "type": kind,
        "event": request.event_name,
        "connectionId": request.connection_id,
        "userId": request.user_id,
        "connectionState": request.connection_state.as_ref().and_then(|s| s.to_str().ok()),
    });
    if let Some(content) = content {
        let (data_type, data) = match content {
            Content::Text(t) => ("text", json!(t)),
            Content::Json(t) => ("json", serde_json::from_str(t).unwrap_or(Value::Null)),
            Content::Binary(b) => (
                "binary",
                json!(base64::engine::general_purpose::STANDARD.encode(b)),
            ),
        };
        document["dataType"] = json!(data_type);
        document["data"] = data;
    }
    if let Some(body) = body {
        document["body"] = body;
    }
    document
}

/// A user event's data as the client sent it: its media type says the dataType.
pub fn user_content(headers: &HeaderMap, bytes: &[u8]) -> Result<Content, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let text = || {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::bad_request("InvalidBody", "the event data is not UTF-8 text"))
    };
    let content = match media.as_str() {
        "text/plain" => Content::Text(text()?),
        "application/json" => Content::Json(text()?),
        "application/octet-stream" => Content::Binary(bytes.to_vec()),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "a user event's Content-Type must be text/plain, application/json or application/octet-stream",
            ))
        }
    };
    content.check().map_err(ApiError::from)?;
    Ok(content)
}

/// Passes `ce-connectionState` back unchanged.
fn with_state(mut response: Response, request: &EventRequest) -> Response {
    if let Some(state) = &request.connection_state {
        response
            .headers_mut()
            .insert("ce-connectionState", state.clone());
    }
    response
}
