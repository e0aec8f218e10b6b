//! The one recording fake of a service's REST API (SignalR or Web PubSub): a real axum server on
//! 127.0.0.1:0 that keeps every request as it arrived (method, raw path and query, headers, body,
//! the client's address, the bearer token's claims) and answers from a queue of scripted
//! [`Reply`]s, else with its answer function. Like the real service it refuses a bearer token
//! that does not verify with [`KEY`] (401), so no test passes with a wrongly signed token.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::swagger::{self, Operation};
use super::KEY;

/// One request as the service saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// The path exactly as sent (still percent-encoded).
    pub path: String,
    /// The query exactly as sent.
    pub raw_query: String,
    /// Query pairs in order, decoded.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    /// The body exactly as received.
    pub body: Vec<u8>,
    /// The body as JSON, `Null` when it is not JSON.
    pub json: Value,
    /// The bearer token's claims (verified with [`KEY`]), `Null` without a bearer token.
    pub claims: Value,
    /// The client's address.
    pub peer: SocketAddr,
}

impl Recorded {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The `Authorization` header.
    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        self.authorization()
            .and_then(|a| a.strip_prefix("Bearer "))
            .expect("a Bearer token")
    }
}

/// An answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Append the request's Authorization header to the body (a service that leaks it).
    pub echo_authorization: bool,
    /// Answer only once this gate gives a permit (a request the test keeps in flight).
    pub hold: Option<Arc<Semaphore>>,
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

    /// Answers only once `gate` gives a permit.
    pub fn held_by(mut self, gate: &Arc<Semaphore>) -> Self {
        self.hold = Some(gate.clone());
        self
    }
}

/// How the service answers a request no scripted reply is queued for.
pub type Answer = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Default)]
struct Script {
    requests: Vec<Recorded>,
    replies: VecDeque<Reply>,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    answer: Arc<Mutex<Answer>>,
}

/// The running fake service.
#[derive(Clone)]
pub struct FakeService {
    pub port: u16,
    shared: Shared,
}

impl FakeService {
    /// A service that accepts everything ([`accept_all`]).
    pub async fn start() -> Self {
        Self::start_answering(accept_all()).await
    }

    /// A SignalR service that answers as its swagger says ([`signalr_swagger`]).
    pub async fn signalr() -> Self {
        Self::start_answering(signalr_swagger()).await
    }

    /// A Web PubSub service that answers as its swagger says ([`webpubsub_swagger`]).
    pub async fn webpubsub() -> Self {
        Self::start_answering(webpubsub_swagger()).await
    }

    /// A service on a free port that answers with `answer`.
    pub async fn start_answering(answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::serve(listener, answer)
    }

    /// Serves on an already bound listener.
    pub fn serve(listener: tokio::net::TcpListener, answer: Answer) -> Self {
        let port = listener.local_addr().expect("local address").port();
        let shared = Shared {
            script: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
        };
        let app = Router::new()
            .fallback(record_and_answer)
            .with_state(shared.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, shared }
    }

    /// The connection string of this service (SignalR and Web PubSub read the same shape).
    pub fn connection_string(&self) -> String {
        connection_string(self.port)
    }

    /// Answers every later request with `answer` (scripted replies still come first).
    pub fn answer(&self, answer: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        *self.shared.answer.lock().expect("answer lock") = Arc::new(answer);
    }

    /// Queues replies, answered in order before the answer function.
    pub fn reply(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script().replies.extend(replies);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.script().requests.clone()
    }

    /// Takes the requests so far, leaving none.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut self.script().requests)
    }

    /// The one request made since the last `take`.
    pub fn single(&self) -> Recorded {
        let mut requests = self.take();
        assert_eq!(requests.len(), 1, "exactly one request: {requests:#?}");
        requests.remove(0)
    }

    /// The requests so far once there are at least `count`, waiting up to 10 s for them.
    pub async fn wait_for_requests(&self, count: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "{count} requests expected within 10 s, got {requests:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.shared.script.lock().expect("script lock")
    }
}

/// The connection string of a service on 127.0.0.1:`port` with [`KEY`].
pub fn connection_string(port: u16) -> String {
    format!("Endpoint=http://127.0.0.1;Port={port};AccessKey={KEY};Version=1.0;")
}

/// 202 to a POST, 200 to anything else.
pub fn accept_all() -> Answer {
    Arc::new(|request| {
        Reply::status(if request.method == Method::POST {
            202
        } else {
            200
        })
    })
}

/// Each operation of the SignalR 2022-06-01 swagger its success status, anything else 400.
pub fn signalr_swagger() -> Answer {
    by_swagger(swagger::operations(), 400)
}

/// Each operation of the Web PubSub 2024-01-01 swagger its success status, anything else 404.
pub fn webpubsub_swagger() -> Answer {
    by_swagger(swagger::operations_of(swagger::WEBPUBSUB), 404)
}

fn by_swagger(operations: Vec<Operation>, unknown: u16) -> Answer {
    Arc::new(move |request| {
        match swagger::find(&operations, request.method.as_str(), &request.path) {
            Some(op) => Reply::status(op.success),
            None => Reply::status(unknown).body("no such operation in the swagger"),
        }
    })
}

/// Verifies an HS256 token with [`KEY`] (`exp` and `aud` required, `exp` in the future) and
/// returns its claims.
pub fn verify(token: &str) -> Value {
    try_verify(token).unwrap_or_else(|e| panic!("the token must verify with the access key: {e}"))
}

fn try_verify(token: &str) -> Result<Value, String> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(KEY.as_bytes()),
        &validation,
    )
    .map_err(|e| e.to_string())?
    .claims;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    match claims["exp"].as_u64() {
        Some(exp) if exp > now => Ok(claims),
        _ => Err(format!("`exp` is not in the future: {}", claims["exp"])),
    }
}

async fn record_and_answer(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let bearer = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(try_verify);
    let recorded = Recorded {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: url::form_urlencoded::parse(raw_query.as_bytes())
            .into_owned()
            .collect(),
        raw_query,
        headers: parts.headers,
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body,
        claims: bearer.clone().and_then(Result::ok).unwrap_or(Value::Null),
        peer,
    };
    let refused = match &bearer {
        Some(Err(e)) => Some(Reply::status(401).body(&format!(
            "the bearer token does not verify with the test key: {e}"
        ))),
        _ => None,
    };
    let scripted = {
        let mut script = shared.script.lock().expect("script lock");
        script.requests.push(recorded.clone());
        match refused {
            Some(_) => None,
            None => script.replies.pop_front(),
        }
    };
    let reply = refused.or(scripted).unwrap_or_else(|| {
        let answer = shared.answer.lock().expect("answer lock").clone();
        answer(&recorded)
    });
    respond(reply, &recorded).await
}

async fn respond(reply: Reply, request: &Recorded) -> Response {
    tokio::time::sleep(reply.delay).await;
    if let Some(gate) = &reply.hold {
        gate.acquire().await.expect("gate open").forget();
    }
    let mut text = reply.body;
    if reply.echo_authorization {
        text.push_str(request.authorization().unwrap_or(""));
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
