//! Management routes that mirror the service's REST operations: does a user / group /
//! connection exist, is a user in a group, close one connection or every connection of a hub,
//! group or user. Existence answers `{"exists": bool}`; closes answer 200 with what was closed.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::body;
use super::error::ApiError;
use super::extract::{CloseQuery, PathParams};
use super::AppState;
use crate::service::names;

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
    Ok(exists(&hub, s.rest()?.user_exists(&hub, &user).await?))
}

/// `GET /api/hubs/{hub}/groups/{group}`.
pub async fn group(
    State(s): State<AppState>,
    PathParams((hub, group)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(exists(&hub, s.rest()?.group_exists(&hub, &group).await?))
}

/// `GET /api/hubs/{hub}/users/{user}/groups/{group}`.
pub async fn user_in_group(
    State(s): State<AppState>,
    PathParams((hub, user, group)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    Ok(exists(
        &hub,
        s.rest()?.user_in_group(&hub, &group, &user).await?,
    ))
}

/// `GET /api/hubs/{hub}/connections/{connectionId}`.
pub async fn connection(
    State(s): State<AppState>,
    PathParams((hub, id)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(exists(&hub, s.rest()?.connection_exists(&hub, &id).await?))
}

/// `DELETE /api/hubs/{hub}/connections/{connectionId}?reason=`.
pub async fn close_connection(
    State(s): State<AppState>,
    PathParams((hub, id)): PathParams<(String, String)>,
    q: CloseQuery,
) -> Result<Response, ApiError> {
    s.rest()?
        .close_connection(&hub, &id, q.reason.as_deref())
        .await?;
    Ok(
        axum::Json(json!({ "hub": hub.to_lowercase(), "closed": { "connectionId": id } }))
            .into_response(),
    )
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
    s.rest()?
        .close_all(&hub, &excluded, reason.as_deref())
        .await?;
    Ok(
        axum::Json(json!({ "hub": hub.to_lowercase(), "closed": "all", "excluded": excluded }))
            .into_response(),
    )
}

/// `POST /api/hubs/{hub}/groups/{group}/close`.
pub async fn close_group(
    State(s): State<AppState>,
    PathParams((hub, group)): PathParams<(String, String)>,
    q: CloseQuery,
    b: Body,
) -> Result<Response, ApiError> {
    let (reason, excluded) = close_options(q, b).await?;
    s.rest()?
        .close_group(&hub, &group, &excluded, reason.as_deref())
        .await?;
    Ok(axum::Json(
        json!({ "hub": hub.to_lowercase(), "closed": { "group": group }, "excluded": excluded }),
    )
    .into_response())
}

/// `POST /api/hubs/{hub}/users/{user}/close`.
pub async fn close_user(
    State(s): State<AppState>,
    PathParams((hub, user)): PathParams<(String, String)>,
    q: CloseQuery,
    b: Body,
) -> Result<Response, ApiError> {
    let (reason, excluded) = close_options(q, b).await?;
    s.rest()?
        .close_user(&hub, &user, &excluded, reason.as_deref())
        .await?;
    Ok(axum::Json(
        json!({ "hub": hub.to_lowercase(), "closed": { "userId": user }, "excluded": excluded }),
    )
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

/// `GET /api/health`: `200 {"service":"healthy"}` when the service answers its health API;
/// otherwise `503` with `unhealthy` (it answered with another status), `unauthorized` (it
/// refused this app's access key: a configuration problem, logged as an error) or
/// `unreachable`. Under Entra ID (`AuthType=…`) the answer also has `"identity"`: `"ok"`, or
/// why no Entra token could be had (then `service` is `unknown`) or why the service refused it
/// (the temporary key could not be fetched with it).
pub async fn health(State(s): State<AppState>) -> Response {
    use crate::service::rest::RestError;
    use axum::http::StatusCode;
    let rest = match s.rest() {
        Ok(rest) => rest,
        Err(e) => return e.into_response(),
    };
    let mut identity = rest.uses_entra().then(|| "ok".to_string());
    let state = match rest.health().await {
        Ok(true) => "healthy",
        Ok(false) => "unhealthy",
        Err(RestError::Identity(e)) => {
            identity = Some(e.to_string());
            "unknown"
        }
        Err(e @ RestError::Service { .. }) => {
            tracing::error!("health: SignalR Service refused this app's credentials; check AccessKey in AzureSignalRConnectionString, or the identity's role assignment under AuthType: {e}");
            "unauthorized"
        }
        Err(_) => "unreachable",
    };
    // The service's health API takes no token: under Entra ID, asking for the temporary key
    // shows whether the service accepts the app's token and role (cached 55 minutes).
    if identity.as_deref() == Some("ok") {
        if let Ok(service) = s.service() {
            if let Err(e) = service.signer.minter().await {
                identity = Some(e.message);
            }
        }
    }
    let identity_ok = identity.as_deref().is_none_or(|i| i == "ok");
    let status = if state == "healthy" && identity_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = match identity {
        Some(identity) => json!({ "service": state, "identity": identity }),
        None => json!({ "service": state }),
    };
    (status, axum::Json(body)).into_response()
}
