//! CORS for standalone use: exact allowed origins with credentials (the SignalR client negotiates
//! `withCredentials`), a correct preflight for negotiate, never `*`. In the local emulator stack
//! (never under the Functions host) loopback origins — `localhost`, `127.0.0.1`, `[::1]`, any
//! port — are allowed too, so a SPA on its own dev server just works. Off otherwise when no
//! origin is configured, so the platform's own CORS is not doubled. The policy itself is
//! [`OriginPolicy`], shared with the emulators.

use axum::Router;

pub use crate::http_server::origins::is_loopback_origin;
use crate::http_server::origins::OriginPolicy;
use crate::http_server::CrossOriginOnly;

/// Adds the CORS layer for `origins` (plus loopback origins when `allow_loopback`), or nothing
/// when there is neither.
pub fn layer<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    origins: &[String],
    allow_loopback: bool,
) -> Router<S> {
    let policy = OriginPolicy::new(origins, allow_loopback);
    if policy.is_off() {
        return router;
    }
    // Applied to cross-origin requests and preflights only (`http_server::CrossOriginOnly`).
    router.layer(CrossOriginOnly::new(policy.cors_layer()))
}
