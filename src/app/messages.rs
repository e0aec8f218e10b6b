//! `POST /api/messages` and `/api/hubs/{hub}/messages`: the `SignalRMessage` JSON users already
//! send to the official output binding (one object or an array), parsed and validated into
//! [`Message`]s once, then applied in order with one REST call each.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::batch::{self, Command};
use super::body::{self, present};
use super::endpoints::{fanout, narrow, Endpoints};
use super::error::ApiError;
use super::hub::Hub;
use super::AppState;
use crate::service::names;
use crate::service::recipients::Recipients;
use crate::service::rest::{check_excluded, Payload};

/// Field names of a message; keys are matched case-insensitively, as the binding (Newtonsoft) does.
const FIELDS: &[&str] = &[
    "target",
    "arguments",
    "userId",
    "groupName",
    "connectionId",
    "excluded",
    "excludedConnectionIds",
    "endpoints",
];

/// The binding's `SignalRMessage`, as sent ([`Message`] once validated). Unknown fields are refused so that a typo such as
/// `userID2` cannot silently turn a message for one user into a broadcast.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawMessage {
    target: Option<String>,
    #[serde(default)]
    arguments: Option<Vec<Value>>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    group_name: Option<String>,
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(alias = "excludedConnectionIds", default)]
    excluded: Option<Vec<String>>,
    /// The endpoints to send to (all when absent), as the binding's endpoint objects or names.
    #[serde(default)]
    endpoints: Option<Value>,
}

/// A validated message, ready to send.
#[derive(Debug, Clone)]
pub struct Message {
    /// The client method and its arguments.
    pub payload: Payload,
    /// Who receives it: precedence connection > user > group > everyone.
    pub recipients: Recipients,
    /// Connections of the group or hub that do not receive it (empty for a user or connection,
    /// as the service's sends to those take none).
    pub excluded: Vec<String>,
    /// The endpoints it goes to, by name (`None` = every endpoint).
    pub endpoints: Option<Vec<String>>,
}

impl Command for Message {
    type Raw = RawMessage;
    type Service = Endpoints;
    const NOUN: &'static str = "message";
    const DONE: &'static str = "sent";
    const FIELDS: &'static [&'static str] = FIELDS;

    fn parse(raw: RawMessage) -> Result<Self, ApiError> {
        let target = present(raw.target).ok_or_else(|| {
            ApiError::bad_request(
                "InvalidMessage",
                "target is missing: name the client method to call",
            )
        })?;
        let endpoints = narrow::names(raw.endpoints.as_ref())?;
        let mut excluded = raw.excluded.unwrap_or_default();
        check_excluded(&excluded)?;
        let recipients = if let Some(id) = present(raw.connection_id) {
            names::validate_connection_id(&id)?;
            Recipients::Connection(id)
        } else if let Some(user) = present(raw.user_id) {
            names::validate_user(&user)?;
            Recipients::User(user)
        } else if let Some(group) = present(raw.group_name) {
            names::validate_group(&group)?;
            Recipients::Group(group)
        } else {
            Recipients::All
        };
        if matches!(recipients, Recipients::User(_) | Recipients::Connection(_)) {
            excluded.clear();
        }
        Ok(Self {
            payload: Payload {
                target,
                arguments: raw.arguments.unwrap_or_default(),
            },
            recipients,
            excluded,
            endpoints,
        })
    }

    fn check(&self, endpoints: &Endpoints) -> Result<(), ApiError> {
        endpoints.targets(self.endpoints.as_deref()).map(|_| ())
    }

    /// Sends the message to every target endpoint at once.
    async fn apply(&self, endpoints: &Endpoints, hub: &str) -> Result<(), ApiError> {
        let targets = endpoints.targets(self.endpoints.as_deref())?;
        let (to, excluded, payload) = (&self.recipients, &self.excluded, &self.payload);
        let results = fanout::each(&targets, |rest| async move {
            rest.send(hub, to, excluded, payload).await
        })
        .await;
        fanout::all(results, "the message").map(|_| ())
    }
}

/// Parses a request body into messages.
pub fn parse_body(bytes: &[u8], max: usize) -> Result<Vec<Message>, ApiError> {
    batch::parse(bytes, max)
}

/// Handler of `/api/messages` (the default hub) and `/api/hubs/{hub}/messages`.
pub async fn send(
    State(state): State<AppState>,
    hub: Hub,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(body).await?;
    let messages = parse_body(&bytes, state.settings().max_batch)?;
    let sent = batch::apply(&messages, state.endpoints()?, &hub).await?;
    Ok(batch::accepted::<Message>(&hub.to_lowercase(), sent))
}
