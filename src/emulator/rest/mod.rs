//! The service's data-plane REST API, api-version 2022-06-01 (`/api/hubs/…`) and v1
//! (`/api/v1/hubs/…`), plus the operations later versions added (`list.rs`: a group's
//! connections, 2024-12-01; `execute.rs`: commands by filter, and `token.rs`: client tokens,
//! 2023-07-01; `invoke.rs` and `stream.rs`: client results and streams, 2024-12-01), routed by
//! axum: one route per path shape, one handler per operation (`send.rs`, `close.rs`,
//! `exists.rs`, `membership.rs`, `list.rs`, `invoke.rs`, `stream.rs`), each taking a [`HubRequest`] that has
//! already checked the token, the hub and every name in the path. Like Microsoft's emulator,
//! every path shape is accepted under both prefixes; the status codes follow the prefix's
//! swagger ([`Flavor`]). A path that only differs by a `V1` in capitals or empty segments is
//! routed as its normal form (`lenient`).

mod close;
mod execute;
mod exists;
mod hub_request;
mod invoke;
mod list;
mod membership;
mod send;
mod stream;
mod token;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, put, MethodRouter};
use axum::{Extension, Router};

use super::error::EmulatorError;
use super::reroute::reroute;
use super::Shared;
pub use hub_request::HubRequest;

/// Which API generation a request used; it decides some success codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `/api/v1/…`
    V1,
    /// `/api/…` (2022-06-01)
    V2022,
}

impl Flavor {
    /// The status for a success that the two swaggers document differently.
    fn pick(self, v1: StatusCode, v2022: StatusCode) -> StatusCode {
        match self {
            Self::V1 => v1,
            Self::V2022 => v2022,
        }
    }
}

/// What an operation answers.
type Answer = Result<StatusCode, EmulatorError>;

/// Answers 405 naming the methods a path shape offers.
fn only(allowed: &'static str, route: MethodRouter<Arc<Shared>>) -> MethodRouter<Arc<Shared>> {
    route.fallback(move |method: Method| async move {
        EmulatorError::MethodNotAllowed {
            method: method.to_string(),
            allowed,
        }
    })
}

/// The hub operations under one prefix.
fn hub_routes(prefix: &str, flavor: Flavor) -> Router<Arc<Shared>> {
    let p = |path: &str| format!("{prefix}/hubs/{{hub}}{path}");
    let to_all = || only("POST", post(send::handle));
    let membership = || {
        only(
            "PUT, DELETE",
            put(membership::add).delete(membership::remove),
        )
    };
    let user_in_group = || {
        only(
            "GET, HEAD, PUT, DELETE",
            get(exists::handle)
                .put(membership::add)
                .delete(membership::remove),
        )
    };
    // `:send` and `:closeConnections` are literal segments, not v0.7 captures.
    Router::new()
        .without_v07_checks()
        .route(&p(""), to_all())
        .route(&p("/:send"), to_all())
        .route(&p("/:closeConnections"), only("POST", post(close::many)))
        .route(
            &p("/connections/{connection}"),
            only(
                "GET, HEAD, POST, DELETE",
                get(exists::handle).post(send::handle).delete(close::one),
            ),
        )
        .route(
            &p("/connections/{connection}/:send"),
            only("POST", post(send::handle)),
        )
        .route(
            &p("/connections/{connection}/groups"),
            only("DELETE", delete(membership::remove_from_all)),
        )
        .route(&p("/connections/{connection}/groups/{group}"), membership())
        .route(&p("/groups/{group}/connections/{connection}"), membership())
        .route(
            &p("/groups/{group}"),
            only("GET, HEAD, POST", get(exists::handle).post(send::handle)),
        )
        .route(
            &p("/groups/{group}/:send"),
            only("POST", post(send::handle)),
        )
        .route(
            &p("/groups/{group}/:closeConnections"),
            only("POST", post(close::many)),
        )
        .route(
            &p("/users/{user}"),
            only("GET, HEAD, POST", get(exists::handle).post(send::handle)),
        )
        .route(&p("/users/{user}/:send"), only("POST", post(send::handle)))
        .route(
            &p("/users/{user}/:closeConnections"),
            only("POST", post(close::many)),
        )
        .route(
            &p("/users/{user}/groups"),
            only("DELETE", delete(membership::remove_from_all)),
        )
        .route(&p("/users/{user}/groups/{group}"), user_in_group())
        .route(&p("/groups/{group}/users/{user}"), user_in_group())
        .route(
            &format!("{prefix}/health"),
            only("GET, HEAD", get(|| async { StatusCode::OK })),
        )
        .merge(connection_routes(prefix))
        .layer(Extension(flavor))
}

/// The 2024-12-01 operations on one connection: client results and server-to-client streams.
fn connection_routes(prefix: &str) -> Router<Arc<Shared>> {
    let p = |path: &str| format!("{prefix}/hubs/{{hub}}/connections/{{connection}}{path}");
    Router::new()
        .without_v07_checks()
        .route(&p("/:invoke"), only("POST", post(invoke::handle)))
        .route(
            &p("/streams/{stream}/:send"),
            only("POST", post(stream::send)),
        )
        .route(
            &p("/streams/{stream}/:complete"),
            only("POST", post(stream::complete)),
        )
}

/// The REST API's routes: both prefixes, and `lenient` for every other path under `/api`.
pub fn routes() -> Router<Arc<Shared>> {
    strict().route("/api/{*rest}", any(lenient))
}

/// The hub operations under both prefixes.
fn strict() -> Router<Arc<Shared>> {
    Router::new()
        .without_v07_checks()
        .merge(hub_routes("/api/v1", Flavor::V1))
        .merge(hub_routes("/api", Flavor::V2022))
        .merge(newer_routes())
}

/// The operations that api-versions after 2022-06-01 added (`/api/…` only; each checks the
/// api-version it needs).
fn newer_routes() -> Router<Arc<Shared>> {
    let p = |path: &str| format!("/api/hubs/{{hub}}{path}");
    Router::new()
        .without_v07_checks()
        .route(
            &p("/groups/{group}/connections"),
            only("GET", get(list::handle)),
        )
        .route(&p("/:execute"), only("POST", post(execute::handle)))
        .route(&p("/:generateToken"), only("POST", post(token::generate)))
        .route(
            "/api/auth/accessKey",
            only("GET", get(crate::emulator::entra::access_key)),
        )
        .layer(Extension(Flavor::V2022))
}

/// The normal form of a REST path: `v1` in lower case, no empty segments. `None` when it is
/// already normal (or not a REST path).
fn normal_form(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut normal = String::with_capacity(path.len());
    for (i, segment) in segments.iter().enumerate() {
        normal.push('/');
        match (i, segment) {
            (1, v) if v.eq_ignore_ascii_case("v1") => normal.push_str("v1"),
            _ => normal.push_str(segment),
        }
    }
    (normal != path).then_some(normal)
}

/// A path under `/api` that matched no route: routed again in its [`normal_form`], with the
/// original URI kept for the token's audience (the client signed the URL it called); else 404.
async fn lenient(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let no_route = || EmulatorError::NoRoute(path.clone()).into_response();
    let Some(normal) = normal_form(&path) else {
        return no_route();
    };
    let strict = strict()
        .fallback(|uri: Uri| async move { EmulatorError::NoRoute(uri.path().to_string()) })
        .with_state(shared);
    reroute(strict, request, normal)
        .await
        .unwrap_or_else(no_route)
}

#[cfg(test)]
mod tests {
    use super::normal_form;

    #[test]
    fn normal_forms() {
        assert_eq!(normal_form("/api/hubs/chat/:send"), None);
        assert_eq!(
            normal_form("/api/V1/hubs/chat/"),
            Some("/api/v1/hubs/chat".into())
        );
        assert_eq!(
            normal_form("/api//hubs//chat"),
            Some("/api/hubs/chat".into())
        );
        assert_eq!(normal_form("/api/nothing"), None);
    }
}
