//! `GET|POST /api/webpubsub/negotiate` and `/api/webpubsub/hubs/{hub}/negotiate`: the caller's
//! identity (the same sources as SignalR negotiate: Easy Auth, OIDC bearer) → a Web PubSub client
//! token with the roles and groups the `WEBPUBSUB_TOKEN_*` templates give → `{baseUrl, url,
//! accessToken}`, the JSON of the Functions extension's `webPubSubConnection`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::error::ApiError;
use crate::app::extract::PathParams;
use crate::app::identity::Caller;
use crate::app::negotiate::{claim_value, render, Unfilled};
use crate::app::webpubsub::role_template::check_role_values;
use crate::app::AppState;
use crate::service::names;
use crate::service::rest::RestError;
use crate::service::webpubsub::ClientTokenOptions;

/// Handler of `/api/webpubsub/negotiate` (the default hub, `WebPubSubHub`).
pub async fn default_hub(State(state): State<AppState>, request: Request) -> Response {
    let hub = state.webpubsub().settings().hub.clone();
    negotiate(&state, &hub, request.headers())
        .await
        .into_response()
}

/// Handler of `/api/webpubsub/hubs/{hub}/negotiate`.
pub async fn named_hub(
    State(state): State<AppState>,
    PathParams(hub): PathParams<String>,
    request: Request,
) -> Response {
    negotiate(&state, &hub, request.headers())
        .await
        .into_response()
}

async fn negotiate(state: &AppState, hub: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    names::validate_hub(hub)?;
    let webpubsub = state.webpubsub();
    let service = webpubsub.service()?;
    let caller = authenticate(state, headers).await?;
    if let Some(user) = &caller.user_id {
        names::validate_user(user).map_err(|e| {
            ApiError::bad_request(
                "InvalidUserId",
                format!("the caller's {e}; Web PubSub cannot use it as a user id"),
            )
        })?;
    }
    let settings = webpubsub.settings();
    check_role_values(&settings.token_roles, |name| claim_value(name, &caller))?;
    let roles = fill(&settings.token_roles, &caller, "role")?;
    let groups = fill(&settings.token_groups, &caller, "group")?;
    for group in &groups {
        names::validate_group(group)?;
    }
    let options = ClientTokenOptions {
        user_id: caller.user_id.clone(),
        roles,
        groups,
        lifetime: Some(settings.token_lifetime),
        ..Default::default()
    };
    let access = service.tokens.access(hub, &options).await.map_err(|e| {
        match e {
            // Under Entra ID the service generates the token: its refusal of the app's
            // identity is the identity's problem, as the SignalR negotiate reports it.
            RestError::Service {
                status: 401 | 403, ..
            } if service.rest.uses_entra() => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "IdentityUnavailable",
                e.to_string(),
            ),
            e => ApiError::from(e),
        }
    })?;
    let mut response = (StatusCode::OK, axum::Json(access)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Who is calling, as SignalR negotiate decides it.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    state
        .authenticator()
        .authenticate(headers)
        .await
        .map_err(|e| {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let error = ApiError::new(status, e.code(), e.to_string());
            match e.retry_after() {
                Some(seconds) => error.with_retry_after(seconds),
                None => error,
            }
        })
}

/// Fills templates from the caller's claims; one that cannot be filled is left out (logged).
fn fill(templates: &[String], caller: &Caller, what: &str) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for template in templates {
        match render(template, caller) {
            Ok(value) => out.push(value),
            Err(e @ Unfilled::Missing(_)) => {
                tracing::debug!(template, "Web PubSub {what} not granted at negotiate: {e}")
            }
            Err(e @ Unfilled::Ambiguous(..)) => {
                tracing::warn!(template, "Web PubSub {what} not granted at negotiate: {e}")
            }
        }
    }
    Ok(out)
}
