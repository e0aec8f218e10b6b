//! The checks a function route runs before its handler, in one layer: the function key (routes
//! with `authLevel: function`, `keys.rs`), then the JSON content type (JSON-body routes,
//! `content_type.rs`). One layer instead of one per check: each `from_fn` layer clones the
//! route's boxed service on every request.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{content_type, keys, AppState};

/// Which checks a route needs, with the state the key check reads.
#[derive(Clone)]
pub struct Guard {
    /// The app's state (its settings hold the function keys).
    pub state: AppState,
    /// Check the function key.
    pub key: bool,
    /// Check that the body is JSON.
    pub json: bool,
}

/// Middleware: the route's checks in order, then the handler; the first refusal answers.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let checked = match guard.key {
        true => keys::check(&guard.state, &request),
        false => Ok(()),
    }
    .and_then(|()| match guard.json {
        true => content_type::check_request(&request),
        false => Ok(()),
    });
    match checked {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}
