//! What a managed-identity app says when the service refuses its Entra ID token or its
//! identity lacks a role, and that it recovers once the cause is fixed, with no restart:
//! - the identity endpoint hands out an expired token, then one for the wrong audience (the
//!   emulator in Entra ID mode answers 401 to both), then a good one;
//! - a stand-in service answers 403 (no role assigned), then accepts.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::app::settings::ServeArgs;
use serverless_signalr::emulator::entra::EntraMode;
use serverless_signalr::emulator::{self, EmulatorConfig};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::entra::managed_identity::{
    ManagedIdentity, ManagedIdentityProtocol,
};
use serverless_signalr::service::entra::TokenSource;
use serverless_signalr::service::Secret;

use crate::support::{spawn_app_with, AppOptions};

const EXPIRED: u8 = 0;
const WRONG_AUDIENCE: u8 = 1;
const GOOD: u8 = 2;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

/// An identity endpoint that signs with the emulator's key whatever `state` says: always
/// claiming an hour of validity in `expires_on`, so the app caches what it gets.
async fn identity(State((key, state)): State<(Secret, Arc<AtomicU8>)>) -> Response {
    let (aud, exp) = match state.load(Ordering::SeqCst) {
        EXPIRED => ("https://signalr.azure.com", now() - 3600),
        WRONG_AUDIENCE => ("https://management.azure.com", now() + 3600),
        _ => ("https://signalr.azure.com", now() + 3600),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"aud": aud, "exp": exp, "iat": now()}),
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap();
    Json(json!({"access_token": token, "expires_on": (now() + 3600).to_string()})).into_response()
}

/// The app at `endpoint` with `AuthType=azure.msi`, its identity endpoint `identity`.
async fn app(endpoint: &str, identity: &str) -> String {
    let args = ServeArgs {
        connection_string: Some(format!(
            "Endpoint={endpoint};AuthType=azure.msi;Version=1.0;"
        )),
        function_keys: Some("k".into()),
        // Health answers show each change at once (no reuse window).
        health_cache_seconds: Some("0".into()),
        ..Default::default()
    };
    let source = TokenSource::ManagedIdentity(ManagedIdentity {
        protocol: ManagedIdentityProtocol::AppService {
            endpoint: identity.to_string(),
            header: Secret::new("h"),
        },
        client_id: None,
    });
    let options = AppOptions {
        identity: Some(source),
        ..Default::default()
    };
    spawn_app_with(args, options).await.url
}

async fn call(http: &reqwest::Client, app: &str, route: &str) -> (StatusCode, Value) {
    let request = match route {
        "negotiate" => http.post(format!("{app}/api/negotiate")),
        "send" => http
            .post(format!("{app}/api/messages"))
            .json(&json!({"target": "t", "arguments": []})),
        _ => http.get(format!("{app}/api/health")),
    };
    let r = request.header("x-functions-key", "k").send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn expired_and_wrong_audience_tokens_are_explained_and_replaced() {
    let mode = EntraMode::generate(true);
    let key = mode.token_key.clone();
    let mut config = EmulatorConfig::new(Secret::new(DEV_ACCESS_KEY));
    config.entra = Some(mode);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emulator_url = format!("http://{}", listener.local_addr().unwrap());
    let _emulator = emulator::start(config, listener).await.unwrap();
    let state = Arc::new(AtomicU8::new(EXPIRED));
    let identity_base = serve(
        Router::new()
            .route("/msi/token", get(identity))
            .with_state((key, Arc::clone(&state))),
    )
    .await;
    let app = app(&emulator_url, &format!("{identity_base}/msi/token")).await;
    let http = reqwest::Client::new();

    for (bad, service_says) in [(EXPIRED, "expired"), (WRONG_AUDIENCE, "audience")] {
        state.store(bad, Ordering::SeqCst);
        let (status, body) = call(&http, &app, "negotiate").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "IdentityUnavailable");
        assert!(
            message(&body).contains("HTTP 401")
                && message(&body).contains("wrong audience, expired, or from another tenant"),
            "{body}"
        );
        // The refused token was dropped: the send fetches another (still bad) one.
        let (status, body) = call(&http, &app, "send").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(
            message(&body).contains("401")
                && message(&body).contains(service_says)
                && message(&body).contains("a new token is fetched for the next call"),
            "{body}"
        );
        // The service's health API takes no token; the identity check names the refusal.
        let (status, body) = call(&http, &app, "health").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            body["identity"].as_str().unwrap().contains("HTTP 401"),
            "{body}"
        );
    }

    // Fixed: the next calls fetch a good token, no restart.
    state.store(GOOD, Ordering::SeqCst);
    let (status, body) = call(&http, &app, "negotiate").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&http, &app, "send").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let health = call(&http, &app, "health").await.1;
    assert_eq!(
        (&health["service"], &health["identity"]),
        (&json!("healthy"), &json!("ok")),
        "{health}"
    );
}

/// A stand-in service that answers 403 until the role is "assigned".
async fn no_role_then_ok(State(assigned): State<Arc<AtomicU8>>, headers: HeaderMap) -> Response {
    assert!(headers.get("authorization").is_some());
    if assigned.load(Ordering::SeqCst) == 0 {
        return AxumStatus::FORBIDDEN.into_response();
    }
    Json(json!({"KeyId": "t-key", "AccessKey": "temporary"})).into_response()
}

async fn send(State(assigned): State<Arc<AtomicU8>>) -> Response {
    if assigned.load(Ordering::SeqCst) == 0 {
        return AxumStatus::FORBIDDEN.into_response();
    }
    AxumStatus::ACCEPTED.into_response()
}

#[tokio::test]
async fn forbidden_names_the_role_and_recovers_once_it_is_assigned() {
    let good = Arc::new(AtomicU8::new(GOOD));
    let mode = EntraMode::generate(true);
    let identity_base = serve(
        Router::new()
            .route("/msi/token", get(identity))
            .with_state((mode.token_key.clone(), good)),
    )
    .await;
    let assigned = Arc::new(AtomicU8::new(0));
    let service = serve(
        Router::new()
            .route("/api/v1/auth/accessKey", get(no_role_then_ok))
            .without_v07_checks()
            .route("/api/hubs/default/:send", post(send))
            .with_state(Arc::clone(&assigned)),
    )
    .await;
    let app = app(&service, &format!("{identity_base}/msi/token")).await;
    let http = reqwest::Client::new();

    let (status, body) = call(&http, &app, "negotiate").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        message(&body).contains("HTTP 403") && message(&body).contains("SignalR App Server"),
        "{body}"
    );
    let (status, body) = call(&http, &app, "send").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        message(&body).contains("403") && message(&body).contains("SignalR REST API Owner"),
        "{body}"
    );

    assigned.store(1, Ordering::SeqCst);
    let (status, body) = call(&http, &app, "negotiate").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        jsonwebtoken::decode_header(body["accessToken"].as_str().unwrap())
            .unwrap()
            .kid
            .as_deref(),
        Some("t-key")
    );
    let (status, body) = call(&http, &app, "send").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}
