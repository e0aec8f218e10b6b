//! The set of service endpoints the app talks to (`docs/protocol.md` §8): the unnamed primary
//! of `AzureSignalRConnectionString` and the named ones of `Azure:SignalR:Endpoints:*`, each with
//! its own [`Service`] (access key or Entra ID) and an online flag kept by [`probe`]. Negotiate
//! picks one online endpoint ([`Endpoints::pick_for_client`]); sends, group actions, existence
//! checks and closes go to every endpoint, or to those a request names ([`Endpoints::targets`]),
//! through [`fanout`].

pub mod fanout;
pub mod narrow;
pub mod probe;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use rand::seq::IndexedRandom;
use serde_json::{json, Value};

use super::error::ApiError;
use super::settings::EndpointType;
use super::Service;
use crate::service::rest::RestError;
use crate::service::Secret;
use probe::Health;

/// One endpoint: its name and type, the service client, and what the last probe found.
pub struct Endpoint {
    /// The configured name; empty for `AzureSignalRConnectionString`.
    pub name: String,
    /// Primary or secondary.
    pub kind: EndpointType,
    /// Signs client tokens and calls the REST API.
    pub service: Service,
    /// Where REST calls go (no secret in it), shown in `/api/health`.
    pub url: String,
    access_key: Option<Secret>,
    client_base: String,
    health: Mutex<Health>,
    /// Whether a probe keeps `health` (set when one starts, only with several endpoints):
    /// without one, nothing would ever bring an endpoint marked offline back.
    probed: AtomicBool,
}

impl Endpoint {
    /// An endpoint, online until a probe or a failed call says otherwise (as the SDK starts).
    pub fn new(
        name: String,
        kind: EndpointType,
        service: Service,
        connection: &crate::service::ConnectionString,
    ) -> Self {
        Self {
            name,
            kind,
            service,
            url: connection.endpoint(),
            access_key: connection.access_key().cloned(),
            client_base: connection.client_base(),
            health: Mutex::new(Health::unchecked()),
            probed: AtomicBool::new(false),
        }
    }

    /// How errors and logs name it: `"east"`, or `AzureSignalRConnectionString` when unnamed.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            "AzureSignalRConnectionString".into()
        } else {
            format!("{:?}", self.name)
        }
    }

    /// Whether clients may be sent here now.
    pub fn online(&self) -> bool {
        self.health().online
    }

    /// What the last probe (or failed call) found.
    pub fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records a probe's finding, logging a change of the online state.
    pub fn set_health(&self, health: Health) {
        let mut slot = self
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.online != health.online {
            if health.online {
                tracing::info!(endpoint = %self.label(), kind = %self.kind, "SignalR endpoint is online again");
            } else {
                tracing::warn!(endpoint = %self.label(), kind = %self.kind, state = health.state, "SignalR endpoint is offline: negotiate no longer sends clients there");
            }
        }
        *slot = health;
    }

    /// A call that could not reach the service marks the endpoint offline before the next probe.
    /// A lone endpoint is never probed, so a failed call leaves it online: its next calls keep
    /// their retries instead of failing fast for the rest of the process's life.
    pub fn note_failure(&self, error: &RestError) {
        if self.probed.load(Ordering::Relaxed) && matches!(error, RestError::Unreachable { .. }) {
            let mut health = self.health();
            health.online = false;
            health.state = "unreachable";
            self.set_health(health);
        }
    }

    /// `{name, type, url}` as `/api/health` and error details list it.
    pub fn describe(&self) -> Value {
        json!({ "name": self.name, "type": self.kind.as_str(), "endpoint": self.url })
    }
}

/// Every endpoint, and how often they are probed. Cheap to clone.
#[derive(Clone)]
pub struct Endpoints {
    list: Arc<Vec<Endpoint>>,
    probe: Duration,
}

impl Endpoints {
    /// The set (at least one endpoint); `probe` is the time between health probes.
    pub fn new(list: Vec<Endpoint>, probe: Duration) -> Self {
        Self {
            list: Arc::new(list),
            probe,
        }
    }

    /// Every endpoint, unnamed first, then by name.
    pub fn all(&self) -> &[Endpoint] {
        &self.list
    }

    /// Starts the background probe when there is more than one endpoint (with one there is
    /// nothing to fail over to, so negotiate never refuses and nothing is probed). Needs a
    /// Tokio runtime; without one nothing is started.
    pub fn start_probe(&self) {
        if self.list.len() > 1 {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                for endpoint in self.list.iter() {
                    endpoint.probed.store(true, Ordering::Relaxed);
                }
                runtime.spawn(probe::run(Arc::downgrade(&self.list), self.probe));
            }
        }
    }

    /// Where a client goes: a random online primary; else a random online secondary; else a 503
    /// that names the endpoints and when to retry.
    pub fn pick_for_client(&self) -> Result<&Endpoint, ApiError> {
        if let [only] = self.list.as_slice() {
            return Ok(only);
        }
        let mut rng = rand::rng();
        for kind in [EndpointType::Primary, EndpointType::Secondary] {
            let online: Vec<&Endpoint> = self
                .list
                .iter()
                .filter(|e| e.kind == kind && e.online())
                .collect();
            if let Some(endpoint) = online.choose(&mut rng) {
                return Ok(endpoint);
            }
        }
        let offline: Vec<String> = self
            .list
            .iter()
            .map(|e| format!("{} ({}, {})", e.label(), e.kind, e.health().state))
            .collect();
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NoEndpointOnline",
            format!(
                "no SignalR Service endpoint is online, so no client can connect now: {}; retry later",
                offline.join(", ")
            ),
        )
        .with_retry_after(self.probe.as_secs().max(1)))
    }

    /// The endpoints a send or group action goes to: all of them, or those named by its
    /// `endpoints` field (names match case-insensitively, as configuration keys do). An unknown
    /// name is a 400 that names it and lists the known ones.
    pub fn targets(&self, names: Option<&[String]>) -> Result<Vec<&Endpoint>, ApiError> {
        let Some(names) = names else {
            return Ok(self.list.iter().collect());
        };
        let mut out: Vec<&Endpoint> = Vec::new();
        for name in names {
            let found: Vec<&Endpoint> = self
                .list
                .iter()
                .filter(|e| e.name.eq_ignore_ascii_case(name))
                .collect();
            if found.is_empty() {
                let known: Vec<String> =
                    self.list.iter().map(|e| format!("{:?}", e.name)).collect();
                return Err(ApiError::bad_request(
                    "UnknownEndpoint",
                    format!(
                        "endpoints names {name:?}, which is not a configured endpoint; the endpoints are {} (\"\" is AzureSignalRConnectionString)",
                        known.join(", ")
                    ),
                ));
            }
            for endpoint in found {
                if !out.iter().any(|e| std::ptr::eq(*e, endpoint)) {
                    out.push(endpoint);
                }
            }
        }
        Ok(out)
    }

    /// The access keys of every endpoint that has one (upstream signatures may use any).
    pub fn access_keys(&self) -> impl Iterator<Item = &Secret> {
        self.list.iter().filter_map(|e| e.access_key.as_ref())
    }

    /// The endpoint whose access key made `signature` over `connection_id`, when one did: the
    /// endpoint that called the upstream. Else the first endpoint.
    pub fn caller(&self, signature: Option<&[u8]>, connection_id: &[u8]) -> &Endpoint {
        self.list
            .iter()
            .find(|e| {
                e.access_key.as_ref().is_some_and(|key| {
                    crate::service::signature::is_valid(signature, connection_id, [key])
                })
            })
            .unwrap_or(&self.list[0])
    }

    /// The first endpoint's client base URL (the demo page's CSP).
    pub fn client_base(&self) -> &str {
        &self.list[0].client_base
    }
}
