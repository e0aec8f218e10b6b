//! Upstream requests as the service sends them (`docs/protocol.md` §5.1): headers,
//! bodies and an `X-ASRS-Signature` computed here with `hmac`/`sha2` directly, independently of
//! the app's own code; plus a helper that runs the app against a recording service.
#![allow(dead_code)]

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::app::settings::ServeArgs;
use sha2::Sha256;

use crate::support::{spawn_app, FakeService, TestApp, KEY};

/// The hub every request names.
pub const HUB: &str = "chat";
/// The connection id every request names.
pub const CONN: &str = "conn-1";

/// `sha256=<lowercase hex of HMAC-SHA256(key, connection id)>`.
pub fn sign(key: &str, connection_id: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(connection_id.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// One upstream request, built up and then sent.
#[derive(Debug, Clone)]
pub struct Call {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Call {
    fn new(category: &str, event: &str, body: Value) -> Self {
        Self {
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-ASRS-Hub".into(), HUB.into()),
                ("X-ASRS-Category".into(), category.into()),
                ("X-ASRS-Event".into(), event.into()),
                ("X-ASRS-Connection-Id".into(), CONN.into()),
                ("X-ASRS-Signature".into(), sign(KEY, CONN)),
            ],
            body: body.to_string().into_bytes(),
        }
    }

    /// Sets (or replaces) a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self = self.without(name);
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Drops a header.
    pub fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    /// The caller's user id.
    pub fn user(self, user: &str) -> Self {
        self.header("X-ASRS-User-Id", user)
    }

    /// Replaces the body with raw bytes.
    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends it to `/api/upstream?code=test-key`; the status and the body as text.
    pub async fn send(&self, app: &TestApp) -> (StatusCode, String) {
        let mut request = app
            .http
            .post(format!("{}/api/upstream?code=test-key", app.url))
            .body(self.body.clone());
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        let response = request.send().await.expect("the app answers");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }
}

/// `connections/connected` with body `{"type":10}`.
pub fn connected() -> Call {
    Call::new("connections", "connected", json!({"type": 10}))
}

/// `connections/disconnected` as the emulator sends it (PascalCase).
pub fn disconnected(error: &str) -> Call {
    Call::new(
        "connections",
        "disconnected",
        json!({"Type": 11, "Error": error}),
    )
}

/// `messages/<target>`: a blocking invocation with id `"1"`.
pub fn invoke(target: &str, arguments: Value) -> Call {
    Call::new(
        "messages",
        target,
        json!({"type": 1, "invocationId": "1", "target": target, "arguments": arguments}),
    )
}

/// `messages/<target>` without an invocation id (fire and forget).
pub fn send(target: &str, arguments: Value) -> Call {
    Call::new(
        "messages",
        target,
        json!({"type": 1, "target": target, "arguments": arguments}),
    )
}

/// The framed completion with a result for invocation `"1"`.
pub fn result(value: Value) -> String {
    format!("{{\"type\":3,\"invocationId\":\"1\",\"result\":{value}}}\u{1e}")
}

/// The framed completion with an error for invocation `"1"`.
pub fn error(text: &str) -> String {
    format!(
        "{{\"type\":3,\"invocationId\":\"1\",\"error\":{}}}\u{1e}",
        json!(text)
    )
}

/// The app (function key `test-key`) against a recording service, with extra settings.
pub async fn setup(configure: impl FnOnce(&mut ServeArgs)) -> (TestApp, FakeService) {
    let recorder = FakeService::start().await;
    let mut args = ServeArgs {
        function_keys: Some("test-key".into()),
        ..Default::default()
    };
    configure(&mut args);
    let app = spawn_app(args, &recorder.connection_string()).await;
    (app, recorder)
}

/// The error code of a JSON error answer.
pub fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap_or(Value::Null)["error"]["code"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The error message of a JSON error answer.
pub fn message(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap_or(Value::Null)["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}
