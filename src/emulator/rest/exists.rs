//! Existence checks (`GET`/`HEAD`): a connection, a user with a connection, a group with a
//! connection, a user in a group. 200 when it exists, else 404 with the service's code.

use axum::http::StatusCode;

use super::{Answer, HubRequest};
use crate::emulator::error::EmulatorError;

/// What a path asks about.
enum Exists {
    Connection(String),
    UserInGroup(String, String),
    User(String),
    Group(String),
}

impl Exists {
    fn parse(request: &HubRequest) -> Option<Self> {
        Some(
            match (request.connection(), request.user(), request.group()) {
                (Some(id), _, _) => Self::Connection(id),
                (None, Some(user), Some(group)) => Self::UserInGroup(user, group),
                (None, Some(user), None) => Self::User(user),
                (None, None, Some(group)) => Self::Group(group),
                (None, None, None) => return None,
            },
        )
    }

    fn apply(self, request: &HubRequest) -> Answer {
        let (hubs, hub) = (&request.shared.hubs, request.hub.as_str());
        let (exists, code, message) = match self {
            Self::Connection(id) => (
                hubs.connection_exists(hub, &id),
                "Warning.Connection.NotExisted",
                format!("connection {id:?} does not exist in hub {hub:?}"),
            ),
            Self::User(user) => (
                hubs.user_exists(hub, &user),
                "Warning.User.NotExisted",
                format!("user {user:?} has no connection in hub {hub:?}"),
            ),
            Self::Group(group) => (
                hubs.group_exists(hub, &group),
                "Warning.Group.NotExisted",
                format!("group {group:?} has no connection in hub {hub:?}"),
            ),
            Self::UserInGroup(user, group) => (
                hubs.user_in_group(hub, &user, &group),
                "Info.User.NotInGroup",
                format!("user {user:?} is not in group {group:?}"),
            ),
        };
        if exists {
            Ok(StatusCode::OK)
        } else {
            Err(EmulatorError::NotFound { code, message })
        }
    }
}

/// Every existence route.
pub async fn handle(request: HubRequest) -> Answer {
    match Exists::parse(&request) {
        Some(exists) => exists.apply(&request),
        None => Err(EmulatorError::BadRequest(
            "the path names no connection, user or group".into(),
        )),
    }
}
