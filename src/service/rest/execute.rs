//! `POST /api/hubs/{hub}/:execute?filter=` (api-version 2024-12-01, the newest that has it;
//! `docs/protocol.md` §4.6): commands applied to every connection an OData filter selects. The
//! filter is parsed with the shared engine ([`crate::service::filter`]) and every command checked
//! before anything is sent, so a mistake is reported with its position instead of a service 400.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::call::{Call, NEWER_API_VERSION};
use super::error::RestError;
use super::paths::HubPath;
use super::{RestClient, MAX_BODY_BYTES};
use crate::service::filter::Filter;
use crate::service::names;

/// The message of a `SendMessage` command: the swagger's `PayloadMessage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandMessage {
    /// The client method to invoke.
    pub target: String,
    /// Its arguments.
    #[serde(default)]
    pub arguments: Vec<Value>,
}

/// One command of `:execute`, serialised as the swagger's `SignalRCommand` types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ExecuteCommand {
    /// Invoke `message.target` on the connection.
    SendMessage {
        /// What to invoke.
        message: CommandMessage,
    },
    /// Add the connection to `group`.
    JoinGroup {
        /// The group (1–1024 characters).
        group: String,
    },
    /// Remove the connection from `group`.
    LeaveGroup {
        /// The group.
        group: String,
    },
    /// Close the connection, telling the client `reason`.
    CloseConnection {
        /// Why, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl ExecuteCommand {
    /// Checks what the service would refuse: an empty target, a bad group name.
    pub fn validate(&self) -> Result<(), RestError> {
        match self {
            Self::SendMessage { message } if message.target.trim().is_empty() => Err(
                RestError::InvalidArgument("SendMessage: message.target is empty".into()),
            ),
            Self::JoinGroup { group } | Self::LeaveGroup { group } => {
                names::validate_group(group)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Checks an OData filter with the shared engine; the error names the position.
pub fn check_filter(filter: &str) -> Result<(), RestError> {
    Filter::parse(filter)
        .map(|_| ())
        .map_err(|e| RestError::InvalidArgument(format!("filter: {e}")))
}

impl RestClient {
    /// Applies `commands`, in order, to each connection of `hub` that `filter` selects (every
    /// connection without one). `POST /api/hubs/{hub}/:execute?filter=`.
    pub async fn execute(
        &self,
        hub: &str,
        filter: Option<&str>,
        commands: &[ExecuteCommand],
    ) -> Result<(), RestError> {
        let mut call = Call::new(
            "execute",
            Method::POST,
            format!("{}/:execute", HubPath::signalr(hub)?),
        );
        call.api_version = NEWER_API_VERSION;
        if let Some(filter) = filter.filter(|f| !f.trim().is_empty()) {
            check_filter(filter)?;
            call = call.query("filter", filter);
        }
        for command in commands {
            command.validate()?;
        }
        let body = serde_json::to_vec(commands)
            .map_err(|e| RestError::InvalidArgument(format!("the commands are not JSON: {e}")))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(RestError::InvalidArgument(format!(
                "the commands are {} bytes as JSON; the service accepts at most {MAX_BODY_BYTES} (1 MB)",
                body.len()
            )));
        }
        self.inner.execute(&call.body(body)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_serialise_as_the_swagger_spells_them() {
        let commands = vec![
            ExecuteCommand::SendMessage {
                message: CommandMessage {
                    target: "newMessage".into(),
                    arguments: vec![json!("hi")],
                },
            },
            ExecuteCommand::JoinGroup { group: "g1".into() },
            ExecuteCommand::LeaveGroup { group: "g2".into() },
            ExecuteCommand::CloseConnection {
                reason: Some("bye".into()),
            },
            ExecuteCommand::CloseConnection { reason: None },
        ];
        assert_eq!(
            serde_json::to_value(&commands).unwrap(),
            json!([
                {"type": "SendMessage", "message": {"target": "newMessage", "arguments": ["hi"]}},
                {"type": "JoinGroup", "group": "g1"},
                {"type": "LeaveGroup", "group": "g2"},
                {"type": "CloseConnection", "reason": "bye"},
                {"type": "CloseConnection"}
            ])
        );
        assert!(check_filter("startswith(userId, 'listener-')").is_ok());
        let error = check_filter("userId eq").unwrap_err().to_string();
        assert!(error.contains("position"), "{error}");
    }
}
