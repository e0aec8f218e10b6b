//! Applying a drawn fault to a REST or client request, as the outermost layer of the emulator's
//! router. Which class a request belongs to is decided by its path alone (`/api/…` is REST,
//! `/client…` is connect); the dashboard, its assets and `/admin/faults` never get faults.
//!
//! * `503` / `429`: answered at once with `Retry-After` and the service's error body; the request
//!   is not acted on and its body is not read.
//! * `reset-before`: the request head (request line and headers) has been read, as it must be to
//!   know the route; the body is not read, nothing is done, and the connection is reset (TCP RST).
//! * `reset-after`: the whole body is read, then the connection is reset without doing anything:
//!   the caller cannot tell whether the request was applied, and it was not.
//! * latency: a wait, then the request is served normally.
//! * down: like `reset-before`, for every request of both classes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Class, Fault};
use crate::emulator::Shared;
use crate::http_server::ConnectionReset;

/// The class of a request path, `None` for routes that never get faults.
pub fn class_of(path: &str) -> Option<Class> {
    if path.starts_with("/api/") {
        Some(Class::Rest)
    } else if path == "/client" || path.starts_with("/client/") {
        Some(Class::Connect)
    } else {
        None
    }
}

/// The middleware: draws a fault for the request's class and applies it.
pub async fn inject(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let Some(class) = class_of(request.uri().path()) else {
        return next.run(request).await;
    };
    let Some(fault) = shared.faults.draw(class) else {
        return next.run(request).await;
    };
    match fault {
        Fault::Latency(wait) => {
            tokio::time::sleep(wait).await;
            next.run(request).await
        }
        Fault::Status {
            status,
            retry_after,
        } => status_answer(status, retry_after),
        Fault::Down | Fault::ResetBefore => reset(&request.extensions().get().cloned()).await,
        Fault::ResetAfter => {
            let (parts, body) = request.into_parts();
            let limit = shared.config.max_body_bytes;
            // Whether the body arrives whole or not, nothing is done with it.
            let _ = axum::body::to_bytes(body, limit).await;
            reset(&parts.extensions.get().cloned()).await
        }
    }
}

/// A `503` or `429` in the service's error shape, with `Retry-After` in seconds.
fn status_answer(status: u16, retry_after: u32) -> Response {
    let (status, code, what) = if status == 429 {
        (
            StatusCode::TOO_MANY_REQUESTS,
            "Error.Request.Throttled",
            "too many requests",
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Error.Service.Unavailable",
            "the service is unavailable",
        )
    };
    let body = serde_json::json!({
        "code": code,
        "message": format!("Injected fault: {what}; retry after {retry_after} s"),
    });
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert("x-ms-error-code", HeaderValue::from_static(code));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// Resets the request's connection and never answers. A request that did not come through the
/// shared HTTP server (a router driven in-process) cannot be reset and gets a `503` saying so.
async fn reset(connection: &Option<ConnectionReset>) -> Response {
    match connection {
        Some(connection) => {
            connection.reset();
            std::future::pending::<()>().await;
            unreachable!("a pending future never completes")
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Body::from("injected fault: a connection reset was drawn, but this server cannot reset connections"),
        )
            .into_response(),
    }
}
