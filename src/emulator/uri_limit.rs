//! Both emulators' limit on the URL: a request whose path and query exceed [`MAX_URI_BYTES`] is
//! answered 414 in the emulator's own error shape ([`limit_uri`]) before any route runs, instead of
//! the HTTP server's bare 414 at 64 KB.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The longest path and query the emulators take, in bytes. The service does not take much
/// longer request lines (it dropped a close with a 190 KB query unanswered); the emulators answer
/// them with a clear 414 instead.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// A URL longer than the limit, turned into each emulator's error (`From<UriTooLong>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriTooLong {
    /// The limit in bytes.
    pub limit: usize,
}

/// Answers `E`'s 414 to a request whose path and query exceed [`MAX_URI_BYTES`]; a middleware
/// (`axum::middleware::from_fn(limit_uri::<E>)`).
pub async fn limit_uri<E>(request: Request, next: Next) -> Response
where
    E: From<UriTooLong> + IntoResponse,
{
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if length > MAX_URI_BYTES {
        return E::from(UriTooLong {
            limit: MAX_URI_BYTES,
        })
        .into_response();
    }
    next.run(request).await
}
