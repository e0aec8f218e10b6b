//! The embedded local stand-ins for Azure SignalR Service in serverless mode and, on a port of its
//! own, Azure Web PubSub ([`webpubsub`]). Both plug into one core at this module's root: the
//! byte-bounded per-connection queue ([`outbox`]), the server with its janitor and stopping order
//! ([`server`]), request bodies ([`body`]) and re-routed paths ([`reroute`]), unguessable ids
//! ([`random_id`]), the strict token checks ([`auth`]) and the Entra ID mode ([`entra`]).
//!
//! The SignalR emulator's axum server offers what the real service offers an app and its clients:
//!
//! * the data-plane REST API ([`rest`]) of api-version 2022-06-01 and v1, routed by axum with one
//!   handler per operation and the official error codes, acting on the hub state ([`hubs`]);
//! * the client endpoint ([`client`]): negotiate, then WebSockets ([`websocket`]), Server-Sent
//!   Events ([`sse`]) or long polling ([`long_polling`]), each started the same way ([`attach`]) and
//!   carrying the JSON or MessagePack hub protocol ([`crate::service::hub_protocol`]) through one
//!   transport-independent [`session`] per connection, which ends as [`shutdown`] says; a
//!   WebSocket connection with stateful reconnect outlives a dropped socket for a while
//!   ([`reattach`]);
//! * upstream calls ([`upstream`]) to the app for connects, disconnects and client invocations,
//!   routed by [`templates`], one queue per connection ([`upstream_queue`]);
//! * fault injection ([`faults`]) on all three, set by `--faults` and `/admin/faults`.
//!
//! Unlike Microsoft's emulators they check every token strictly ([`auth`]), so a green local run
//! means the app's tokens are right for Azure.

pub mod activity;
pub mod attach;
pub mod auth;
pub mod body;
pub mod browser_policy;
pub mod cli;
pub mod client;
pub mod client_connection;
pub mod client_policy;
pub mod connection_tokens;
pub mod dashboard;
pub mod entra;
pub mod error;
pub mod faults;
pub mod hubs;
pub mod incoming;
pub mod invocations;
pub mod long_polling;
pub mod message_buffer;
pub mod outbox;
pub mod outgoing;
pub mod paging;
pub mod payload;
pub mod random_id;
pub mod reattach;
pub mod request;
pub mod reroute;
pub mod rest;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod sse;
pub mod streams;
pub mod templates;
pub mod upstream;
pub mod upstream_event;
pub mod upstream_identity;
pub mod upstream_queue;
pub mod uri_limit;
pub mod webpubsub;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tokio::sync::watch;

pub use cli::{run, EmulatorArgs};
pub use templates::{TemplateError, UpstreamTemplate};

use crate::http_server::ServerLimits;
use crate::service::Secret;
use connection_tokens::ConnectionTokens;
use error::EmulatorError;
use hubs::Hubs;
use server::EmulatorServer;
use upstream::Upstream;

pub use uri_limit::MAX_URI_BYTES;

/// Everything the emulator can be told. [`EmulatorConfig::new`] gives the service's defaults.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The access key every token must be signed with.
    pub access_key: Secret,
    /// Upstream rules, first match wins. With none (or none matching), client invocations are
    /// not forwarded: those with an `invocationId` get an error completion so the client never
    /// waits forever, the others are ignored.
    pub upstream: Vec<UpstreamTemplate>,
    /// How often the emulator pings each client (15 s).
    pub keep_alive_interval: Duration,
    /// How long a client has to send its handshake (15 s).
    pub handshake_timeout: Duration,
    /// How long a WebSocket or SSE client may stay silent before it is dropped (30 s).
    pub client_timeout: Duration,
    /// How long a long poll waits for messages before it answers empty (10 s).
    pub long_poll_timeout: Duration,
    /// How long a long-polling client may go without polling before it is dropped (15 s).
    pub long_poll_idle_timeout: Duration,
    /// How long a negotiated connection waits for its transport (60 s).
    pub negotiate_timeout: Duration,
    /// How long a WebSocket connection with stateful reconnect waits, detached, for its client
    /// to come back after its socket dropped (30 s; `docs/stateful-reconnect.md` §4).
    pub reconnect_window: Duration,
    /// How many bytes may wait for one slow client before it is closed (8 MiB). With stateful
    /// reconnect, the messages written and not yet acknowledged count too.
    pub max_queued_bytes: usize,
    /// How many bytes of one connection's invocations may wait for the upstream (4 MiB); when
    /// full, further invocations fail at once (see [`upstream_queue`]).
    pub max_upstream_queued_bytes: usize,
    /// The largest REST body (1 MiB).
    pub max_body_bytes: usize,
    /// The largest message a client may send (1 MiB).
    pub max_message_bytes: usize,
    /// The time limit of each upstream call (30 s).
    pub upstream_timeout: Duration,
    /// Header-read, body-read and idle timeouts and the connection cap of the listener.
    pub server: ServerLimits,
    /// Entra ID mode (managed-identity endpoint, temporary keys); `None` = access keys only.
    pub entra: Option<entra::EntraMode>,
    /// The faults to inject from the start (none by default; see [`faults`]).
    pub faults: faults::FaultConfig,
    /// Which browsers may use the client endpoint (loopback origins by default).
    pub browser: browser_policy::BrowserPolicy,
    /// How long `:invoke` waits for a client's answer (100 s; [`invocations`]).
    pub invoke_timeout: Duration,
    /// How many `:invoke`s may wait on one connection (1000), and on the emulator (10 000).
    pub max_pending_invocations: (usize, usize),
    /// How many streams one client may hold open for `streams/…/:send` (100; [`streams`]).
    pub max_open_streams: usize,
}

impl EmulatorConfig {
    /// The defaults, signing with `access_key`.
    pub fn new(access_key: Secret) -> Self {
        Self {
            access_key,
            upstream: Vec::new(),
            keep_alive_interval: Duration::from_secs(15),
            handshake_timeout: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
            long_poll_timeout: Duration::from_secs(10),
            long_poll_idle_timeout: Duration::from_secs(15),
            negotiate_timeout: Duration::from_secs(60),
            reconnect_window: Duration::from_secs(30),
            max_queued_bytes: 8 * 1024 * 1024,
            max_upstream_queued_bytes: 4 * 1024 * 1024,
            max_body_bytes: 1024 * 1024,
            max_message_bytes: 1024 * 1024,
            upstream_timeout: Duration::from_secs(30),
            server: ServerLimits::default(),
            entra: None,
            faults: faults::FaultConfig::default(),
            browser: browser_policy::BrowserPolicy::default(),
            invoke_timeout: Duration::from_secs(100),
            max_pending_invocations: (1000, 10_000),
            max_open_streams: 100,
        }
    }
}

/// State shared by every request and connection.
pub struct Shared {
    /// The configuration.
    pub config: EmulatorConfig,
    /// Hubs, connections, users and groups.
    pub hubs: Hubs,
    /// Negotiated connections and their transports, by connection token.
    pub tokens: ConnectionTokens,
    /// What the dashboard shows.
    pub activity: Arc<activity::Activity>,
    /// The upstream caller.
    pub upstream: Arc<Upstream>,
    /// The fault injector.
    pub faults: Arc<faults::Faults>,
    /// Becomes true when the emulator stops.
    pub stopping: watch::Sender<bool>,
    /// How many client sessions are running.
    pub sessions: watch::Sender<usize>,
    /// The `:invoke`s waiting for clients' answers.
    pub invocations: invocations::Invocations,
    /// The streams clients opened, for `streams/…/:send`.
    pub streams: streams::Streams,
    /// The Web PubSub emulator's dashboard, when it runs too.
    pub sibling: dashboard::Sibling,
}

impl Shared {
    fn new(config: EmulatorConfig) -> Self {
        let activity = Arc::new(activity::Activity::default());
        let faults = Arc::new(faults::Faults::new(config.faults.clone()));
        let upstream = Upstream::new(
            config.upstream.clone(),
            config.access_key.clone(),
            config.upstream_timeout,
            Arc::clone(&activity),
        )
        .with_faults(Arc::clone(&faults))
        .with_identity(config.entra.as_ref().map(|m| m.upstream_identity.clone()));
        let (per_connection, total) = config.max_pending_invocations;
        let invocations = invocations::Invocations::new(per_connection, total);
        let streams = streams::Streams::new(config.max_open_streams);
        Self {
            config,
            hubs: Hubs::default(),
            tokens: ConnectionTokens::default(),
            activity,
            upstream: Arc::new(upstream),
            faults,
            stopping: watch::channel(false).0,
            sessions: watch::channel(0).0,
            invocations,
            streams,
            sibling: dashboard::Sibling::default(),
        }
    }
}

async fn no_route(request: Request) -> Response {
    EmulatorError::NoRoute(request.uri().path().to_string()).into_response()
}

fn routes(shared: Arc<Shared>) -> Router {
    // Browsers get CORS on the client routes only (`browser_policy`). Every router merged here
    // skips axum's v0.7 path checks: merging one with them turns them on for all, and the REST
    // API has literal `:send` segments (`rest::routes`).
    let local = Router::new()
        .without_v07_checks()
        .route(entra::IDENTITY_PATH, get(entra::identity_token))
        .route("/api/v1/auth/accessKey", get(entra::access_key))
        .route(
            upstream_identity::METADATA_PATH,
            get(upstream_identity::metadata),
        )
        .route(upstream_identity::JWKS_PATH, get(upstream_identity::jwks))
        .route("/", get(dashboard::page))
        .route("/dashboard/{file}", get(dashboard::asset))
        .route(faults::admin::PATH, any(faults::admin::handle));
    let client = Router::new()
        .without_v07_checks()
        .route("/client/negotiate", any(client::negotiate))
        .route("/client", any(client::connect))
        .route("/client/", any(client::connect));
    Router::new()
        .without_v07_checks()
        .merge(browser_policy::local_routes(local))
        .merge(browser_policy::server_routes(rest::routes().layer(
            axum::middleware::from_fn_with_state(shared.clone(), dashboard::record_call),
        )))
        .merge(browser_policy::client_routes(
            client,
            &shared.config.browser,
        ))
        .fallback(no_route)
        .layer(axum::middleware::from_fn(
            uri_limit::limit_uri::<EmulatorError>,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            faults::inject::inject,
        ))
        .with_state(shared)
}

/// The emulator's routes, for tests that drive it in-process.
pub fn router(config: EmulatorConfig) -> Router {
    routes(Arc::new(Shared::new(config)))
}

/// A running emulator.
pub struct EmulatorHandle {
    server: EmulatorServer,
    shared: Arc<Shared>,
}

/// Starts the emulator on `listener`; it serves until [`EmulatorHandle::shutdown`].
pub async fn start(
    config: EmulatorConfig,
    listener: tokio::net::TcpListener,
) -> std::io::Result<EmulatorHandle> {
    let shared = Arc::new(Shared::new(config));
    let janitor = {
        let shared = Arc::clone(&shared);
        move || {
            let config = &shared.config;
            shared
                .tokens
                .sweep(config.negotiate_timeout, config.long_poll_idle_timeout);
            for (hub, ids) in shared.hubs.purge_expired() {
                shared.activity.groups_changed(&shared.hubs, &hub, &ids);
            }
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
    if let Some(mode) = &shared.config.entra {
        let base = format!("http://{}:{}", server.host(), local_addr.port());
        mode.upstream_identity.set_issuer(&base);
        mode.upstream_identity.warm();
    }
    tracing::info!(%local_addr, upstream = shared.config.upstream.len(), "SignalR emulator listening");
    Ok(EmulatorHandle { server, shared })
}

impl EmulatorHandle {
    /// Links the dashboard to emulator `name`'s dashboard on `port`.
    pub fn link_dashboard(&self, name: &'static str, port: u16) {
        self.shared.sibling.set(name, port);
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// How many `:invoke`s wait for clients' answers now.
    pub fn pending_invocations(&self) -> usize {
        self.shared.invocations.waiting()
    }

    /// `Endpoint=http://127.0.0.1;Port=<port>;AccessKey=<key>;Version=1.0;`
    pub fn connection_string(&self) -> String {
        format!(
            "Endpoint=http://{};Port={};AccessKey={};Version=1.0;",
            self.server.host(),
            self.local_addr().port(),
            self.shared.config.access_key.expose()
        )
    }

    /// Stops: every client gets a Close message (it may reconnect), in-flight requests finish,
    /// then the listener closes. Waits at most a few seconds.
    pub async fn shutdown(self) {
        let mut sessions = self.shared.sessions.subscribe();
        self.server
            .stop(async move {
                let _ = sessions.wait_for(|n| *n == 0).await;
            })
            .await;
        tracing::info!("SignalR emulator stopped");
    }
}
