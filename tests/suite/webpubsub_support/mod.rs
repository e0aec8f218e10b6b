//! Test harness of the Web PubSub tests: a recording stand-in for the service's REST API on
//! 127.0.0.1:0 that checks nothing itself and answers each operation with the success status of
//! the vendored 2024-01-01 swagger (`tests/fixtures/swagger/webpubsub-2024-01-01.json`), plus
//! the independent checks every recorded call must pass.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;

/// The access key of every test connection string.
pub const KEY: &str = "webpubsub-test-key-0123456789abcdefghijklmnopqrstuvwxyz";
/// The swagger file.
pub const SWAGGER: &str = "webpubsub-2024-01-01.json";
/// Its SHA-256 (see tests/fixtures/swagger/README.md).
pub const SWAGGER_SHA256: &str = "a1fc29b91d68bac69a7d36bf539dd03ef4d40197345d108d1cc01c9be9133c4d";

/// One operation of the swagger.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub template: String,
    pub required_query: Vec<String>,
    pub allowed_query: Vec<String>,
    pub consumes: Vec<String>,
    pub body_required: bool,
    pub success: u16,
}

/// Every operation of the vendored swagger.
pub fn operations() -> Vec<Operation> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/swagger")
        .join(SWAGGER);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let query = |required: bool| {
                params
                    .iter()
                    .filter(|p| p["in"] == "query" && (!required || p["required"] == true))
                    .map(|p| p["name"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            };
            let success = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|k| k.parse::<u16>().ok())
                .find(|s| (200..300).contains(s))
                .unwrap();
            out.push(Operation {
                id: op["operationId"].as_str().unwrap().to_string(),
                method: method.to_uppercase(),
                template: template.clone(),
                required_query: query(true),
                allowed_query: query(false),
                consumes: op["consumes"]
                    .as_array()
                    .map(|a| a.iter().map(|c| c.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default(),
                body_required: params
                    .iter()
                    .any(|p| p["in"] == "body" && p["required"] == true),
                success,
            });
        }
    }
    out
}

/// The operation a raw request path and method match (template parameters match one
/// non-empty segment).
pub fn find<'a>(
    operations: &'a [Operation],
    method: &str,
    raw_path: &str,
) -> Option<&'a Operation> {
    crate::rest_support::swagger::find_in(
        operations,
        |op| (&op.method, &op.template),
        method,
        raw_path,
    )
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    /// The query as sent.
    pub raw_query: String,
    /// Query pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
    }

    pub fn token(&self) -> &str {
        self.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .expect("a Bearer token")
    }
}

/// A scripted answer: status and body.
pub type Reply = (u16, String);

/// The recording stand-in.
#[derive(Clone)]
pub struct Service {
    pub port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
}

impl Service {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let service = Self {
            port,
            requests: Arc::default(),
            replies: Arc::default(),
        };
        let operations = Arc::new(operations());
        let s = service.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                let operations = operations.clone();
                async move {
                    let recorded = Recorded {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        raw_query: uri.query().unwrap_or("").to_string(),
                        query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                            .into_owned()
                            .collect(),
                        headers,
                        body: body.to_vec(),
                    };
                    let scripted = s.replies.lock().unwrap().pop_front();
                    let (status, body) = scripted.unwrap_or_else(|| {
                        match find(&operations, &recorded.method, &recorded.path) {
                            Some(op) => (op.success, String::new()),
                            None => (404, "no such operation".into()),
                        }
                    });
                    s.requests.lock().unwrap().push(recorded);
                    (StatusCode::from_u16(status).unwrap(), body).into_response()
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        service
    }

    pub fn connection_string(&self) -> String {
        format!(
            "Endpoint=http://127.0.0.1;Port={};AccessKey={KEY};Version=1.0;",
            self.port
        )
    }

    pub fn reply(&self, reply: Reply) {
        self.replies.lock().unwrap().push_back(reply);
    }

    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }

    pub fn single(&self) -> Recorded {
        let mut all = self.take();
        assert_eq!(all.len(), 1, "exactly one request: {all:#?}");
        all.remove(0)
    }
}

/// Checks a recorded call against the swagger and the token rules, and returns the operation id:
/// the operation exists; every required query parameter is there and every one sent is
/// declared, `api-version` is 2024-01-01 (once); a body has a media type the operation consumes (and
/// one is there when required); the token verifies with the key (HS256) and its `aud` is the
/// whole request URL, as the SDKs sign.
pub fn check(request: &Recorded, port: u16) -> String {
    let operations = operations();
    let op = find(&operations, &request.method, &request.path)
        .unwrap_or_else(|| panic!("{} {} is not in the swagger", request.method, request.path));
    for required in &op.required_query {
        assert!(
            request.query.iter().any(|(k, _)| k == required),
            "{}: {required} missing",
            op.id
        );
    }
    for (name, _) in &request.query {
        assert!(
            op.allowed_query.contains(name),
            "{}: query {name} is not declared",
            op.id
        );
    }
    let versions: Vec<&str> = request
        .query
        .iter()
        .filter(|(k, _)| k == "api-version")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(versions, ["2024-01-01"], "{}: api-version", op.id);
    if op.body_required {
        let media = request
            .content_type()
            .expect("a Content-Type with the body");
        assert!(
            op.consumes.iter().any(|c| c == media),
            "{}: {media} is not consumed",
            op.id
        );
    } else {
        assert!(request.body.is_empty(), "{}: unexpected body", op.id);
    }
    let claims = verify(request.token());
    assert_eq!(
        claims["aud"],
        format!(
            "http://127.0.0.1:{port}{}?{}",
            request.path, request.raw_query
        ),
        "{}: aud",
        op.id
    );
    op.id.clone()
}

/// Verifies a token with [`KEY`] and returns its claims; `exp` must be in the future.
pub fn verify(token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(KEY.as_bytes()),
        &validation,
    )
    .expect("signed with the access key")
    .claims;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(claims["exp"].as_u64().unwrap() > now);
    claims
}
