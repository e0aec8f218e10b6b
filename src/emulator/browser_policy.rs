//! What the emulators let a web browser do (`SECURITY.md`, "The emulators and the developer's
//! browser"). The emulators run on the developer's machine, where any page the developer opens
//! can send requests to them, so:
//!
//! * **client routes** (what `@microsoft/signalr` and `@azure/web-pubsub-client` call: negotiate,
//!   the transports, the WebSocket) answer browsers of the allowed origins only — loopback
//!   origins, plus those configured ([`BrowserPolicy`]) — with CORS and credentials, and
//!   `Access-Control-Allow-Private-Network` only for those origins. A browser request from any
//!   other origin is refused with 403 before anything else, WebSocket upgrades included (CORS
//!   does not cover them);
//! * **server routes** (REST) and **local routes** (dashboard, fault admin, the managed-identity
//!   endpoint, the temporary access key) grant no CORS at all; a preflight there is refused with
//!   403;
//! * **local routes** also answer only requests addressed to this machine by name (`Host`:
//!   `localhost`, `127.0.0.1`, `[::1]`, any port; else 403), so a page on a name that resolves
//!   to 127.0.0.1 (DNS rebinding) cannot reach them as its own origin.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::cors::AllowPrivateNetwork;

use crate::http_server::origins::{check_origin, is_loopback_host, OriginPolicy};
use crate::http_server::CrossOriginOnly;

/// The origins whose pages may use an emulator's client routes: every loopback origin, plus the
/// configured ones (`handler emulator --cors-origins`, in the local stack
/// `SIGNALR_CORS_ORIGINS`).
#[derive(Debug, Clone)]
pub struct BrowserPolicy {
    origins: OriginPolicy,
}

impl Default for BrowserPolicy {
    /// Loopback origins only.
    fn default() -> Self {
        Self::new(&[])
    }
}

impl BrowserPolicy {
    /// Loopback origins plus `origins` (checked beforehand, e.g. by [`BrowserPolicy::parse`]).
    pub fn new(origins: &[String]) -> Self {
        Self {
            origins: OriginPolicy::new(origins, true),
        }
    }

    /// Loopback origins plus a comma-separated list of exact origins; an entry that is not
    /// `scheme://host[:port]`, or `*`, is the error.
    pub fn parse(list: &str) -> Result<Self, String> {
        let origins: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(String::from)
            .collect();
        for origin in &origins {
            check_origin(origin)?;
        }
        Ok(Self::new(&origins))
    }
}

/// The client routes: browsers of allowed origins get CORS (and private-network access), other
/// origins a 403.
pub fn client_routes<S>(router: Router<S>, policy: &BrowserPolicy) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let allowed = policy.origins.clone();
    let cors = policy
        .origins
        .cors_layer()
        .allow_private_network(AllowPrivateNetwork::predicate(move |origin, _| {
            allowed.allows(origin)
        }));
    // Applied to cross-origin requests and preflights only: a same-origin or server call skips it.
    websocket_routes(router.layer(CrossOriginOnly::new(cors)), policy)
}

/// Routes only WebSocket clients use (no CORS): a browser of another origin gets a 403.
pub fn websocket_routes<S>(router: Router<S>, policy: &BrowserPolicy) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(from_fn_with_state(policy.clone(), refuse_other_origins))
}

/// The REST API: servers only, no CORS; preflights get a 403.
pub fn server_routes<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(from_fn(refuse_preflights))
}

/// Dashboard, fault admin, identity and key routes: no CORS, and only for a loopback `Host`.
pub fn local_routes<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    server_routes(router).layer(from_fn(require_loopback_host))
}

async fn refuse_other_origins(
    State(policy): State<BrowserPolicy>,
    request: Request,
    next: Next,
) -> Response {
    match request.headers().get(header::ORIGIN) {
        Some(origin) if !policy.origins.allows(origin) => refuse(
            "Error.Request.OriginNotAllowed",
            "pages of this origin may not use the emulator's client endpoint: only loopback origins (localhost, 127.0.0.1, [::1]) and the configured ones (SIGNALR_CORS_ORIGINS in the local stack, handler emulator --cors-origins) may",
        ),
        _ => next.run(request).await,
    }
}

async fn refuse_preflights(request: Request, next: Next) -> Response {
    let headers = request.headers();
    if headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return refuse(
            "Error.Request.CrossOriginNotAllowed",
            "this route grants no cross-origin access: browsers may only call the client endpoint (/client/…)",
        );
    }
    next.run(request).await
}

/// A request without `Host` (HTTP/1.0, an in-process call) passes: browsers always send one.
async fn require_loopback_host(request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST);
    if host.is_some_and(|h| !h.to_str().is_ok_and(is_loopback_host)) {
        return refuse(
            "Error.Request.HostNotAllowed",
            "this route answers only requests addressed to localhost, 127.0.0.1 or [::1] (the Host header): open it as http://127.0.0.1:<port>/",
        );
    }
    next.run(request).await
}

/// 403 in the emulators' error shape: `x-ms-error-code` and `{code, message}`.
fn refuse(code: &'static str, message: &'static str) -> Response {
    let mut response = (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response();
    response
        .headers_mut()
        .insert("x-ms-error-code", HeaderValue::from_static(code));
    response
}
