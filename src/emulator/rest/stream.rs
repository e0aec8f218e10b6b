//! Server-to-client streams (api-version 2024-12-01): `POST …/connections/{connectionId}/streams/
//! {streamId}/:send[?completed=true]` sends one item (the body is the bare JSON item, as the
//! Management SDK sends it) and `…/:complete[?error=|reason=]` ends the stream, to a stream the
//! client opened (`crate::emulator::streams`). Both answer 202; a stream that is not open is a 404
//! (`docs/protocol.md` §9.3).

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::{Answer, HubRequest};
use crate::emulator::body::read_body;
use crate::emulator::error::EmulatorError;
use crate::emulator::outgoing::{self, Outgoing};
use crate::service::hub_protocol::HubMessage;
use crate::service::recipients::Recipients;

/// The longest stream id the spec allows.
const MAX_STREAM_ID: usize = 100;

/// The connection and stream the path names, the stream checked to be open.
fn open_stream(request: &HubRequest) -> Result<(String, String), EmulatorError> {
    let connection = request.connection().unwrap_or_default();
    let stream = request.stream().unwrap_or_default();
    if stream.trim().is_empty() || stream.chars().count() > MAX_STREAM_ID {
        return Err(EmulatorError::BadRequest(format!(
            "streamId must be 1 to {MAX_STREAM_ID} characters, not only white space"
        )));
    }
    if !request
        .shared
        .hubs
        .connection_exists(&request.hub, &connection)
    {
        return Err(super::invoke::no_connection(&connection));
    }
    if !request.shared.streams.is_open(&connection, &stream) {
        return Err(EmulatorError::NotFound {
            code: "Error.Stream.NotExisted",
            message: format!(
                "connection {connection:?} has no open stream {stream:?}: the client opens one with a StreamInvocation, and it ends when completed or cancelled"
            ),
        });
    }
    Ok((connection, stream))
}

/// Queues `message` for the connection.
fn deliver(request: &HubRequest, connection: &str, message: Outgoing) -> Answer {
    let to = Recipients::Connection(connection.to_string());
    if request.shared.hubs.send(&request.hub, &to, &[], message) == 0 {
        return Err(super::invoke::no_connection(connection));
    }
    Ok(StatusCode::ACCEPTED)
}

/// Whether a query flag is `true` (any casing).
fn flag(request: &HubRequest, name: &str) -> Result<bool, EmulatorError> {
    match request.query.get(name) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(EmulatorError::BadRequest(format!(
            "{name} must be true or false (got {v:?})"
        ))),
    }
}

/// `POST …/streams/{stream}/:send[?completed=true]`.
pub async fn send(request: HubRequest, headers: HeaderMap, body: Body) -> Answer {
    let completed = flag(&request, "completed")?;
    let bytes = read_body(&headers, body, request.shared.config.max_body_bytes).await?;
    let item: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            EmulatorError::BadRequest(format!("the body must be the item as JSON: {e}"))
        })?
    };
    let (connection, stream) = open_stream(&request)?;
    let message = Outgoing::message(HubMessage::StreamItem {
        invocation_id: stream.clone(),
        item,
    });
    let answer = deliver(&request, &connection, message)?;
    if completed {
        request.shared.streams.close(&connection, &stream);
        deliver(&request, &connection, outgoing::completion(&stream))?;
    }
    Ok(answer)
}

/// `POST …/streams/{stream}/:complete[?error=]` (the swagger names it `reason`; both are read).
pub async fn complete(request: HubRequest) -> Answer {
    let (connection, stream) = open_stream(&request)?;
    let error = request
        .query
        .get("error")
        .or_else(|| request.query.get("reason"))
        .filter(|e| !e.is_empty())
        .map(str::to_string);
    request.shared.streams.close(&connection, &stream);
    let message = match error {
        Some(error) => outgoing::completion_error(&stream, &error),
        None => outgoing::completion(&stream),
    };
    deliver(&request, &connection, message)
}
