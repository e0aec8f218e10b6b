//! `GET|POST /api/negotiate` and `/api/hubs/{hub}/negotiate`: who is calling (a verified identity
//! source) → a client access token → `{"url", "accessToken"}`, exactly the `SignalRConnectionInfo`
//! the official binding returns. Optionally joins the user to groups named by claim templates.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::Value;

use super::error::ApiError;
use super::hub::Hub;
use super::identity::Caller;
use super::AppState;
use crate::service::json_text;
use crate::service::names;
use crate::service::rest::RestClient;
use crate::service::token::ClientClaims;
use crate::service::user_claims;

/// Handler of `/api/negotiate` (the default hub) and `/api/hubs/{hub}/negotiate`. It takes the
/// whole `Request` and borrows its headers: the `HeaderMap` extractor would clone every header of
/// every negotiation only to read two of them.
pub async fn negotiate(
    State(state): State<AppState>,
    hub: Hub,
    request: Request,
) -> Result<Response, ApiError> {
    let service = &state.endpoints()?.pick_for_client()?.service;
    let caller = state
        .authenticator()
        .authenticate(request.headers())
        .await?;
    let claims = client_claims(&state, &caller);
    check_identity(&claims)?;
    let minter = service.signer.minter().await?;
    let write = |token: &str| {
        let url = minter.client_url(&hub);
        Bytes::from(json_text::string_object(&[
            ("url", &url),
            ("accessToken", token),
        ]))
    };
    if let Some(body) = minter.anonymous_answer(&hub, &claims, write) {
        return Ok(answer_body(body?));
    }
    let token = minter.client_token(&hub, &claims)?;
    if let Some(user) = &caller.user_id {
        let templates = &state.settings().negotiate_groups;
        join_groups(&service.rest, &hub, user, &caller, templates).await?;
    }
    let url = minter.client_url(&hub);
    Ok(answer(&[("url", &url), ("accessToken", &token)]))
}

/// What the client token carries: the caller's user id, the claims and roles the settings copy,
/// and the settings' lifetime and transports.
fn client_claims(state: &AppState, caller: &Caller) -> ClientClaims {
    let settings = state.settings();
    ClientClaims {
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
        transports: settings.allowed_transports,
        close_on_expiry: settings.close_on_token_expiry,
    }
}

/// Adds `user` to the group of each template that the caller's claims fill; a template they do
/// not fill is skipped (logged).
async fn join_groups(
    rest: &RestClient,
    hub: &str,
    user: &str,
    caller: &Caller,
    templates: &[String],
) -> Result<(), ApiError> {
    for template in templates {
        let group = match render(template, caller) {
            Ok(group) => group,
            Err(e @ Unfilled::Missing(_)) => {
                tracing::debug!(template, "group not joined at negotiate: {e}");
                continue;
            }
            Err(e @ Unfilled::Ambiguous(..)) => {
                tracing::warn!(template, user, "group not joined at negotiate: {e}");
                continue;
            }
        };
        names::validate_group(&group)
            .map_err(|e| ApiError::from(e).context(format!("group template {template:?}")))?;
        rest.add_user_to_group(hub, &group, user, None)
            .await
            .map_err(|e| {
                ApiError::from(e).context(format!("joining group {group:?} at negotiate"))
            })?;
    }
    Ok(())
}

/// A negotiate answer (SignalR's or Web PubSub's): 200 with a JSON object of string `fields`,
/// `Content-Type: application/json` and `Cache-Control: no-store`, since it carries an access
/// token.
pub(crate) fn answer(fields: &[(&str, &str)]) -> Response {
    answer_body(Bytes::from(json_text::string_object(fields)))
}

/// A negotiate answer whose JSON is `body` (shared by the anonymous clients of one second).
pub(crate) fn answer_body(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    // These two, and the two the CORS layer adds (`Vary`, `Allow-Credentials`): one allocation.
    headers.reserve(4);
    headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    response
}

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// 400 unless the service can use what the token would carry, so that no token is minted that
/// the service refuses or whose claims the upstream would misread: the user id follows the
/// service's name rules, and the user id, every copied claim and every role can travel in
/// `X-ASRS-User-Claims` unambiguously (see [`user_claims`]).
fn check_identity(claims: &ClientClaims) -> Result<(), ApiError> {
    let refuse = |code: &'static str, message: String| {
        Err(ApiError::bad_request(
            code,
            format!(
                "{message}; negotiate refuses identities the service cannot carry unambiguously"
            ),
        ))
    };
    if let Some(user) = &claims.user_id {
        if let Err(e) = names::validate_user(user) {
            return refuse("InvalidUserId", format!("the caller's {e}"));
        }
        if let Err(e) = user_claims::check("asrs.s.uid", user) {
            return refuse(
                "InvalidUserId",
                format!(
                    "the caller's user id {:?} cannot be used: it {}",
                    shown(user),
                    e.problem
                ),
            );
        }
    }
    let copied = claims.claims.iter().flat_map(|(kind, value)| {
        let items = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        items.into_iter().filter_map(move |item| match item {
            Value::Null => None,
            Value::String(s) => Some((kind.as_str(), s.clone())),
            other => Some((kind.as_str(), other.to_string())),
        })
    });
    let roles = claims.roles.iter().map(|r| ("role", r.clone()));
    for (kind, value) in copied.chain(roles) {
        if let Err(e) = user_claims::check(kind, &value) {
            return refuse("InvalidClaim", format!("the caller's {e}"));
        }
    }
    Ok(())
}

fn shown(value: &str) -> String {
    value.chars().take(64).collect()
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

/// Why a template was not filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfilled {
    /// A value is missing (an anonymous caller, a claim the caller does not have).
    #[error("{{{0}}} has no value")]
    Missing(String),
    /// A value cannot be trusted: the claim appears more than once, or is not a scalar.
    #[error("{{{0}}} is ambiguous: {1}")]
    Ambiguous(String, &'static str),
}

/// Fills a template from the caller's claims (see [`claim_value`]).
pub fn render(template: &str, caller: &Caller) -> Result<String, Unfilled> {
    render_with(template, |name| claim_value(name, caller))
}

/// The value of placeholder `name` for `caller`: `userId` is the user id, anything else a claim.
/// A claim that appears more than once, or is not a scalar, never fills a template: any one of
/// its values could be the wrong one.
pub fn claim_value(name: &str, caller: &Caller) -> Result<String, Unfilled> {
    if name == "userId" {
        return caller.user_id.clone().ok_or(Unfilled::Missing(name.into()));
    }
    let mut values = caller.claims.iter().filter(|(k, _)| k == name);
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(Unfilled::Missing(name.into())),
        (Some(_), Some(_)) => {
            return Err(Unfilled::Ambiguous(
                name.into(),
                "the claim has more than one value",
            ))
        }
        (Some((_, value)), None) => value,
    };
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err(Unfilled::Missing(name.into())),
        _ => Err(Unfilled::Ambiguous(
            name.into(),
            "the claim is a list or an object",
        )),
    }
}

/// Fills a template (checked by [`validate_template`]) with `value` of each placeholder name;
/// the first placeholder that cannot be filled is the error.
pub fn render_with(
    template: &str,
    value: impl Fn(&str) -> Result<String, Unfilled>,
) -> Result<String, Unfilled> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(Unfilled::Missing(after.into()));
        };
        out.push_str(&value(&after[..close])?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
