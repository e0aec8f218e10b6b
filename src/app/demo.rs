//! The demo page at `/api/demo`: one static page (no build step at run time, nothing from a CDN)
//! with two tabs. SignalR connects with the official `@microsoft/signalr` browser bundle, vendored
//! under `src/app/demo/` with its licence and checked byte for byte against the npm package by
//! `tests/suite/browser.rs`. Web PubSub (only when the app has a Web PubSub service) connects
//! with the official `@azure/web-pubsub-client`, bundled from its pinned npm packages by
//! `src/app/demo/webpubsub-client/build.mjs`; the same test rebuilds it and checks it byte for
//! byte. Turned off with `SIGNALR_DEMO=false`, which makes both routes answer 404.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;
use crate::service::webpubsub::WebPubSubConnectionString;

/// The page.
const INDEX: &str = include_str!("demo/index.html");
/// What `<body>` says in [`INDEX`]; the page answers with `on` when Web PubSub is configured.
const WEBPUBSUB_OFF: &str = r#"<body data-webpubsub="off">"#;
const WEBPUBSUB_ON: &str = r#"<body data-webpubsub="on">"#;

const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
/// The page's own files change with the page: the browser asks again each time.
const FRESH: &str = "no-cache";
/// Pinned and only changed with the binary: an hour in the browser cache is safe.
const PINNED: &str = "public, max-age=3600";

/// The files under `/api/demo/`: name, content type, caching, body. Scripts are files of their
/// own (the CSP allows no inline script).
const ASSETS: &[(&str, &str, &str, &str)] = &[
    ("demo.js", JS, FRESH, include_str!("demo/demo.js")),
    ("tabs.js", JS, FRESH, include_str!("demo/tabs.js")),
    ("webpubsub.js", JS, FRESH, include_str!("demo/webpubsub.js")),
    (
        "webpubsub-stream.js",
        JS,
        FRESH,
        include_str!("demo/webpubsub-stream.js"),
    ),
    (
        "demo.css",
        "text/css; charset=utf-8",
        FRESH,
        include_str!("demo/demo.css"),
    ),
    // `dist/browser/signalr.min.js` of `@microsoft/signalr` (the version pinned in tests/e2e).
    (
        "signalr.min.js",
        JS,
        PINNED,
        include_str!("demo/signalr.min.js"),
    ),
    (
        "signalr.LICENSE.txt",
        TEXT,
        PINNED,
        include_str!("demo/signalr.LICENSE.txt"),
    ),
    // Built by demo/webpubsub-client/build.mjs from the pinned `@azure/web-pubsub-client`.
    (
        "webpubsub-client.min.js",
        JS,
        PINNED,
        include_str!("demo/webpubsub-client.min.js"),
    ),
    (
        "webpubsub-client.LICENSE.txt",
        TEXT,
        PINNED,
        include_str!("demo/webpubsub-client.LICENSE.txt"),
    ),
];

/// `GET /api/demo`: the page, with a CSP that allows only this app's files and connections to
/// the app and the services; its Web PubSub tab is on when the app has a Web PubSub service.
pub async fn page(State(state): State<AppState>) -> Response {
    if !state.settings().demo {
        return off();
    }
    let webpubsub = state
        .webpubsub()
        .service()
        .ok()
        .map(|service| webpubsub_socket(&service.connection));
    let html = match webpubsub {
        Some(_) => INDEX.replacen(WEBPUBSUB_OFF, WEBPUBSUB_ON, 1),
        None => INDEX.to_string(),
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response();
    let headers = response.headers_mut();
    let csp = content_security_policy(state.client_base(), webpubsub.as_deref());
    if let Ok(csp) = HeaderValue::from_str(&csp) {
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

/// `GET /api/demo/{file}`: the page's scripts, style sheet, the client bundles and their licences.
pub async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    if !state.settings().demo {
        return off();
    }
    let Some(&(_, content_type, cache, body)) = ASSETS.iter().find(|(name, ..)| *name == file)
    else {
        let names: Vec<&str> = ASSETS.iter().map(|(name, ..)| *name).collect();
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "the demo has no file {file:?}; it serves {}",
                names.join(", ")
            ),
        )
        .into_response();
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

/// The origin the Web PubSub client's socket goes to, e.g. `ws://127.0.0.1:8080`.
fn webpubsub_socket(connection: &WebPubSubConnectionString) -> String {
    format!(
        "{}://{}",
        connection.websocket_scheme(),
        connection.authority()
    )
}

/// The page's CSP: scripts and styles from this app only, no frames, no inline code; fetches
/// and sockets to this app, to the SignalR service's client endpoint (`client_base`) and to the
/// Web PubSub service's socket origin (`webpubsub`).
pub fn content_security_policy(client_base: Option<&str>, webpubsub: Option<&str>) -> String {
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
    if let Some(socket) = webpubsub {
        connect.push(' ');
        connect.push_str(socket);
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
    use super::{content_security_policy, webpubsub_socket};
    use crate::service::connection_string::DEV_ACCESS_KEY;
    use crate::service::webpubsub::WebPubSubConnectionString;

    #[test]
    fn csp_allows_the_service_over_http_and_websockets_only() {
        let csp = content_security_policy(Some("http://127.0.0.1:8888/"), None);
        assert!(csp.contains("connect-src 'self' http://127.0.0.1:8888 ws://127.0.0.1:8888;"));
        assert!(csp.contains("script-src 'self';"));
        let csp = content_security_policy(Some("https://x.service.signalr.net/"), None);
        assert!(csp.contains("https://x.service.signalr.net wss://x.service.signalr.net;"));
    }

    #[test]
    fn csp_allows_the_webpubsub_socket() {
        let cs = WebPubSubConnectionString::parse(&format!(
            "Endpoint=http://127.0.0.1;Port=8080;AccessKey={DEV_ACCESS_KEY};Version=1.0;"
        ))
        .unwrap();
        assert_eq!(webpubsub_socket(&cs), "ws://127.0.0.1:8080");
        let cs = WebPubSubConnectionString::parse(&format!(
            "Endpoint=https://x.webpubsub.azure.com;AccessKey={DEV_ACCESS_KEY};Version=1.0;"
        ))
        .unwrap();
        let socket = webpubsub_socket(&cs);
        assert_eq!(socket, "wss://x.webpubsub.azure.com");
        let csp = content_security_policy(None, Some(&socket));
        assert!(csp.contains("connect-src 'self' wss://x.webpubsub.azure.com;"));
    }
}
