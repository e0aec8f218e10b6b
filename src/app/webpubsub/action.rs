//! One `WebPubSubAction` (`docs/webpubsub.md` §7.2), validated from its JSON
//! ([`super::raw_action`]) into an [`Action`]: a send or a close names its [`Recipients`] (with
//! the excluded connections beside them), the group and permission actions their user or
//! connection. Each is one item of the batch pipeline ([`crate::app::batch`]), applied with one
//! REST call.

use crate::app::batch::Command;
use crate::app::error::ApiError;
use crate::service::recipients::Recipients;
use crate::service::rest::{check_excluded, RestError};
use crate::service::webpubsub::rest::SendOptions;
use crate::service::webpubsub::{Content, Permission, WebPubSubClient};

use super::raw_action::{RawAction, FIELDS};

/// A validated action, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `sendToAll`, `sendToGroup`, `sendToUser`, `sendToConnection`.
    Send {
        recipients: Recipients,
        content: Content,
        /// Connections that do not receive it (everyone or a group only).
        excluded: Vec<String>,
        /// An OData filter over the recipients (`sendToAll` only).
        filter: Option<String>,
    },
    /// `closeAllConnections`, `closeGroupConnections`, `closeClientConnection`.
    Close {
        recipients: Recipients,
        /// Connections left open (everyone or a group only).
        excluded: Vec<String>,
        reason: Option<String>,
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
    /// `addConnectionsToGroups`: the connections `filter` selects join every one of `groups`.
    AddConnectionsToGroups { groups: Vec<String>, filter: String },
    /// `removeConnectionsFromGroups`: the connections `filter` selects leave `groups`.
    RemoveConnectionsFromGroups { groups: Vec<String>, filter: String },
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

impl Command for Action {
    type Raw = RawAction;
    type Service = WebPubSubClient;
    const NOUN: &'static str = "action";
    const DONE: &'static str = "applied";
    const FIELDS: &'static [&'static str] = FIELDS;

    /// Validates one action.
    fn parse(raw: RawAction) -> Result<Self, ApiError> {
        let name = raw.action()?;
        let excluded = raw.excluded.clone().unwrap_or_default();
        check_excluded(&excluded)?;
        let reason = raw.reason.clone().filter(|r| !r.is_empty());
        let filter = raw.filter()?;
        let send = |recipients: Recipients, content: Content| Self::Send {
            recipients,
            content,
            excluded: excluded.clone(),
            filter: filter.clone(),
        };
        let close = |recipients: Recipients| Self::Close {
            recipients,
            excluded: excluded.clone(),
            reason: reason.clone(),
        };
        Ok(match name {
            "sendToAll" => send(Recipients::All, raw.content()?),
            "sendToGroup" => send(Recipients::Group(raw.group(name)?), raw.content()?),
            "sendToUser" => send(Recipients::User(raw.user(name)?), raw.content()?),
            "sendToConnection" => send(
                Recipients::Connection(raw.connection(name)?),
                raw.content()?,
            ),
            "closeAllConnections" => close(Recipients::All),
            "closeGroupConnections" => close(Recipients::Group(raw.group(name)?)),
            "closeClientConnection" => close(Recipients::Connection(raw.connection(name)?)),
            "addUserToGroup" => Self::AddUserToGroup {
                user: raw.user(name)?,
                group: raw.group(name)?,
            },
            "removeUserFromGroup" => Self::RemoveUserFromGroup {
                user: raw.user(name)?,
                group: raw.group(name)?,
            },
            "removeUserFromAllGroups" => Self::RemoveUserFromAllGroups {
                user: raw.user(name)?,
            },
            "addConnectionToGroup" => Self::AddConnectionToGroup {
                connection_id: raw.connection(name)?,
                group: raw.group(name)?,
            },
            "removeConnectionFromGroup" => Self::RemoveConnectionFromGroup {
                connection_id: raw.connection(name)?,
                group: raw.group(name)?,
            },
            "addConnectionsToGroups" => {
                let (groups, filter) = raw.groups_and_filter(name)?;
                Self::AddConnectionsToGroups { groups, filter }
            }
            "removeConnectionsFromGroups" => {
                let (groups, filter) = raw.groups_and_filter(name)?;
                Self::RemoveConnectionsFromGroups { groups, filter }
            }
            "grantPermission" => {
                let (permission, target) = raw.permission()?;
                Self::GrantPermission {
                    connection_id: raw.connection(name)?,
                    permission,
                    target,
                }
            }
            _ => {
                let (permission, target) = raw.permission()?;
                Self::RevokePermission {
                    connection_id: raw.connection(name)?,
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
        match self {
            Self::Send {
                recipients,
                content,
                excluded,
                filter,
            } => {
                let options = SendOptions {
                    excluded: excluded.clone(),
                    filter: filter.clone(),
                    ..SendOptions::default()
                };
                rest.send(hub, recipients, content, &options).await
            }
            Self::Close {
                recipients,
                excluded,
                reason,
            } => {
                rest.close(hub, recipients, excluded, reason.as_deref())
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
            Self::AddConnectionsToGroups { groups, filter } => {
                rest.add_connections_to_groups(hub, groups, filter).await
            }
            Self::RemoveConnectionsFromGroups { groups, filter } => {
                rest.remove_connections_from_groups(hub, groups, filter)
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
