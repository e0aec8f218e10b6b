//! The Web PubSub data-plane REST API (reference §4): routing of `/api/…` to the 2024-01-01
//! operations plus `listConnections` (2024-12-01), `api-version` and bearer-token checks, query
//! parameters (`excluded`, `filter`, `messageTtlSeconds`, `reason`, `targetName`), bodies, and the
//! documented statuses (202 sends, 200/204 membership and closes, 200/404 existence).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::auth;
use super::entra;
use super::error::WpsError;
use crate::service::filter::Filter;
use super::payload::{DataType, Origin, Payload};
use super::roles::Permission;
use super::state::{Delivery, Selection, Target};
use super::Shared;
use crate::emulator::auth::token_from;
use crate::service::names;

/// The API versions accepted.
const VERSIONS: [&str; 5] = [
    "2021-10-01",
    "2022-11-01",
    "2023-07-01",
    "2024-01-01",
    "2024-12-01",
];

/// The query parameters of one request.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(uri: &Uri) -> Self {
        let query = uri.query().unwrap_or("");
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn one(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }

    fn number(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, WpsError> {
        let Some(raw) = self.one(name) else {
            return Ok(None);
        };
        match raw.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(WpsError::bad(
                name,
                format!(
                    "{name} must be a whole number from {} to {}, got {raw:?}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    fn filter(&self) -> Result<Option<Filter>, WpsError> {
        match self.one("filter") {
            Some(text) if !text.trim().is_empty() => Ok(Some(Filter::parse(&text)?)),
            _ => Ok(None),
        }
    }
}

/// Answers every `/api/…` request.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    match dispatch(&shared, &method, &headers, &uri, body).await {
        Ok(response) => response,
        Err(error) => {
            if error.status().is_server_error() || error.status() == StatusCode::UNAUTHORIZED {
                tracing::info!(%method, path = uri.path(), "Web PubSub REST call refused: {error}");
            }
            error.into_response()
        }
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches("/api")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

fn allow(method: &Method, allowed: &'static str) -> Result<(), WpsError> {
    if allowed.split(", ").any(|m| m == method.as_str()) {
        Ok(())
    } else {
        Err(WpsError::MethodNotAllowed {
            method: method.to_string(),
            allowed,
        })
    }
}

fn status(code: StatusCode) -> Response {
    code.into_response()
}

fn exists(found: bool) -> Response {
    status(if found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

async fn dispatch(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    body: Body,
) -> Result<Response, WpsError> {
    let segs = segments(uri.path());
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
    if seg == ["health"] {
        allow(method, "HEAD, GET")?;
        return Ok(status(StatusCode::OK));
    }
    let ["hubs", hub, rest @ ..] = seg.as_slice() else {
        return Err(WpsError::NoRoute(uri.path().to_string()));
    };
    let query = Query::parse(uri);
    let version = query.one("api-version").ok_or_else(|| {
        WpsError::bad(
            "api-version",
            format!(
                "the api-version query parameter is required; use one of {}",
                VERSIONS.join(", ")
            ),
        )
    })?;
    if !VERSIONS.contains(&version.as_str()) {
        return Err(WpsError::bad(
            "api-version",
            format!(
                "api-version {version:?} is not supported; use one of {}",
                VERSIONS.join(", ")
            ),
        ));
    }
    names::validate_hub(hub).map_err(|e| WpsError::bad("hub", e.to_string()))?;
    let token = token_from(headers, uri, false)
        .map_err(|e| WpsError::Unauthorized(auth::TokenError::Token(e)))?;
    entra::verify_rest(&shared.config, &token, headers, uri)?;
    let r = &shared.registry;
    let excluded = query.all("excluded");
    let reason = query.one("reason").unwrap_or_default();
    let name = |kind: &'static str, value: &str| -> Result<(), WpsError> {
        match kind {
            "group" => names::validate_group(value),
            "userId" => names::validate_user(value),
            _ => names::validate_connection_id(value),
        }
        .map_err(|e| WpsError::bad(kind, e.to_string()))
    };
    match rest {
        [":send"]
        | ["users", _, ":send"]
        | ["groups", _, ":send"]
        | ["connections", _, ":send"] => {
            allow(method, "POST")?;
            let target = match rest {
                ["users", user, _] => {
                    name("userId", user)?;
                    Target::User(user)
                }
                ["groups", group, _] => {
                    name("group", group)?;
                    Target::Group(group)
                }
                ["connections", id, _] => {
                    name("connectionId", id)?;
                    Target::Connection(id)
                }
                _ => Target::All,
            };
            let filter = query.filter()?;
            let ttl = query.number("messageTtlSeconds", 0..=300)?;
            let payload = read_payload(shared, headers, body).await?;
            let delivery = Delivery::new(&Origin::Server, &payload, ttl.map(Duration::from_secs));
            let selection = Selection {
                excluded: &excluded,
                filter: filter.as_ref(),
            };
            r.send(hub, target, selection, &delivery);
            Ok(status(StatusCode::ACCEPTED))
        }
        [":closeConnections"]
        | ["users", _, ":closeConnections"]
        | ["groups", _, ":closeConnections"] => {
            allow(method, "POST")?;
            let target = match rest {
                ["users", user, _] => Target::User(user),
                ["groups", group, _] => Target::Group(group),
                _ => Target::All,
            };
            let selection = Selection {
                excluded: &excluded,
                filter: None,
            };
            r.close(hub, target, selection, &reason);
            Ok(status(StatusCode::NO_CONTENT))
        }
        [op @ (":addToGroups" | ":removeFromGroups")] => {
            allow(method, "POST")?;
            let bytes =
                crate::emulator::request::read_body(headers, body, shared.config.max_body_bytes)
                    .await?;
            let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
                WpsError::bad(
                    "groupsToAdd",
                    format!(
                        "the body must be JSON {{\"groups\": [...], \"filter\": \"...\"}}: {e}"
                    ),
                )
            })?;
            let groups: Vec<String> = match body.get("groups") {
                Some(Value::Array(items))
                    if items.iter().all(Value::is_string) && !items.is_empty() =>
                {
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                }
                _ => {
                    return Err(WpsError::bad(
                        "groups",
                        "groups must be a non-empty array of group names",
                    ))
                }
            };
            for group in &groups {
                name("group", group)?;
            }
            let filter = match body.get("filter") {
                Some(Value::String(f)) if !f.trim().is_empty() => Filter::parse(f)?,
                _ => return Err(WpsError::bad("filter", "filter is required: an OData filter selecting the connections, e.g. \"userId eq 'user1'\"")),
            };
            let selection = Selection {
                excluded: &[],
                filter: Some(&filter),
            };
            r.set_groups(hub, Target::All, selection, &groups, *op == ":addToGroups");
            Ok(status(StatusCode::OK))
        }
        [":generateToken"] => {
            allow(method, "POST")?;
            let minutes = query
                .number("minutesToExpire", 1..=u64::from(u32::MAX))?
                .unwrap_or(60);
            let origin = auth::origin(headers)?;
            let token = mint_client_token(shared, &origin, hub, &query, minutes);
            Ok(axum::Json(json!({ "token": token })).into_response())
        }
        ["connections", id] => {
            name("connectionId", id)?;
            allow(method, "HEAD, DELETE")?;
            if method == Method::HEAD {
                return Ok(exists(
                    !r.select(hub, Target::Connection(id), Selection::default())
                        .is_empty(),
                ));
            }
            r.close(hub, Target::Connection(id), Selection::default(), &reason);
            Ok(status(StatusCode::NO_CONTENT))
        }
        ["users", user] => {
            name("userId", user)?;
            allow(method, "HEAD")?;
            Ok(exists(
                !r.select(hub, Target::User(user), Selection::default())
                    .is_empty(),
            ))
        }
        ["groups", group] => {
            name("group", group)?;
            allow(method, "HEAD")?;
            Ok(exists(
                !r.select(hub, Target::Group(group), Selection::default())
                    .is_empty(),
            ))
        }
        ["groups", group, "connections"] => {
            name("group", group)?;
            allow(method, "GET")?;
            if version != "2024-12-01" {
                return Err(WpsError::bad(
                    "api-version",
                    "listing a group's connections needs api-version 2024-12-01",
                ));
            }
            list_connections(r.members(hub, group), &query, uri)
        }
        ["groups", group, "connections", id] | ["users", id, "groups", group] => {
            let by_user = rest[0] == "users";
            name("group", group)?;
            name(if by_user { "userId" } else { "connectionId" }, id)?;
            allow(method, "PUT, DELETE")?;
            let target = if by_user {
                Target::User(id)
            } else {
                Target::Connection(id)
            };
            let join = method == Method::PUT;
            let count = r.set_groups(
                hub,
                target,
                Selection::default(),
                &[group.to_string()],
                join,
            );
            if join && !by_user && count == 0 {
                return Err(WpsError::NotFound(format!(
                    "connection {id:?} does not exist in hub {hub:?}"
                )));
            }
            Ok(status(if join {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            }))
        }
        ["connections", id, "groups"] | ["users", id, "groups"] => {
            allow(method, "DELETE")?;
            let target = if rest[0] == "users" {
                Target::User(id)
            } else {
                Target::Connection(id)
            };
            r.leave_all(hub, target);
            Ok(status(StatusCode::NO_CONTENT))
        }
        ["permissions", permission, "connections", id] => {
            allow(method, "PUT, DELETE, HEAD")?;
            let permission = Permission::parse(permission).ok_or_else(|| {
                WpsError::bad(
                    "permission",
                    format!(
                        "permission {permission:?} is unknown; use sendToGroup or joinLeaveGroup"
                    ),
                )
            })?;
            let target = query.one("targetName").filter(|t| !t.is_empty());
            if let Some(group) = &target {
                name("group", group)?;
            }
            let grant = (permission, target.clone());
            let found = r.with(hub, id, |conn| {
                if method == Method::PUT {
                    if !conn.grants.contains(&grant) {
                        conn.grants.push(grant.clone());
                    }
                    true
                } else if method == Method::DELETE {
                    conn.grants
                        .retain(|g| g.0 != permission || (target.is_some() && g.1 != target));
                    true
                } else {
                    match &target {
                        Some(group) => conn.allows(permission, group),
                        None => {
                            conn.grants
                                .iter()
                                .any(|g| g.0 == permission && g.1.is_none())
                                || conn.roles.iter().any(|r| r == permission.role())
                        }
                    }
                }
            });
            match (method.as_str(), found) {
                ("HEAD", found) => Ok(exists(found == Some(true))),
                ("PUT", None) => Err(WpsError::NotFound(format!(
                    "connection {id:?} does not exist in hub {hub:?}"
                ))),
                ("PUT", _) => Ok(status(StatusCode::OK)),
                _ => Ok(status(StatusCode::NO_CONTENT)),
            }
        }
        _ => Err(WpsError::NoRoute(uri.path().to_string())),
    }
}

async fn read_payload(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Payload, WpsError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let data_type = DataType::from_content_type(content_type).ok_or_else(|| {
        WpsError::UnsupportedMediaType(format!(
            "Content-Type {content_type:?} is not accepted; send application/json, text/plain or application/octet-stream"
        ))
    })?;
    let bytes =
        crate::emulator::request::read_body(headers, body, shared.config.max_body_bytes).await?;
    Payload::from_body(data_type, &bytes).map_err(|m| WpsError::bad("message", m))
}

fn list_connections(
    members: Vec<(String, Option<String>)>,
    query: &Query,
    uri: &Uri,
) -> Result<Response, WpsError> {
    let page = query.number("maxpagesize", 1..=200)?.unwrap_or(200) as usize;
    let top = query
        .number("top", 1..=u64::MAX)?
        .map_or(usize::MAX, |t| t as usize);
    let after = query.one("continuationToken").unwrap_or_default();
    let remaining: Vec<_> = members
        .into_iter()
        .filter(|(id, _)| after.is_empty() || *id > after)
        .take(top)
        .collect();
    let value: Vec<Value> = remaining
        .iter()
        .take(page)
        .map(|(id, user)| json!({ "connectionId": id, "userId": user }))
        .collect();
    let mut body = json!({ "value": value });
    if remaining.len() > page {
        let last = &remaining[page - 1].0;
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &query.0 {
            if !k.eq_ignore_ascii_case("continuationToken") && !k.eq_ignore_ascii_case("top") {
                next.append_pair(k, v);
            }
        }
        if top != usize::MAX {
            next.append_pair("top", &(top - page).to_string());
        }
        next.append_pair("continuationToken", last);
        body["nextLink"] = format!("{}?{}", uri.path(), next.finish()).into();
    }
    Ok(axum::Json(body).into_response())
}

fn mint_client_token(
    shared: &Shared,
    origin: &str,
    hub: &str,
    query: &Query,
    minutes: u64,
) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut claims = json!({
        "aud": auth::client_audience(origin, hub),
        "iat": now,
        "exp": now.saturating_add(minutes.saturating_mul(60)),
    });
    if let Some(user) = query.one("userId").filter(|u| !u.is_empty()) {
        claims["sub"] = user.into();
    }
    let roles = query.all("role");
    if !roles.is_empty() {
        claims["role"] = roles.into();
    }
    let groups = query.all("group");
    if !groups.is_empty() {
        claims["webpubsub.group"] = groups.into();
    }
    entra::sign_client_token(&shared.config, &claims)
}
