//! Forwarding upstream events to the app's own webhook (`SIGNALR_UPSTREAM_FORWARD_URL`), so users'
//! services can react to connects, disconnects and hub methods the app does not implement. The
//! event is POSTed as JSON; for invocations the webhook's answer becomes the completion. With
//! `SIGNALR_UPSTREAM_FORWARD_SECRET`, every request is signed GitHub-webhook style
//! (`X-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`), so the receiver can trust the
//! user id and claims in it.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::service::user_claims::UserClaims;
use crate::service::{signature, Secret};

/// Header carrying the body's signature when a forward secret is set.
pub const SIGNATURE_HEADER: &str = "X-Signature-256";

/// Where events are forwarded, and the secret that signs them.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The webhook's URL (may carry a key in its query, so kept secret).
    pub url: Secret,
    /// Signs every request's body when set.
    pub secret: Option<Secret>,
}

/// Longest webhook answer read (the service's own message limit).
const MAX_ANSWER: usize = 1024 * 1024;
/// Longest error text relayed from the webhook to a client.
const MAX_ERROR_CHARS: usize = 500;

/// The event as the webhook receives it.
#[derive(Debug, Clone)]
pub struct WebhookEvent<'a> {
    /// `X-ASRS-Hub`.
    pub hub: &'a str,
    /// `connections` or `messages`.
    pub category: &'a str,
    /// `connected`, `disconnected` or the invoked method.
    pub event: &'a str,
    /// `X-ASRS-Connection-Id`.
    pub connection_id: &'a str,
    /// `X-ASRS-User-Id`, when present.
    pub user_id: Option<&'a str>,
    /// `X-ASRS-User-Claims`; `None` when the header could not be read unambiguously.
    pub claims: Option<&'a UserClaims>,
    /// The upstream body, parsed.
    pub body: &'a Value,
}

impl WebhookEvent<'_> {
    /// The JSON posted to the webhook.
    pub fn to_json(&self) -> Value {
        let claims = self.claims.map_or(Value::Null, UserClaims::to_json);
        json!({
            "hub": self.hub,
            "category": self.category,
            "event": self.event,
            "connectionId": self.connection_id,
            "userId": self.user_id,
            "claims": claims,
            "body": self.body,
        })
    }
}

impl Webhook {
    /// Posts `event` to the webhook. For an invocation, `Ok` is the result to relay (the
    /// answer's JSON, its text, or `null` when empty) and `Err` the error text to relay.
    pub async fn forward(&self, event: &WebhookEvent<'_>) -> Result<Value, String> {
        post(self, event.event, &event.to_json()).await
    }

    /// Posts any JSON document (e.g. a Web PubSub event) the same way, signed when a secret is
    /// set; `label` names the event in errors and logs.
    pub async fn post(&self, label: &str, document: &Value) -> Result<Value, String> {
        post(self, label, document).await
    }
}

async fn post(webhook: &Webhook, label: &str, document: &Value) -> Result<Value, String> {
    let url = &webhook.url;
    let failed = |why: String| {
        tracing::warn!(
            host = host_of(url),
            event = label,
            "forwarding to the webhook failed: {why}"
        );
        format!("{label} failed: {why}")
    };
    // The exact bytes sent are the bytes signed.
    let body = document.to_string().into_bytes();
    let mut request = client()
        .post(url.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(secret) = &webhook.secret {
        request = request.header(SIGNATURE_HEADER, signature::sign(secret, &body));
    }
    let response = request.body(body).send().await.map_err(|e| {
        failed(if e.is_timeout() {
            "the app's webhook did not answer in time".into()
        } else {
            "the app's webhook cannot be reached".into()
        })
    })?;
    let status = response.status();
    let body = read_limited(response)
        .await
        .map_err(|()| failed("the app's webhook answer is too large or was cut off".into()))?;
    let value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    if status.is_success() {
        return Ok(value);
    }
    let relayed = match &value {
        Value::Object(o) => match o.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(e)) => e.get("message").and_then(Value::as_str).map(String::from),
            _ => None,
        },
        _ => None,
    };
    match relayed {
        Some(text) => Err(text.chars().take(MAX_ERROR_CHARS).collect()),
        None => Err(failed(format!(
            "the app's webhook answered {}",
            status.as_u16()
        ))),
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, ()> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| ())? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The webhook's host, for logs (the URL itself may carry a key in its query).
fn host_of(url: &Secret) -> String {
    url::Url::parse(url.expose())
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_default()
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}
