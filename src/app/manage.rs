//! Management routes that mirror the service's REST operations: does a user / group /
//! connection exist, is a user in a group, close one connection or every connection of a hub,
//! group or user. Existence answers `{"exists": bool}` (true when any endpoint says so); closes
//! go to every endpoint and answer 200 with what was closed.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::body;
use super::endpoints::fanout;
use super::error::ApiError;
use super::extract::{CloseQuery, PathParams};
use super::AppState;
use crate::service::names;
use crate::service::recipients::Recipients;

/// The optional JSON body of the close routes; keys are matched case-insensitively (`Reason`,
/// `Excluded`), like every other request body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CloseBody {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    excluded: Vec<String>,
}

fn exists(hub: &str, exists: bool) -> Response {
    axum::Json(json!({ "hub": hub.to_lowercase(), "exists": exists })).into_response()
}

/// `GET /api/hubs/{hub}/users/{user}`.
pub async fn user(
    State(s): State<AppState>,
    PathParams((hub, user)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let (hub, user) = (hub.as_str(), user.as_str());
    let all = s.endpoints()?.targets(None)?;
    let results = fanout::each(&all, |r| async move { r.user_exists(hub, user).await }).await;
    Ok(exists(hub, fanout::any(results, "the existence check")?))
}

/// `GET /api/hubs/{hub}/groups/{group}`.
pub async fn group(
    State(s): State<AppState>,
    PathParams((hub, group)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let (hub, group) = (hub.as_str(), group.as_str());
    let all = s.endpoints()?.targets(None)?;
    let results = fanout::each(&all, |r| async move { r.group_exists(hub, group).await }).await;
    Ok(exists(hub, fanout::any(results, "the existence check")?))
}

/// `GET /api/hubs/{hub}/users/{user}/groups/{group}`.
pub async fn user_in_group(
    State(s): State<AppState>,
    PathParams((hub, user, group)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (hub, user, group) = (hub.as_str(), user.as_str(), group.as_str());
    let all = s.endpoints()?.targets(None)?;
    let results = fanout::each(
        &all,
        |r| async move { r.user_in_group(hub, group, user).await },
    )
    .await;
    Ok(exists(hub, fanout::any(results, "the existence check")?))
}

/// `GET /api/hubs/{hub}/connections/{connectionId}`.
pub async fn connection(
    State(s): State<AppState>,
    PathParams((hub, id)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let (hub, id) = (hub.as_str(), id.as_str());
    let all = s.endpoints()?.targets(None)?;
    let results = fanout::each(&all, |r| async move { r.connection_exists(hub, id).await }).await;
    Ok(exists(hub, fanout::any(results, "the existence check")?))
}

/// `DELETE /api/hubs/{hub}/connections/{connectionId}?reason=`.
pub async fn close_connection(
    State(s): State<AppState>,
    PathParams((hub, id)): PathParams<(String, String)>,
    q: CloseQuery,
) -> Result<Response, ApiError> {
    close(&s, &hub, Recipients::Connection(id), Vec::new(), q.reason).await
}

/// `POST /api/hubs/{hub}/close`.
pub async fn close_hub(
    State(s): State<AppState>,
    PathParams(hub): PathParams<String>,
    q: CloseQuery,
    b: Body,
) -> Result<Response, ApiError> {
    let (reason, excluded) = close_options(q, b).await?;
    names::validate_hub(&hub)?;
    close(&s, &hub, Recipients::All, excluded, reason).await
}

/// `POST /api/hubs/{hub}/groups/{group}/close`.
pub async fn close_group(
    State(s): State<AppState>,
    PathParams((hub, group)): PathParams<(String, String)>,
    q: CloseQuery,
    b: Body,
) -> Result<Response, ApiError> {
    let (reason, excluded) = close_options(q, b).await?;
    close(&s, &hub, Recipients::Group(group), excluded, reason).await
}

/// `POST /api/hubs/{hub}/users/{user}/close`.
pub async fn close_user(
    State(s): State<AppState>,
    PathParams((hub, user)): PathParams<(String, String)>,
    q: CloseQuery,
    b: Body,
) -> Result<Response, ApiError> {
    let (reason, excluded) = close_options(q, b).await?;
    close(&s, &hub, Recipients::User(user), excluded, reason).await
}

/// Closes the connections of `recipients` on every endpoint, and says what was closed:
/// `{"hub", "closed": "all" | {"group"} | {"userId"} | {"connectionId"}, "excluded"}` (no
/// `excluded` for one connection).
async fn close(
    s: &AppState,
    hub: &str,
    recipients: Recipients,
    excluded: Vec<String>,
    reason: Option<String>,
) -> Result<Response, ApiError> {
    let (to, ex, why) = (&recipients, excluded.as_slice(), reason.as_deref());
    let all = s.endpoints()?.targets(None)?;
    let results = fanout::each(&all, |r| async move { r.close(hub, to, ex, why).await }).await;
    fanout::all(results, "the close")?;
    let hub = hub.to_lowercase();
    Ok(axum::Json(match recipients {
        Recipients::All => json!({ "hub": hub, "closed": "all", "excluded": excluded }),
        Recipients::Group(group) => {
            json!({ "hub": hub, "closed": { "group": group }, "excluded": excluded })
        }
        Recipients::User(user) => {
            json!({ "hub": hub, "closed": { "userId": user }, "excluded": excluded })
        }
        Recipients::Connection(id) => json!({ "hub": hub, "closed": { "connectionId": id } }),
    })
    .into_response())
}

/// Merges query options with an optional JSON body `{reason, excluded: [..]}`.
async fn close_options(q: CloseQuery, b: Body) -> Result<(Option<String>, Vec<String>), ApiError> {
    let bytes = body::read(b).await?;
    let (reason, mut excluded) = close_body(&bytes)?;
    excluded.extend(q.excluded);
    crate::service::rest::check_excluded(&excluded)?;
    Ok((reason.or(q.reason), excluded))
}

/// Parses a close route's optional body `{reason, excluded: [..]}` (blank means neither) into
/// the reason and the excluded connection ids.
pub fn close_body(bytes: &[u8]) -> Result<(Option<String>, Vec<String>), ApiError> {
    let parsed: CloseBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        CloseBody::default()
    } else {
        body::one(
            bytes,
            r#"{"reason"?, "excluded"?: [..]}"#,
            &["reason", "excluded"],
        )?
    };
    Ok((parsed.reason, parsed.excluded))
}
