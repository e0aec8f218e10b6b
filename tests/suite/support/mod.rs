//! Test harness: a recording stand-in for the service's REST API (every request kept with its
//! decoded token claims) and `spawn_app`, which runs the real router on 127.0.0.1:0.
#![allow(dead_code)]

pub mod binary;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;
use serverless_signalr::app::settings::{ServeArgs, Settings};
use serverless_signalr::app::{router, AppState};
use serverless_signalr::http_server::{self, ServerLimits};
use serverless_signalr::service::entra::TokenSource;
use serverless_signalr::service::ConnectionString;

/// The well-known development key.
pub const KEY: &str = serverless_signalr::service::connection_string::DEV_ACCESS_KEY;

/// One request the recorder received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub claims: Value,
    pub body: Value,
    /// The body exactly as received.
    pub raw_body: Vec<u8>,
    pub headers: HeaderMap,
}

type Responder =
    Arc<dyn Fn(&Method, &str) -> (StatusCode, Vec<(&'static str, String)>, String) + Send + Sync>;

/// A server that records every request and answers as told.
#[derive(Clone)]
pub struct Recorder {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    responder: Arc<Mutex<Responder>>,
}

impl Recorder {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let default: Responder = Arc::new(|m, _| {
            let status = if m == Method::POST {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            (status, vec![], String::new())
        });
        let recorder = Self {
            port,
            requests: Arc::default(),
            responder: Arc::new(Mutex::new(default)),
        };
        let r = recorder.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let r = r.clone();
                async move {
                    let claims = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .map(decode_claims)
                        .unwrap_or(Value::Null);
                    let query = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                        .into_owned()
                        .collect();
                    let raw_body = body.to_vec();
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let path = uri.path().to_string();
                    r.requests.lock().unwrap().push(Recorded {
                        method: method.clone(),
                        path: path.clone(),
                        query,
                        claims,
                        body,
                        raw_body,
                        headers,
                    });
                    let responder = r.responder.lock().unwrap().clone();
                    let (status, headers, body) = responder(&method, &path);
                    let mut response = (status, body).into_response();
                    for (k, v) in headers {
                        response.headers_mut().insert(k, v.parse().unwrap());
                    }
                    response
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        recorder
    }

    pub fn connection_string(&self) -> String {
        format!(
            "Endpoint=http://127.0.0.1;Port={};AccessKey={KEY};Version=1.0;",
            self.port
        )
    }

    pub fn respond(
        &self,
        f: impl Fn(&Method, &str) -> (StatusCode, Vec<(&'static str, String)>, String)
            + Send
            + Sync
            + 'static,
    ) {
        *self.responder.lock().unwrap() = Arc::new(f);
    }

    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

/// Verifies an HS256 token with the development key and returns its claims.
pub fn decode_claims(token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(KEY.as_bytes()),
        &validation,
    )
    .expect("token must verify with the access key")
    .claims
}

/// A running app.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub http: reqwest::Client,
}

/// What the binary would read from the environment besides [`ServeArgs`]: the Entra ID token
/// sources (managed identities) and the listener limits.
#[derive(Default)]
pub struct AppOptions {
    /// The SignalR service's token source (`AuthType=azure.msi`).
    pub identity: Option<TokenSource>,
    /// The Web PubSub service's token source.
    pub webpubsub_identity: Option<TokenSource>,
    pub limits: ServerLimits,
}

/// Runs the real router for `args` (its connection strings included) on 127.0.0.1:0, served as
/// the binary serves it. Every test that needs the app in process starts it here.
pub async fn spawn_app_with(args: ServeArgs, options: AppOptions) -> TestApp {
    let connection = args
        .connection_string
        .as_deref()
        .map(|s| ConnectionString::parse(s).expect("a valid AzureSignalRConnectionString"));
    let settings = Settings::from_args(args).expect("settings");
    let app = router(AppState::with_identities(
        settings,
        connection.as_ref(),
        options.identity,
        options.webpubsub_identity,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(http_server::serve(
        listener,
        app,
        options.limits,
        std::future::pending(),
    ));
    TestApp {
        url,
        http: reqwest::Client::new(),
    }
}

/// [`spawn_app_with`] for `args` against the SignalR service at `connection_string`.
pub async fn spawn_app(mut args: ServeArgs, connection_string: &str) -> TestApp {
    args.connection_string = Some(connection_string.to_string());
    spawn_app_with(args, AppOptions::default()).await
}

/// Function keys for tests that run "outside the host" against a remote service.
pub fn keyed() -> ServeArgs {
    ServeArgs {
        function_keys: Some("test-key".into()),
        ..Default::default()
    }
}

/// Starts the real binary the way the Functions host does (FUNCTIONS_CUSTOMHANDLER_PORT set) and
/// polls `/` until it answers. Returns the child (killed on drop) and its base URL.
pub async fn spawn_under_host(env: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let handler = binary::spawn(true, env).await;
    (handler.child, handler.base)
}
