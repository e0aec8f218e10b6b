//! What the dashboard shows: the connections (with transport and since when) and the recent REST
//! calls, kept as they happen and published as a bounded stream of changes. Nothing secret is
//! kept: REST calls are recorded by method, path (never the query, which may carry a token) and
//! status.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::service::hub_protocol::Protocol;
use crate::service::transports::Transport;

/// How many recent calls the snapshot keeps.
pub const RECENT_CALLS: usize = 100;
/// How many changes may wait for a slow dashboard before it is told to reload the snapshot.
pub const EVENT_BUFFER: usize = 1024;

/// A connection as the dashboard lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    /// The hub (as the client named it).
    pub hub: String,
    /// The connection id.
    pub id: String,
    /// The token's user id.
    pub user: Option<String>,
    /// `WebSockets`, `ServerSentEvents` or `LongPolling`.
    pub transport: String,
    /// The hub protocol.
    pub protocol: &'static str,
    /// Milliseconds since the Unix epoch.
    pub since: u128,
    /// Groups at the time of the snapshot (filled in by the snapshot).
    pub groups: Vec<String>,
}

/// A REST call and its answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    /// Milliseconds since the Unix epoch.
    pub at: u128,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

/// One change, as the event stream sends it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Change {
    /// A client completed its handshake.
    Connected(ConnectionInfo),
    /// A client went away.
    Disconnected {
        /// The hub.
        hub: String,
        /// The connection id.
        id: String,
    },
    /// A REST call was answered.
    Call(Call),
}

/// The dashboard's view of the emulator.
pub struct Activity {
    connections: Mutex<HashMap<String, ConnectionInfo>>,
    calls: Mutex<VecDeque<Call>>,
    changes: broadcast::Sender<Change>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            connections: Mutex::default(),
            calls: Mutex::default(),
            changes: broadcast::channel(EVENT_BUFFER).0,
        }
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Activity {
    /// Records a connection that completed its handshake.
    pub fn connected(
        &self,
        hub: &str,
        id: &str,
        user: Option<String>,
        kind: Transport,
        protocol: Protocol,
    ) {
        let info = ConnectionInfo {
            hub: hub.to_string(),
            id: id.to_string(),
            user,
            transport: format!("{kind:?}"),
            protocol: match protocol {
                Protocol::Json => "json",
                Protocol::MessagePack => "messagepack",
            },
            since: now_ms(),
            groups: Vec::new(),
        };
        lock(&self.connections).insert(id.to_string(), info.clone());
        let _ = self.changes.send(Change::Connected(info));
    }

    /// Records a connection that went away.
    pub fn disconnected(&self, hub: &str, id: &str) {
        lock(&self.connections).remove(id);
        let _ = self.changes.send(Change::Disconnected {
            hub: hub.to_string(),
            id: id.to_string(),
        });
    }

    /// Records a REST call (the query is dropped: it may carry a token).
    pub fn call(&self, method: &str, path: &str, status: u16) {
        let call = Call {
            at: now_ms(),
            method: method.to_string(),
            path: path.to_string(),
            status,
        };
        let mut calls = lock(&self.calls);
        if calls.len() == RECENT_CALLS {
            calls.pop_front();
        }
        calls.push_back(call.clone());
        drop(calls);
        let _ = self.changes.send(Change::Call(call));
    }

    /// Every connection (without groups) and the recent calls, oldest first.
    pub fn snapshot(&self) -> (Vec<ConnectionInfo>, Vec<Call>) {
        let mut connections: Vec<ConnectionInfo> =
            lock(&self.connections).values().cloned().collect();
        connections.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
        (connections, lock(&self.calls).iter().cloned().collect())
    }

    /// The changes from now on (a receiver that lags more than [`EVENT_BUFFER`] learns so).
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
