//! `GET|POST /api/negotiate` and `/api/hubs/{hub}/negotiate`: who is calling (a verified identity
//! source) → a client access token → `{"url", "accessToken"}`, exactly the `SignalRConnectionInfo`
//! the official binding returns. Optionally joins the user to groups named by claim templates.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::error::ApiError;
use super::extract::PathParams;
use super::identity::Caller;
use super::AppState;
use crate::service::names;
use crate::service::token::ClientClaims;

// The handlers take the whole `Request` and borrow its headers: the `HeaderMap` extractor would
// clone every header of every negotiation only to read two of them.

/// Handler of `/api/negotiate` (the default hub).
pub async fn default_hub(State(state): State<AppState>, request: Request) -> Response {
    let hub = &state.settings().hub;
    negotiate(&state, hub, request.headers())
        .await
        .into_response()
}

/// Handler of `/api/hubs/{hub}/negotiate`.
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
    let service = state.service()?;
    let caller = state
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
        })?;
    let settings = state.settings();
    let claims = ClientClaims {
        user_id: caller.user_id.clone(),
        claims: caller
            .claims
            .iter()
            .filter(|(k, _)| settings.token_claims.contains(k))
            .cloned()
            .collect(),
        roles: if settings.token_roles {
            caller.roles.clone()
        } else {
            Vec::new()
        },
        lifetime: Some(settings.token_lifetime),
    };
    let token = service.minter.client_token(hub, &claims)?;
    if let Some(user) = &caller.user_id {
        for template in &settings.negotiate_groups {
            let Some(group) = render(template, &caller) else {
                tracing::debug!(
                    template,
                    "a claim of the group template is missing; group not joined"
                );
                continue;
            };
            names::validate_group(&group)
                .map_err(|e| ApiError::from(e).context(format!("group template {template:?}")))?;
            service
                .rest
                .add_user_to_group(hub, &group, user, None)
                .await
                .map_err(|e| {
                    ApiError::from(e).context(format!("joining group {group:?} at negotiate"))
                })?;
        }
    }
    let url = service.minter.client_url(hub);
    let body = ConnectionInfo {
        url: &url,
        access_token: &token,
    };
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The answer: the official binding's `SignalRConnectionInfo`, `{"url", "accessToken"}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionInfo<'a> {
    url: &'a str,
    access_token: &'a str,
}

/// Checks a group template: text with `{claim}` placeholders (claim names of letters, digits and
/// `_ . : / -`), braces balanced. `{userId}` is the caller's user id.
pub fn validate_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!("{template:?} has a '}}' without '{{'"));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("{template:?} has a '{{' without '}}'"))?;
        let name = &after[..close];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.:/-".contains(c))
        {
            return Err(format!("{template:?}: {{{name}}} is not a claim name"));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Fills a template from the caller's claims; `None` when a claim is missing or not a scalar.
pub fn render(template: &str, caller: &Caller) -> Option<String> {
    render_with(template, |name| {
        if name == "userId" {
            return caller.user_id.clone();
        }
        match &caller.claims.iter().find(|(k, _)| k == name)?.1 {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    })
}

/// Fills a template (checked by [`validate_template`]) with `value` of each placeholder name;
/// `None` when a value is missing.
pub fn render_with(template: &str, value: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        out.push_str(&value(&after[..close])?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}
