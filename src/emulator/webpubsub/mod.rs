//! The embedded local stand-in for Azure Web PubSub (`docs/webpubsub.md`), on its own listener
//! (its REST paths `/api/hubs/…` collide with SignalR's), built on the emulators' shared core
//! (outbox, server, request bodies, ids):
//!
//! * the data-plane REST API ([`rest`]) of 2024-01-01 plus `listConnections` of 2024-12-01, one
//!   file per operation group, with OData filters ([`crate::service::filter`]), acting on the
//!   hub's connections ([`connections`]);
//! * the client endpoint ([`client`]) at `/client/hubs/{hub}`: token, then the blocking `connect`
//!   event ([`connect_event`]), then one connection lifecycle ([`attach`]) whose socket
//!   ([`socket`]) hands each client frame to its type ([`frames`]) — simple WebSocket clients and
//!   the `json.webpubsub.azure.v1` / `json.reliable.webpubsub.azure.v1` subprotocols, with roles
//!   and runtime grants enforced ([`roles`]);
//! * the event handler ([`events`]): CloudEvents over HTTP to the app, blocking `connect` and user
//!   events, signed with `ce-signature`.
//!
//! * the dashboard ([`dashboard`]) at `/`: connections, sends, event handler calls,
//!   invocations and streams, live.
//!
//! Like the SignalR emulator, and unlike Microsoft's, it checks every token strictly ([`auth`]),
//! and it has the same Entra ID mode ([`entra`]).

pub mod abuse_protection;
pub mod ack;
pub mod activity;
pub mod attach;
pub mod auth;
pub mod client;
pub mod closing;
pub mod connect_event;
pub mod connected;
pub mod connections;
pub mod dashboard;
pub mod entra;
pub mod error;
pub mod events;
pub mod frames;
pub mod group_index;
pub mod groups;
pub mod invocations;
pub mod local;
pub mod message;
pub mod rest;
pub mod retained;
pub mod roles;
pub mod socket;
pub mod stream_ends;
pub mod streams;
pub mod subprotocol;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::any;
use axum::Router;
use tokio::sync::watch;

pub use events::EventHandler;

use crate::emulator::browser_policy::{self, BrowserPolicy};
use crate::emulator::entra::EntraMode;
use crate::emulator::server::EmulatorServer;
use crate::emulator::uri_limit::limit_uri;
use crate::http_server::ServerLimits;
use crate::service::Secret;

/// The default port, as Microsoft's emulator uses.
pub const DEFAULT_PORT: u16 = 8080;

/// Everything the Web PubSub emulator can be told; [`WebPubSubConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct WebPubSubConfig {
    /// The access key every token must be signed with.
    pub access_key: Secret,
    /// Event handlers, first match wins (none: user events are acknowledged and dropped, a
    /// simple client's frames close it).
    pub event_handlers: Vec<EventHandler>,
    /// The largest REST body (1 MiB).
    pub max_body_bytes: usize,
    /// The largest client frame (1 MiB, the service's limit).
    pub max_message_bytes: usize,
    /// How many bytes may wait for one slow client before it is closed (4 MiB).
    pub max_queued_bytes: usize,
    /// The time limit of each event handler call (10 s).
    pub event_timeout: Duration,
    /// How many event handler calls may run at once; more fail at once (64).
    pub max_inflight_events: usize,
    /// Limits of the listener.
    pub server: ServerLimits,
    /// Entra ID mode ([`entra`]): the SignalR emulator's identity endpoint and keys.
    pub entra: Option<EntraMode>,
    /// Which browsers may open client WebSockets (loopback origins by default).
    pub browser: BrowserPolicy,
    /// The most groups one connection may be in (1000).
    pub max_groups_per_connection: usize,
    /// The most group memberships across every connection (100 000).
    pub max_group_memberships: usize,
    /// The most bytes of messages kept for reliable connections to recover (64 MiB); beyond it
    /// detached connections are given up, oldest first.
    pub max_retained_bytes: usize,
}

impl WebPubSubConfig {
    /// The defaults, signing with `access_key`.
    pub fn new(access_key: Secret) -> Self {
        Self {
            access_key,
            event_handlers: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_message_bytes: 1024 * 1024,
            max_queued_bytes: 4 * 1024 * 1024,
            event_timeout: Duration::from_secs(10),
            max_inflight_events: 64,
            server: ServerLimits::default(),
            entra: None,
            browser: BrowserPolicy::default(),
            max_groups_per_connection: groups::MAX_GROUPS_PER_CONNECTION,
            max_group_memberships: groups::MAX_MEMBERSHIPS,
            max_retained_bytes: retained::MAX_RETAINED_BYTES,
        }
    }
}

/// State shared by every request and connection.
pub struct WebPubSubState {
    /// The configuration.
    pub config: WebPubSubConfig,
    /// The connections.
    pub connections: connections::Connections,
    /// The event handler caller.
    pub events: events::Dispatcher,
    /// What the dashboard shows.
    pub activity: Arc<activity::WpsActivity>,
    /// The SignalR emulator's dashboard, when it runs too.
    pub sibling: crate::emulator::dashboard::Sibling,
    /// Becomes true when the emulator stops.
    pub stopping: watch::Sender<bool>,
}

fn routes(shared: Arc<WebPubSubState>) -> Router {
    // Every router merged here skips axum's v0.7 path checks (the REST API has literal `:send`
    // segments; merging one router with the checks turns them on for all).
    let client = Router::new()
        .without_v07_checks()
        .route("/client/hubs/{hub}", any(client::connect_hub))
        .route("/client", any(client::connect_query))
        .route("/client/", any(client::connect_query));
    Router::new()
        .without_v07_checks()
        .merge(dashboard::routes())
        .merge(browser_policy::server_routes(rest::routes()))
        .merge(browser_policy::websocket_routes(
            client,
            &shared.config.browser,
        ))
        .fallback(|request: axum::extract::Request| async move {
            error::WpsError::NoRoute(request.uri().path().to_string())
        })
        .layer(axum::middleware::from_fn(limit_uri::<error::WpsError>))
        .with_state(shared)
}

/// A running Web PubSub emulator.
pub struct WebPubSubHandle {
    server: EmulatorServer,
    shared: Arc<WebPubSubState>,
}

/// Starts the Web PubSub emulator on `listener`; it serves until [`WebPubSubHandle::shutdown`].
pub async fn start(
    config: WebPubSubConfig,
    listener: tokio::net::TcpListener,
) -> std::io::Result<WebPubSubHandle> {
    let activity = Arc::new(activity::WpsActivity::default());
    let events = events::Dispatcher::new(&config, Arc::clone(&activity));
    let connections = connections::Connections::new(
        groups::GroupLimits::new(
            config.max_groups_per_connection,
            config.max_group_memberships,
        ),
        retained::RetainedBytes::new(config.max_retained_bytes),
        Arc::clone(&activity),
    );
    let shared = Arc::new(WebPubSubState {
        config,
        connections,
        events,
        activity,
        sibling: Default::default(),
        stopping: watch::channel(false).0,
    });
    let janitor = {
        let shared = Arc::clone(&shared);
        move || {
            attach::forget_unrecovered(&shared);
            shared.connections.end_idle_streams();
        }
    };
    let server = EmulatorServer::start(
        listener,
        routes(Arc::clone(&shared)),
        shared.config.server,
        &shared.stopping,
        janitor,
    )?;
    let local_addr = server.local_addr();
    // The endpoint's host as the connection string names it, as a handler set up with that
    // endpoint expects it (`docs/webpubsub.md` §5.1).
    let endpoint_host = format!("{}:{}", server.host(), local_addr.port());
    shared.events.set_origin(&endpoint_host);
    tracing::info!(%local_addr, handlers = shared.config.event_handlers.len(), "Web PubSub emulator listening");
    Ok(WebPubSubHandle { server, shared })
}

impl WebPubSubHandle {
    /// Links the dashboard to emulator `name`'s dashboard on `port`.
    pub fn link_dashboard(&self, name: &'static str, port: u16) {
        self.shared.sibling.set(name, port);
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The bytes of messages kept now for reliable connections to recover, each message counted
    /// once however many connections keep it (`retained.rs`).
    pub fn retained_bytes(&self) -> usize {
        self.shared.connections.retained().used()
    }

    /// `Endpoint=http://127.0.0.1:<port>;AccessKey=<key>;Version=1.0;` (the form of Microsoft's
    /// emulator, so the SDKs' audiences carry the port).
    pub fn connection_string(&self) -> String {
        format!(
            "Endpoint=http://{}:{};AccessKey={};Version=1.0;",
            self.server.host(),
            self.local_addr().port(),
            self.shared.config.access_key.expose()
        )
    }

    /// Stops: every client is closed with 1001 (it may reconnect elsewhere), then the listener.
    pub async fn shutdown(self) {
        self.shared
            .connections
            .close_all(1001, "the Web PubSub emulator is stopping");
        self.server.stop(std::future::ready(())).await;
        tracing::info!("Web PubSub emulator stopped");
    }
}
