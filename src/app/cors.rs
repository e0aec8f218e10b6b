//! CORS for standalone use: exact allowed origins with credentials (the SignalR client negotiates
//! `withCredentials`), a correct preflight for negotiate, never `*`. In the local emulator stack
//! (never under the Functions host) loopback origins — `localhost`, `127.0.0.1`, `[::1]`, any
//! port — are allowed too, so a SPA on its own dev server just works. Off otherwise when no
//! origin is configured, so the platform's own CORS is not doubled.

use std::time::Duration;

use axum::http::{HeaderValue, Method};
use axum::Router;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::http_server::CrossOriginOnly;

/// Adds the CORS layer for `origins` (plus loopback origins when `allow_loopback`), or nothing
/// when there is neither.
pub fn layer<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    origins: &[String],
    allow_loopback: bool,
) -> Router<S> {
    if origins.is_empty() && !allow_loopback {
        return router;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    let allow = if allow_loopback {
        AllowOrigin::predicate(move |origin, _| {
            origins.contains(origin) || origin.to_str().is_ok_and(is_loopback_origin)
        })
    } else {
        AllowOrigin::list(origins)
    };
    // Applied to cross-origin requests and preflights only (`http_server::cors`).
    router.layer(CrossOriginOnly::new(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(Duration::from_secs(600)),
    ))
}

/// `http(s)://localhost`, `127.0.0.1` or `[::1]` with any port and nothing else (an origin has
/// no path, user or query).
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = match rest.rsplit_once(':') {
        Some((host, port))
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.len() <= 5 =>
        {
            host
        }
        _ => rest,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::is_loopback_origin;

    #[test]
    fn loopback_origins_are_exactly_the_local_hosts() {
        for yes in [
            "http://localhost:5173",
            "http://127.0.0.1:8080",
            "https://localhost",
            "http://[::1]:3000",
        ] {
            assert!(is_loopback_origin(yes), "{yes}");
        }
        for no in [
            "http://example.com",
            "http://localhost.example.com:80",
            "http://127.0.0.1.nip.io",
            "http://evil.com#127.0.0.1",
            "http://127.0.0.1@evil.com",
            "file://",
            "null",
            "http://localhost:80/path",
            "http://[::1]:x",
        ] {
            assert!(!is_loopback_origin(no), "{no}");
        }
    }
}
