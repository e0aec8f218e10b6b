//! The Web PubSub emulator's dashboard at its root URL, on the SignalR dashboard's machinery
//! (`crate::emulator::dashboard`: the page's CSP, the shared files, the live event stream of a
//! snapshot then changes, a fresh snapshot for a viewer that lagged): hubs; connections (id,
//! user, subprotocol, groups, roles as granted, since when, away while a reliable client may
//! recover); recent REST sends; event handler calls and invocations ([`super::activity`]); and
//! the group streams in flight (`dashboard/streams`, polled, since their sequence ids move with
//! every fragment). Loopback only; it shows no tokens or keys (none are recorded).

mod row;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::activity::Recent;
use super::error::WpsError;
use super::WebPubSubState;
use crate::emulator::browser_policy;
use crate::emulator::dashboard::{fresh_json, live, page_response, static_file};

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/webpubsub.js");
/// The most streams `dashboard/streams` lists.
const MAX_STREAM_ROWS: usize = 1000;

/// `/` and `/dashboard/{file}`, for loopback `Host`s only.
pub fn routes() -> Router<Arc<WebPubSubState>> {
    let local = Router::new()
        .without_v07_checks()
        .route("/", get(|| async { page_response(INDEX) }))
        .route("/dashboard/{file}", get(asset));
    browser_policy::local_routes(local)
}

/// `GET /dashboard/{file}`: the scripts, the style sheet, `snapshot` (JSON), `events` (SSE) and
/// `streams` (JSON).
async fn asset(State(state): State<Arc<WebPubSubState>>, Path(file): Path<String>) -> Response {
    match file.as_str() {
        "snapshot" => fresh_json(snapshot(&state)),
        "streams" => fresh_json(streams(&state)),
        "events" => {
            let receiver = state.activity.subscribe();
            let stopping = state.stopping.subscribe();
            live(receiver, move || snapshot(&state), stopping).into_response()
        }
        _ => static_file(&file, &[("webpubsub.js", SCRIPT)])
            .unwrap_or_else(|| WpsError::NoRoute(format!("/dashboard/{file}")).into_response()),
    }
}

/// Hubs with their connection counts, every connection, and the recent sends, event handler
/// calls and invocations.
pub fn snapshot(state: &WebPubSubState) -> Value {
    let mut connections: Vec<_> = {
        let map = state.connections.lock();
        map.iter().map(|(id, c)| c.row(id)).collect()
    };
    connections.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
    let mut hubs: BTreeMap<&str, usize> = BTreeMap::new();
    for connection in &connections {
        *hubs.entry(connection.hub.as_str()).or_default() += 1;
    }
    let hubs: Vec<Value> = hubs
        .into_iter()
        .map(|(name, connections)| json!({ "name": name, "connections": connections }))
        .collect();
    let Recent {
        sends,
        events,
        invocations,
    } = state.activity.recent();
    json!({
        "hubs": hubs,
        "connections": connections,
        "sends": sends,
        "events": events,
        "invocations": invocations,
        "sibling": state.sibling.json(),
    })
}

/// The group streams in flight (at most [`MAX_STREAM_ROWS`]): group, publisher, stream id, the
/// next sequence id it expects and its age in milliseconds.
pub fn streams(state: &WebPubSubState) -> Value {
    let map = state.connections.lock();
    let rows: Vec<Value> = map
        .iter()
        .flat_map(|(connection, c)| {
            c.streams.iter().map(move |(id, stream)| {
                json!({
                    "hub": c.hub,
                    "group": stream.group,
                    "connection": connection,
                    "streamId": id,
                    "nextSequenceId": stream.expected,
                    "ageMs": stream.started.elapsed().as_millis() as u64,
                })
            })
        })
        .take(MAX_STREAM_ROWS)
        .collect();
    json!({ "streams": rows })
}
