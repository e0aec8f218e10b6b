//! `POST /api/hubs/{hub}/execute`: act on the connections an OData filter selects, with the
//! service's `:execute` (`docs/routes.md`, "Act by filter"). The body is
//! `{"filter"?: "<OData>", "commands": [...]}` with the service's command JSON (`SendMessage`,
//! `JoinGroup`, `LeaveGroup`, `CloseConnection`; key names in any letter case). The filter and
//! every command are checked before any endpoint is called (a bad filter is a 400 naming the
//! position); then every endpoint runs the commands and the answer is 202.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::body;
use super::endpoints::fanout;
use super::error::ApiError;
use super::hub::Hub;
use super::AppState;
use crate::service::filter::Filter;
use crate::service::rest::ExecuteCommand;

/// The body's fields.
const FIELDS: &[&str] = &["filter", "commands"];
/// A command's fields, and its message's.
const COMMAND_FIELDS: &[&str] = &["type", "group", "message", "reason", "target", "arguments"];

/// The body as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExecute {
    #[serde(default)]
    filter: Option<String>,
    commands: Vec<Value>,
}

/// `value` with every object key that matches one of `COMMAND_FIELDS` ignoring case spelled as
/// it is there, nested objects too (`Message.Target`).
fn known_case(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = COMMAND_FIELDS
                        .iter()
                        .find(|f| f.eq_ignore_ascii_case(&k))
                        .map_or(k, |f| (*f).to_string());
                    let v = if key == "message" { known_case(v) } else { v };
                    (key, v)
                })
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

/// The checked filter (`None` when absent or blank) and commands.
fn parse(bytes: &[u8]) -> Result<(Option<String>, Vec<ExecuteCommand>), ApiError> {
    let shape = r#"{"filter": "<OData filter>", "commands": [{"type": "SendMessage", "message": {"target", "arguments"}}, …]}"#;
    let raw: RawExecute = body::one(bytes, shape, FIELDS)?;
    let filter = raw.filter.filter(|f| !f.trim().is_empty());
    if let Some(text) = &filter {
        Filter::parse(text).map_err(|e| {
            ApiError::bad_request("InvalidFilter", format!("filter: {e}"))
                .with_details(json!({ "position": e.position }))
        })?;
    }
    if raw.commands.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidBody",
            "commands is empty; send at least one command",
        ));
    }
    let commands = raw
        .commands
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let bad = |why: String| {
                ApiError::bad_request("InvalidCommand", format!("commands[{i}]: {why}"))
                    .with_details(json!({ "index": i }))
            };
            let command: ExecuteCommand =
                serde_json::from_value(known_case(raw)).map_err(|e| bad(e.to_string()))?;
            command.validate().map_err(|e| bad(e.to_string()))?;
            Ok(command)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((filter, commands))
}

/// `POST /api/hubs/{hub}/execute`: 202 `{"hub", "filter", "commands"}` once every endpoint
/// accepted the commands.
pub async fn run(State(s): State<AppState>, hub: Hub, b: Body) -> Result<Response, ApiError> {
    let (filter, commands) = parse(&body::read(b).await?)?;
    let (hub, filter_ref, list) = (hub.name(), filter.as_deref(), commands.as_slice());
    let all = s.endpoints()?.targets(None)?;
    let results = fanout::each(&all, |rest| async move {
        rest.execute(hub, filter_ref, list).await
    })
    .await;
    fanout::all(results, "the commands")?;
    let answer = json!({ "hub": hub.to_lowercase(), "filter": filter, "commands": commands.len() });
    Ok((StatusCode::ACCEPTED, axum::Json(answer)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_filters_and_commands_are_named() {
        let error = parse(br#"{"filter": "userId eq", "commands": [{"type": "CloseConnection"}]}"#)
            .unwrap_err();
        assert_eq!(error.code, "InvalidFilter");
        assert!(error.message.contains("position"), "{}", error.message);
        let error =
            parse(br#"{"commands": [{"type": "CloseConnection"}, {"type": "Jump"}]}"#).unwrap_err();
        assert_eq!(
            (error.code, error.details),
            ("InvalidCommand", Some(Box::new(json!({"index": 1}))))
        );
        let error = parse(br#"{"commands": [{"type": "JoinGroup", "group": ""}]}"#).unwrap_err();
        assert_eq!(error.code, "InvalidCommand");
        assert_eq!(
            parse(br#"{"commands": []}"#).unwrap_err().code,
            "InvalidBody"
        );
        let (filter, commands) = parse(
            br#"{"Filter": " ", "Commands": [{"Type": "SendMessage", "Message": {"Target": "t", "Arguments": [1]}}]}"#,
        )
        .unwrap();
        assert_eq!(filter, None);
        assert_eq!(commands.len(), 1);
    }
}
