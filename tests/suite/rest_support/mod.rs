//! The REST contract tests' side of the harness: SignalR REST clients for the recording fake
//! service (`support::FakeService::signalr`), and the independent checks every recorded call
//! must pass: swagger conformance and token verification.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use serverless_signalr::service::rest::{RestClient, RestOptions};
use serverless_signalr::service::ConnectionString;

use crate::support::fake_service::connection_string;
use crate::support::{swagger, verify, FakeService, Recorded};

/// A client for `service`.
pub fn client(service: &FakeService, options: RestOptions) -> RestClient {
    client_for_port(service.port, options)
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
    assert_request_in(swagger::V2022, "2022-06-01", request, expect);
}

/// [`assert_request`] for an operation of the swagger `file`, called with `api_version` (in the
/// query and the token's audience).
pub fn assert_request_in(file: &str, api_version: &str, request: &Recorded, expect: &Expect<'_>) {
    let operations = swagger::operations_of(file);
    let op = swagger::find(&operations, request.method.as_str(), &request.path)
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
    let mut query = vec![("api-version".to_string(), api_version.to_string())];
    query.extend(
        expect
            .query
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
    );
    assert_eq!(request.query, query, "{}: query", op.id);
    match &expect.body {
        Some(json) => {
            assert_eq!(request.content_type(), Some("application/json"));
            let sent: Value = serde_json::from_slice(&request.body).expect("JSON body");
            assert_eq!(&sent, json, "{}: body", op.id);
        }
        None => assert!(request.body.is_empty(), "{}: unexpected body", op.id),
    }
    let claims = verify_token(request.token());
    assert_eq!(
        claims["aud"],
        format!("http://127.0.0.1{}?api-version={api_version}", expect.path),
        "{}: aud",
        op.id
    );
}

/// Verifies a token with the test key ([`verify`]) and returns its claims, checking `nameid`
/// too.
pub fn verify_token(token: &str) -> Value {
    let claims = verify(token);
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
