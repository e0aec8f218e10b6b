//! The Web PubSub data-plane REST API (`docs/webpubsub.md` §3): the operations of api-version
//! 2024-01-01 plus `listConnections` of 2024-12-01, routed by axum with one file per operation
//! group (`send.rs`, `close.rs`, `exists.rs`, `membership.rs`, `permissions.rs`, `token.rs`,
//! `list.rs`), each taking a [`WpsRequest`] that has already checked the api-version, the hub,
//! the token and every name in the path. A wrong method is answered 405 after those checks, as
//! is a path no operation takes (404), so an unauthorized caller learns nothing. A path that only
//! differs by empty segments or percent-encoded characters (`%3Asend`) is routed as its
//! `normal_form`.

mod close;
mod exists;
mod list;
mod membership;
mod permissions;
mod send;
mod token;
mod wps_request;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, head, post, put, MethodRouter};
use axum::Router;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use super::error::WpsError;
use super::WebPubSubState;
use crate::emulator::reroute::{called_uri, reroute};
pub use wps_request::{WpsRequest, VERSIONS};

/// What an operation answers.
type Answer = Result<Response, WpsError>;

/// The routes of one emulator's state.
type Routes = Router<Arc<WebPubSubState>>;

/// Characters a path segment keeps percent-encoded in its normal form.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn not_allowed(method: &Method, allowed: &'static str) -> WpsError {
    WpsError::MethodNotAllowed {
        method: method.to_string(),
        allowed,
    }
}

/// Answers 405 naming the methods a path shape offers, after the checks every operation makes
/// (and to HEAD too where a GET route would otherwise take it).
fn only(
    allowed: &'static str,
    route: MethodRouter<Arc<WebPubSubState>>,
) -> MethodRouter<Arc<WebPubSubState>> {
    let refuse = move |_: WpsRequest, method: Method| async move { not_allowed(&method, allowed) };
    let route = if allowed.split(", ").any(|m| m == "HEAD") {
        route
    } else {
        route.head(refuse)
    };
    route.fallback(refuse)
}

/// The operations of one hub.
fn hub_routes() -> Routes {
    let p = |path: &str| format!("/api/hubs/{{hub}}{path}");
    let send = || only("POST", post(send::handle));
    let close = || only("POST", post(close::many));
    let join_leave = || {
        only(
            "PUT, DELETE",
            put(membership::join).delete(membership::leave),
        )
    };
    let leave_all = || only("DELETE", delete(membership::leave_all));
    let permission = put(permissions::grant)
        .delete(permissions::revoke)
        .head(permissions::check);
    // `:send` and friends are literal segments, not v0.7 captures.
    Router::new()
        .without_v07_checks()
        .route(&p("/:send"), send())
        .route(&p("/users/{user}/:send"), send())
        .route(&p("/groups/{group}/:send"), send())
        .route(&p("/connections/{connection}/:send"), send())
        .route(&p("/:closeConnections"), close())
        .route(&p("/users/{user}/:closeConnections"), close())
        .route(&p("/groups/{group}/:closeConnections"), close())
        .route(&p("/:addToGroups"), only("POST", post(membership::add)))
        .route(
            &p("/:removeFromGroups"),
            only("POST", post(membership::remove)),
        )
        .route(&p("/:generateToken"), only("POST", post(token::generate)))
        .route(
            &p("/connections/{connection}"),
            only("HEAD, DELETE", head(exists::handle).delete(close::one)),
        )
        .route(&p("/users/{user}"), only("HEAD", head(exists::handle)))
        .route(&p("/groups/{group}"), only("HEAD", head(exists::handle)))
        .route(
            &p("/groups/{group}/connections"),
            only("GET", get(list::handle)),
        )
        .route(&p("/groups/{group}/connections/{connection}"), join_leave())
        .route(&p("/users/{user}/groups/{group}"), join_leave())
        .route(&p("/connections/{connection}/groups"), leave_all())
        .route(&p("/users/{user}/groups"), leave_all())
        .route(
            &p("/permissions/{permission}/connections/{connection}"),
            only("PUT, DELETE, HEAD", permission),
        )
}

/// The operations and `/api/health`, which needs no token.
fn strict() -> Routes {
    let health = get(|| async { StatusCode::OK })
        .fallback(|method: Method| async move { not_allowed(&method, "HEAD, GET") });
    hub_routes().route("/api/health", health)
}

/// The REST API's routes: the operations, and `unmatched` for every other path under `/api`.
pub fn routes() -> Routes {
    strict().route("/api/{*rest}", any(unmatched))
}

/// The normal form of a REST path: no empty segments, each segment percent-decoded and encoded
/// again with only what a segment must encode. `None` when it is already normal.
fn normal_form(path: &str) -> Option<String> {
    let mut normal = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        normal.push('/');
        let decoded = percent_decode_str(segment).decode_utf8_lossy();
        normal.extend(utf8_percent_encode(&decoded, SEGMENT));
    }
    (normal != path).then_some(normal)
}

/// A path under `/api` that no operation took: routed again in its [`normal_form`] with the
/// original URI kept for the token's audience (the client signed the URL it called); else 404,
/// after the checks of an operation when the path names a hub.
async fn unmatched(State(state): State<Arc<WebPubSubState>>, request: Request) -> Response {
    let Some(normal) = normal_form(request.uri().path()) else {
        return no_operation(&state, request).into_response();
    };
    let path = request.uri().path().to_string();
    reroute(routes().with_state(state), request, normal)
        .await
        .unwrap_or_else(|| WpsError::NoRoute(path).into_response())
}

/// The 404 of a path in normal form that no operation takes.
fn no_operation(state: &Arc<WebPubSubState>, request: Request) -> WpsError {
    let (parts, _) = request.into_parts();
    let path = called_uri(&parts).path().to_string();
    let segments: Vec<&str> = parts.uri.path().split('/').skip(1).collect();
    if let ["api", "hubs", hub, ..] = segments.as_slice() {
        let hub = percent_decode_str(hub).decode_utf8_lossy().into_owned();
        if let Err(refused) = WpsRequest::authorize(&parts, state, hub, HashMap::new()) {
            return refused;
        }
    }
    WpsError::NoRoute(path)
}

#[cfg(test)]
mod tests {
    use super::normal_form;

    #[test]
    fn normal_forms() {
        assert_eq!(normal_form("/api/hubs/chat/:send"), None);
        assert_eq!(
            normal_form("/api/hubs/chat/%3Asend"),
            Some("/api/hubs/chat/:send".into())
        );
        assert_eq!(
            normal_form("/api//hubs/chat/users/bob/"),
            Some("/api/hubs/chat/users/bob".into())
        );
        assert_eq!(normal_form("/api/hubs/chat/users/a%2Fb"), None);
        assert_eq!(normal_form("/api/hubs/my%20hub/:send"), None);
    }
}
