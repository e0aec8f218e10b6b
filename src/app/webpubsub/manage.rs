//! Existence, close and permission-check routes of Web PubSub, mirroring its REST operations:
//! `GET …/connections/{connectionId}` (exists), `DELETE` the same (close, `?reason=`),
//! `GET …/users/{userId}`, `GET …/groups/{group}` and
//! `GET …/permissions/{permission}/connections/{connectionId}?targetName=`. Existence answers
//! `{"hub", "exists"}`.

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::error::ApiError;
use crate::app::extract::{CloseQuery, PathParams};
use crate::app::AppState;
use crate::service::webpubsub::Permission;

fn exists(hub: &str, exists: bool) -> Response {
    axum::Json(json!({ "hub": hub, "exists": exists })).into_response()
}

/// `GET /api/webpubsub/hubs/{hub}/connections/{connectionId}`.
pub async fn connection(
    State(s): State<AppState>,
    PathParams((hub, id)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let rest = &s.webpubsub().service()?.rest;
    Ok(exists(&hub, rest.connection_exists(&hub, &id).await?))
}

/// `DELETE /api/webpubsub/hubs/{hub}/connections/{connectionId}?reason=`.
pub async fn close_connection(
    State(s): State<AppState>,
    PathParams((hub, id)): PathParams<(String, String)>,
    q: CloseQuery,
) -> Result<Response, ApiError> {
    let rest = &s.webpubsub().service()?.rest;
    rest.close_connection(&hub, &id, q.reason.as_deref())
        .await?;
    Ok(axum::Json(json!({ "hub": hub, "closed": { "connectionId": id } })).into_response())
}

/// `GET /api/webpubsub/hubs/{hub}/users/{userId}`.
pub async fn user(
    State(s): State<AppState>,
    PathParams((hub, user)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let rest = &s.webpubsub().service()?.rest;
    Ok(exists(&hub, rest.user_exists(&hub, &user).await?))
}

/// `GET /api/webpubsub/hubs/{hub}/groups/{group}`.
pub async fn group(
    State(s): State<AppState>,
    PathParams((hub, group)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let rest = &s.webpubsub().service()?.rest;
    Ok(exists(&hub, rest.group_exists(&hub, &group).await?))
}

/// `GET /api/webpubsub/hubs/{hub}/permissions/{permission}/connections/{connectionId}`.
pub async fn permission(
    State(s): State<AppState>,
    PathParams((hub, permission, id)): PathParams<(String, String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let rest = &s.webpubsub().service()?.rest;
    let permission = match permission.as_str() {
        p if p.eq_ignore_ascii_case("sendToGroup") => Permission::SendToGroup,
        p if p.eq_ignore_ascii_case("joinLeaveGroup") => Permission::JoinLeaveGroup,
        _ => {
            return Err(ApiError::bad_request(
                "InvalidPermission",
                "the permission in the path must be sendToGroup or joinLeaveGroup",
            ))
        }
    };
    let target = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "targetName")
        .map(|(_, v)| v.into_owned())
        .filter(|t| !t.is_empty());
    let has = rest
        .check_permission(&hub, permission, &id, target.as_deref())
        .await?;
    Ok(axum::Json(json!({ "hub": hub, "permission": permission.as_str(), "targetName": target, "exists": has })).into_response())
}
