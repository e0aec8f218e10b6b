//! The demo page at `/api/demo`: one static page (no build step, nothing from a CDN) that connects
//! with the official `@microsoft/signalr` browser bundle, vendored under `src/app/demo/` with its
//! licence and checked byte for byte against the npm package by `tests/suite/browser.rs`. Turned off
//! with `SIGNALR_DEMO=false`, which makes both routes answer 404.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

/// The page.
const INDEX: &str = include_str!("demo/index.html");
/// Its script (a file of its own: the CSP allows no inline script).
const SCRIPT: &str = include_str!("demo/demo.js");
/// Its style sheet.
const STYLE: &str = include_str!("demo/demo.css");
/// `dist/browser/signalr.min.js` of `@microsoft/signalr` (the version pinned in tests/e2e).
pub const SIGNALR_BUNDLE: &str = include_str!("demo/signalr.min.js");
/// Where the bundle comes from and its MIT licence.
const SIGNALR_LICENSE: &str = include_str!("demo/signalr.LICENSE.txt");

/// `GET /api/demo`: the page, with a CSP that allows only this app's files and connections to
/// the app and the service.
pub async fn page(State(state): State<AppState>) -> Response {
    if !state.settings().demo {
        return off();
    }
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX,
    )
        .into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(state.client_base())) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `GET /api/demo/{file}`: the page's script, style sheet, the SignalR bundle and its licence.
pub async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    if !state.settings().demo {
        return off();
    }
    let (content_type, cache, body) = match file.as_str() {
        "demo.js" => ("text/javascript; charset=utf-8", "no-cache", SCRIPT),
        "demo.css" => ("text/css; charset=utf-8", "no-cache", STYLE),
        // Pinned and only changed with the binary: an hour in the browser cache is safe.
        "signalr.min.js" => (
            "text/javascript; charset=utf-8",
            "public, max-age=3600",
            SIGNALR_BUNDLE,
        ),
        "signalr.LICENSE.txt" => (
            "text/plain; charset=utf-8",
            "public, max-age=3600",
            SIGNALR_LICENSE,
        ),
        other => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("the demo has no file {other:?}; it serves demo.js, demo.css, signalr.min.js and signalr.LICENSE.txt"),
            )
            .into_response()
        }
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The page's CSP: scripts and styles from this app only, no frames, no inline code; fetches
/// and sockets to this app and to the service's client endpoint (`client_base`).
pub fn content_security_policy(client_base: Option<&str>) -> String {
    let mut connect = String::from("'self'");
    if let Some(base) = client_base {
        let base = base.trim_end_matches('/');
        connect.push(' ');
        connect.push_str(base);
        let socket = base
            .strip_prefix("https://")
            .map(|rest| format!("wss://{rest}"))
            .or_else(|| {
                base.strip_prefix("http://")
                    .map(|rest| format!("ws://{rest}"))
            });
        if let Some(socket) = socket {
            connect.push(' ');
            connect.push_str(&socket);
        }
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

fn off() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "DemoOff",
        "the demo page is turned off (SIGNALR_DEMO=false)",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::content_security_policy;

    #[test]
    fn csp_allows_the_service_over_http_and_websockets_only() {
        let csp = content_security_policy(Some("http://127.0.0.1:8888/"));
        assert!(csp.contains("connect-src 'self' http://127.0.0.1:8888 ws://127.0.0.1:8888;"));
        assert!(csp.contains("script-src 'self';"));
        let csp = content_security_policy(Some("https://x.service.signalr.net/"));
        assert!(csp.contains("https://x.service.signalr.net wss://x.service.signalr.net;"));
    }
}
