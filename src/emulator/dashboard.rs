//! The emulator's dashboard at its root URL: a read-only page listing hubs, connections (id,
//! user, transport, protocol, groups, connected since, away while a stateful-reconnect client
//! may come back), recent REST calls, sends (recipients,
//! target, how many received it) and upstream calls (URL without query, status, duration), kept
//! up to date by an event stream of changes (`/dashboard/events`, Server-Sent Events: a
//! snapshot first, then each change; a dashboard that falls more than
//! [`super::activity::EVENT_BUFFER`] changes behind gets a fresh snapshot). Bound to loopback like the rest of the emulator; it shows no tokens
//! or keys (none are recorded; queries and URL user info are dropped).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

use super::activity::Snapshot;
use super::Shared;

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");
const STYLE: &str = include_str!("dashboard/dashboard.css");
const LIVE: &str = include_str!("dashboard/live.js");

/// The other emulator's dashboard, which this one links to when both run (the local stack): its
/// name and port (the page keeps its own host name, so `localhost` stays `localhost`).
#[derive(Debug, Default)]
pub struct Sibling(OnceLock<(&'static str, u16)>);

impl Sibling {
    /// Links to the dashboard of emulator `name` on `port` (once; later calls are ignored).
    pub fn set(&self, name: &'static str, port: u16) {
        let _ = self.0.set((name, port));
    }

    /// `{"name","port"}`, or `null` when there is none.
    pub fn json(&self) -> Value {
        self.0.get().map_or(
            Value::Null,
            |(name, port)| json!({ "name": name, "port": port }),
        )
    }
}

/// Records each REST call (method, path, status) for the dashboard.
pub async fn record_call(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    shared
        .activity
        .call(&method, &path, response.status().as_u16());
    response
}

/// `GET /`: the page.
pub async fn page() -> Response {
    page_response(INDEX)
}

/// A dashboard page, with a CSP that allows only the emulator's own files and stream.
pub fn page_response(html: &'static str) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    );
    response
}

/// The shared files (`dashboard.css`, `live.js`) and the emulator's own `scripts` (name, text).
pub fn static_file(file: &str, scripts: &[(&str, &'static str)]) -> Option<Response> {
    let (content_type, body) = match file {
        "dashboard.css" => ("text/css; charset=utf-8", STYLE),
        "live.js" => ("text/javascript; charset=utf-8", LIVE),
        _ => {
            let (_, script) = scripts.iter().find(|(name, _)| *name == file)?;
            ("text/javascript; charset=utf-8", *script)
        }
    };
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    Some((StatusCode::OK, headers, body).into_response())
}

/// JSON that changes with every request (snapshots, counts): never cached.
pub fn fresh_json(value: Value) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(value)).into_response()
}

/// `GET /dashboard/{file}`: the scripts, the style sheet, `snapshot` (JSON), `events` (SSE) and
/// `faults` (JSON: what fault injection is set and has injected).
pub async fn asset(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    match file.as_str() {
        "snapshot" => fresh_json(snapshot(&shared)),
        "events" => {
            let receiver = shared.activity.subscribe();
            let stopping = shared.stopping.subscribe();
            live(receiver, move || snapshot(&shared), stopping).into_response()
        }
        // The injected faults and their counts (polled: counts change with every request).
        "faults" => fresh_json(shared.faults.report()),
        _ => static_file(&file, &[("dashboard.js", SCRIPT)]).unwrap_or_else(|| {
            super::error::EmulatorError::NoRoute(format!("/dashboard/{file}")).into_response()
        }),
    }
}

/// Hubs with their connection counts, every connection with its groups, the recent REST calls,
/// sends and upstream calls.
pub fn snapshot(shared: &Shared) -> Value {
    let Snapshot {
        mut connections,
        calls,
        sends,
        upstream,
    } = shared.activity.snapshot();
    let mut hubs: BTreeMap<String, usize> = BTreeMap::new();
    for connection in &mut connections {
        connection.groups = shared.hubs.groups_of(&connection.hub, &connection.id);
        *hubs.entry(connection.hub.to_ascii_lowercase()).or_default() += 1;
    }
    let hubs: Vec<Value> = hubs
        .into_iter()
        .map(|(name, connections)| json!({ "name": name, "connections": connections }))
        .collect();
    json!({
        "hubs": hubs,
        "connections": connections,
        "calls": calls,
        "sends": sends,
        "upstream": upstream,
        "sibling": shared.sibling.json(),
    })
}

/// A dashboard's event stream: `snapshot` first (made after subscribing to `receiver`, so no
/// change falls between them), then each `change`; a viewer that lagged gets a fresh `snapshot`.
/// It ends when the emulator stops (`stopping`), so a graceful shutdown never waits for an open
/// dashboard.
pub fn live<C, F>(
    receiver: broadcast::Receiver<C>,
    snapshot: F,
    stopping: watch::Receiver<bool>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    C: Serialize + Clone + Send + 'static,
    F: Fn() -> Value + Send + 'static,
{
    let snapshot_event = |snapshot: &F| {
        Event::default()
            .event("snapshot")
            .data(snapshot().to_string())
    };
    let first = snapshot_event(&snapshot);
    let state = (receiver, snapshot, stopping);
    let changes = stream::unfold(
        state,
        move |(mut receiver, snapshot, mut stopping)| async move {
            let received = tokio::select! {
                received = receiver.recv() => received,
                _ = stopping.wait_for(|stop| *stop) => return None,
            };
            let event = match received {
                Ok(change) => Event::default()
                    .event("change")
                    .data(serde_json::to_string(&change).unwrap_or_default()),
                Err(RecvError::Lagged(_)) => snapshot_event(&snapshot),
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(event), (receiver, snapshot, stopping)))
        },
    );
    Sse::new(stream::once(async move { Ok(first) }).chain(changes)).keep_alive(KeepAlive::default())
}
