//! Routing a request again under the normal form of its path, for both emulators' REST APIs
//! (a lenient client's `V1`, empty segments or percent-encoded literals): the request keeps its
//! original URI, because a token's audience names the URL the client called.

use axum::extract::{OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::Uri;
use axum::response::Response;
use axum::Router;
use tower::ServiceExt;

/// Routes `request` through `router` again at `path` (its query kept), with its original URI as
/// [`OriginalUri`]; `None` when `path` makes no URI.
pub async fn reroute(router: Router, mut request: Request, path: String) -> Option<Response> {
    let original = request.uri().clone();
    let path_and_query = match original.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let uri = Uri::builder().path_and_query(path_and_query).build().ok()?;
    *request.uri_mut() = uri;
    request.extensions_mut().insert(OriginalUri(original));
    match router.oneshot(request).await {
        Ok(response) => Some(response),
        Err(never) => match never {},
    }
}

/// The URL the client called: a re-routed request's original one.
pub fn called_uri(parts: &Parts) -> Uri {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |original| original.0.clone())
}
