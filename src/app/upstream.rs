//! `POST /api/upstream`: the service's upstream webhook (reference `signalr-service.md` §6). The
//! signature is checked before anything else; then the content type, the `X-ASRS-*` headers and
//! the body. Connection events are logged, can join groups and are forwarded to the app's webhook;
//! client invocations run the built-in topic methods ([`super::topics`]) or are forwarded, and
//! those with an `invocationId` are answered with a framed hub-protocol completion.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use super::forward::{Event, Webhook};
use super::topics::{self, HubMethod};
use super::{body, negotiate, signature, AppState};
use crate::service::names;
use crate::service::Secret;

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

/// The JSON hub protocol's record separator, which ends every framed message.
pub const RECORD_SEPARATOR: u8 = 0x1e;

/// A framed JSON completion (hub message type 3) for `invocation_id`: `result` on success, else
/// `error`, followed by the record separator.
pub fn completion(invocation_id: &str, outcome: &Result<Value, String>) -> Vec<u8> {
    let id = Value::from(invocation_id);
    let text = match outcome {
        Ok(result) => format!(r#"{{"type":3,"invocationId":{id},"result":{result}}}"#),
        Err(error) => format!(
            r#"{{"type":3,"invocationId":{id},"error":{}}}"#,
            Value::from(error.as_str())
        ),
    };
    let mut bytes = text.into_bytes();
    bytes.push(RECORD_SEPARATOR);
    bytes
}

/// Handler of `/api/upstream`.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match handle(&state, &headers, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    check_signature(state, headers)?;
    check_content_type(headers)?;
    let request = Request::from_headers(headers)?;
    let bytes = body::read(body).await?;
    let (message, raw) = Message::parse(&bytes)?;
    request.check_matches(&message)?;
    let settings = state.settings();
    let event = Event {
        hub: &request.hub,
        category: &request.category,
        event: &request.event,
        connection_id: &request.connection_id,
        user_id: request.user_id.as_deref(),
        claims: &request.claims,
        body: &raw,
    };
    match message {
        Message::Connected => {
            tracing::info!(hub = %request.hub, connection = %request.connection_id, user = ?request.user_id, "client connected");
            join_groups(state, &request).await;
            if let Some(webhook) = &settings.upstream.forward {
                let _ = webhook.forward(&event).await;
            }
            Ok(StatusCode::OK.into_response())
        }
        Message::Disconnected { error } => {
            tracing::info!(hub = %request.hub, connection = %request.connection_id, user = ?request.user_id, error = ?error, "client disconnected");
            if let Some(webhook) = &settings.upstream.forward {
                let _ = webhook.forward(&event).await;
            }
            Ok(StatusCode::OK.into_response())
        }
        Message::Invocation {
            invocation_id,
            target,
            arguments,
        } => {
            let outcome = invoke(state, &request, &target, &arguments, &event).await;
            if let Err(error) = &outcome {
                tracing::info!(hub = %request.hub, connection = %request.connection_id, method = %target, "hub method failed: {error}");
            }
            Ok(match invocation_id {
                Some(id) => {
                    let mut response = (StatusCode::OK, completion(&id, &outcome)).into_response();
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    response
                }
                None => StatusCode::OK.into_response(),
            })
        }
    }
}

/// Runs a built-in method, or forwards an unknown one to the webhook.
async fn invoke(
    state: &AppState,
    request: &Request,
    target: &str,
    arguments: &[Value],
    event: &Event<'_>,
) -> Result<Value, String> {
    let settings = state.settings();
    match HubMethod::parse(target, arguments) {
        Some(Ok(method)) => {
            let rest = state.rest().map_err(|e| {
                tracing::error!("hub method {target} cannot run: {}", e.message);
                format!("{target} failed: the app cannot reach SignalR Service")
            })?;
            let caller = topics::Caller {
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
async fn join_groups(state: &AppState, request: &Request) {
    let templates = &state.settings().upstream.connect_groups;
    if templates.is_empty() {
        return;
    }
    let rest = match state.rest() {
        Ok(rest) => rest,
        Err(e) => {
            tracing::error!("cannot join groups on connect: {}", e.message);
            return;
        }
    };
    for template in templates {
        let group = negotiate::render_with(template, |name| match name {
            "userId" => request.user_id.clone(),
            "connectionId" => Some(request.connection_id.clone()),
            claim => request
                .claims
                .iter()
                .find(|(k, _)| k == claim)
                .map(|(_, v)| v.clone()),
        });
        let Some(group) = group else {
            tracing::debug!(
                template,
                "a value of the group template is missing; group not joined"
            );
            continue;
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

fn check_signature(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let mut keys: Vec<Secret> = state.access_key().into_iter().cloned().collect();
    keys.extend(state.settings().upstream.secondary_keys.iter().cloned());
    let given = headers.get("x-asrs-signature").map(HeaderValue::as_bytes);
    let connection_id = headers
        .get("x-asrs-connection-id")
        .map(HeaderValue::as_bytes);
    let valid = connection_id.is_some_and(|id| signature::is_valid(given, id, &keys));
    if valid {
        return Ok(());
    }
    let message = if given.is_none_or(<[u8]>::is_empty) {
        "X-ASRS-Signature is missing; only SignalR Service may call this route"
    } else {
        "X-ASRS-Signature does not match an access key of this app"
    };
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "InvalidSignature",
        message,
    ))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = given.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    let message = if media.eq_ignore_ascii_case("application/x-msgpack") {
        "MessagePack is not supported yet; clients must use the JSON hub protocol".to_string()
    } else {
        format!(
            "content type {media:?} is not supported; the upstream body must be application/json"
        )
    };
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        message,
    ))
}

/// What the `X-ASRS-*` headers say.
#[derive(Debug, Clone)]
struct Request {
    hub: String,
    category: String,
    event: String,
    connection_id: String,
    user_id: Option<String>,
    claims: Vec<(String, String)>,
}

impl Request {
    fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let text = |name: &'static str| -> Result<Option<String>, ApiError> {
            match headers.get(name) {
                None => Ok(None),
                Some(v) => String::from_utf8(v.as_bytes().to_vec())
                    .map(|s| Some(s).filter(|s| !s.is_empty()))
                    .map_err(|_| {
                        ApiError::bad_request("InvalidHeader", format!("{name} is not UTF-8"))
                    }),
            }
        };
        let required = |name: &'static str| -> Result<String, ApiError> {
            text(name)?.ok_or_else(|| {
                ApiError::bad_request("MissingHeader", format!("{name} is missing or empty"))
            })
        };
        let hub = required("X-ASRS-Hub")?;
        let category = required("X-ASRS-Category")?;
        let event = required("X-ASRS-Event")?;
        let connection_id = required("X-ASRS-Connection-Id")?;
        names::validate_hub(&hub)?;
        names::validate_connection_id(&connection_id)?;
        let user_id = text("X-ASRS-User-Id")?;
        if let Some(user) = &user_id {
            names::validate_user(user)?;
        }
        let claims = parse_claims(text("X-ASRS-User-Claims")?.as_deref().unwrap_or(""));
        Ok(Self {
            hub,
            category: category.to_ascii_lowercase(),
            event,
            connection_id,
            user_id,
            claims,
        })
    }

    /// The category, event and body type must agree.
    fn check_matches(&self, message: &Message) -> Result<(), ApiError> {
        let bad = |m: String| ApiError::bad_request("EventMismatch", m);
        let event = self.event.to_ascii_lowercase();
        match (self.category.as_str(), message) {
            ("connections", Message::Connected) if event == "connected" => Ok(()),
            ("connections", Message::Disconnected { .. }) if event == "disconnected" => Ok(()),
            ("messages", Message::Invocation { target, .. }) => {
                if target.eq_ignore_ascii_case(&self.event) {
                    Ok(())
                } else {
                    Err(bad(format!(
                        "the invocation's target {target:?} differs from X-ASRS-Event {:?}",
                        self.event
                    )))
                }
            }
            ("connections" | "messages", _) => Err(bad(format!(
                "a {} message does not fit X-ASRS-Category {:?} and X-ASRS-Event {:?}",
                message.kind(),
                self.category,
                self.event
            ))),
            (other, _) => Err(bad(format!(
                "X-ASRS-Category {other:?} is not connections or messages"
            ))),
        }
    }
}

/// `type: value, type: value` → pairs, first value per type (as the Functions extension does).
fn parse_claims(header: &str) -> Vec<(String, String)> {
    let mut claims: Vec<(String, String)> = Vec::new();
    for entry in header.split(',') {
        let Some((kind, value)) = entry.split_once(": ") else {
            continue;
        };
        let kind = kind.trim();
        if !kind.is_empty() && !claims.iter().any(|(k, _)| k == kind) {
            claims.push((kind.to_string(), value.trim().to_string()));
        }
    }
    claims
}

/// An upstream body.
#[derive(Debug, Clone, PartialEq)]
enum Message {
    Connected,
    Disconnected {
        error: Option<String>,
    },
    Invocation {
        invocation_id: Option<String>,
        target: String,
        arguments: Vec<Value>,
    },
}

/// The body with lowercased property names (the service sends `Type`/`Error` or `type`/`error`).
#[derive(Debug, Deserialize)]
struct RawMessage {
    #[serde(rename = "type")]
    kind: i64,
    #[serde(rename = "invocationid", default)]
    invocation_id: Option<String>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    arguments: Option<Vec<Value>>,
    #[serde(default)]
    error: Option<String>,
}

impl Message {
    /// Parses the body; also returns it as JSON for forwarding.
    fn parse(bytes: &[u8]) -> Result<(Self, Value), ApiError> {
        let bad = |m: String| ApiError::bad_request("InvalidBody", m);
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request("InvalidJson", format!("the body is not valid JSON: {e}"))
        })?;
        let Value::Object(map) = &value else {
            return Err(bad("the body must be a JSON object".into()));
        };
        let lowered: serde_json::Map<String, Value> = map
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        let raw: RawMessage = serde_json::from_value(Value::Object(lowered))
            .map_err(|e| bad(format!("the body is not an upstream message: {e}")))?;
        let message = match raw.kind {
            10 => Self::Connected,
            11 => Self::Disconnected { error: raw.error },
            1 => Self::Invocation {
                invocation_id: raw.invocation_id.filter(|id| !id.is_empty()),
                target: body::present(raw.target)
                    .ok_or_else(|| bad("the invocation has no target".into()))?,
                arguments: raw.arguments.unwrap_or_default(),
            },
            other => {
                return Err(bad(format!(
                    "message type {other} is not supported; expected 1 (invocation), 10 (connected) or 11 (disconnected)"
                )))
            }
        };
        Ok((message, value))
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Connected => "connected (type 10)",
            Self::Disconnected { .. } => "disconnected (type 11)",
            Self::Invocation { .. } => "invocation (type 1)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn completions_are_framed_json() {
        assert_eq!(
            completion("7", &Ok(json!("orders"))),
            b"{\"type\":3,\"invocationId\":\"7\",\"result\":\"orders\"}\x1e".to_vec()
        );
        assert_eq!(
            completion("7", &Err("no \"x\"".into())),
            b"{\"type\":3,\"invocationId\":\"7\",\"error\":\"no \\\"x\\\"\"}\x1e".to_vec()
        );
    }

    #[test]
    fn claims_keep_the_first_value_per_type() {
        let claims = parse_claims("role: a, sub: u1, role: b, junk, tid: t: x");
        assert_eq!(
            claims,
            vec![
                ("role".into(), "a".into()),
                ("sub".into(), "u1".into()),
                ("tid".into(), "t: x".into())
            ]
        );
    }

    #[test]
    fn bodies_parse_case_insensitively() {
        let (m, _) = Message::parse(br#"{"Type":11,"Error":"gone"}"#)
            .unwrap_or((Message::Connected, Value::Null));
        assert_eq!(
            m,
            Message::Disconnected {
                error: Some("gone".into())
            }
        );
        assert!(Message::parse(b"[1]").is_err() && Message::parse(b"{").is_err());
    }
}
