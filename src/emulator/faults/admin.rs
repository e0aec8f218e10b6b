//! `GET/PUT/DELETE /admin/faults`: read, replace and clear the faults while the emulator runs.
//! Loopback peers only (anyone else gets `403`), and no request from a web page of another
//! origin (its `Origin` must be the emulator's own), so a site open in the user's browser cannot
//! change them. Errors are `{"error": {"code", "message"}}`; a bad configuration names its field.
//!
//! * `GET` answers `{"config": {…, "seed"}, "counts": {"rest": {"seen", "injected": {…},
//!   "total"}, "connect": …, "upstream": …}}`;
//! * `PUT` takes the JSON of [`FaultConfig`], restarts the counts and the seeded sequences, and
//!   when it brings the service down closes every client connection; answers as `GET`;
//! * `DELETE` stops injecting (counts are kept until the next `PUT`); answers as `GET`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{FaultConfig, FaultConfigError};
use crate::emulator::Shared;

/// The path of the admin route.
pub const PATH: &str = "/admin/faults";

/// Why the admin route refused a request.
fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let message: String = message.into();
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// Whether the peer is on this machine: 127.0.0.0/8, ::1, or ::ffff:127.x.
pub fn is_loopback(peer: &SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// `Origin`, when present, must be `http://<Host>` (the dashboard's own page).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .to_str()
        .is_ok_and(|o| !host.is_empty() && o == format!("http://{host}"))
}

/// The admin route, every method.
pub async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !peer.is_some_and(|p| is_loopback(&p)) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "the fault admin route answers only on loopback (127.0.0.1 or ::1): call it from the emulator's machine",
        );
    }
    if !same_origin(request.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "the fault admin route does not take requests from web pages of another origin",
        );
    }
    match request.method().clone() {
        Method::GET => {}
        Method::PUT => {
            let limit = 64 * 1024;
            let body = match axum::body::to_bytes(request.into_body(), limit).await {
                Ok(body) => body,
                Err(_) => {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        "InvalidFaults",
                        format!(
                            "body: send the fault configuration as JSON of at most {limit} bytes"
                        ),
                    )
                }
            };
            if let Err(e) = put(&shared, &body) {
                return refuse(StatusCode::BAD_REQUEST, "InvalidFaults", e.to_string());
            }
        }
        Method::DELETE => {
            shared.faults.clear();
            tracing::info!("fault injection stopped");
        }
        other => {
            let mut response = refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("method {other} is not allowed here; allowed: GET, PUT, DELETE"),
            );
            response.headers_mut().insert(
                header::ALLOW,
                header::HeaderValue::from_static("GET, PUT, DELETE"),
            );
            return response;
        }
    }
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(shared.faults.report()),
    )
        .into_response()
}

fn put(shared: &Shared, body: &Bytes) -> Result<(), FaultConfigError> {
    let config = FaultConfig::from_json(body)?;
    tracing::info!(?config, "fault injection set");
    if shared.faults.set(config) {
        let closed = shared
            .hubs
            .close_all(Some("The service is unavailable (injected fault: down)."));
        tracing::info!(
            closed,
            "the service is down (injected): client connections closed"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_count_as_local() {
        for local in [
            "127.0.0.1:1",
            "127.9.9.9:1",
            "[::1]:1",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(is_loopback(&local.parse().unwrap()), "{local}");
        }
        for remote in [
            "10.0.0.1:1",
            "192.168.1.2:1",
            "[::ffff:10.0.0.1]:1",
            "[fe80::1]:1",
        ] {
            assert!(!is_loopback(&remote.parse().unwrap()), "{remote}");
        }
    }

    #[test]
    fn only_the_emulators_own_origin_is_taken() {
        let mut headers = HeaderMap::new();
        assert!(same_origin(&headers));
        headers.insert(header::HOST, "127.0.0.1:8888".parse().unwrap());
        headers.insert(header::ORIGIN, "http://127.0.0.1:8888".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "https://example.com".parse().unwrap());
        assert!(!same_origin(&headers));
    }
}
