//! The emulator's abuse-protection handshake against handlers that answer it the ways real ones
//! do: `WebHook-Request-Origin` is the endpoint's host and port; `WebHook-Allowed-Origin` on
//! several header lines (as `@azure/web-pubsub-express` writes its `allowedEndpoints`), the host
//! without the port, `OPTIONS` 404 then `GET`; a refusal names what it got, and a failed handshake
//! is not retried at once.

use crate::webpubsub_emulator_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serverless_signalr::emulator::webpubsub::EventHandler;
use webpubsub_emulator_support::*;

const HUB: &str = "guarded";

/// How a handler answers the handshake: `OPTIONS` with `lines` of `WebHook-Allowed-Origin`
/// (`{origin}` replaced by the origin it was sent), or 404 when `options_404`, then `GET` alike.
#[derive(Clone)]
struct Handshake {
    lines: Vec<&'static str>,
    options_404: bool,
}

/// Starts the handler; returns its URL and how many handshakes it saw.
async fn handler(handshake: Handshake) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let app = Router::new().route(
        "/{*path}",
        any(move |method: Method, headers: HeaderMap| {
            let (handshake, seen) = (handshake.clone(), Arc::clone(&seen));
            async move { answer(&handshake, &seen, &method, &headers) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, count)
}

fn answer(h: &Handshake, seen: &AtomicUsize, method: &Method, headers: &HeaderMap) -> Response {
    if method == Method::POST {
        return StatusCode::NO_CONTENT.into_response();
    }
    seen.fetch_add(1, Ordering::SeqCst);
    if method == Method::OPTIONS && h.options_404 {
        return StatusCode::NOT_FOUND.into_response();
    }
    let origin = headers["webhook-request-origin"].to_str().unwrap();
    let mut response = StatusCode::OK.into_response();
    for line in &h.lines {
        let value = HeaderValue::from_str(&line.replace("{origin}", origin)).unwrap();
        response
            .headers_mut()
            .append("WebHook-Allowed-Origin", value);
    }
    response
}

async fn connect_status(url: &str) -> Result<(), u16> {
    let handler = EventHandler::parse(&format!("{url}/events;system=connect")).unwrap();
    let wps = spawn_with(|c| c.event_handlers = vec![handler]).await;
    let token = client_token(&wps, HUB, Some("u"), &[], &[]);
    let base = wps.base.replace("http", "ws");
    let url = format!("{base}/client/hubs/{HUB}?access_token={token}");
    open_url(&url, Some(JSON)).await.map(|_| ())
}

#[tokio::test]
async fn handshakes_pass_in_the_forms_handlers_answer() {
    let forms = [
        // @azure/web-pubsub-express with allowedEndpoints: one line per endpoint host (with port).
        (vec!["other.example", "{origin}"], false),
        (vec!["other.example, {origin}"], false),
        (vec!["*"], false),
        // A handler that knows the host only.
        (vec!["127.0.0.1"], false),
        (vec!["{origin}"], true),
    ];
    for (lines, options_404) in forms {
        let shown = format!("{lines:?} (OPTIONS 404: {options_404})");
        let (url, _) = handler(Handshake { lines, options_404 }).await;
        assert_eq!(connect_status(&url).await, Ok(()), "{shown}");
    }
}

#[tokio::test]
async fn a_refused_handshake_fails_the_connect_and_is_not_retried_at_once() {
    let (url, count) = handler(Handshake {
        lines: vec!["127.0.0.1:1"],
        options_404: false,
    })
    .await;
    let spec = format!("{url}/events?code=function-key-secret;system=connect");
    let handler = EventHandler::parse(&spec).unwrap();
    let wps = spawn_with(|c| c.event_handlers = vec![handler]).await;
    let token = client_token(&wps, HUB, Some("u"), &[], &[]);
    let answer = wps
        .http
        .get(format!(
            "{}/client/hubs/{HUB}?access_token={token}",
            wps.base
        ))
        .header("Connection", "upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 500);
    let text = answer.text().await.unwrap();
    let endpoint_host = wps.base.trim_start_matches("http://");
    assert!(text.contains("abuse-protection"), "{text}");
    assert!(
        text.contains(&format!("WebHook-Allowed-Origin: {endpoint_host}")),
        "{text}"
    );
    assert!(
        text.contains("127.0.0.1:1"),
        "what the handler answered: {text}"
    );
    assert!(text.contains(&format!("{url}/events")), "{text}");
    assert!(
        !text.contains("function-key-secret"),
        "no key in errors: {text}"
    );
    let base = wps.base.replace("http", "ws");
    let url = format!("{base}/client/hubs/{HUB}?access_token={token}");
    assert_eq!(open_url(&url, Some(JSON)).await.err(), Some(500));
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "the failure stands for a pause"
    );
}
