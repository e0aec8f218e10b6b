//! `GET|POST /api/webpubsub/negotiate` and `/api/webpubsub/hubs/{hub}/negotiate`: the caller's
//! identity (the same sources as SignalR negotiate: Easy Auth, OIDC bearer) → a Web PubSub client
//! token with the roles and groups the `WEBPUBSUB_TOKEN_*` templates give → `{baseUrl, url,
//! accessToken}`, the JSON of the Functions extension's `webPubSubConnection`.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::app::error::ApiError;
use crate::app::hub::{Hub, WebPubSubDefault};
use crate::app::identity::Caller;
use crate::app::negotiate::{answer, answer_body, claim_value, render, Unfilled};
use crate::app::webpubsub::role_template::check_role_values;
use crate::app::AppState;
use crate::service::json_text;
use crate::service::names;
use crate::service::rest::RestError;
use crate::service::webpubsub::{ClientAccess, ClientTokenOptions};

/// Handler of `/api/webpubsub/negotiate` (the default hub, `WebPubSubHub`) and
/// `/api/webpubsub/hubs/{hub}/negotiate`. Identity, templates and the answer are SignalR
/// negotiate's ([`crate::app::negotiate`]).
pub async fn negotiate(
    State(state): State<AppState>,
    hub: Hub<WebPubSubDefault>,
    request: Request,
) -> Result<Response, ApiError> {
    let webpubsub = state.webpubsub();
    let service = webpubsub.service()?;
    let caller = state
        .authenticator()
        .authenticate(request.headers())
        .await?;
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
    let write = |access: &ClientAccess| Bytes::from(json_text::string_object(&fields(access)));
    if let Some(body) = service.tokens.anonymous_answer(&hub, &options, write) {
        return Ok(answer_body(body?));
    }
    let access = service.tokens.access(&hub, &options).await.map_err(|e| {
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
    Ok(answer(&fields(&access)))
}

/// The Functions extension's `webPubSubConnection`: `{baseUrl, url, accessToken}`.
fn fields(access: &ClientAccess) -> [(&str, &str); 3] {
    [
        ("baseUrl", &access.base_url),
        ("url", &access.url),
        ("accessToken", &access.access_token),
    ]
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
