//! The Web PubSub event handler (`docs/webpubsub.md` §5): CloudEvents over HTTP to the app. Each
//! [`EventHandler`] has a URL template (`{hub}`, `{event}`), the hubs, user events and system
//! events it takes; first match wins. Before the first call to a URL, the abuse-protection
//! handshake must pass ([`super::abuse_protection`]). Calls carry the
//! `ce-*` headers and `ce-signature`, time out after 10 s, and at most `max_inflight_events` run at
//! once (more fail at once instead of queueing without bound).

use crate::service::lazy_client::LazyClient;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use tokio::sync::Semaphore;

use super::abuse_protection::{AbuseProtection, NotValidated};
use super::activity::{EventCall, WpsActivity};
use super::WebPubSubConfig;
use crate::emulator::activity::now_ms;
use crate::emulator::upstream_identity::UpstreamIdentity;
use crate::service::{signature, Secret};

/// The largest handler answer read.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHandler {
    /// The URL, with optional `{hub}` and `{event}` placeholders.
    pub url_template: String,
    /// Hubs: `*`, or a comma-separated list (ignoring case).
    pub hub_pattern: String,
    /// User events: `*`, a comma-separated list, or empty for none.
    pub user_event_pattern: String,
    /// System events: `connect`, `connected`, `disconnected`.
    pub system_events: Vec<String>,
}

fn listed(pattern: &str, value: &str) -> bool {
    pattern
        .split(',')
        .map(str::trim)
        .any(|p| p == "*" || (!p.is_empty() && p.eq_ignore_ascii_case(value)))
}

impl EventHandler {
    /// Parses `URL[;hub=P][;user=P][;system=a,b]`; defaults: every hub, every user event, and
    /// the system events `connect,connected,disconnected`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut parts = spec.split(';');
        let url_template = parts.next().unwrap_or("").trim().to_string();
        let probe = url_template
            .replace("{hub}", "hub")
            .replace("{event}", "event");
        match url::Url::parse(&probe) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(format!(
                    "event handler URL {url_template:?} is not an absolute http:// or https:// URL"
                ))
            }
        }
        let mut handler = Self {
            url_template,
            hub_pattern: "*".into(),
            user_event_pattern: "*".into(),
            system_events: vec!["connect".into(), "connected".into(), "disconnected".into()],
        };
        for part in parts.map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!("event handler option {part:?} must be key=value (hub=, user=, system=)")
            })?;
            match key.trim() {
                "hub" => handler.hub_pattern = value.trim().into(),
                "user" => handler.user_event_pattern = value.trim().into(),
                "system" => {
                    handler.system_events = value
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    if let Some(bad) = handler
                        .system_events
                        .iter()
                        .find(|e| !["connect", "connected", "disconnected"].contains(&e.as_str()))
                    {
                        return Err(format!(
                            "system event {bad:?} is unknown; use connect, connected, disconnected"
                        ));
                    }
                }
                other => {
                    return Err(format!(
                        "event handler option {other:?} is unknown; use hub=, user= or system="
                    ))
                }
            }
        }
        Ok(handler)
    }

    fn takes(&self, hub: &str, event: &Event<'_>) -> bool {
        listed(&self.hub_pattern, hub)
            && match event {
                Event::System(name) => self.system_events.iter().any(|e| e == name),
                Event::User(name) => listed(&self.user_event_pattern, name),
            }
    }
}

/// An event: a system one (`connect`, `connected`, `disconnected`) or a user one.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// `azure.webpubsub.sys.<name>`.
    System(&'a str),
    /// `azure.webpubsub.user.<name>`.
    User(&'a str),
}

impl Event<'_> {
    fn name(&self) -> &str {
        match self {
            Self::System(n) | Self::User(n) => n,
        }
    }
}

/// About the connection an event is for.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    /// The hub as the client named it.
    pub hub: String,
    /// The connection id.
    pub connection_id: String,
    /// The user.
    pub user: Option<String>,
    /// The chosen subprotocol.
    pub subprotocol: Option<String>,
    /// The `ce-connectionState` last set by the handler.
    pub state: Option<String>,
}

/// A handler's answer.
#[derive(Debug)]
pub struct HandlerAnswer {
    /// Its status.
    pub status: StatusCode,
    /// Its content type.
    pub content_type: Option<String>,
    /// A new `ce-connectionState`, if it set one.
    pub state: Option<String>,
    /// Its body.
    pub body: Vec<u8>,
}

/// Why an event could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The abuse-protection handshake failed.
    #[error(transparent)]
    NotValidated(#[from] NotValidated),
    /// Too many calls are running.
    #[error("too many event handler calls are in flight; try again")]
    Busy,
    /// The call failed.
    #[error("the event handler call failed: {0}")]
    Failed(String),
    /// The handler did not answer in time.
    #[error("the event handler did not answer within {0:?}")]
    TimedOut(Duration),
}

/// The CloudEvents type of `event`.
fn ce_type(event: Event<'_>) -> String {
    match event {
        Event::System(name) => format!("azure.webpubsub.sys.{name}"),
        Event::User(name) => format!("azure.webpubsub.user.{name}"),
    }
}

/// Calls the event handlers.
pub struct Dispatcher {
    client: LazyClient,
    handlers: Vec<EventHandler>,
    key: Secret,
    origin: Mutex<String>,
    in_flight: Semaphore,
    protection: AbuseProtection,
    ids: AtomicU64,
    identity: Option<UpstreamIdentity>,
    timeout: Duration,
    activity: Arc<WpsActivity>,
}

impl Dispatcher {
    /// A dispatcher for `config`'s handlers; each call is recorded in `activity`.
    pub fn new(config: &WebPubSubConfig, activity: Arc<WpsActivity>) -> Self {
        let timeout = config.event_timeout;
        let client = LazyClient::new(move |builder| {
            builder
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
        });
        Self {
            client,
            handlers: config.event_handlers.clone(),
            key: config.access_key.clone(),
            origin: Mutex::new("127.0.0.1".into()),
            in_flight: Semaphore::new(config.max_inflight_events.max(1)),
            protection: AbuseProtection::default(),
            ids: AtomicU64::new(1),
            identity: config.entra.as_ref().map(|m| m.upstream_identity.clone()),
            timeout: config.event_timeout,
            activity,
        }
    }

    /// Sets the `WebHook-Request-Origin` sent: the emulator's endpoint host and port.
    pub fn set_origin(&self, host: &str) {
        *self.origin.lock().unwrap_or_else(|e| e.into_inner()) = host.into();
    }

    /// The URL that takes `event` of `hub`, if any.
    pub fn url(&self, hub: &str, event: Event<'_>) -> Option<String> {
        self.handlers
            .iter()
            .find(|h| h.takes(hub, &event))
            .map(|h| {
                h.url_template
                    .replace("{hub}", hub)
                    .replace("{event}", event.name())
            })
    }

    /// Sends `event` about `ctx` with `body`; `Ok(None)` when no handler takes it.
    pub async fn call(
        &self,
        ctx: &EventContext,
        event: Event<'_>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Option<HandlerAnswer>, CallError> {
        let Some(url) = self.url(&ctx.hub, event) else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        let result = self.send(&url, ctx, event, content_type, body).await;
        let (status, error) = match &result {
            Ok(answer) => (Some(answer.status.as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        self.activity.event_call(EventCall {
            at: now_ms(),
            hub: ctx.hub.clone(),
            connection: ctx.connection_id.clone(),
            event: ce_type(event),
            url,
            status,
            error,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        result.map(Some)
    }

    /// Checks `url`'s abuse protection, then posts `event` to it.
    async fn send(
        &self,
        url: &str,
        ctx: &EventContext,
        event: Event<'_>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<HandlerAnswer, CallError> {
        let _permit = self.in_flight.try_acquire().map_err(|_| CallError::Busy)?;
        let origin = self
            .origin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.protection
            .check(
                self.client.or_default(),
                url,
                &origin,
                &UpstreamIdentity::bearer(self.identity.as_ref()),
            )
            .await?;
        let response = self
            .cloud_event(url, &origin, ctx, event)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| failed(e, self.timeout))?;
        HandlerAnswer::read(response, self.timeout).await
    }

    /// The POST of `event` about `ctx` with its CloudEvents headers, signed.
    fn cloud_event(
        &self,
        url: &str,
        origin: &str,
        ctx: &EventContext,
        event: Event<'_>,
    ) -> reqwest::RequestBuilder {
        let ce_type = ce_type(event);
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .client
            .or_default()
            .post(url)
            .headers(UpstreamIdentity::bearer(self.identity.as_ref()))
            .header("WebHook-Request-Origin", origin)
            .header("ce-specversion", "1.0")
            .header("ce-type", ce_type)
            .header(
                "ce-source",
                format!("/hubs/{}/client/{}", ctx.hub, ctx.connection_id),
            )
            .header("ce-id", id.to_string())
            .header("ce-time", rfc3339(SystemTime::now()))
            .header("ce-awpsversion", "1.0")
            .header("ce-hub", &ctx.hub)
            .header("ce-connectionId", &ctx.connection_id)
            .header("ce-eventName", event.name())
            .header(
                "ce-signature",
                signature::sign(&self.key, ctx.connection_id.as_bytes()),
            );
        let optional = [
            ("ce-userId", &ctx.user),
            ("ce-subprotocol", &ctx.subprotocol),
            ("ce-connectionState", &ctx.state),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                request = request.header(name, value);
            }
        }
        request
    }
}

impl HandlerAnswer {
    /// Reads a handler's answer (at most [`MAX_ANSWER_BYTES`] of body).
    async fn read(response: reqwest::Response, timeout: Duration) -> Result<Self, CallError> {
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (content_type, state) = (header("content-type"), header("ce-connectionState"));
        let bytes = response.bytes().await.map_err(|e| failed(e, timeout))?;
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(CallError::Failed(format!(
                "the answer is larger than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        Ok(Self {
            status,
            content_type,
            state,
            body: bytes.to_vec(),
        })
    }
}

/// A failed call: [`CallError::TimedOut`] when it ran out of `timeout`.
fn failed(e: reqwest::Error, timeout: Duration) -> CallError {
    if e.is_timeout() {
        CallError::TimedOut(timeout)
    } else {
        CallError::Failed(e.without_url().to_string())
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_handler_specs_and_matches_events() {
        let h = EventHandler::parse(
            "http://127.0.0.1:7071/api/webpubsub/events?e={event}&h={hub};user=message,chat",
        )
        .unwrap();
        assert!(h.takes("Chat", &Event::User("chat")));
        assert!(!h.takes("Chat", &Event::User("other")));
        assert!(h.takes("Chat", &Event::System("connect")));
        let none = EventHandler::parse("http://x/;user=;system=connected").unwrap();
        assert!(!none.takes("h", &Event::User("message")));
        assert!(!none.takes("h", &Event::System("connect")));
        assert!(EventHandler::parse("ftp://x").is_err());
        assert!(EventHandler::parse("http://x;system=joined").is_err());
        assert!(EventHandler::parse("http://x;colour=red").is_err());
    }

    #[test]
    fn formats_cloud_event_times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_709_210_096)),
            "2024-02-29T12:34:56Z"
        );
    }
}
