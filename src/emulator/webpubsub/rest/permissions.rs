//! A connection's runtime permissions, `…/permissions/{permission}/connections/{connection}`
//! with an optional `targetName` group: `PUT` grants (200; 404 for an unknown connection),
//! `DELETE` revokes (204), `HEAD` checks roles and grants (200 or 404).

use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{Answer, WpsRequest};
use crate::emulator::webpubsub::connections::Connection;
use crate::emulator::webpubsub::error::WpsError;
use crate::emulator::webpubsub::roles::{self, Grant};
use crate::service::names;

/// The permission and the group (none: every group) the request is about.
fn grant_of(request: &WpsRequest) -> Result<Grant, WpsError> {
    let name = request.name("permission").unwrap_or_default();
    let permission = roles::parse_permission(name).ok_or_else(|| {
        WpsError::bad(
            "permission",
            format!("permission {name:?} is unknown; use sendToGroup or joinLeaveGroup"),
        )
    })?;
    let target = request.query.first("targetName").filter(|t| !t.is_empty());
    if let Some(group) = target {
        names::validate_group(group).map_err(|e| WpsError::bad("group", e.to_string()))?;
    }
    Ok((permission, target.map(str::to_string)))
}

/// Runs `f` on the path's connection, then tells the dashboard how it is; `None` when it does
/// not exist.
fn with_connection<R>(request: &WpsRequest, f: impl FnOnce(&mut Connection) -> R) -> Option<R> {
    let id = request.name("connection").unwrap_or_default();
    let result = request.state.connections.with(&request.hub, id, f);
    request.state.connections.changed(id);
    result
}

/// `PUT`: grants the permission.
pub async fn grant(request: WpsRequest) -> Answer {
    let grant = grant_of(&request)?;
    let found = with_connection(&request, |conn| {
        if !conn.grants.contains(&grant) {
            conn.grants.push(grant.clone());
        }
    });
    match found {
        Some(()) => Ok(StatusCode::OK.into_response()),
        None => Err(WpsError::NotFound(format!(
            "connection {:?} does not exist in hub {:?}",
            request.name("connection").unwrap_or_default(),
            request.hub
        ))),
    }
}

/// `DELETE`: revokes it (on the target group only, or on every group without one).
pub async fn revoke(request: WpsRequest) -> Answer {
    let (permission, target) = grant_of(&request)?;
    with_connection(&request, |conn| {
        conn.grants
            .retain(|g| g.0 != permission || (target.is_some() && g.1 != target));
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `HEAD`: whether the connection has it, by a role or a grant.
pub async fn check(request: WpsRequest) -> Answer {
    let (permission, target) = grant_of(&request)?;
    // A copy of the roles and grants is checked outside the registry's lock (a wildcard role
    // may take a while).
    let access = with_connection(&request, |conn| (conn.roles.clone(), conn.grants.clone()));
    let found = access.map(|(roles, grants)| match &target {
        Some(group) => roles::allows(&roles, &grants, permission, group),
        None => {
            grants.iter().any(|g| g.0 == permission && g.1.is_none())
                || roles.iter().any(|r| r == roles::role(permission))
        }
    });
    let status = if found == Some(true) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(status.into_response())
}
