//! The Web PubSub client endpoint (reference §2.4): `/client/hubs/{hub}` and `/client/?hub=`.
//! A new client shows a token (`access_token` query or `Authorization: Bearer`) whose `aud` is
//! this hub's client URL; the blocking `connect` event may then set its user, groups, roles and
//! subprotocol, or refuse it with its own status. The subprotocol decides the kind of client
//! (simple, json, reliable json). A reliable client comes back with `awps_connection_id` and
//! `awps_reconnection_token`; a failed recovery is closed with 1008.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::auth::{self, claim_list, WpsAuthError};
use super::connections::ClientKind;
use super::error::WpsError;
use super::events::{Event, EventContext};
use super::socket::{self, Mode, Session};
use super::subprotocol::{JSON, RELIABLE};
use super::WebPubSubState;
use crate::emulator::auth::token_from;
use crate::emulator::random_id::random_id;
use crate::emulator::websocket::READ_BUFFER_BYTES;
use crate::service::names;
use crate::service::webpubsub::Permission;

/// `/client/hubs/{hub}`.
pub async fn connect_hub(
    State(shared): State<Arc<WebPubSubState>>,
    Path(hub): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    connect(shared, hub, headers, uri, ws)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `/client/?hub={hub}`.
pub async fn connect_query(
    State(shared): State<Arc<WebPubSubState>>,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Some(hub) = first(&query(&uri), "hub") else {
        return WpsError::bad(
            "hub",
            "the hub query parameter is required: /client/?hub=<hub> (or use /client/hubs/<hub>)",
        )
        .into_response();
    };
    connect(shared, hub, headers, uri, ws)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn query(uri: &Uri) -> Map<String, Value> {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if let Value::Array(items) = map.entry(k.into_owned()).or_insert_with(|| json!([])) {
            items.push(v.into_owned().into());
        }
    }
    map
}

fn first(query: &Map<String, Value>, name: &str) -> Option<String> {
    query.get(name)?.get(0)?.as_str().map(str::to_string)
}

async fn connect(
    shared: Arc<WebPubSubState>,
    hub: String,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, WpsError> {
    names::validate_hub(&hub).map_err(|e| WpsError::bad("hub", e.to_string()))?;
    let ws = ws.map_err(|_| WpsError::bad("upgrade", "this is the Web PubSub client endpoint: open a WebSocket here (GET with Upgrade: websocket)"))?;
    let params = query(&uri);
    let requested: Vec<String> = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if let (Some(id), Some(token)) = (
        first(&params, "awps_connection_id"),
        first(&params, "awps_reconnection_token"),
    ) {
        return Ok(socket::recover(shared, hub, id, token, ws));
    }
    let token = token_from(&headers, &uri, true)
        .map_err(|e| WpsError::Unauthorized(WpsAuthError::Token(e)))?;
    let origin = auth::origin(&headers)?;
    let claims = super::entra::verify_client(&shared.config, &token, &origin, &hub)?;
    let mut user = claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut roles = claim_list(&claims, "role");
    let mut groups = claim_list(&claims, "webpubsub.group");
    let mut subprotocol = requested
        .iter()
        .find(|p| *p == JSON || *p == RELIABLE)
        .cloned();
    let connection_id = random_id();
    let mut ctx = EventContext {
        hub: hub.clone(),
        connection_id: connection_id.clone(),
        user: user.clone(),
        subprotocol: None,
        state: None,
    };
    let body = connect_body(&claims, &params, &headers, &requested);
    match shared
        .events
        .call(&ctx, Event::System("connect"), "application/json", body)
        .await
    {
        Ok(None) => {}
        Ok(Some(answer)) if answer.status.is_success() => {
            ctx.state = answer.state;
            if !answer.body.is_empty() {
                let answer: Value =
                    serde_json::from_slice(&answer.body).map_err(|e| WpsError::Refused {
                        status: StatusCode::INTERNAL_SERVER_ERROR,
                        message: format!("the connect event handler's answer is not JSON: {e}"),
                    })?;
                if let Some(u) = answer.get("userId").and_then(Value::as_str) {
                    user = Some(u.to_string());
                }
                let list = |name: &str| -> Vec<String> {
                    answer
                        .get(name)
                        .and_then(Value::as_array)
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                groups.extend(list("groups"));
                roles.extend(list("roles"));
                if let Some(p) = answer.get("subprotocol").and_then(Value::as_str) {
                    if !requested.iter().any(|r| r == p) {
                        return Err(WpsError::Refused {
                            status: StatusCode::INTERNAL_SERVER_ERROR,
                            message: format!("the connect event handler chose subprotocol {p:?}, which the client did not ask for"),
                        });
                    }
                    subprotocol = Some(p.to_string());
                }
            }
        }
        Ok(Some(answer)) => {
            return Err(WpsError::Refused {
                status: answer.status,
                message: String::from_utf8_lossy(&answer.body)
                    .chars()
                    .take(1024)
                    .collect(),
            })
        }
        Err(e) => {
            return Err(WpsError::Refused {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: e.to_string(),
            })
        }
    }
    if let Some(u) = &user {
        names::validate_user(u).map_err(|e| WpsError::bad("userId", e.to_string()))?;
    }
    for g in &groups {
        names::validate_group(g).map_err(|e| WpsError::bad("webpubsub.group", e.to_string()))?;
    }
    let kind = match subprotocol.as_deref() {
        Some(JSON) => ClientKind::Json,
        Some(RELIABLE) => ClientKind::Reliable,
        _ => ClientKind::Simple,
    };
    let mode = match first(&params, "webpubsub_mode").as_deref() {
        None | Some("sendEvent") => Mode::SendEvent,
        Some("sendToGroup") => match first(&params, "group") {
            Some(group) if !group.trim().is_empty() => {
                if !super::roles::allows(&roles, &[], Permission::SendToGroup, &group) {
                    return Err(WpsError::Refused {
                        status: StatusCode::FORBIDDEN,
                        message: format!("webpubsub_mode=sendToGroup needs the role webpubsub.sendToGroup or webpubsub.sendToGroup.{group}"),
                    });
                }
                Mode::SendToGroup(group)
            }
            _ => {
                return Err(WpsError::bad(
                    "group",
                    "webpubsub_mode=sendToGroup needs a group query parameter",
                ))
            }
        },
        Some(other) => {
            return Err(WpsError::bad(
                "webpubsub_mode",
                format!("webpubsub_mode {other:?} is unknown; use sendEvent or sendToGroup"),
            ))
        }
    };
    ctx.user = user;
    ctx.subprotocol = subprotocol.clone();
    let session = Session {
        ctx,
        kind,
        mode,
        groups,
        roles,
    };
    let limit = shared.config.max_message_bytes;
    let ws = ws
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(socket::read_limit(limit))
        .max_frame_size(socket::read_limit(limit));
    let ws = match subprotocol {
        Some(p) => ws.protocols([p]),
        None => ws,
    };
    // Registered before the 101 goes out, so whoever got it can be reached at once.
    let registered = socket::register_new(&shared, session);
    Ok(ws.on_upgrade(move |socket| socket::run_new(registered, socket)))
}

/// The `connect` event's body: claims, query, headers and subprotocols as string lists.
fn connect_body(
    claims: &Map<String, Value>,
    params: &Map<String, Value>,
    headers: &HeaderMap,
    requested: &[String],
) -> Vec<u8> {
    let mut claim_map = Map::new();
    for (name, value) in claims {
        if ["aud", "exp", "iat", "nbf"].contains(&name.as_str()) {
            continue;
        }
        let values: Vec<Value> = match value {
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map_or_else(|| v.to_string(), str::to_string)
                        .into()
                })
                .collect(),
            Value::String(s) => vec![s.clone().into()],
            other => vec![other.to_string().into()],
        };
        claim_map.insert(name.clone(), values.into());
    }
    let mut query = params.clone();
    query.remove("access_token");
    let mut header_map = Map::new();
    for (name, value) in headers {
        if name == "authorization" || name == "sec-websocket-key" {
            continue;
        }
        if let (Ok(v), Value::Array(items)) = (
            value.to_str(),
            header_map.entry(name.as_str()).or_insert_with(|| json!([])),
        ) {
            items.push(v.into());
        }
    }
    json!({
        "claims": claim_map,
        "query": query,
        "headers": header_map,
        "subprotocols": requested,
        "clientCertificates": [],
    })
    .to_string()
    .into_bytes()
}
