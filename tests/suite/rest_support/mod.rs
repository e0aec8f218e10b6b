//! A stand-in SignalR Service for the REST contract tests: a real axum server on 127.0.0.1:0
//! that records every request as it arrives (method, raw path, query, Authorization, body, the
//! client's address) and answers from a queue of scripted replies, else with the swagger's
//! success status. Plus the independent checks: swagger conformance and token verification.

pub mod swagger;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use serverless_signalr::service::rest::{RestClient, RestOptions};
use serverless_signalr::service::ConnectionString;

/// The access key of every test connection string.
pub const KEY: &str = "rest-contract-test-key-0123456789abcdefghijklmnopqrstuvwxyz";

/// One request as the service saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path exactly as sent (still percent-encoded).
    pub path: String,
    /// Query pairs in order, decoded.
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
}

impl Recorded {
    /// The bearer token.
    pub fn token(&self) -> &str {
        self.authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .expect("a Bearer token")
    }
}

/// A scripted answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Append the request's Authorization header to the body (a service that leaks it).
    pub echo_authorization: bool,
}

impl Reply {
    /// An answer with `status` and nothing else.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }

    /// Answers only after `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Script {
    requests: Vec<Recorded>,
    replies: VecDeque<Reply>,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    operations: Arc<Vec<swagger::Operation>>,
}

/// The fake service.
pub struct FakeService {
    pub port: u16,
    shared: Shared,
}

impl FakeService {
    /// Starts a service on 127.0.0.1 with a free port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::serve(listener)
    }

    /// Serves on an already bound listener.
    pub fn serve(listener: tokio::net::TcpListener) -> Self {
        let port = listener.local_addr().expect("local address").port();
        let shared = Shared {
            script: Arc::default(),
            operations: Arc::new(swagger::operations()),
        };
        let app = Router::new()
            .fallback(answer)
            .with_state(shared.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, shared }
    }

    /// Queues replies, answered in order; then the swagger's success status.
    pub fn reply(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared
            .script
            .lock()
            .expect("script lock")
            .replies
            .extend(replies);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .script
            .lock()
            .expect("script lock")
            .requests
            .clone()
    }

    /// Takes the requests so far, leaving none.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut self.shared.script.lock().expect("script lock").requests)
    }

    /// The one request made since the last `take`.
    pub fn single(&self) -> Recorded {
        let mut requests = self.take();
        assert_eq!(requests.len(), 1, "exactly one request: {requests:#?}");
        requests.remove(0)
    }

    /// A client for this service.
    pub fn client(&self, options: RestOptions) -> RestClient {
        client_for_port(self.port, options)
    }
}

/// The connection string of a service on 127.0.0.1:`port`.
pub fn connection_string(port: u16) -> String {
    format!("Endpoint=http://127.0.0.1;Port={port};AccessKey={KEY};Version=1.0;")
}

/// A client for 127.0.0.1:`port`.
pub fn client_for_port(port: u16, options: RestOptions) -> RestClient {
    let connection =
        ConnectionString::parse(&connection_string(port)).expect("valid connection string");
    RestClient::new(&connection, options).expect("client")
}

/// Options with short waits, for fast tests.
pub fn fast_options() -> RestOptions {
    RestOptions {
        timeout: Duration::from_secs(5),
        max_retries: 3,
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    }
}

async fn answer(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body,
        peer,
    };
    let scripted = {
        let mut script = shared.script.lock().expect("script lock");
        script.requests.push(recorded.clone());
        script.replies.pop_front()
    };
    let reply = scripted.unwrap_or_else(|| {
        match swagger::find(&shared.operations, &recorded.method, &recorded.path) {
            Some(op) => Reply::status(op.success),
            None => Reply::status(400).body("no such operation in the swagger"),
        }
    });
    tokio::time::sleep(reply.delay).await;
    let mut text = reply.body;
    if reply.echo_authorization {
        text.push_str(recorded.authorization.as_deref().unwrap_or(""));
    }
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = StatusCode::from_u16(reply.status).expect("valid status");
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("valid header value"),
        );
    }
    response
}

/// What a request should look like.
pub struct Expect<'a> {
    /// The swagger `operationId` the request must match.
    pub operation: &'a str,
    pub method: &'a str,
    /// The raw path, e.g. `/api/hubs/chat/:send`.
    pub path: &'a str,
    /// Query pairs after `api-version`, in order (decoded).
    pub query: &'a [(&'a str, &'a str)],
    /// The exact JSON body, or `None` for no body.
    pub body: Option<Value>,
}

/// Checks a request against the swagger, the expectation and the token rules (`docs/protocol.md` §3): HS256 with
/// the test key, `aud` = `http://127.0.0.1{path}?api-version=2022-06-01` (no port, no extra
/// query), `nameid` present, `exp` in the future.
pub fn assert_request(request: &Recorded, expect: &Expect<'_>) {
    let operations = swagger::operations();
    let op = swagger::find(&operations, &request.method, &request.path)
        .unwrap_or_else(|| panic!("{} {} is not in the swagger", request.method, request.path));
    assert_eq!(
        op.id, expect.operation,
        "{} {}",
        request.method, request.path
    );
    assert_eq!(request.method, expect.method);
    assert_eq!(request.path, expect.path);
    for required in &op.required_query {
        assert!(
            request.query.iter().any(|(k, _)| k == required),
            "{}: required query {required} missing from {:?}",
            op.id,
            request.query
        );
    }
    for (name, _) in &request.query {
        assert!(
            op.allowed_query.contains(name),
            "{}: query {name} is not declared in the swagger",
            op.id
        );
    }
    let mut query = vec![("api-version".to_string(), "2022-06-01".to_string())];
    query.extend(
        expect
            .query
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
    );
    assert_eq!(request.query, query, "{}: query", op.id);
    match &expect.body {
        Some(json) => {
            assert_eq!(request.content_type.as_deref(), Some("application/json"));
            let sent: Value = serde_json::from_slice(&request.body).expect("JSON body");
            assert_eq!(&sent, json, "{}: body", op.id);
        }
        None => assert!(request.body.is_empty(), "{}: unexpected body", op.id),
    }
    let claims = verify_token(request.token());
    assert_eq!(
        claims["aud"],
        format!("http://127.0.0.1{}?api-version=2022-06-01", expect.path),
        "{}: aud",
        op.id
    );
}

/// Verifies a token with the test key (HS256) and returns its claims, checking `nameid` and
/// that `exp` is in the future.
pub fn verify_token(token: &str) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "aud"]);
    let data = jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(KEY.as_bytes()),
        &validation,
    )
    .expect("token signed with the access key");
    let claims = data.claims;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    assert!(
        claims["exp"].as_u64().expect("exp") > now,
        "exp in the future"
    );
    assert!(
        claims["nameid"].as_str().is_some_and(|n| !n.is_empty()),
        "nameid present"
    );
    claims
}

/// A service that reads each request's head and then drops the connection without answering:
/// the outcome of the request is unknown to the client. Returns the port and a request counter.
pub async fn start_dropping_service() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::AsyncReadExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(socket);
            });
        }
    });
    (port, seen)
}
