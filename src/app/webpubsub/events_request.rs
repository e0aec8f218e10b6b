//! The checks on a CloudEvents request from Web PubSub (`docs/webpubsub.md` §5, §7.3–§7.4), in the order
//! that keeps forgeries cheap: `ce-signature` over `ce-connectionId` first (constant time, any of
//! the comma-separated entries against the connection string's key or a secondary key), then
//! `WebHook-Request-Origin` (present, and the configured service's host), then the other
//! `ce-*` headers. The abuse-protection handshake (`OPTIONS`) uses the same origin rule.

use axum::http::{HeaderMap, HeaderValue, StatusCode};

use super::settings::valid_event_name;
use crate::app::error::ApiError;
use crate::service::webpubsub::WebPubSubConnectionString;
use crate::service::{names, signature, Secret};

/// The header naming the calling service in the handshake and on every event.
pub const ORIGIN_HEADER: &str = "webhook-request-origin";
/// The handshake's answer header.
pub const ALLOWED_ORIGIN_HEADER: &str = "webhook-allowed-origin";
/// Longest `ce-connectionState` passed back (the service keeps state small).
pub const MAX_STATE_BYTES: usize = 16 * 1024;

/// Which event a request carries (`ce-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `azure.webpubsub.sys.connect`: blocking, may refuse or shape the connection.
    Connect,
    /// `azure.webpubsub.sys.connected`.
    Connected,
    /// `azure.webpubsub.sys.disconnected`.
    Disconnected,
    /// `azure.webpubsub.user.<event>`: blocking, carries the client's data.
    User(String),
}

/// What the `ce-*` headers say.
#[derive(Debug, Clone)]
pub struct EventRequest {
    /// The event.
    pub kind: EventKind,
    /// `ce-hub`.
    pub hub: String,
    /// `ce-connectionId`.
    pub connection_id: String,
    /// `ce-userId`, when present.
    pub user_id: Option<String>,
    /// `ce-eventName`.
    pub event_name: String,
    /// `ce-connectionState`, passed back unchanged on blocking events' answers.
    pub connection_state: Option<HeaderValue>,
}

/// 401 unless `ce-signature` signs `ce-connectionId` with one of `keys`. With no key at all (an
/// Entra ID connection without `AccessKey` and no `WEBPUBSUB_SECONDARY_KEYS`) every event is
/// refused, with a message that says which setting to add (`docs/webpubsub.md` §6).
pub fn check_signature<'k>(
    headers: &HeaderMap,
    keys: impl IntoIterator<Item = &'k Secret>,
) -> Result<(), ApiError> {
    let keys: Vec<&Secret> = keys.into_iter().collect();
    let given = headers.get("ce-signature").map(HeaderValue::as_bytes);
    let id = headers.get("ce-connectionid").map(HeaderValue::as_bytes);
    if id.is_some_and(|id| signature::is_valid(given, id, keys.iter().copied())) {
        return Ok(());
    }
    let message = if keys.is_empty() {
        "ce-signature cannot be checked: WebPubSubConnectionString authenticates with Entra ID and has no AccessKey; put the service's access key(s) in WEBPUBSUB_SECONDARY_KEYS (the service signs events with them)"
    } else if given.is_none_or(<[u8]>::is_empty) {
        "ce-signature is missing; only the configured Web PubSub service may call this route"
    } else if id.is_none() {
        "ce-connectionId is missing, so ce-signature cannot be checked"
    } else {
        "ce-signature does not match an access key of WebPubSubConnectionString (or WEBPUBSUB_SECONDARY_KEYS)"
    };
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "InvalidSignature",
        message,
    ))
}

/// The `WebHook-Request-Origin` value that names the configured service: 400 when the header
/// is missing or names another host (only the configured service may send events here).
pub fn check_origin(
    headers: &HeaderMap,
    service: &WebPubSubConnectionString,
) -> Result<String, ApiError> {
    let Some(value) = headers.get(ORIGIN_HEADER) else {
        return Err(ApiError::bad_request(
            "OriginMissing",
            "WebHook-Request-Origin is missing; Web PubSub sends it on the handshake (OPTIONS) and on every event",
        ));
    };
    let text = value.to_str().unwrap_or("");
    let (host, authority) = (service.host(), service.authority());
    text.split(',')
        .map(str::trim)
        .find(|o| o.eq_ignore_ascii_case(&host) || o.eq_ignore_ascii_case(&authority))
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::bad_request(
                "OriginNotAllowed",
                format!("WebHook-Request-Origin does not name this app's Web PubSub service ({host}); events are accepted only from the service in WebPubSubConnectionString"),
            )
        })
}

impl EventRequest {
    /// Reads the `ce-*` headers: 400 naming the first one missing or malformed.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let kind_text = required(headers, "ce-type")?;
        let hub = required(headers, "ce-hub")?;
        names::validate_hub(&hub).map_err(|e| ApiError::from(e).context("ce-hub"))?;
        let connection_id = required(headers, "ce-connectionId")?;
        names::validate_connection_id(&connection_id)
            .map_err(|e| ApiError::from(e).context("ce-connectionId"))?;
        let event_name = required(headers, "ce-eventName")?;
        let user_id = optional(headers, "ce-userId")?;
        let kind = match kind_text.as_str() {
            "azure.webpubsub.sys.connect" => EventKind::Connect,
            "azure.webpubsub.sys.connected" => EventKind::Connected,
            "azure.webpubsub.sys.disconnected" => EventKind::Disconnected,
            other => match other.strip_prefix("azure.webpubsub.user.") {
                Some(name) if valid_event_name(name) => EventKind::User(name.to_string()),
                _ => {
                    let shown: String = other.chars().take(80).collect();
                    return Err(ApiError::bad_request(
                        "UnknownEvent",
                        format!("ce-type {shown:?} is not an event this handler knows (azure.webpubsub.sys.connect, .connected, .disconnected, azure.webpubsub.user.<event>)"),
                    ));
                }
            },
        };
        let mut states = headers.get_all("ce-connectionstate").iter();
        let connection_state = states.next().cloned();
        if states.next().is_some() {
            return Err(ApiError::bad_request(
                "InvalidHeader",
                "ce-connectionState appears more than once; send it once",
            ));
        }
        if connection_state
            .as_ref()
            .is_some_and(|s| s.len() > MAX_STATE_BYTES)
        {
            return Err(ApiError::bad_request(
                "InvalidHeader",
                format!("ce-connectionState is longer than {MAX_STATE_BYTES} bytes"),
            ));
        }
        Ok(Self {
            kind,
            hub,
            connection_id,
            user_id,
            event_name,
            connection_state,
        })
    }
}

fn optional(headers: &HeaderMap, name: &'static str) -> Result<Option<String>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => std::str::from_utf8(value.as_bytes())
            .map(|v| Some(v.trim().to_string()).filter(|v| !v.is_empty()))
            .map_err(|_| ApiError::bad_request("InvalidHeader", format!("{name} is not UTF-8"))),
    }
}

fn required(headers: &HeaderMap, name: &'static str) -> Result<String, ApiError> {
    optional(headers, name)?.ok_or_else(|| {
        ApiError::bad_request(
            "MissingHeader",
            format!("{name} is missing; Web PubSub events carry it"),
        )
    })
}
