//! Helpers shared by the emulator integration tests: start a real emulator on 127.0.0.1:0, mint
//! tokens independently of the crate (plain `jsonwebtoken`), call REST, and speak the raw hub
//! protocol over WebSockets.
#![allow(dead_code)]

pub mod dashboard_events;
pub mod recorder;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use serverless_signalr::emulator::{self, EmulatorConfig, EmulatorHandle};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::Secret;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A running emulator and how to reach it.
pub struct Emu {
    pub handle: EmulatorHandle,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn spawn() -> Emu {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(change: impl FnOnce(&mut EmulatorConfig)) -> Emu {
    let mut config = EmulatorConfig::new(Secret::new(DEV_ACCESS_KEY));
    change(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = emulator::start(config, listener).await.unwrap();
    let base = format!("http://127.0.0.1:{}", handle.local_addr().port());
    Emu {
        handle,
        base,
        http: reqwest::Client::new(),
    }
}

/// Sends `request` (raw HTTP/1.1 text, which should say `Connection: close`) and returns the
/// status code and the whole response text; for requests reqwest cannot make (no `Host`).
pub async fn raw_http(emu: &Emu, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(emu.handle.local_addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("no complete response within 10 s")
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    (status, text)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token with `claims` plus `exp` one hour ahead, signed HS256 with `key`.
pub fn sign(key: &str, claims: Value) -> String {
    sign_alg(Algorithm::HS256, key, claims)
}

pub fn sign_alg(alg: Algorithm, key: &str, mut claims: Value) -> String {
    if claims.get("exp").is_none() {
        claims["exp"] = json!(now() + 3600);
    }
    if claims["exp"].is_null() {
        claims.as_object_mut().unwrap().remove("exp");
    }
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

/// A REST token for `path` (audience without port, as the SDK builds it).
pub fn rest_token(path: &str) -> String {
    sign(
        DEV_ACCESS_KEY,
        json!({ "aud": format!("http://127.0.0.1{path}"), "nameid": "server" }),
    )
}

/// A client token for `hub`, optionally for `user`.
pub fn client_token(hub: &str, user: Option<&str>) -> String {
    let mut claims =
        json!({ "aud": format!("http://127.0.0.1/client/?hub={}", hub.to_lowercase()) });
    if let Some(user) = user {
        claims["asrs.s.uid"] = json!(user);
    }
    sign(DEV_ACCESS_KEY, claims)
}

/// A REST answer as (status, `x-ms-error-code`, JSON body or null).
pub async fn error_of(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let code = response
        .headers()
        .get("x-ms-error-code")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, code, body)
}

/// The hub-protocol invocation a client receives for `target(args)`, as `WsClient::next` gives it.
pub fn invocation(target: &str, args: Value) -> Option<Value> {
    Some(json!({"type": 1, "target": target, "arguments": args}))
}

impl Emu {
    /// A REST call with a valid token for the path (query excluded from the audience).
    pub async fn rest(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let path = path_and_query.split('?').next().unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base, path_and_query))
            .bearer_auth(rest_token(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn send_all(&self, hub: &str, target: &str, args: Value) -> u16 {
        self.rest(
            reqwest::Method::POST,
            &format!("/api/hubs/{hub}/:send?api-version=2022-06-01"),
            Some(json!({ "target": target, "arguments": args })),
        )
        .await
        .status()
        .as_u16()
    }

    /// Negotiates; returns (connectionId, connectionToken).
    pub async fn negotiate(&self, hub: &str, user: Option<&str>) -> (String, String) {
        self.negotiate_with_token(hub, &client_token(hub, user))
            .await
    }

    /// Negotiates with `token`; returns (connectionId, connectionToken).
    pub async fn negotiate_with_token(&self, hub: &str, token: &str) -> (String, String) {
        let response = self
            .http
            .post(format!(
                "{}/client/negotiate?hub={hub}&negotiateVersion=1",
                self.base
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        (
            body["connectionId"].as_str().unwrap().to_string(),
            body["connectionToken"].as_str().unwrap().to_string(),
        )
    }

    /// `GET path` (a local route, no token), which must answer 200 with JSON.
    async fn get_json(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// `GET /admin/faults`: the fault configuration and what was injected and seen, per class.
    pub async fn faults_report(&self) -> Value {
        self.get_json("/admin/faults").await
    }

    /// `GET /dashboard/snapshot`: the connections and recent records the dashboard shows.
    pub async fn dashboard_snapshot(&self) -> Value {
        self.get_json("/dashboard/snapshot").await
    }

    pub async fn exists(&self, path: &str) -> u16 {
        self.rest(reqwest::Method::HEAD, path, None)
            .await
            .status()
            .as_u16()
    }

    /// Waits (10 s at most) until `HEAD path` answers `status`; panics with `why` otherwise.
    pub async fn wait_for_status(&self, path: &str, status: u16, why: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.exists(path).await != status {
            assert!(std::time::Instant::now() < deadline, "{why}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw hub-protocol client over WebSockets.
pub struct WsClient {
    pub ws: Ws,
    pub connection_id: String,
    pending: Vec<Value>,
}

impl WsClient {
    /// A client reading `ws`, a socket of connection `connection_id`.
    pub fn new(ws: Ws, connection_id: String) -> Self {
        Self {
            ws,
            connection_id,
            pending: Vec::new(),
        }
    }

    /// Negotiates and connects, token in the Authorization header; does not handshake.
    pub async fn open(emu: &Emu, hub: &str, user: Option<&str>) -> Self {
        Self::open_with_token(emu, hub, &client_token(hub, user)).await
    }

    /// Negotiates and connects with `access_token`; does not handshake.
    pub async fn open_with_token(emu: &Emu, hub: &str, access_token: &str) -> Self {
        let (connection_id, token) = emu.negotiate_with_token(hub, access_token).await;
        let url = format!(
            "ws://127.0.0.1:{}/client/?hub={hub}&id={token}",
            emu.handle.local_addr().port()
        );
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "Authorization",
            format!("Bearer {access_token}").parse().unwrap(),
        );
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Self {
            ws,
            connection_id,
            pending: Vec::new(),
        }
    }

    /// Connects to `path_and_query` (e.g. `/client/?hub=chat&access_token=…`) without
    /// negotiating, with `bearer` in the Authorization header if given, and completes the JSON
    /// handshake; the connection id stays unknown. A refused upgrade gives (status, body).
    pub async fn connect_direct(
        emu: &Emu,
        path_and_query: &str,
        bearer: Option<&str>,
    ) -> Result<Self, (u16, String)> {
        let url = format!(
            "ws://127.0.0.1:{}{path_and_query}",
            emu.handle.local_addr().port()
        );
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = bearer {
            request
                .headers_mut()
                .insert("Authorization", format!("Bearer {token}").parse().unwrap());
        }
        let ws = match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => ws,
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                return Err((response.status().as_u16(), body));
            }
            Err(e) => panic!("WebSocket connect failed: {e}"),
        };
        let mut client = Self {
            ws,
            connection_id: String::new(),
            pending: Vec::new(),
        };
        client
            .send_raw("{\"protocol\":\"json\",\"version\":1}\u{1e}")
            .await;
        assert_eq!(client.next().await, Some(json!({})));
        Ok(client)
    }

    /// Negotiates, connects and completes the JSON handshake.
    pub async fn connect(emu: &Emu, hub: &str, user: Option<&str>) -> Self {
        Self::connect_with_token(emu, hub, &client_token(hub, user)).await
    }

    /// Negotiates and connects with `access_token`, and completes the JSON handshake.
    pub async fn connect_with_token(emu: &Emu, hub: &str, access_token: &str) -> Self {
        let mut client = Self::open_with_token(emu, hub, access_token).await;
        client
            .send_raw("{\"protocol\":\"json\",\"version\":1}\u{1e}")
            .await;
        assert_eq!(client.next().await, Some(json!({})));
        client
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next hub message, skipping pings; `None` when the socket closed; panics after 10 s.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let message = self.next_any().await?;
            if message["type"] != json!(6) {
                return Some(message);
            }
        }
    }

    /// The next hub message including pings.
    pub async fn next_any(&mut self) -> Option<Value> {
        loop {
            if !self.pending.is_empty() {
                return Some(self.pending.remove(0));
            }
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("no message within 10 s");
            match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
                Some(Ok(Message::Text(text))) => {
                    for record in text.as_str().split('\u{1e}').filter(|r| !r.is_empty()) {
                        self.pending.push(serde_json::from_str(record).unwrap());
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Asserts nothing but pings arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.next_any()).await {
                Err(_) => return,
                Ok(Some(m)) if m["type"] == json!(6) => continue,
                Ok(other) => panic!("expected nothing, got {other:?}"),
            }
        }
    }
}
