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
use crate::service::rest::{Payload, RestClient, RestError};

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

/// Who receives a message: precedence connection > user > group > everyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// One connection.
    Connection(String),
    /// Every connection of a user.
    User(String),
    /// A group, minus excluded connections.
    Group {
        group: String,
        excluded: Vec<String>,
    },
    /// Everyone in the hub, minus excluded connections.
    All { excluded: Vec<String> },
}

/// A validated message, ready to send.
#[derive(Debug, Clone)]
pub struct Message {
    /// The client method and its arguments.
    pub payload: Payload,
    /// Who receives it.
    pub recipients: Recipients,
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
        let excluded = raw.excluded.unwrap_or_default();
        crate::service::rest::check_excluded(&excluded)?;
        let recipients = if let Some(id) = present(raw.connection_id) {
            names::validate_connection_id(&id)?;
            Recipients::Connection(id)
        } else if let Some(user) = present(raw.user_id) {
            names::validate_user(&user)?;
            Recipients::User(user)
        } else if let Some(group) = present(raw.group_name) {
            names::validate_group(&group)?;
            Recipients::Group { group, excluded }
        } else {
            Recipients::All { excluded }
        };
        Ok(Self {
            payload: Payload {
                target,
                arguments: raw.arguments.unwrap_or_default(),
            },
            recipients,
            endpoints,
        })
    }

    fn check(&self, endpoints: &Endpoints) -> Result<(), ApiError> {
        endpoints.targets(self.endpoints.as_deref()).map(|_| ())
    }

    /// Sends the message to every target endpoint at once.
    async fn apply(&self, endpoints: &Endpoints, hub: &str) -> Result<(), ApiError> {
        let targets = endpoints.targets(self.endpoints.as_deref())?;
        let results =
            fanout::each(&targets, |rest| async move { self.send(&rest, hub).await }).await;
        fanout::all(results, "the message").map(|_| ())
    }
}

impl Message {
    /// Sends the message with one REST call on one endpoint.
    pub async fn send(&self, rest: &RestClient, hub: &str) -> Result<(), RestError> {
        let p = &self.payload;
        match &self.recipients {
            Recipients::Connection(id) => rest.send_to_connection(hub, id, p).await,
            Recipients::User(user) => rest.send_to_user(hub, user, p).await,
            Recipients::Group { group, excluded } => {
                rest.send_to_group(hub, group, p, excluded).await
            }
            Recipients::All { excluded } => rest.send_to_all(hub, p, excluded).await,
        }
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
