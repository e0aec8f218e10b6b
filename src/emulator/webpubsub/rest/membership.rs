//! Group membership: a connection or a user joins (`PUT`, 200; 404 for an unknown connection)
//! or leaves (`DELETE`, 204) a group, leaves every group (`DELETE …/groups`, 204), and
//! `:addToGroups` / `:removeFromGroups` move the connections an OData filter selects (200). A
//! join that a group cap refuses for some connection answers 400 (the others joined).

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;

use super::{Answer, WpsRequest};
use crate::emulator::body::read_body;
use crate::emulator::webpubsub::error::WpsError;
use crate::emulator::webpubsub::groups::GroupLimit;
use crate::service::filter::Filter;
use crate::service::names;
use crate::service::recipients::Recipients;

/// `PUT …/groups/{group}/connections/{connection}` and `…/users/{user}/groups/{group}`.
pub async fn join(request: WpsRequest) -> Answer {
    let recipients = request.recipients();
    if set_group(&request, &recipients, true)? == 0 {
        if let Recipients::Connection(id) = &recipients {
            return Err(WpsError::NotFound(format!(
                "connection {id:?} does not exist in hub {:?}",
                request.hub
            )));
        }
    }
    Ok(StatusCode::OK.into_response())
}

/// `DELETE` of the same paths.
pub async fn leave(request: WpsRequest) -> Answer {
    set_group(&request, &request.recipients(), false)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The path's group joined or left by `recipients`; how many connections that was, or 400 when
/// a group cap kept some of them out.
fn set_group(request: &WpsRequest, recipients: &Recipients, join: bool) -> Result<usize, WpsError> {
    let group = request.name("group").unwrap_or_default().to_string();
    request
        .state
        .connections
        .set_groups(&request.hub, recipients, None, &[group], join)
        .map_err(refused)
}

/// A join a group cap refused (`docs/webpubsub.md` §8, "Group caps").
fn refused(limit: GroupLimit) -> WpsError {
    WpsError::bad("group", limit.to_string())
}

/// `DELETE …/connections/{connection}/groups` and `…/users/{user}/groups`.
pub async fn leave_all(request: WpsRequest) -> Answer {
    let recipients = request.recipients();
    request
        .state
        .connections
        .leave_all(&request.hub, &recipients);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `:addToGroups`.
pub async fn add(request: WpsRequest, headers: HeaderMap, body: Body) -> Answer {
    Filtered::parse(&request, &headers, body)
        .await?
        .apply(&request, true)
}

/// `:removeFromGroups`.
pub async fn remove(request: WpsRequest, headers: HeaderMap, body: Body) -> Answer {
    Filtered::parse(&request, &headers, body)
        .await?
        .apply(&request, false)
}

/// The body of `:addToGroups` / `:removeFromGroups`: `{"groups": [...], "filter": "..."}`.
struct Filtered {
    groups: Vec<String>,
    filter: Filter,
}

impl Filtered {
    async fn parse(
        request: &WpsRequest,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Self, WpsError> {
        let bytes = read_body(headers, body, request.state.config.max_body_bytes).await?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
            WpsError::bad(
                "groupsToAdd",
                format!("the body must be JSON {{\"groups\": [...], \"filter\": \"...\"}}: {e}"),
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
            names::validate_group(group).map_err(|e| WpsError::bad("group", e.to_string()))?;
        }
        let filter = match body.get("filter") {
            Some(Value::String(f)) if !f.trim().is_empty() => Filter::parse(f)?,
            _ => return Err(WpsError::bad("filter", "filter is required: an OData filter selecting the connections, e.g. \"userId eq 'user1'\"")),
        };
        Ok(Self { groups, filter })
    }

    fn apply(self, request: &WpsRequest, join: bool) -> Answer {
        request
            .state
            .connections
            .set_groups(
                &request.hub,
                &Recipients::All,
                Some(&self.filter),
                &self.groups,
                join,
            )
            .map_err(refused)?;
        Ok(StatusCode::OK.into_response())
    }
}
