//! Group membership: adding and removing a connection or a user (with an optional `ttl` for a
//! user), and removing either from every group. The dashboard hears which connections' groups
//! may have changed.

use axum::http::StatusCode;

use super::{Answer, HubRequest};
use crate::emulator::error::EmulatorError;
use crate::emulator::hubs::Removal;

/// Who joins or leaves.
enum Member {
    Connection(String),
    User(String),
}

impl Member {
    fn parse(request: &HubRequest) -> Result<Self, EmulatorError> {
        match (request.connection(), request.user()) {
            (Some(id), _) => Ok(Self::Connection(id)),
            (None, Some(user)) => Ok(Self::User(user)),
            (None, None) => Err(EmulatorError::BadRequest(
                "the path names no connection or user".into(),
            )),
        }
    }

    /// The connections whose groups the change may touch, before it happens.
    fn connections(&self, request: &HubRequest) -> Vec<String> {
        match self {
            Self::Connection(id) => vec![id.clone()],
            Self::User(user) => request.shared.hubs.connections_of_user(&request.hub, user),
        }
    }
}

/// Runs a membership change, then tells the dashboard (a refused change changed nothing).
fn changing(request: &HubRequest, change: impl FnOnce(Member) -> Answer) -> Answer {
    let member = Member::parse(request)?;
    let touched = member.connections(request);
    let status = change(member)?;
    let shared = &request.shared;
    shared
        .activity
        .groups_changed(&shared.hubs, &request.hub, &touched);
    Ok(status)
}

fn group(request: &HubRequest) -> Result<String, EmulatorError> {
    request
        .group()
        .ok_or_else(|| EmulatorError::BadRequest("the path names no group".into()))
}

fn no_connection(id: &str, hub: &str) -> EmulatorError {
    EmulatorError::NotFound {
        code: "Warning.Connection.NotExisted",
        message: format!("connection {id:?} does not exist in hub {hub:?}"),
    }
}

/// `PUT …/groups/{group}/connections/{connection}` (200, 404 when the connection does not
/// exist) and `PUT …/users/{user}/groups/{group}` (with `ttl`; 202 in v1, 200 in 2022-06-01).
pub async fn add(request: HubRequest) -> Answer {
    let group = group(&request)?;
    let ttl = request.ttl()?;
    let (hubs, hub) = (&request.shared.hubs, request.hub.as_str());
    changing(&request, |member| match member {
        Member::Connection(id) => match hubs.add_to_group(hub, &group, &id) {
            true => Ok(StatusCode::OK),
            false => Err(EmulatorError::NotFound {
                code: "Error.Connection.NotExisted",
                message: format!("connection {id:?} does not exist in hub {hub:?}"),
            }),
        },
        Member::User(user) => {
            hubs.add_user_to_group(hub, &user, &group, ttl);
            Ok(request.flavor.pick(StatusCode::ACCEPTED, StatusCode::OK))
        }
    })
}

/// `DELETE …/groups/{group}/connections/{connection}` (200, 404 with why) and
/// `DELETE …/users/{user}/groups/{group}` (202 in v1, 204 in 2022-06-01).
pub async fn remove(request: HubRequest) -> Answer {
    let group = group(&request)?;
    let (hubs, hub) = (&request.shared.hubs, request.hub.as_str());
    changing(&request, |member| match member {
        Member::Connection(id) => match hubs.remove_from_group(hub, &group, &id) {
            Removal::Removed => Ok(StatusCode::OK),
            Removal::NoConnection => Err(no_connection(&id, hub)),
            Removal::NotInGroup => Err(EmulatorError::NotFound {
                code: "Info.Connection.NotInGroup",
                message: format!("connection {id:?} is not in group {group:?}"),
            }),
        },
        Member::User(user) => {
            hubs.remove_user_from_group(hub, &user, &group);
            Ok(request
                .flavor
                .pick(StatusCode::ACCEPTED, StatusCode::NO_CONTENT))
        }
    })
}

/// `DELETE …/connections/{connection}/groups` (200) and `DELETE …/users/{user}/groups` (200 in
/// v1, 204 in 2022-06-01).
pub async fn remove_from_all(request: HubRequest) -> Answer {
    let (hubs, hub) = (&request.shared.hubs, request.hub.as_str());
    changing(&request, |member| match member {
        Member::Connection(id) => {
            hubs.remove_from_all_groups(hub, &id);
            Ok(StatusCode::OK)
        }
        Member::User(user) => {
            hubs.remove_user_from_all_groups(hub, &user);
            Ok(request.flavor.pick(StatusCode::OK, StatusCode::NO_CONTENT))
        }
    })
}
