//! `POST /api/groups` and `/api/hubs/{hub}/groups`: the `SignalRGroupAction` JSON of the official
//! output binding (one object or an array) — add / remove / removeAll for a user or a connection,
//! with an optional `ttl` for users — validated into [`GroupAction`]s, then applied in order.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::batch::{self, Command};
use super::body::{self, present};
use super::endpoints::{fanout, narrow, Endpoint, Endpoints};
use super::error::ApiError;
use super::hub::Hub;
use super::AppState;
use crate::service::names;
use crate::service::rest::{check_ttl, RestClient, RestError};

const FIELDS: &[&str] = &[
    "action",
    "userId",
    "connectionId",
    "groupName",
    "ttl",
    "endpoints",
];

/// The binding's `SignalRGroupAction`, as sent ([`TargetedAction`] once validated).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawGroupAction {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(default)]
    group_name: Option<String>,
    #[serde(default)]
    ttl: Option<u32>,
    /// The endpoints to act on (all when absent), as the binding's endpoint objects or names.
    #[serde(default)]
    endpoints: Option<Value>,
}

/// A validated group action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupAction {
    /// Add a user (all its current and future connections) to a group, optionally for `ttl` seconds.
    AddUser {
        user: String,
        group: String,
        ttl: Option<u32>,
    },
    /// Remove a user from a group.
    RemoveUser { user: String, group: String },
    /// Remove a user from every group.
    RemoveUserFromAll { user: String },
    /// Add a connection to a group.
    AddConnection { connection: String, group: String },
    /// Remove a connection from a group.
    RemoveConnection { connection: String, group: String },
    /// Remove a connection from every group.
    RemoveConnectionFromAll { connection: String },
}

impl GroupAction {
    fn parse(raw: RawGroupAction) -> Result<Self, ApiError> {
        let bad = |m: String| ApiError::bad_request("InvalidGroupAction", m);
        let action = present(raw.action)
            .ok_or_else(|| bad("action is missing: use add, remove or removeAll".into()))?;
        let kind = match action.to_ascii_lowercase().as_str() {
            "add" => Kind::Add,
            "remove" => Kind::Remove,
            "removeall" => Kind::RemoveAll,
            _ => {
                return Err(bad(format!(
                    "action {action:?} is not one of add, remove, removeAll"
                )))
            }
        };
        let group = present(raw.group_name);
        let group = |kind: Kind| -> Result<String, ApiError> {
            let g = group
                .clone()
                .ok_or_else(|| bad(format!("groupName is required to {}", kind.verb())))?;
            names::validate_group(&g)?;
            Ok(g)
        };
        if let Some(connection) = present(raw.connection_id) {
            names::validate_connection_id(&connection)?;
            if raw.ttl.is_some() {
                return Err(bad(
                    "ttl applies to users only; remove it or use userId".into()
                ));
            }
            return Ok(match kind {
                Kind::Add => Self::AddConnection {
                    group: group(kind)?,
                    connection,
                },
                Kind::Remove => Self::RemoveConnection {
                    group: group(kind)?,
                    connection,
                },
                Kind::RemoveAll => Self::RemoveConnectionFromAll { connection },
            });
        }
        let user =
            present(raw.user_id).ok_or_else(|| bad("connectionId or userId is required".into()))?;
        names::validate_user(&user)?;
        if raw.ttl.is_some() && kind != Kind::Add {
            return Err(bad("ttl only applies to add".into()));
        }
        // Checked here, with the rest of the batch, so that no earlier action has been applied
        // when the REST client would refuse it.
        if let Some(ttl) = raw.ttl {
            check_ttl(ttl).map_err(|e| bad(e.to_string()))?;
        }
        Ok(match kind {
            Kind::Add => Self::AddUser {
                group: group(kind)?,
                user,
                ttl: raw.ttl,
            },
            Kind::Remove => Self::RemoveUser {
                group: group(kind)?,
                user,
            },
            Kind::RemoveAll => Self::RemoveUserFromAll { user },
        })
    }

    /// Applies the action with one REST call on one endpoint. `false` when adding a connection
    /// that this endpoint does not have (it may be connected to another endpoint).
    pub async fn call(&self, rest: &RestClient, hub: &str) -> Result<bool, RestError> {
        match self {
            Self::AddUser { user, group, ttl } => {
                rest.add_user_to_group(hub, group, user, *ttl).await?
            }
            Self::RemoveUser { user, group } => {
                rest.remove_user_from_group(hub, group, user).await?
            }
            Self::RemoveUserFromAll { user } => rest.remove_user_from_all_groups(hub, user).await?,
            Self::AddConnection { connection, group } => {
                return rest.add_connection_to_group(hub, group, connection).await
            }
            Self::RemoveConnection { connection, group } => {
                rest.remove_connection_from_group(hub, group, connection)
                    .await?
            }
            Self::RemoveConnectionFromAll { connection } => {
                rest.remove_connection_from_all_groups(hub, connection)
                    .await?
            }
        }
        Ok(true)
    }

    /// Applies the action on every target endpoint at once. Adding a connection succeeds when
    /// one endpoint has it, and is a 404 `ConnectionNotFound` when none does.
    pub async fn apply(&self, targets: &[&Endpoint], hub: &str) -> Result<(), ApiError> {
        let results =
            fanout::each(targets, |rest| async move { self.call(&rest, hub).await }).await;
        let Self::AddConnection { connection, .. } = self else {
            return fanout::all(results, "the group action").map(|_| ());
        };
        if fanout::any(results, "the group action")? {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "ConnectionNotFound",
                format!("connection {connection:?} is not connected to hub {hub:?}"),
            ))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Remove,
    RemoveAll,
}

impl Kind {
    fn verb(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::RemoveAll => "remove from all groups",
        }
    }
}

/// A group action and the endpoints it goes to: one item of a `/api/groups` batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetedAction {
    /// What to do.
    pub action: GroupAction,
    /// The endpoints it goes to, by name (`None` = every endpoint).
    pub endpoints: Option<Vec<String>>,
}

impl Command for TargetedAction {
    type Raw = RawGroupAction;
    type Service = Endpoints;
    const NOUN: &'static str = "group action";
    const DONE: &'static str = "applied";
    const FIELDS: &'static [&'static str] = FIELDS;

    fn parse(raw: RawGroupAction) -> Result<Self, ApiError> {
        let endpoints = narrow::names(raw.endpoints.as_ref())?;
        Ok(Self {
            action: GroupAction::parse(raw)?,
            endpoints,
        })
    }

    fn check(&self, endpoints: &Endpoints) -> Result<(), ApiError> {
        endpoints.targets(self.endpoints.as_deref()).map(|_| ())
    }

    async fn apply(&self, endpoints: &Endpoints, hub: &str) -> Result<(), ApiError> {
        let targets = endpoints.targets(self.endpoints.as_deref())?;
        self.action.apply(&targets, hub).await
    }
}

/// Parses a request body into group actions.
pub fn parse_body(bytes: &[u8], max: usize) -> Result<Vec<TargetedAction>, ApiError> {
    batch::parse(bytes, max)
}

/// Handler of `/api/groups` (the default hub) and `/api/hubs/{hub}/groups`.
pub async fn apply(
    State(state): State<AppState>,
    hub: Hub,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(body).await?;
    let actions = parse_body(&bytes, state.settings().max_batch)?;
    let applied = batch::apply(&actions, state.endpoints()?, &hub).await?;
    Ok(batch::accepted::<TargetedAction>(
        &hub.to_lowercase(),
        applied,
    ))
}
