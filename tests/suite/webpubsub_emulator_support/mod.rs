//! Helpers of the Web PubSub emulator tests: start the real emulator on 127.0.0.1:0, mint
//! tokens with plain `jsonwebtoken` (independently of the crate), call REST with an SDK-style
//! token (aud = the full request URL), and speak the json subprotocols over raw WebSockets.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use serverless_signalr::emulator::webpubsub::{self, WebPubSubConfig, WebPubSubHandle};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::Secret;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const JSON: &str = "json.webpubsub.azure.v1";
pub const RELIABLE: &str = "json.reliable.webpubsub.azure.v1";

/// A running emulator.
pub struct Wps {
    pub handle: WebPubSubHandle,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn spawn() -> Wps {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(change: impl FnOnce(&mut WebPubSubConfig)) -> Wps {
    let mut config = WebPubSubConfig::new(Secret::new(DEV_ACCESS_KEY));
    change(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = webpubsub::start(config, listener).await.unwrap();
    let base = format!("http://127.0.0.1:{}", handle.local_addr().port());
    Wps {
        handle,
        base,
        http: reqwest::Client::new(),
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 token over `claims` signed with `key`.
pub fn sign(key: &str, claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

/// A client token for `hub` as the SDKs mint it.
pub fn client_token(
    wps: &Wps,
    hub: &str,
    user: Option<&str>,
    roles: &[&str],
    groups: &[&str],
) -> String {
    let mut claims = json!({
        "aud": format!("{}/client/hubs/{hub}", wps.base),
        "iat": now(),
        "exp": now() + 3600,
    });
    if let Some(user) = user {
        claims["sub"] = user.into();
    }
    if !roles.is_empty() {
        claims["role"] = json!(roles);
    }
    if !groups.is_empty() {
        claims["webpubsub.group"] = json!(groups);
    }
    sign(DEV_ACCESS_KEY, &claims)
}

/// A REST answer.
pub struct Answer {
    pub status: u16,
    pub error_code: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl Wps {
    /// A REST call with `?api-version=2024-12-01` appended, signed like the JS SDK (aud = URL).
    pub async fn rest(&self, method: &str, path: &str, body: Option<(&str, Vec<u8>)>) -> Answer {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}api-version=2024-12-01", self.base);
        let token = sign(
            DEV_ACCESS_KEY,
            &json!({ "aud": url, "exp": now() + 3600, "iat": now() }),
        );
        self.rest_with(method, &url, &token, body).await
    }

    pub async fn rest_with(
        &self,
        method: &str,
        url: &str,
        token: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(token);
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let error_code = response
            .headers()
            .get("x-ms-error-code")
            .map(|v| v.to_str().unwrap().to_string());
        Answer {
            status,
            error_code,
            body: response.text().await.unwrap(),
        }
    }

    pub async fn send_json(&self, path: &str, body: Value) -> u16 {
        self.rest(
            "POST",
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
        .status
    }
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw WebSocket client.
pub struct Client {
    pub ws: Socket,
    pub protocol: Option<String>,
    pub connection_id: String,
    pub reconnection_token: Option<String>,
}

/// Opens `url` offering `protocol`; the upgrade's status on failure.
pub async fn open_url(url: &str, protocol: Option<&str>) -> Result<(Socket, Option<String>), u16> {
    let mut request = url.into_client_request().unwrap();
    if let Some(p) = protocol {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, response)) => {
            let chosen = response
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_string());
            Ok((ws, chosen))
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("cannot connect: {e}"),
    }
}

impl Client {
    /// Connects a json client (or `RELIABLE`) and reads its `connected` message.
    pub async fn open(
        wps: &Wps,
        hub: &str,
        protocol: &str,
        user: Option<&str>,
        roles: &[&str],
        groups: &[&str],
    ) -> Self {
        let token = client_token(wps, hub, user, roles, groups);
        let url = format!(
            "{}/client/hubs/{hub}?access_token={token}",
            wps.base.replace("http", "ws")
        );
        let (ws, chosen) = open_url(&url, Some(protocol))
            .await
            .expect("upgrade refused");
        assert_eq!(
            chosen.as_deref(),
            Some(protocol),
            "the subprotocol must be echoed"
        );
        let mut client = Self {
            ws,
            protocol: chosen,
            connection_id: String::new(),
            reconnection_token: None,
        };
        let connected = client.next().await;
        assert_eq!(connected["type"], "system", "{connected}");
        assert_eq!(connected["event"], "connected", "{connected}");
        assert_eq!(connected["userId"], json!(user));
        client.connection_id = connected["connectionId"].as_str().unwrap().to_string();
        client.reconnection_token = connected["reconnectionToken"].as_str().map(str::to_string);
        client
    }

    pub async fn send(&mut self, value: Value) {
        self.ws
            .send(Message::text(value.to_string()))
            .await
            .unwrap();
    }

    /// The next text frame as JSON (pongs skipped), within 5 s.
    pub async fn next(&mut self) -> Value {
        loop {
            match self.raw().await {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame, within 5 s.
    pub async fn raw(&mut self) -> Message {
        tokio::time::timeout(Duration::from_secs(5), self.ws.next())
            .await
            .expect("no frame within 5 s")
            .expect("the socket ended")
            .expect("the socket failed")
    }

    /// Nothing arrives within `ms`.
    pub async fn quiet(&mut self, ms: u64) {
        if let Ok(Some(Ok(m))) =
            tokio::time::timeout(Duration::from_millis(ms), self.ws.next()).await
        {
            panic!("expected nothing, got {m:?}");
        }
    }

    /// Reads until the Close frame; returns its code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.raw().await {
                Message::Close(Some(CloseFrame { code, reason })) => {
                    return (code.into(), reason.to_string())
                }
                Message::Close(None) => return (1005, String::new()),
                _ => {}
            }
        }
    }

    /// Sends a request with `ackId` and returns the ack.
    pub async fn request(&mut self, mut value: Value, ack_id: u64) -> Value {
        value["ackId"] = ack_id.into();
        self.send(value).await;
        loop {
            let message = self.next().await;
            if message["type"] == "ack" && message["ackId"] == ack_id {
                return message;
            }
        }
    }
}
