//! The client endpoint the `@microsoft/signalr` client talks to: `POST /client/negotiate` and the
//! transport requests at `/client/?hub=…&id=…` (WebSocket upgrade, Server-Sent Events stream,
//! long polls, POSTed sends, DELETE to stop). Every request carries a valid client token, whose
//! system claims ([`ClientPolicy`]) may limit the transports. A WebSocket upgrade without `id` is
//! a new connection that skipped negotiate, as the service accepts it (the SDKs of other languages
//! connect this way with the `{url, accessToken}` of the app's negotiate).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::attach::Start;
use super::auth::{self, Audience, Claims};
use super::body::read_body;
use super::client_policy::ClientPolicy;
use super::connection_tokens::Negotiated;
use super::error::EmulatorError;
use super::random_id::random_id;
use super::request::Query;
use super::{long_polling, sse, websocket, Shared};
use crate::service::names;
use crate::service::transports::Transport;

/// Checks the `hub` query and the client token (including a user id the service can work
/// with, and its system claims); returns the hub, the token's claims and what they allow.
fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
    query: &Query,
) -> Result<(String, Claims, ClientPolicy), EmulatorError> {
    let hub = query
        .get("hub")
        .ok_or_else(|| EmulatorError::BadRequest("the `hub` query parameter is required".into()))?
        .to_string();
    names::validate_hub(&hub)?;
    let token = auth::token_from(headers, uri, true)?;
    let claims =
        super::entra::verify_client(shared, &token, &Audience::client(headers, uri, &hub)?)?;
    claims.checked_user_id()?;
    let policy = ClientPolicy::of(&claims)?;
    Ok((hub, claims, policy))
}

/// `POST /client/negotiate?hub=…&negotiateVersion=1`.
pub async fn negotiate(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    if parts.method != Method::POST {
        return EmulatorError::MethodNotAllowed {
            method: parts.method.to_string(),
            allowed: "POST",
        }
        .into_response();
    }
    let query = Query::of(&parts.uri);
    let (hub, claims, policy) = match authorize(&shared, &parts.headers, &parts.uri, &query) {
        Ok(ok) => ok,
        Err(e) => {
            tracing::info!(status = %e.status(), "negotiate refused: {e}");
            return e.into_response();
        }
    };
    let version = query
        .get("negotiateVersion")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    // The token is a secret: whoever has it can read, send on and close the connection. The
    // connection id is what the app sees (`X-ASRS-Connection-Id`, and e.g. topic publishes hand
    // it to other clients), so the two are always different. A v0 client has no
    // `connectionToken` and uses `connectionId` as its `id`, so a v0 answer's `connectionId` is
    // the token, never the id the app sees.
    let connection_id = random_id();
    let token = random_id();
    // Stateful reconnect needs the secret token to come back with, so negotiate version 1; the
    // answer says yes only when asked, or the client fails (`docs/stateful-reconnect.md` §1).
    let stateful = version >= 1
        && query
            .get("useStatefulReconnect")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    shared.tokens.negotiated(
        token.clone(),
        Negotiated::new(connection_id.clone(), hub, claims.user_id(), claims.pairs())
            .with_stateful_reconnect(stateful),
    );
    let transports: Vec<_> = policy
        .transports
        .iter()
        .map(|transport| {
            let formats = match transport {
                Transport::ServerSentEvents => json!(["Text"]),
                Transport::WebSockets | Transport::LongPolling => json!(["Text", "Binary"]),
            };
            json!({"transport": transport.name(), "transferFormats": formats})
        })
        .collect();
    let body = if version >= 1 {
        let mut body = json!({"connectionId": connection_id, "connectionToken": token, "negotiateVersion": 1, "availableTransports": transports});
        if stateful {
            body["useStatefulReconnect"] = json!(true);
        }
        body
    } else {
        json!({"connectionId": token, "negotiateVersion": 0, "availableTransports": transports})
    };
    axum::Json(body).into_response()
}

/// Every request at `/client/` (the transports).
pub async fn connect(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match dispatch(shared, request).await {
        Ok(response) => response,
        Err(e) => {
            tracing::debug!(status = %e.status(), "client request refused: {e}");
            e.into_response()
        }
    }
}

async fn dispatch(shared: Arc<Shared>, request: Request) -> Result<Response, EmulatorError> {
    let (mut parts, body) = request.into_parts();
    let query = Query::of(&parts.uri);
    let (hub, claims, policy) = authorize(&shared, &parts.headers, &parts.uri, &query)?;
    if *shared.stopping.borrow() {
        return Err(EmulatorError::Unavailable(
            "the emulator is shutting down".into(),
        ));
    }
    let Some(token) = query.get("id").map(str::to_string) else {
        if parts.method == Method::GET && is_upgrade(&parts.headers) {
            return connect_directly(shared, parts, hub, &claims, &policy).await;
        }
        return Err(EmulatorError::BadRequest(
            "the `id` query parameter (the connectionToken from negotiate) is required; only WebSocket connections may skip negotiate".into(),
        ));
    };
    let kind = shared
        .tokens
        .kind(&token, &hub, claims.user_id().as_deref())?;
    let uri = parts.uri.clone();
    let at = |token| Start {
        shared: &shared,
        token,
        hub: &hub,
        uri: &uri,
    };
    match parts.method {
        Method::GET if is_upgrade(&parts.headers) => {
            policy.allow(Transport::WebSockets)?;
            let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
                .await
                .map_err(|r| EmulatorError::BadRequest(r.body_text()))?;
            websocket::start(at(&token), upgrade)
        }
        Method::GET if accepts_event_stream(&parts.headers) => {
            policy.allow(Transport::ServerSentEvents)?;
            sse::start(at(&token))
        }
        Method::GET if kind.is_none() => {
            policy.allow(Transport::LongPolling)?;
            long_polling::start(at(&token))
        }
        Method::GET => long_polling::poll(shared, &token).await,
        Method::POST => {
            let sender = shared.tokens.inbound(&token)?;
            let bytes = read_body(&parts.headers, body, shared.config.max_message_bytes).await?;
            sender
                .send(bytes.to_vec())
                .await
                .map_err(|_| EmulatorError::NotFound {
                    code: "Error.Connection.NotExisted",
                    message: "the connection has ended".into(),
                })?;
            Ok(StatusCode::OK.into_response())
        }
        Method::DELETE if kind == Some(Transport::LongPolling) => {
            drop::<Body>(body);
            shared.tokens.remove(&token);
            Ok(StatusCode::ACCEPTED.into_response())
        }
        Method::DELETE => Err(EmulatorError::Conflict(
            "DELETE stops long-polling connections only".into(),
        )),
        method => Err(EmulatorError::MethodNotAllowed {
            method: method.to_string(),
            allowed: "GET, POST, DELETE",
        }),
    }
}

/// A WebSocket upgrade without `id`: a new connection with an id of its own, the same as one
/// that negotiated with this token.
async fn connect_directly(
    shared: Arc<Shared>,
    mut parts: axum::http::request::Parts,
    hub: String,
    claims: &Claims,
    policy: &ClientPolicy,
) -> Result<Response, EmulatorError> {
    policy.allow(Transport::WebSockets)?;
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|r| EmulatorError::BadRequest(r.body_text()))?;
    let token = random_id();
    shared.tokens.negotiated(
        token.clone(),
        Negotiated::new(random_id(), hub.clone(), claims.user_id(), claims.pairs()),
    );
    let start = Start {
        shared: &shared,
        token: &token,
        hub: &hub,
        uri: &parts.uri,
    };
    websocket::start(start, upgrade)
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/event-stream"))
}
