//! Client results: `POST …/connections/{connectionId}/:invoke` (api-version 2024-12-01). The
//! body is a `PayloadMessage` as `:send` takes it (JSON in any casing, or MessagePack); the
//! client gets an Invocation with a service id and the request waits for its Completion:
//! 200 `{"result": …}` (no `result` for a void answer), or an ErrorDetail when the client answered
//! with an error, did not answer in time, left, or was never there (`docs/protocol.md` §9.2).

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::HubRequest;
use crate::emulator::body::read_body;
use crate::emulator::error::EmulatorError;
use crate::emulator::invocations::Waited;
use crate::emulator::outgoing::Outgoing;
use crate::emulator::payload::PayloadMessage;
use crate::service::hub_protocol::HubMessage;
use crate::service::recipients::Recipients;

fn failed(status: StatusCode, code: &'static str, message: String) -> EmulatorError {
    EmulatorError::Invocation {
        status,
        code,
        message,
    }
}

/// The answer for an unknown connection.
pub(super) fn no_connection(connection: &str) -> EmulatorError {
    EmulatorError::NotFound {
        code: "Error.Connection.NotExisted",
        message: format!("connection {connection:?} does not exist in this hub"),
    }
}

/// `POST …/connections/{connection}/:invoke`.
pub async fn handle(
    request: HubRequest,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, EmulatorError> {
    let shared = &request.shared;
    let bytes = read_body(&headers, body, shared.config.max_body_bytes).await?;
    let payload = PayloadMessage::parse(&headers, &bytes)?;
    let connection = request.connection().unwrap_or_default();
    let mut pending = shared.invocations.start(&connection).map_err(|full| {
        failed(
            StatusCode::TOO_MANY_REQUESTS,
            "Error.Invocation.TooMany",
            full.to_string(),
        )
    })?;
    // Sent as a message, not the sender's prepared frames: those carry no invocation id.
    let message = Outgoing::message(HubMessage::InvokeClient {
        invocation_id: pending.id().to_string(),
        target: payload.target.clone(),
        arguments: payload.arguments,
    });
    let to = Recipients::Connection(connection.clone());
    if shared.hubs.send(&request.hub, &to, &[], message) == 0 {
        return Err(no_connection(&connection));
    }
    tracing::debug!(hub = %request.hub, %connection, id = pending.id(), target = %payload.target, "REST invoke");
    let limit = shared.config.invoke_timeout;
    match pending.wait(limit).await {
        Waited::Answered(Ok(Some(result))) => {
            Ok(axum::Json(json!({ "result": result })).into_response())
        }
        Waited::Answered(Ok(None)) => Ok(axum::Json(json!({})).into_response()),
        Waited::Answered(Err(error)) => Err(failed(
            StatusCode::BAD_REQUEST,
            "Error.Invocation.ClientError",
            error,
        )),
        Waited::Gone => Err(failed(
            StatusCode::NOT_FOUND,
            "Error.Connection.Closed",
            format!("connection {connection:?} closed before it answered the invocation"),
        )),
        Waited::TimedOut => Err(failed(
            StatusCode::GATEWAY_TIMEOUT,
            "Error.Invocation.Timeout",
            format!(
                "connection {connection:?} did not answer the invocation within {} seconds",
                limit.as_secs()
            ),
        )),
    }
}
