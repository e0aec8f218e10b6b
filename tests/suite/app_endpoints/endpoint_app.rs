//! Helpers of the multiple-endpoint tests: the app over named endpoints, negotiate and send
//! through it, and clients connected where negotiate sent them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::app::settings::EndpointArgs;

use crate::emulator_support::{Emu, WsClient};
use crate::support::{keyed, spawn_app_with, AppOptions, TestApp};

pub const HUB: &str = "chat";

/// The app with `endpoints` (key, connection string), optionally `AzureSignalRConnectionString`
/// too, probing every `probe` seconds.
pub async fn spawn(endpoints: &[(&str, String)], single: Option<String>, probe: &str) -> TestApp {
    let mut args = keyed();
    args.endpoints =
        EndpointArgs::from_pairs(endpoints.iter().map(|(k, v)| (k.to_string(), v.clone())));
    args.endpoint_probe_seconds = Some(probe.into());
    // Health answers show each change at once (no reuse window).
    args.health_cache_seconds = Some("0".into());
    args.connection_string = single;
    spawn_app_with(args, AppOptions::default()).await
}

pub fn cs(e: &Emu) -> String {
    e.handle.connection_string()
}

pub fn port(e: &Emu) -> u16 {
    e.handle.local_addr().port()
}

pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.url))
        .header("x-functions-key", "test-key");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Negotiates through the app; returns the port of the endpoint it chose, and the answer.
pub async fn negotiate(app: &TestApp) -> (Result<u16, StatusCode>, Value) {
    let (status, body) = call(
        app,
        reqwest::Method::POST,
        &format!("/api/hubs/{HUB}/negotiate"),
        None,
    )
    .await;
    if status != StatusCode::OK {
        return (Err(status), body);
    }
    let url = url::Url::parse(body["url"].as_str().unwrap()).unwrap();
    (Ok(url.port().unwrap()), body)
}

/// A client that negotiated with the app and connected to `endpoint` (which must be the one
/// negotiate chose).
pub async fn client_via_app(app: &TestApp, endpoints: &[&Emu]) -> (WsClient, u16) {
    let (chosen, body) = negotiate(app).await;
    let chosen = chosen.expect("negotiate");
    let endpoint = endpoints
        .iter()
        .find(|e| port(e) == chosen)
        .expect("a known endpoint");
    let token = body["accessToken"].as_str().unwrap();
    (
        WsClient::connect_with_token(endpoint, HUB, token).await,
        chosen,
    )
}

pub async fn broadcast(app: &TestApp, text: &str, extra: Value) -> (StatusCode, Value) {
    let mut body = json!({ "target": "news", "arguments": [text] });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(extra.clone());
    }
    call(
        app,
        reqwest::Method::POST,
        &format!("/api/hubs/{HUB}/messages"),
        Some(body),
    )
    .await
}

pub async fn wait_until<F, Fut>(limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
