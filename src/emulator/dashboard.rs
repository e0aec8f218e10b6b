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
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::activity::Snapshot;
use super::Shared;

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");
const STYLE: &str = include_str!("dashboard/dashboard.css");

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

/// `GET /`: the page, with a CSP that allows only the emulator's own files and stream.
pub async fn page() -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        INDEX,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    );
    response
}

/// `GET /dashboard/{file}`: the script, the style sheet, `snapshot` (JSON), `events` (SSE) and
/// `faults` (JSON: what fault injection is set and has injected).
pub async fn asset(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    let (content_type, body) = match file.as_str() {
        "dashboard.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "dashboard.css" => ("text/css; charset=utf-8", STYLE),
        "snapshot" => {
            return (
                [(header::CACHE_CONTROL, "no-store")],
                axum::Json(snapshot(&shared)),
            )
                .into_response()
        }
        "events" => return events(shared).into_response(),
        // The injected faults and their counts (polled: counts change with every request).
        "faults" => {
            return (
                [(header::CACHE_CONTROL, "no-store")],
                axum::Json(shared.faults.report()),
            )
                .into_response()
        }
        _ => {
            return super::error::EmulatorError::NoRoute(format!("/dashboard/{file}"))
                .into_response()
        }
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
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
    })
}

fn snapshot_event(shared: &Shared) -> Event {
    Event::default()
        .event("snapshot")
        .data(snapshot(shared).to_string())
}

/// The stream: subscribe first, then the snapshot, so no change falls between them.
fn events(shared: Arc<Shared>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = shared.activity.subscribe();
    let first = snapshot_event(&shared);
    // Ends when the emulator stops, so a graceful shutdown never waits for an open dashboard.
    let stopping = shared.stopping.subscribe();
    let state = (receiver, shared, stopping);
    let changes = stream::unfold(state, |(mut receiver, shared, mut stopping)| async move {
        let received = tokio::select! {
            received = receiver.recv() => received,
            _ = stopping.wait_for(|stop| *stop) => return None,
        };
        let event = match received {
            Ok(change) => Event::default()
                .event("change")
                .data(serde_json::to_string(&change).unwrap_or_default()),
            Err(RecvError::Lagged(_)) => snapshot_event(&shared),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), (receiver, shared, stopping)))
    });
    Sse::new(stream::once(async move { Ok(first) }).chain(changes)).keep_alive(KeepAlive::default())
}
