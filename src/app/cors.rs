//! CORS for standalone use: exact allowed origins with credentials (the SignalR client negotiates
//! `withCredentials`), a correct preflight for negotiate, never `*`. Off when no origin is
//! configured, so the platform's own CORS is not doubled.

use std::time::Duration;

use axum::http::{HeaderValue, Method};
use axum::Router;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// Adds the CORS layer for `origins`, or nothing when the list is empty.
pub fn layer<S: Clone + Send + Sync + 'static>(router: Router<S>, origins: &[String]) -> Router<S> {
    if origins.is_empty() {
        return router;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(Duration::from_secs(600)),
    )
}
