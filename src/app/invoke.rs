//! `POST /api/hubs/{hub}/connections/{connectionId}/invoke`: client results through the app. The
//! body is `{"target", "arguments"?}` (keys in any letter case, unknown ones refused); the
//! connection's client runs its handler for `target` and the route answers `{"result": …}`, or
//! 404 when no endpoint knows the connection, 410 when it closed before answering, 502 with the
//! client's error text, 504 when it did not answer within `SIGNALR_INVOKE_TIMEOUT_SECONDS`. With
//! several endpoints, each is asked in turn until one has the connection; one that cannot be
//! reached is reported only when no other has it (`docs/protocol.md` §9.2).

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{self, present};
use super::error::ApiError;
use super::extract::PathParams;
use super::AppState;
use crate::service::names;
use crate::service::rest::RestError;

/// Field names of the body; keys are matched case-insensitively.
const FIELDS: &[&str] = &["target", "arguments"];

/// The body as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawInvoke {
    target: Option<String>,
    #[serde(default)]
    arguments: Option<Vec<Value>>,
}

/// What one endpoint said.
enum Asked {
    /// It has the connection: this is the answer.
    Answer(Result<Value, ApiError>),
    /// It does not know the connection.
    Unknown,
}

/// Maps an endpoint's answer to the route's (see the module comment).
fn answer(result: Result<Value, RestError>) -> Asked {
    let error = match result {
        Ok(value) => return Asked::Answer(Ok(value)),
        Err(error) => error,
    };
    let code = match &error {
        RestError::Service { code, .. } => code.as_deref().unwrap_or(""),
        RestError::Timeout { .. } => "Error.Invocation.Timeout",
        _ => "",
    };
    let client_said = |status, code, message: &str| {
        Asked::Answer(Err(ApiError::new(status, code, message.to_string())))
    };
    let message = match &error {
        RestError::Service { message, .. } => message.clone(),
        _ => error.to_string(),
    };
    match code {
        "Error.Connection.NotExisted" => Asked::Unknown,
        "Error.Connection.Closed" => client_said(StatusCode::GONE, "ConnectionClosed", &message),
        "Error.Invocation.ClientError" => {
            client_said(StatusCode::BAD_GATEWAY, "ClientError", &message)
        }
        "Error.Invocation.Timeout" => client_said(
            StatusCode::GATEWAY_TIMEOUT,
            "InvocationTimeout",
            "the client did not answer in time",
        ),
        "Error.Invocation.TooMany" => client_said(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyInvocations",
            &message,
        ),
        _ => Asked::Answer(Err(error.into())),
    }
}

/// Parses the body into the target and its arguments.
fn parse(bytes: &[u8]) -> Result<(String, Vec<Value>), ApiError> {
    let raw: RawInvoke = body::one(bytes, r#"{"target": "…", "arguments"?: [..]}"#, FIELDS)?;
    let target = present(raw.target).ok_or_else(|| {
        ApiError::bad_request(
            "InvalidBody",
            "target is missing: name the client method to invoke",
        )
    })?;
    Ok((target, raw.arguments.unwrap_or_default()))
}

/// `POST /api/hubs/{hub}/connections/{connectionId}/invoke`.
pub async fn invoke(
    State(s): State<AppState>,
    PathParams((hub, connection)): PathParams<(String, String)>,
    b: Body,
) -> Result<Response, ApiError> {
    let (target, arguments) = parse(&body::read(b).await?)?;
    names::validate_hub(&hub)?;
    names::validate_connection_id(&connection)?;
    let timeout = s.settings().invoke_timeout;
    // An endpoint that cannot be reached may still be the one with the connection: its error
    // is the answer only when no other endpoint has the connection.
    let mut unreachable = None;
    for endpoint in s.endpoints()?.targets(None)? {
        let rest = &endpoint.service.rest;
        let result = rest
            .invoke(&hub, &connection, &target, arguments.clone(), timeout)
            .await;
        if let Err(e) = &result {
            endpoint.note_failure(e);
        }
        match result {
            Err(e @ RestError::Unreachable { .. }) => unreachable = Some(e),
            result => {
                if let Asked::Answer(answer) = answer(result) {
                    return Ok(axum::Json(json!({ "result": answer? })).into_response());
                }
            }
        }
    }
    if let Some(error) = unreachable {
        return Err(error.into());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "ConnectionNotFound",
        format!("connection {connection:?} is not connected to hub {hub:?}"),
    ))
}
