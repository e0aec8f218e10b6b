//! A `WebPubSubAction` as sent, the JSON the Functions extension's `webPubSub` output binding
//! takes (`docs/webpubsub.md` §7.2): `actionName` (any letter case) and that action's fields,
//! camelCase, matched ignoring case, and how each field is read and checked. `dataType` is `text`
//! (default), `json` or `binary`, by name in any case or by number (binary=0, json=1, text=2);
//! `data` is a JSON string for text and json, and the Node Buffer form
//! `{"type":"Buffer","data":[bytes…]}` for binary. An OData `filter` (on `sendToAll`,
//! `addConnectionsToGroups`, `removeConnectionsFromGroups`) is checked with the shared engine. A field that the action does not take is
//! refused, so a typo cannot turn a send to one user into a broadcast.

use serde::Deserialize;
use serde_json::Value;

use crate::app::body::present;
use crate::app::error::ApiError;
use crate::service::filter::Filter;
use crate::service::names;
use crate::service::webpubsub::{Content, Permission};

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
    "filter",
    "groups",
];

/// The action as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawAction {
    action_name: Option<String>,
    data: Option<Value>,
    data_type: Option<Value>,
    pub(super) excluded: Option<Vec<String>>,
    group: Option<String>,
    user_id: Option<String>,
    connection_id: Option<String>,
    pub(super) reason: Option<String>,
    permission: Option<Value>,
    target_name: Option<String>,
    filter: Option<String>,
    groups: Option<Vec<String>>,
}

/// Every action name, as the extension spells it, with the fields each takes.
const ACTIONS: &[(&str, &[&str])] = &[
    ("sendToAll", &["data", "dataType", "excluded", "filter"]),
    ("sendToGroup", &["group", "data", "dataType", "excluded"]),
    ("sendToUser", &["userId", "data", "dataType"]),
    ("sendToConnection", &["connectionId", "data", "dataType"]),
    ("addUserToGroup", &["userId", "group"]),
    ("removeUserFromGroup", &["userId", "group"]),
    ("removeUserFromAllGroups", &["userId"]),
    ("addConnectionToGroup", &["connectionId", "group"]),
    ("removeConnectionFromGroup", &["connectionId", "group"]),
    ("addConnectionsToGroups", &["groups", "filter"]),
    ("removeConnectionsFromGroups", &["groups", "filter"]),
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
        let pairs: [(&'static str, bool); 11] = [
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
            ("filter", self.filter.is_some()),
            ("groups", self.groups.is_some()),
        ];
        for (name, present) in pairs {
            if present {
                out.push(name);
            }
        }
        out
    }
}

impl RawAction {
    /// The action it names (as the extension spells it), once its fields are checked: each
    /// given field must be one the action takes.
    pub(super) fn action(&self) -> Result<&'static str, ApiError> {
        let name = present(self.action_name.clone()).ok_or_else(|| {
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
        for field in self.given() {
            if !takes.contains(&field) {
                return Err(bad(format!(
                    "{field} is not a field of {canonical}; it takes {}",
                    takes.join(", ")
                )));
            }
        }
        Ok(canonical)
    }

    /// `group`, required by `action` and valid.
    pub(super) fn group(&self, action: &str) -> Result<String, ApiError> {
        let group = required(self.group.clone(), "group", action)?;
        names::validate_group(&group)?;
        Ok(group)
    }

    /// `userId`, required by `action` and valid.
    pub(super) fn user(&self, action: &str) -> Result<String, ApiError> {
        let user = required(self.user_id.clone(), "userId", action)?;
        names::validate_user(&user)?;
        Ok(user)
    }

    /// `connectionId`, required by `action` and valid.
    pub(super) fn connection(&self, action: &str) -> Result<String, ApiError> {
        let id = required(self.connection_id.clone(), "connectionId", action)?;
        names::validate_connection_id(&id)?;
        Ok(id)
    }

    /// `filter`, when given and not blank, checked with the OData engine the service uses
    /// (`400 InvalidFilter` naming the position of the mistake).
    pub(super) fn filter(&self) -> Result<Option<String>, ApiError> {
        let Some(text) = present(self.filter.clone()).filter(|f| !f.trim().is_empty()) else {
            return Ok(None);
        };
        Filter::parse(&text).map_err(|e| {
            ApiError::bad_request("InvalidFilter", format!("filter: {e}"))
                .with_details(serde_json::json!({ "position": e.position }))
        })?;
        Ok(Some(text))
    }

    /// `groups` and `filter`, both required by `action`, every group valid.
    pub(super) fn groups_and_filter(
        &self,
        action: &str,
    ) -> Result<(Vec<String>, String), ApiError> {
        let groups = self.groups.clone().unwrap_or_default();
        if groups.is_empty() {
            return Err(bad(format!(
                "groups is missing or empty; {action} needs it"
            )));
        }
        for group in &groups {
            names::validate_group(group)?;
        }
        let filter = self
            .filter()?
            .ok_or_else(|| bad(format!("filter is missing; {action} needs it")))?;
        Ok((groups, filter))
    }

    /// `data` read as `dataType` says.
    pub(super) fn content(&self) -> Result<Content, ApiError> {
        content(self.data.as_ref(), self.data_type.as_ref())
    }

    /// `permission` and the group `targetName` it is for (every group when absent).
    pub(super) fn permission(&self) -> Result<(Permission, Option<String>), ApiError> {
        let target = present(self.target_name.clone());
        if let Some(t) = &target {
            names::validate_group(t).map_err(|e| ApiError::from(e).context("targetName"))?;
        }
        Ok((permission(self.permission.as_ref())?, target))
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
