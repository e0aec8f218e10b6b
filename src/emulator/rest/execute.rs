//! `POST /api/hubs/{hub}/:execute?filter=` (api-version 2023-07-01 and later,
//! `docs/protocol.md` §4.6): a list of commands — `SendMessage`, `JoinGroup`, `LeaveGroup`,
//! `CloseConnection` — applied in order to each connection the OData `filter` selects (every
//! connection of the hub without one). The selection is made once, before the first command.
//! Every command is checked before any runs; a bad filter or command is a 400 saying where.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::{Answer, HubRequest};
use crate::emulator::body::read_body;
use crate::emulator::error::EmulatorError;
use crate::emulator::outgoing::Outgoing;
use crate::emulator::payload::PayloadMessage;
use crate::service::filter::Filter;
use crate::service::hub_protocol::HubMessage;
use crate::service::names;
use crate::service::recipients::Recipients;

/// The first api-version with this operation.
pub const SINCE: &str = "2023-07-01";

/// One command as the swagger's `SignalRCommand` types spell it.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum Wire {
    SendMessage { message: Value },
    JoinGroup { group: String },
    LeaveGroup { group: String },
    CloseConnection { reason: Option<String> },
}

/// A checked command.
enum Command {
    /// The invocation, encoded once per hub protocol for every connection.
    Send(Outgoing),
    Join(String),
    Leave(String),
    Close(Option<String>),
}

impl Command {
    fn parse(index: usize, raw: Value) -> Result<Self, EmulatorError> {
        let bad = |why: String| EmulatorError::BadRequest(format!("commands[{index}]: {why}"));
        let wire: Wire = serde_json::from_value(raw).map_err(|e| {
            bad(format!(
                "{e} (a command is {{\"type\": \"SendMessage\", \"message\": {{target, arguments}}}}, {{\"type\": \"JoinGroup\" or \"LeaveGroup\", \"group\"}} or {{\"type\": \"CloseConnection\", \"reason\"?}})"
            ))
        })?;
        Ok(match wire {
            Wire::SendMessage { message } => {
                let mut json = HeaderMap::new();
                json.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                let bytes = serde_json::to_vec(&message).unwrap_or_default();
                let payload =
                    PayloadMessage::parse(&json, &bytes).map_err(|e| bad(e.to_string()))?;
                Self::Send(Outgoing::message(HubMessage::Invocation {
                    target: payload.target,
                    arguments: payload.arguments,
                }))
            }
            Wire::JoinGroup { group } | Wire::LeaveGroup { group }
                if names::validate_group(&group).is_err() =>
            {
                return Err(bad(format!("group {group:?} is not a valid group name")));
            }
            Wire::JoinGroup { group } => Self::Join(group),
            Wire::LeaveGroup { group } => Self::Leave(group),
            Wire::CloseConnection { reason } => Self::Close(reason),
        })
    }

    fn apply(&self, request: &HubRequest, id: &str) {
        let (hubs, hub) = (&request.shared.hubs, request.hub.as_str());
        match self {
            Self::Send(frame) => {
                hubs.send(hub, &Recipients::Connection(id.into()), &[], frame.clone());
            }
            Self::Join(group) => {
                hubs.add_to_group(hub, group, id);
            }
            Self::Leave(group) => {
                hubs.remove_from_group(hub, group, id);
            }
            Self::Close(reason) => {
                hubs.close(
                    hub,
                    &Recipients::Connection(id.into()),
                    &[],
                    reason.as_deref(),
                );
            }
        }
    }
}

/// The filter of the query, when there is one.
fn filter(request: &HubRequest) -> Result<Option<Filter>, EmulatorError> {
    match request.query.get("filter") {
        Some(text) if !text.trim().is_empty() => Filter::parse(text)
            .map(Some)
            .map_err(|e| EmulatorError::BadRequest(e.to_string())),
        _ => Ok(None),
    }
}

/// `HubProxyV20230701_Execute`: 202 once every command is applied.
pub async fn handle(request: HubRequest, headers: HeaderMap, body: Body) -> Answer {
    request.require_version(SINCE, ":execute")?;
    let filter = filter(&request)?;
    let bytes = read_body(&headers, body, request.shared.config.max_body_bytes).await?;
    let raw: Vec<Value> = serde_json::from_slice(&bytes).map_err(|e| {
        EmulatorError::BadRequest(format!("the body must be a JSON array of commands: {e}"))
    })?;
    let commands = raw
        .into_iter()
        .enumerate()
        .map(|(i, raw)| Command::parse(i, raw))
        .collect::<Result<Vec<_>, _>>()?;
    let selected = request.shared.hubs.select(&request.hub, filter.as_ref());
    for id in &selected {
        for command in &commands {
            command.apply(&request, id);
        }
    }
    if commands
        .iter()
        .any(|c| matches!(c, Command::Join(_) | Command::Leave(_)))
    {
        let shared = &request.shared;
        shared
            .activity
            .groups_changed(&shared.hubs, &request.hub, &selected);
    }
    tracing::debug!(hub = %request.hub, selected = selected.len(), commands = commands.len(), "REST execute");
    Ok(StatusCode::ACCEPTED)
}
