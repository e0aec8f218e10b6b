//! Function keys outside the Functions host: routes whose function.json says
//! `authLevel: function` need a configured key in `x-functions-key` (wins) or `?code=`, so the
//! same callers work in both places. Under the host, the host has already checked the key.

use axum::extract::Request;
use axum::http::StatusCode;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;
use crate::app::settings::ServiceMode;

/// Lets the request through when the key is right (or not needed); else the 401 to answer.
pub fn check(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let settings = state.settings();
    if settings.listen.under_host {
        return Ok(());
    }
    if settings.function_keys.is_empty() {
        if matches!(settings.service, ServiceMode::LocalEmulator) {
            // The local development stack: open, as `func start` is.
            return Ok(());
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "FunctionKeyRequired",
            "this route needs a function key outside the Functions host: set SIGNALR_FUNCTION_KEYS and send one as x-functions-key or ?code=",
        ));
    }
    let given = request
        .headers()
        .get("x-functions-key")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .or_else(|| query_code(request.uri().query()));
    let Some(given) = given else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "FunctionKeyRequired",
            "send the function key as x-functions-key or ?code=",
        ));
    };
    let matches = settings
        .function_keys
        .iter()
        .any(|k| bool::from(k.as_bytes().ct_eq(given.as_bytes())));
    if matches {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidFunctionKey",
            "the function key is not valid",
        ))
    }
}

fn query_code(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}
