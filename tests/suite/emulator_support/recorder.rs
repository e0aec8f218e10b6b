//! A stand-in upstream on 127.0.0.1 that records every call the emulator makes and answers by
//! the last path segment (the event): `echo` returns a framed completion, `nocontent` 204,
//! `fail` 403, `hold` waits until the test calls [`Recorder::release`], anything else 200 empty.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use tokio::sync::Semaphore;

/// One upstream call as the recorder saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    /// The body's bytes (MessagePack bodies are not text).
    pub bytes: Vec<u8>,
}

impl Call {
    /// A header's value, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

/// The running recorder.
#[derive(Clone)]
pub struct Recorder {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    calls: Arc<Mutex<Vec<Call>>>,
    gate: Arc<Semaphore>,
}

impl Recorder {
    /// Starts a recorder on a free port.
    pub async fn start() -> Self {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let gate = Arc::new(Semaphore::new(0));
        let (log, held) = (Arc::clone(&calls), Arc::clone(&gate));
        let app = axum::Router::new().fallback(move |request: Request| {
            let (log, held) = (Arc::clone(&log), Arc::clone(&held));
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 16 << 20).await.unwrap();
                let path = parts.uri.path().to_string();
                log.lock().unwrap().push(Call {
                    path: path.clone(),
                    headers: parts.headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    bytes: body.to_vec(),
                });
                match path.rsplit('/').next().unwrap() {
                    "echo" => (
                        StatusCode::OK,
                        "{\"type\":3,\"invocationId\":\"1\",\"result\":\"pong\"}\u{1e}",
                    )
                        .into_response(),
                    "nocontent" => StatusCode::NO_CONTENT.into_response(),
                    "fail" => StatusCode::FORBIDDEN.into_response(),
                    "hold" => {
                        held.acquire().await.unwrap().forget();
                        StatusCode::OK.into_response()
                    }
                    _ => StatusCode::OK.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, calls, gate }
    }

    /// Lets one waiting (or future) `hold` call answer.
    pub fn release(&self) {
        self.gate.add_permits(1);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The first call to `path`, waiting up to 10 s for it.
    pub async fn wait_for(&self, path: &str) -> Call {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(call) = self.calls().into_iter().find(|c| c.path == path) {
                return call;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no upstream call to {path} within 10 s; got {:?}",
                self.calls().iter().map(|c| &c.path).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether any call went to `path`.
    pub fn called(&self, path: &str) -> bool {
        self.calls().iter().any(|c| c.path == path)
    }
}
