//! Calls to the upstream (the function app) for one connection's events: `connections/connected`,
//! `messages/<target>` and `connections/disconnected`, in order, signed with `X-ASRS-Signature`.
//! Invocation results go back to the client as completions.

use crate::service::lazy_client::LazyClient;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};

use super::activity::{display_url, now_ms, Activity, UpstreamCall};
use super::client_connection::ClientConnection;
use super::faults::upstream::{before_call, UpstreamFault};
use super::faults::Faults;
use super::outbox::Outbox;
use super::outgoing::{self, Outgoing};
use super::shutdown::Shutdown;
use super::templates::UpstreamTemplate;
use super::upstream_event::UpstreamEvent;
use super::upstream_identity::UpstreamIdentity;
use super::upstream_queue::{upstream_queue, UpstreamQueue};
use crate::service::hub_protocol::Protocol;
use crate::service::{signature, user_claims, Secret};

/// Largest upstream answer relayed to a client.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Most upstream calls in flight at once, across all connections. A thousand clients connecting
/// together would otherwise open a thousand connections to the upstream (and keep them pooled,
/// with their buffers, on both sides); each connection's events still go out in order.
pub const MAX_CONCURRENT_CALLS: usize = 64;

/// The upstream settings and HTTP client shared by all connections.
#[derive(Debug)]
pub struct Upstream {
    client: LazyClient,
    templates: Vec<UpstreamTemplate>,
    key: Secret,
    in_flight: tokio::sync::Semaphore,
    activity: Arc<Activity>,
    faults: Arc<Faults>,
    identity: Option<UpstreamIdentity>,
}

/// The `X-ASRS-*` headers of a call; `Err(header name)` when a value cannot be a header (a
/// client-chosen target with control characters; user ids and claims are checked at connect).
fn upstream_headers(
    key: &Secret,
    caller: &ClientConnection,
    category: &str,
    event: &str,
    content_type: &str,
) -> Result<HeaderMap, &'static str> {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| -> Result<(), &'static str> {
        let value = HeaderValue::from_str(value).map_err(|_| name)?;
        headers.insert(name, value);
        Ok(())
    };
    put("content-type", content_type)?;
    put("x-asrs-connection-id", &caller.connection_id)?;
    put("x-asrs-hub", &caller.hub)?;
    put("x-asrs-category", category)?;
    put("x-asrs-event", event)?;
    put(
        "x-asrs-signature",
        &signature::sign(key, caller.connection_id.as_bytes()),
    )?;
    if let Some(user) = &caller.user_id {
        put("x-asrs-user-id", user)?;
    }
    if !caller.claims.is_empty() {
        put("x-asrs-user-claims", &user_claims::encode(&caller.claims))?;
    }
    if !caller.query.is_empty() {
        put("x-asrs-client-query", &caller.query)?;
    }
    Ok(headers)
}

/// A request body and its content type.
type Body<'a> = (Vec<u8>, &'a str);

/// A JSON body.
fn json(text: String) -> Body<'static> {
    (text.into_bytes(), "application/json")
}

/// What an upstream call came to.
enum Answer {
    NoUpstream,
    /// The call could not be made: this header's value has control characters.
    Unsendable(&'static str),
    Status(u16, Vec<u8>),
    TooLarge,
}

/// What the dashboard is told about an answer: the status, or why there was none.
struct Outcome {
    status: Option<u16>,
    error: Option<&'static str>,
}

impl Outcome {
    fn status(status: u16) -> Self {
        Self {
            status: Some(status),
            error: None,
        }
    }

    fn failed(error: &'static str) -> Self {
        Self {
            status: None,
            error: Some(error),
        }
    }
}

impl Upstream {
    /// The upstream of `templates`, signing with `key`, each call limited to `timeout` and
    /// recorded in `activity` for the dashboard.
    pub fn new(
        templates: Vec<UpstreamTemplate>,
        key: Secret,
        timeout: Duration,
        activity: Arc<Activity>,
    ) -> Self {
        let client = LazyClient::new(move |builder| {
            builder
                .timeout(timeout)
                .pool_max_idle_per_host(MAX_CONCURRENT_CALLS)
        });
        Self {
            client,
            templates,
            key,
            in_flight: tokio::sync::Semaphore::new(MAX_CONCURRENT_CALLS),
            activity,
            faults: Arc::new(Faults::new(Default::default())),
            identity: None,
        }
    }

    /// The same upstream, its calls carrying `identity`'s bearer token (Entra ID mode).
    pub fn with_identity(mut self, identity: Option<UpstreamIdentity>) -> Self {
        self.identity = identity;
        self
    }

    /// The same upstream, its calls subject to `faults` (see [`super::faults::upstream`]).
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Self {
        self.faults = faults;
        self
    }

    async fn call(
        &self,
        caller: &ClientConnection,
        category: &str,
        event: &str,
        body: Body<'_>,
    ) -> Answer {
        let Some(template) = self
            .templates
            .iter()
            .find(|t| t.matches(&caller.hub, category, event))
        else {
            return Answer::NoUpstream;
        };
        let url = template.url(&caller.hub, category, event);
        let started = Instant::now();
        let (answer, outcome) = match upstream_headers(&self.key, caller, category, event, body.1) {
            Ok(mut headers) => {
                headers.extend(UpstreamIdentity::bearer(self.identity.as_ref()));
                self.post(&url, headers, body.0, category, event).await
            }
            Err(header) => {
                tracing::warn!(
                    category,
                    header,
                    "an upstream call was not made: a header value has control characters"
                );
                (
                    Answer::Unsendable(header),
                    Outcome::failed("not sent: a header value has control characters"),
                )
            }
        };
        self.activity.upstream_call(UpstreamCall {
            at: now_ms(),
            hub: caller.hub.clone(),
            connection: caller.connection_id.clone(),
            kind: if category == "messages" {
                "invocation"
            } else {
                "event"
            },
            event: event.to_string(),
            url: display_url(&url),
            status: outcome.status,
            error: outcome.error.map(str::to_string),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        answer
    }

    /// Makes the call and reads the answer (at most [`MAX_RESPONSE_BYTES`]).
    async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
        category: &str,
        event: &str,
    ) -> (Answer, Outcome) {
        // The semaphore is never closed, so acquiring only waits.
        let Ok(_permit) = self.in_flight.acquire().await else {
            return (Answer::Status(500, Vec::new()), Outcome::failed("not sent"));
        };
        let fault = before_call(&self.faults).await;
        match fault {
            UpstreamFault::Proceed | UpstreamFault::LoseAnswer => {}
            UpstreamFault::Answer(status) => {
                return (Answer::Status(status, Vec::new()), Outcome::status(status))
            }
            UpstreamFault::Unreachable => {
                return (
                    Answer::Status(500, Vec::new()),
                    Outcome::failed(UpstreamFault::UNREACHABLE),
                )
            }
        }
        let request = self
            .client
            .or_default()
            .post(url)
            .headers(headers)
            .body(body);
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let error = if e.is_timeout() {
                    "no answer in time"
                } else {
                    "the upstream could not be reached"
                };
                tracing::warn!(url = %without_query(url), category, event, "upstream call failed: {}", e.without_url());
                return (Answer::Status(500, Vec::new()), Outcome::failed(error));
            }
        };
        let status = response.status().as_u16();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_RESPONSE_BYTES {
                        let outcome = Outcome {
                            status: Some(status),
                            error: Some("the answer was too large"),
                        };
                        return (Answer::TooLarge, outcome);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(url = %without_query(url), category, event, "reading the upstream answer failed: {}", e.without_url());
                    let outcome = Outcome {
                        status: Some(status),
                        error: Some("the answer could not be read"),
                    };
                    return (Answer::Status(500, Vec::new()), outcome);
                }
            }
        }
        if fault == UpstreamFault::LoseAnswer {
            return (
                Answer::Status(500, Vec::new()),
                Outcome::failed(UpstreamFault::LOST),
            );
        }
        if !(200..300).contains(&status) {
            tracing::warn!(url = %without_query(url), category, event, status, "upstream answered with an error status");
        }
        (Answer::Status(status, body), Outcome::status(status))
    }

    /// Starts the worker that delivers one connection's events in order; completions for
    /// invocations are pushed to `outbox` in the client's `protocol`. At most `max_queued_bytes`
    /// of invocations wait.
    pub fn spawn_worker(
        self: &Arc<Self>,
        caller: ClientConnection,
        outbox: Outbox<Shutdown>,
        protocol: Protocol,
        max_queued_bytes: usize,
    ) -> UpstreamQueue {
        let (queue, mut rx) = upstream_queue(max_queued_bytes);
        let upstream = Arc::clone(self);
        tokio::spawn(async move {
            while let Some(queued) = rx.recv().await {
                let last = matches!(queued.event, UpstreamEvent::Disconnected { .. });
                if let Some(answer) = upstream.deliver(&caller, queued.event).await {
                    outbox.push(answer.frame(protocol));
                }
                if last {
                    break;
                }
            }
        });
        queue
    }

    /// Delivers one event; returns the completion for the client, if it waits for one.
    async fn deliver(&self, caller: &ClientConnection, event: UpstreamEvent) -> Option<Outgoing> {
        match event {
            UpstreamEvent::Connected => {
                self.call(
                    caller,
                    "connections",
                    "connected",
                    json(r#"{"type":10}"#.into()),
                )
                .await;
                None
            }
            UpstreamEvent::Disconnected { error } => {
                let mut body = serde_json::json!({ "type": 11 });
                if let Some(error) = error {
                    body["error"] = serde_json::json!(error);
                }
                self.call(
                    caller,
                    "connections",
                    "disconnected",
                    json(body.to_string()),
                )
                .await;
                None
            }
            UpstreamEvent::Invocation {
                raw,
                content_type,
                target,
                invocation_id,
            } => {
                let answer = self
                    .call(caller, "messages", &target, (raw, content_type))
                    .await;
                let id = invocation_id?;
                Some(match answer {
                    Answer::NoUpstream => outgoing::completion_error(
                        &id,
                        &format!(
                            "Invocation failed: no upstream is configured for hub '{}', event '{}'",
                            caller.hub, target
                        ),
                    ),
                    Answer::Unsendable("x-asrs-event") => outgoing::completion_error(
                        &id,
                        "Invocation failed: the target contains control characters, which cannot be sent to the upstream",
                    ),
                    Answer::Unsendable(header) => outgoing::completion_error(
                        &id,
                        &format!("Invocation failed: the {header} header cannot be built for the upstream"),
                    ),
                    Answer::TooLarge => {
                        outgoing::completion_error(&id, "Invocation failed, response too large.")
                    }
                    Answer::Status(200, body) if !body.is_empty() => Outgoing::verbatim(body),
                    Answer::Status(200 | 204, _) => outgoing::completion(&id),
                    Answer::Status(code, _) => outgoing::completion_error(
                        &id,
                        &format!("Invocation failed, status code {code}"),
                    ),
                })
            }
        }
    }
}

/// The URL without its query, for logs: an upstream URL may carry a function key (`?code=`).
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}
