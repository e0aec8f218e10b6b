//! Function keys outside the Functions host: routes whose function.json says
//! `authLevel: function` need a configured key in `x-functions-key` (wins) or `?code=`, so the
//! same callers work in both places. Under the host, the host has already checked the key.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;
use crate::app::settings::ServiceMode;

/// Middleware: lets the request through when the key is right (or not needed).
pub async fn require_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let settings = state.settings();
    if settings.listen.under_host {
        return next.run(request).await;
    }
    if settings.function_keys.is_empty() {
        if matches!(settings.service, ServiceMode::LocalEmulator) {
            // The local development stack: open, as `func start` is.
            return next.run(request).await;
        }
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "FunctionKeyRequired",
            "this route needs a function key outside the Functions host: set SIGNALR_FUNCTION_KEYS and send one as x-functions-key or ?code=",
        )
        .into_response();
    }
    let given = request
        .headers()
        .get("x-functions-key")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .or_else(|| query_code(request.uri().query()));
    let Some(given) = given else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "FunctionKeyRequired",
            "send the function key as x-functions-key or ?code=",
        )
        .into_response();
    };
    let matches = settings
        .function_keys
        .iter()
        .any(|k| bool::from(k.as_bytes().ct_eq(given.as_bytes())));
    if matches {
        next.run(request).await
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidFunctionKey",
            "the function key is not valid",
        )
        .into_response()
    }
}

fn query_code(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}
