//! The Web PubSub client endpoint (`docs/webpubsub.md` §2): `/client/hubs/{hub}` and
//! `/client/?hub=`. A new client is taken in three steps: its token (`access_token` query or
//! `Authorization: Bearer`, whose `aud` is this hub's client URL), the blocking `connect` event
//! ([`connect_event`]), which may set its user, groups, roles and
//! subprotocol or refuse it with its own status, and its admission: its names checked, its kind
//! (simple, json, reliable json) from the subprotocol. Its life from then on is
//! [`attach`]'s, as is a reliable client coming back with `awps_connection_id`
//! and `awps_reconnection_token`.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::attach::{self, Admitted};
use super::auth::{self, WpsAuthError};
use super::connect_event::{self, ClientIdentity, ConnectRequest};
use super::connections::ClientKind;
use super::entra;
use super::error::WpsError;
use super::events::EventContext;
use super::frames::raw::Mode;
use super::roles;
use super::subprotocol::{JSON, RELIABLE};
use super::WebPubSubState;
use crate::emulator::auth::token_from;
use crate::emulator::random_id::random_id;
use crate::service::names;
use crate::service::webpubsub::Permission;

/// `/client/hubs/{hub}`.
pub async fn connect_hub(
    State(state): State<Arc<WebPubSubState>>,
    Path(hub): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    connect(state, hub, headers, uri, ws)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `/client/?hub={hub}`.
pub async fn connect_query(
    State(state): State<Arc<WebPubSubState>>,
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
    connect(state, hub, headers, uri, ws)
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
    state: Arc<WebPubSubState>,
    hub: String,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, WpsError> {
    names::validate_hub(&hub).map_err(|e| WpsError::bad("hub", e.to_string()))?;
    let ws = ws.map_err(|_| WpsError::bad("upgrade", "this is the Web PubSub client endpoint: open a WebSocket here (GET with Upgrade: websocket)"))?;
    let params = query(&uri);
    let requested = requested_subprotocols(&headers);
    if let (Some(id), Some(token)) = (
        first(&params, "awps_connection_id"),
        first(&params, "awps_reconnection_token"),
    ) {
        return Ok(attach::recover(state, hub, id, token, ws));
    }
    // The token, then the connect event, then what the client may do.
    let claims = verify_token(&state, &headers, &uri, &hub)?;
    let identity = ClientIdentity::from_token(&claims, &requested);
    let context = EventContext {
        hub,
        connection_id: random_id(),
        user: identity.user.clone(),
        subprotocol: None,
        state: None,
    };
    let request = ConnectRequest {
        claims: &claims,
        query: &params,
        headers: &headers,
        requested: &requested,
    };
    let identity = connect_event::ask(&state, &context, identity, &request).await?;
    let admitted = admit(context, identity, &params)?;
    Ok(attach::start(state, admitted, ws))
}

/// The subprotocols the client asks for in `Sec-WebSocket-Protocol`.
fn requested_subprotocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The client token's claims, checked for this hub on this host.
fn verify_token(
    state: &WebPubSubState,
    headers: &HeaderMap,
    uri: &Uri,
    hub: &str,
) -> Result<Map<String, Value>, WpsError> {
    let token = token_from(headers, uri, true)
        .map_err(|e| WpsError::Unauthorized(WpsAuthError::Token(e)))?;
    let origin = auth::origin(headers)?;
    Ok(entra::verify_client(&state.config, &token, &origin, hub)?)
}

/// What the client may be and do: its names checked, its kind from its subprotocol, and what
/// its raw frames do when it is a simple client.
fn admit(
    mut context: EventContext,
    identity: ClientIdentity,
    params: &Map<String, Value>,
) -> Result<Admitted, WpsError> {
    if let Some(user) = &identity.user {
        names::validate_user(user).map_err(|e| WpsError::bad("userId", e.to_string()))?;
    }
    for group in &identity.groups {
        names::validate_group(group)
            .map_err(|e| WpsError::bad("webpubsub.group", e.to_string()))?;
    }
    let kind = match identity.subprotocol.as_deref() {
        Some(JSON) => ClientKind::Json,
        Some(RELIABLE) => ClientKind::Reliable,
        _ => ClientKind::Simple,
    };
    let mode = mode(params, &identity.roles)?;
    context.user = identity.user;
    context.subprotocol = identity.subprotocol;
    context.state = identity.state;
    Ok(Admitted {
        context,
        kind,
        mode,
        groups: identity.groups,
        roles: identity.roles,
    })
}

/// `webpubsub_mode`: a simple client's frames go to the event handler (`sendEvent`, the
/// default) or to the `group` it names (`sendToGroup`, which its roles must allow).
fn mode(params: &Map<String, Value>, roles: &[String]) -> Result<Mode, WpsError> {
    match first(params, "webpubsub_mode").as_deref() {
        None | Some("sendEvent") => Ok(Mode::SendEvent),
        Some("sendToGroup") => match first(params, "group") {
            Some(group) if !group.trim().is_empty() => {
                if !roles::allows(roles, &[], Permission::SendToGroup, &group) {
                    return Err(WpsError::Refused {
                        status: StatusCode::FORBIDDEN,
                        message: format!("webpubsub_mode=sendToGroup needs the role webpubsub.sendToGroup or webpubsub.sendToGroup.{group}"),
                    });
                }
                Ok(Mode::SendToGroup(group))
            }
            _ => Err(WpsError::bad(
                "group",
                "webpubsub_mode=sendToGroup needs a group query parameter",
            )),
        },
        Some(other) => Err(WpsError::bad(
            "webpubsub_mode",
            format!("webpubsub_mode {other:?} is unknown; use sendEvent or sendToGroup"),
        )),
    }
}
