//! One `WebPubSubAction` (reference §9.2), the JSON the Functions extension's `webPubSub` output
//! binding takes: `actionName` (any letter case) and that action's fields, camelCase, matched
//! ignoring case. `dataType` is `text` (default), `json` or `binary`, by name in any case or by
//! number (binary=0, json=1, text=2); `data` is a JSON string for text and json, and the Node
//! Buffer form `{"type":"Buffer","data":[bytes…]}` for binary. A field that the action does not
//! take is refused, so a typo cannot turn a send to one user into a broadcast.

use serde::Deserialize;
use serde_json::Value;

use crate::app::batch::Command;
use crate::app::body::present;
use crate::app::error::ApiError;
use crate::service::names;
use crate::service::rest::{check_excluded, RestError};
use crate::service::webpubsub::rest::SendOptions;
use crate::service::webpubsub::{Content, Permission, WebPubSubClient};

/// Field names of an action; keys are matched case-insensitively.
pub const FIELDS: &[&str] = &[
    "actionName",
    "data",
    "dataType",
    "excluded",
    "group",
    "userId",
    "connectionId",
    "reason",
    "permission",
    "targetName",
];

/// The action as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawAction {
    action_name: Option<String>,
    data: Option<Value>,
    data_type: Option<Value>,
    excluded: Option<Vec<String>>,
    group: Option<String>,
    user_id: Option<String>,
    connection_id: Option<String>,
    reason: Option<String>,
    permission: Option<Value>,
    target_name: Option<String>,
}

/// A validated action, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `sendToAll`.
    SendToAll {
        content: Content,
        excluded: Vec<String>,
    },
    /// `sendToGroup`.
    SendToGroup {
        group: String,
        content: Content,
        excluded: Vec<String>,
    },
    /// `sendToUser`.
    SendToUser { user: String, content: Content },
    /// `sendToConnection`.
    SendToConnection {
        connection_id: String,
        content: Content,
    },
    /// `addUserToGroup`.
    AddUserToGroup { user: String, group: String },
    /// `removeUserFromGroup`.
    RemoveUserFromGroup { user: String, group: String },
    /// `removeUserFromAllGroups`.
    RemoveUserFromAllGroups { user: String },
    /// `addConnectionToGroup`.
    AddConnectionToGroup {
        connection_id: String,
        group: String,
    },
    /// `removeConnectionFromGroup`.
    RemoveConnectionFromGroup {
        connection_id: String,
        group: String,
    },
    /// `closeAllConnections`.
    CloseAllConnections {
        excluded: Vec<String>,
        reason: Option<String>,
    },
    /// `closeClientConnection`.
    CloseClientConnection {
        connection_id: String,
        reason: Option<String>,
    },
    /// `closeGroupConnections`.
    CloseGroupConnections {
        group: String,
        excluded: Vec<String>,
        reason: Option<String>,
    },
    /// `grantPermission`.
    GrantPermission {
        connection_id: String,
        permission: Permission,
        target: Option<String>,
    },
    /// `revokePermission`.
    RevokePermission {
        connection_id: String,
        permission: Permission,
        target: Option<String>,
    },
}

/// Every action name, as the extension spells it, with the fields each takes.
const ACTIONS: &[(&str, &[&str])] = &[
    ("sendToAll", &["data", "dataType", "excluded"]),
    ("sendToGroup", &["group", "data", "dataType", "excluded"]),
    ("sendToUser", &["userId", "data", "dataType"]),
    ("sendToConnection", &["connectionId", "data", "dataType"]),
    ("addUserToGroup", &["userId", "group"]),
    ("removeUserFromGroup", &["userId", "group"]),
    ("removeUserFromAllGroups", &["userId"]),
    ("addConnectionToGroup", &["connectionId", "group"]),
    ("removeConnectionFromGroup", &["connectionId", "group"]),
    ("closeAllConnections", &["excluded", "reason"]),
    ("closeClientConnection", &["connectionId", "reason"]),
    ("closeGroupConnections", &["group", "excluded", "reason"]),
    (
        "grantPermission",
        &["connectionId", "permission", "targetName"],
    ),
    (
        "revokePermission",
        &["connectionId", "permission", "targetName"],
    ),
];

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidAction", message)
}

impl RawAction {
    /// The fields given (not null), by canonical name.
    fn given(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let pairs: [(&'static str, bool); 9] = [
            ("data", self.data.as_ref().is_some_and(|v| !v.is_null())),
            (
                "dataType",
                self.data_type.as_ref().is_some_and(|v| !v.is_null()),
            ),
            ("excluded", self.excluded.is_some()),
            ("group", self.group.is_some()),
            ("userId", self.user_id.is_some()),
            ("connectionId", self.connection_id.is_some()),
            ("reason", self.reason.is_some()),
            (
                "permission",
                self.permission.as_ref().is_some_and(|v| !v.is_null()),
            ),
            ("targetName", self.target_name.is_some()),
        ];
        for (name, present) in pairs {
            if present {
                out.push(name);
            }
        }
        out
    }
}

impl Command for Action {
    type Raw = RawAction;
    type Service = WebPubSubClient;
    const NOUN: &'static str = "action";
    const DONE: &'static str = "applied";
    const FIELDS: &'static [&'static str] = FIELDS;

    /// Validates one action.
    fn parse(raw: RawAction) -> Result<Self, ApiError> {
        let name = present(raw.action_name.clone()).ok_or_else(|| {
            bad(format!(
                "actionName is missing; use one of {}",
                names_list()
            ))
        })?;
        let (canonical, takes) = ACTIONS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                let shown: String = name.chars().take(64).collect();
                bad(format!(
                    "actionName {shown:?} is not supported; use one of {}",
                    names_list()
                ))
            })?;
        for field in raw.given() {
            if !takes.contains(&field) {
                return Err(bad(format!(
                    "{field} is not a field of {canonical}; it takes {}",
                    takes.join(", ")
                )));
            }
        }
        let excluded = raw.excluded.clone().unwrap_or_default();
        check_excluded(&excluded)?;
        let reason = raw.reason.clone().filter(|r| !r.is_empty());
        let group = || {
            required(raw.group.clone(), "group", canonical).and_then(|g| {
                names::validate_group(&g)?;
                Ok(g)
            })
        };
        let user = || {
            required(raw.user_id.clone(), "userId", canonical).and_then(|u| {
                names::validate_user(&u)?;
                Ok(u)
            })
        };
        let connection = || {
            required(raw.connection_id.clone(), "connectionId", canonical).and_then(|c| {
                names::validate_connection_id(&c)?;
                Ok(c)
            })
        };
        let content = || content(raw.data.as_ref(), raw.data_type.as_ref());
        let permission = || {
            let target = present(raw.target_name.clone());
            if let Some(t) = &target {
                names::validate_group(t).map_err(|e| ApiError::from(e).context("targetName"))?;
            }
            Ok::<_, ApiError>((permission(raw.permission.as_ref())?, target))
        };
        Ok(match *canonical {
            "sendToAll" => Self::SendToAll {
                content: content()?,
                excluded,
            },
            "sendToGroup" => Self::SendToGroup {
                group: group()?,
                content: content()?,
                excluded,
            },
            "sendToUser" => Self::SendToUser {
                user: user()?,
                content: content()?,
            },
            "sendToConnection" => Self::SendToConnection {
                connection_id: connection()?,
                content: content()?,
            },
            "addUserToGroup" => Self::AddUserToGroup {
                user: user()?,
                group: group()?,
            },
            "removeUserFromGroup" => Self::RemoveUserFromGroup {
                user: user()?,
                group: group()?,
            },
            "removeUserFromAllGroups" => Self::RemoveUserFromAllGroups { user: user()? },
            "addConnectionToGroup" => Self::AddConnectionToGroup {
                connection_id: connection()?,
                group: group()?,
            },
            "removeConnectionFromGroup" => Self::RemoveConnectionFromGroup {
                connection_id: connection()?,
                group: group()?,
            },
            "closeAllConnections" => Self::CloseAllConnections { excluded, reason },
            "closeClientConnection" => Self::CloseClientConnection {
                connection_id: connection()?,
                reason,
            },
            "closeGroupConnections" => Self::CloseGroupConnections {
                group: group()?,
                excluded,
                reason,
            },
            "grantPermission" => {
                let (permission, target) = permission()?;
                Self::GrantPermission {
                    connection_id: connection()?,
                    permission,
                    target,
                }
            }
            _ => {
                let (permission, target) = permission()?;
                Self::RevokePermission {
                    connection_id: connection()?,
                    permission,
                    target,
                }
            }
        })
    }

    /// One service, no endpoints to name: always goes.
    fn check(&self, _rest: &WebPubSubClient) -> Result<(), ApiError> {
        Ok(())
    }

    async fn apply(&self, rest: &WebPubSubClient, hub: &str) -> Result<(), ApiError> {
        Ok(self.call(rest, hub).await?)
    }
}

impl Action {
    /// Applies the action with one REST call.
    pub async fn call(&self, rest: &WebPubSubClient, hub: &str) -> Result<(), RestError> {
        let send = |excluded: &Vec<String>| SendOptions {
            excluded: excluded.clone(),
            ..Default::default()
        };
        match self {
            Self::SendToAll { content, excluded } => {
                rest.send_to_all(hub, content, &send(excluded)).await
            }
            Self::SendToGroup {
                group,
                content,
                excluded,
            } => {
                rest.send_to_group(hub, group, content, &send(excluded))
                    .await
            }
            Self::SendToUser { user, content } => {
                rest.send_to_user(hub, user, content, &SendOptions::default())
                    .await
            }
            Self::SendToConnection {
                connection_id,
                content,
            } => {
                rest.send_to_connection(hub, connection_id, content, &SendOptions::default())
                    .await
            }
            Self::AddUserToGroup { user, group } => rest.add_user_to_group(hub, group, user).await,
            Self::RemoveUserFromGroup { user, group } => {
                rest.remove_user_from_group(hub, group, user).await
            }
            Self::RemoveUserFromAllGroups { user } => {
                rest.remove_user_from_all_groups(hub, user).await
            }
            Self::AddConnectionToGroup {
                connection_id,
                group,
            } => {
                rest.add_connection_to_group(hub, group, connection_id)
                    .await
            }
            Self::RemoveConnectionFromGroup {
                connection_id,
                group,
            } => {
                rest.remove_connection_from_group(hub, group, connection_id)
                    .await
            }
            Self::CloseAllConnections { excluded, reason } => {
                rest.close_all(hub, excluded, reason.as_deref()).await
            }
            Self::CloseClientConnection {
                connection_id,
                reason,
            } => {
                rest.close_connection(hub, connection_id, reason.as_deref())
                    .await
            }
            Self::CloseGroupConnections {
                group,
                excluded,
                reason,
            } => {
                rest.close_group(hub, group, excluded, reason.as_deref())
                    .await
            }
            Self::GrantPermission {
                connection_id,
                permission,
                target,
            } => {
                rest.grant_permission(hub, *permission, connection_id, target.as_deref())
                    .await
            }
            Self::RevokePermission {
                connection_id,
                permission,
                target,
            } => {
                rest.revoke_permission(hub, *permission, connection_id, target.as_deref())
                    .await
            }
        }
    }
}

fn names_list() -> String {
    ACTIONS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn required(value: Option<String>, field: &str, action: &str) -> Result<String, ApiError> {
    present(value).ok_or_else(|| bad(format!("{field} is missing; {action} needs it")))
}

/// The dataType: a name in any case or the extension's number.
fn data_type(value: Option<&Value>) -> Result<&'static str, ApiError> {
    let refuse = || bad("dataType must be text, json or binary (or 2, 1, 0)");
    match value {
        None | Some(Value::Null) => Ok("text"),
        Some(Value::String(s)) => ["text", "json", "binary"]
            .into_iter()
            .find(|t| t.eq_ignore_ascii_case(s.trim()))
            .ok_or_else(refuse),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok("binary"),
            Some(1) => Ok("json"),
            Some(2) => Ok("text"),
            _ => Err(refuse()),
        },
        Some(_) => Err(refuse()),
    }
}

/// `data` read as the dataType says, checked (JSON parses, at most 1 MB).
fn content(data: Option<&Value>, kind: Option<&Value>) -> Result<Content, ApiError> {
    let kind = data_type(kind)?;
    let data = data
        .filter(|v| !v.is_null())
        .ok_or_else(|| bad("data is missing; send the message in data"))?;
    let content = match (kind, data) {
        ("text", Value::String(s)) => Content::Text(s.clone()),
        ("json", Value::String(s)) => Content::Json(s.clone()),
        ("text" | "json", _) => {
            return Err(bad(format!(
                "data must be a JSON string for dataType {kind}; stringify objects first (JSON.stringify)"
            )))
        }
        (_, value) => Content::Binary(buffer(value)?),
    };
    content.check()?;
    Ok(content)
}

/// The bytes of Node's Buffer JSON form, `{"type":"Buffer","data":[0..=255, …]}`.
fn buffer(value: &Value) -> Result<Vec<u8>, ApiError> {
    let refuse = || {
        bad(
            r#"data for dataType binary must be a Node Buffer as JSON: {"type":"Buffer","data":[bytes 0-255]}"#,
        )
    };
    let Value::Object(map) = value else {
        return Err(refuse());
    };
    let kind = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("type"))
        .map(|(_, v)| v);
    let data = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("data"))
        .map(|(_, v)| v);
    if map.len() != 2 || kind.and_then(Value::as_str) != Some("Buffer") {
        return Err(refuse());
    }
    let Some(Value::Array(items)) = data else {
        return Err(refuse());
    };
    items
        .iter()
        .map(|b| {
            b.as_u64()
                .and_then(|b| u8::try_from(b).ok())
                .ok_or_else(refuse)
        })
        .collect()
}

fn permission(value: Option<&Value>) -> Result<Permission, ApiError> {
    let refuse = || bad("permission must be sendToGroup or joinLeaveGroup (or 1, 2)");
    match value {
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("sendToGroup") => {
            Ok(Permission::SendToGroup)
        }
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("joinLeaveGroup") => {
            Ok(Permission::JoinLeaveGroup)
        }
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Permission::SendToGroup),
        Some(Value::Number(n)) if n.as_u64() == Some(2) => Ok(Permission::JoinLeaveGroup),
        None | Some(Value::Null) => Err(bad(
            "permission is missing; use sendToGroup or joinLeaveGroup",
        )),
        Some(_) => Err(refuse()),
    }
}
