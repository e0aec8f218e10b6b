//! The service's data-plane REST API, api-version 2022-06-01 (`/api/hubs/…`) and v1
//! (`/api/v1/hubs/…`): route the path to one operation, check the token, validate names and body,
//! apply it to the hub state, answer with the documented status. Like Microsoft's emulator, every
//! path shape is accepted under both prefixes; the status codes follow the prefix's swagger.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::activity::{now_ms, Sent};
use super::auth::{self, Audience};
use super::error::EmulatorError;
use super::hubs::Removal;
use super::outgoing::Outgoing;
use super::payload::Payload;
use super::recipients::Recipients;
use super::request::{read_body, Query};
use super::Shared;
use crate::service::hub_protocol::HubMessage;
use crate::service::names;

/// Which API generation a request used; it decides some success codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    V1,
    V2022,
}

/// One REST operation, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Health,
    Send(Recipients),
    CloseConnections(Recipients),
    CloseConnection(String),
    ConnectionExists(String),
    UserExists(String),
    GroupExists(String),
    UserInGroup(String, String),
    AddConnection(String, String),
    RemoveConnection(String, String),
    RemoveConnectionFromAll(String),
    AddUser(String, String),
    RemoveUser(String, String),
    RemoveUserFromAll(String),
}

const HEAD_GET: &str = "GET, HEAD";

/// Matches `method` against the operations one path shape offers.
fn pick(
    method: &Method,
    allowed: &'static str,
    ops: &[(&Method, Op)],
) -> Result<Op, EmulatorError> {
    let head_as_get = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    ops.iter()
        .find(|(m, _)| *m == method || *m == head_as_get)
        .map(|(_, op)| op.clone())
        .ok_or_else(|| EmulatorError::MethodNotAllowed {
            method: method.to_string(),
            allowed,
        })
}

/// Resolves the hub and the operation of a path (segments after `/api` or `/api/v1`).
fn route(method: &Method, path: &str) -> Result<(Flavor, Option<String>, Op), EmulatorError> {
    let no_route = || EmulatorError::NoRoute(path.to_string());
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (flavor, rest) = match seg.as_slice() {
        ["api", v, rest @ ..] if v.eq_ignore_ascii_case("v1") => (Flavor::V1, rest),
        ["api", rest @ ..] => (Flavor::V2022, rest),
        _ => return Err(no_route()),
    };
    let (hub, tail) = match rest {
        ["health"] => {
            return pick(method, HEAD_GET, &[(&Method::GET, Op::Health)])
                .map(|op| (flavor, None, op))
        }
        ["hubs", hub, tail @ ..] => (hub.to_string(), tail),
        _ => return Err(no_route()),
    };
    let s = |v: &str| v.to_string();
    let (get, post, put, delete) = (&Method::GET, &Method::POST, &Method::PUT, &Method::DELETE);
    let op = match tail {
        [] => pick(method, "POST", &[(post, Op::Send(Recipients::All))]),
        [":send"] => pick(method, "POST", &[(post, Op::Send(Recipients::All))]),
        [":closeConnections"] => pick(
            method,
            "POST",
            &[(post, Op::CloseConnections(Recipients::All))],
        ),
        ["connections", id] => pick(
            method,
            "GET, HEAD, POST, DELETE",
            &[
                (get, Op::ConnectionExists(s(id))),
                (post, Op::Send(Recipients::Connection(s(id)))),
                (delete, Op::CloseConnection(s(id))),
            ],
        ),
        ["connections", id, ":send"] => pick(
            method,
            "POST",
            &[(post, Op::Send(Recipients::Connection(s(id))))],
        ),
        ["connections", id, "groups"] => pick(
            method,
            "DELETE",
            &[(delete, Op::RemoveConnectionFromAll(s(id)))],
        ),
        ["connections", id, "groups", g] | ["groups", g, "connections", id] => pick(
            method,
            "PUT, DELETE",
            &[
                (put, Op::AddConnection(s(g), s(id))),
                (delete, Op::RemoveConnection(s(g), s(id))),
            ],
        ),
        ["groups", g] => pick(
            method,
            "GET, HEAD, POST",
            &[
                (get, Op::GroupExists(s(g))),
                (post, Op::Send(Recipients::Group(s(g)))),
            ],
        ),
        ["groups", g, ":send"] => {
            pick(method, "POST", &[(post, Op::Send(Recipients::Group(s(g))))])
        }
        ["groups", g, ":closeConnections"] => pick(
            method,
            "POST",
            &[(post, Op::CloseConnections(Recipients::Group(s(g))))],
        ),
        ["users", u] => pick(
            method,
            "GET, HEAD, POST",
            &[
                (get, Op::UserExists(s(u))),
                (post, Op::Send(Recipients::User(s(u)))),
            ],
        ),
        ["users", u, ":send"] => pick(method, "POST", &[(post, Op::Send(Recipients::User(s(u))))]),
        ["users", u, ":closeConnections"] => pick(
            method,
            "POST",
            &[(post, Op::CloseConnections(Recipients::User(s(u))))],
        ),
        ["users", u, "groups"] => pick(method, "DELETE", &[(delete, Op::RemoveUserFromAll(s(u)))]),
        ["users", u, "groups", g] | ["groups", g, "users", u] => pick(
            method,
            "GET, HEAD, PUT, DELETE",
            &[
                (get, Op::UserInGroup(s(u), s(g))),
                (put, Op::AddUser(s(u), s(g))),
                (delete, Op::RemoveUser(s(u), s(g))),
            ],
        ),
        _ => Err(no_route()),
    }?;
    Ok((flavor, Some(hub), op))
}

/// Checks every name an operation carries.
fn validate(op: &Op) -> Result<(), EmulatorError> {
    let (users, groups, connections): (Vec<&str>, Vec<&str>, Vec<&str>) = match op {
        Op::Health | Op::Send(Recipients::All) | Op::CloseConnections(Recipients::All) => {
            (vec![], vec![], vec![])
        }
        Op::Send(Recipients::User(u))
        | Op::CloseConnections(Recipients::User(u))
        | Op::UserExists(u)
        | Op::RemoveUserFromAll(u) => (vec![u], vec![], vec![]),
        Op::Send(Recipients::Group(g))
        | Op::CloseConnections(Recipients::Group(g))
        | Op::GroupExists(g) => (vec![], vec![g], vec![]),
        Op::Send(Recipients::Connection(c))
        | Op::CloseConnections(Recipients::Connection(c))
        | Op::CloseConnection(c)
        | Op::ConnectionExists(c)
        | Op::RemoveConnectionFromAll(c) => (vec![], vec![], vec![c]),
        Op::UserInGroup(u, g) | Op::AddUser(u, g) | Op::RemoveUser(u, g) => {
            (vec![u], vec![g], vec![])
        }
        Op::AddConnection(g, c) | Op::RemoveConnection(g, c) => (vec![], vec![g], vec![c]),
    };
    users.into_iter().try_for_each(names::validate_user)?;
    groups.into_iter().try_for_each(names::validate_group)?;
    connections
        .into_iter()
        .try_for_each(names::validate_connection_id)?;
    Ok(())
}

/// Handles every request under `/api`.
pub async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match serve(&shared, request).await {
        Ok(status) => status.into_response(),
        Err(error) => {
            tracing::debug!(status = %error.status(), code = error.code(), "REST request refused: {error}");
            error.into_response()
        }
    }
}

async fn serve(shared: &Shared, request: Request) -> Result<StatusCode, EmulatorError> {
    let (parts, body) = request.into_parts();
    let (flavor, hub, op) = route(&parts.method, parts.uri.path())?;
    let Some(hub) = hub else {
        return Ok(StatusCode::OK);
    };
    let token = auth::token_from(&parts.headers, &parts.uri, false)?;
    // `application` picks the hub (`{application}_{hub}`), so the token's audience must name it.
    let query = Query::of(&parts.uri);
    super::entra::verify_rest(
        shared,
        &token,
        &Audience::rest(&parts.headers, &parts.uri, query.get("application"))?,
    )?;
    names::validate_hub(&hub)?;
    let hub = match query.get("application") {
        Some(app) => {
            names::validate_hub(app)?;
            format!("{app}_{hub}")
        }
        None => hub,
    };
    validate(&op)?;
    let touched = membership_of(shared, &hub, &op);
    let body = match op {
        Op::Send(_) => Some(read_body(&parts.headers, body, shared.config.max_body_bytes).await?),
        _ => {
            drop::<Body>(body);
            None
        }
    };
    let status = apply(
        shared,
        flavor,
        &hub,
        op,
        &query,
        &parts.headers,
        body.as_deref(),
    )?;
    shared.activity.groups_changed(&shared.hubs, &hub, &touched);
    Ok(status)
}

/// The connections whose groups a membership operation may change (none for other operations).
fn membership_of(shared: &Shared, hub: &str, op: &Op) -> Vec<String> {
    match op {
        Op::AddConnection(_, id)
        | Op::RemoveConnection(_, id)
        | Op::RemoveConnectionFromAll(id) => {
            vec![id.clone()]
        }
        Op::AddUser(user, _) | Op::RemoveUser(user, _) | Op::RemoveUserFromAll(user) => {
            shared.hubs.connections_of_user(hub, user)
        }
        _ => Vec::new(),
    }
}

fn not_found(code: &'static str, message: String) -> EmulatorError {
    EmulatorError::NotFound { code, message }
}

fn apply(
    shared: &Shared,
    flavor: Flavor,
    hub: &str,
    op: Op,
    query: &Query,
    headers: &axum::http::HeaderMap,
    body: Option<&[u8]>,
) -> Result<StatusCode, EmulatorError> {
    let hubs = &shared.hubs;
    let v1 = flavor == Flavor::V1;
    match op {
        Op::Health => Ok(StatusCode::OK),
        Op::Send(recipients) => {
            let message = Payload::parse(headers, body.unwrap_or_default())?;
            let frame = Outgoing::prepared(
                HubMessage::Invocation {
                    target: message.target.clone(),
                    arguments: message.arguments,
                },
                message.frames.json,
                message.frames.msgpack,
            );
            let excluded = query.excluded();
            let sent = hubs.send(hub, &recipients, &excluded, frame);
            tracing::debug!(hub, ?recipients, target = %message.target, sent, "REST send");
            let (audience, name) = recipients.kind_and_name();
            shared.activity.sent(Sent {
                at: now_ms(),
                hub: hub.to_string(),
                audience,
                name,
                target: message.target,
                excluded: excluded.len(),
                received: sent,
            });
            Ok(StatusCode::ACCEPTED)
        }
        Op::CloseConnections(recipients) => {
            let reason = query.reason();
            hubs.close(hub, &recipients, &query.excluded(), reason.as_deref());
            Ok(StatusCode::NO_CONTENT)
        }
        Op::CloseConnection(id) => {
            hubs.close(
                hub,
                &Recipients::Connection(id.clone()),
                &[],
                query.reason().as_deref(),
            );
            Ok(if v1 {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            })
        }
        Op::ConnectionExists(id) => match hubs.connection_exists(hub, &id) {
            true => Ok(StatusCode::OK),
            false => Err(not_found(
                "Warning.Connection.NotExisted",
                format!("connection {id:?} does not exist in hub {hub:?}"),
            )),
        },
        Op::UserExists(user) => match hubs.user_exists(hub, &user) {
            true => Ok(StatusCode::OK),
            false => Err(not_found(
                "Warning.User.NotExisted",
                format!("user {user:?} has no connection in hub {hub:?}"),
            )),
        },
        Op::GroupExists(group) => match hubs.group_exists(hub, &group) {
            true => Ok(StatusCode::OK),
            false => Err(not_found(
                "Warning.Group.NotExisted",
                format!("group {group:?} has no connection in hub {hub:?}"),
            )),
        },
        Op::UserInGroup(user, group) => match hubs.user_in_group(hub, &user, &group) {
            true => Ok(StatusCode::OK),
            false => Err(not_found(
                "Info.User.NotInGroup",
                format!("user {user:?} is not in group {group:?}"),
            )),
        },
        Op::AddConnection(group, id) => match hubs.add_to_group(hub, &group, &id) {
            true => Ok(StatusCode::OK),
            false => Err(not_found(
                "Error.Connection.NotExisted",
                format!("connection {id:?} does not exist in hub {hub:?}"),
            )),
        },
        Op::RemoveConnection(group, id) => match hubs.remove_from_group(hub, &group, &id) {
            Removal::Removed => Ok(StatusCode::OK),
            Removal::NoConnection => Err(not_found(
                "Warning.Connection.NotExisted",
                format!("connection {id:?} does not exist in hub {hub:?}"),
            )),
            Removal::NotInGroup => Err(not_found(
                "Info.Connection.NotInGroup",
                format!("connection {id:?} is not in group {group:?}"),
            )),
        },
        Op::RemoveConnectionFromAll(id) => {
            hubs.remove_from_all_groups(hub, &id);
            Ok(StatusCode::OK)
        }
        Op::AddUser(user, group) => {
            hubs.add_user_to_group(hub, &user, &group, query.ttl()?);
            Ok(if v1 {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            })
        }
        Op::RemoveUser(user, group) => {
            hubs.remove_user_from_group(hub, &user, &group);
            Ok(if v1 {
                StatusCode::ACCEPTED
            } else {
                StatusCode::NO_CONTENT
            })
        }
        Op::RemoveUserFromAll(user) => {
            hubs.remove_user_from_all_groups(hub, &user);
            Ok(if v1 {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |m: Method, p: &str| route(&m, p);
        assert_eq!(
            r(Method::POST, "/api/hubs/Chat/groups/a%2Fb/:send").unwrap(),
            (
                Flavor::V2022,
                Some("Chat".into()),
                Op::Send(Recipients::Group("a/b".into()))
            )
        );
        assert_eq!(
            r(Method::HEAD, "/api/v1/hubs/chat/groups/g/users/u")
                .unwrap()
                .2,
            Op::UserInGroup("u".into(), "g".into())
        );
        assert!(matches!(
            r(Method::PATCH, "/api/hubs/chat/:send"),
            Err(EmulatorError::MethodNotAllowed { .. })
        ));
        assert!(matches!(
            r(Method::GET, "/api/nothing"),
            Err(EmulatorError::NoRoute(_))
        ));
        assert_eq!(r(Method::HEAD, "/api/v1/health").unwrap().2, Op::Health);
    }
}
