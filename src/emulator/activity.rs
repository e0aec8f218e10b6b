//! What the dashboard shows: the connections (with transport, groups and since when), the recent
//! REST calls, sends and upstream calls, kept as they happen (each list bounded, see
//! [`records::Ring`]) and published as a bounded stream of changes. Nothing secret is kept: REST
//! calls are recorded by method, path (never the query, which may carry a token) and status,
//! upstream calls by URL without query or user info.

mod feed;
mod records;

pub use feed::{ChangeFeed, EVENT_BUFFER};
pub use records::{display_url, RestCall, Ring, Sent, UpstreamCall};

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

use super::hubs::Hubs;
use crate::service::hub_protocol::Protocol;
use crate::service::transports::Transport;

/// How many recent REST calls, sends and upstream calls the snapshot keeps (each).
pub const RECENT_CALLS: usize = 100;

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
    /// Its groups (at connect; the snapshot fills in the current ones).
    pub groups: Vec<String>,
    /// Whether its socket dropped and it waits for its client (stateful reconnect).
    pub away: bool,
}

/// One change, as the event stream sends it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Change {
    /// A client completed its handshake.
    Connected(ConnectionInfo),
    /// A client's socket dropped (`away`) or a new one took over (stateful reconnect).
    Socket {
        /// The hub.
        hub: String,
        /// The connection id.
        id: String,
        /// Whether the connection now waits for its client.
        away: bool,
    },
    /// A client went away.
    Disconnected {
        /// The hub.
        hub: String,
        /// The connection id.
        id: String,
    },
    /// A connection's groups changed (a REST group operation, or a user membership expired).
    Groups {
        /// The hub.
        hub: String,
        /// The connection id.
        id: String,
        /// Its groups now, sorted.
        groups: Vec<String>,
    },
    /// A REST call was answered.
    Call(RestCall),
    /// A REST send was delivered.
    Send(Sent),
    /// An upstream call ended.
    Upstream(UpstreamCall),
}

/// Everything the snapshot holds, oldest first; connections come without their groups (the
/// dashboard asks the hub state, which knows about expiry).
pub struct Snapshot {
    /// Every connection, oldest first.
    pub connections: Vec<ConnectionInfo>,
    /// The recent REST calls.
    pub calls: Vec<RestCall>,
    /// The recent sends.
    pub sends: Vec<Sent>,
    /// The recent upstream calls.
    pub upstream: Vec<UpstreamCall>,
}

/// The dashboard's view of the emulator.
#[derive(Debug)]
pub struct Activity {
    connections: Mutex<HashMap<String, ConnectionInfo>>,
    calls: Mutex<Ring<RestCall>>,
    sends: Mutex<Ring<Sent>>,
    upstream: Mutex<Ring<UpstreamCall>>,
    changes: ChangeFeed<Change>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            connections: Mutex::default(),
            calls: Mutex::new(Ring::new(RECENT_CALLS)),
            sends: Mutex::new(Ring::new(RECENT_CALLS)),
            upstream: Mutex::new(Ring::new(RECENT_CALLS)),
            changes: ChangeFeed::default(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// The lock of a dashboard record (poisoning is ignored: every update leaves it consistent).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Activity {
    /// Records a connection that completed its handshake, with the groups it is in already
    /// (through its user's memberships).
    pub fn connected(
        &self,
        hub: &str,
        id: &str,
        user: Option<String>,
        kind: Transport,
        protocol: Protocol,
        groups: Vec<String>,
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
            groups,
            away: false,
        };
        lock(&self.connections).insert(id.to_string(), info.clone());
        self.changes.publish(|| Change::Connected(info));
    }

    /// Records a connection whose socket dropped (`attached` false) or was replaced.
    pub fn socket_changed(&self, hub: &str, id: &str, attached: bool) {
        if let Some(info) = lock(&self.connections).get_mut(id) {
            info.away = !attached;
        }
        self.changes.publish(|| Change::Socket {
            hub: hub.to_string(),
            id: id.to_string(),
            away: !attached,
        });
    }

    /// Records a connection that went away.
    pub fn disconnected(&self, hub: &str, id: &str) {
        lock(&self.connections).remove(id);
        self.changes.publish(|| Change::Disconnected {
            hub: hub.to_string(),
            id: id.to_string(),
        });
    }

    /// Records a REST call (the query is dropped: it may carry a token).
    pub fn call(&self, method: &str, path: &str, status: u16) {
        let call = RestCall {
            at: now_ms(),
            method: method.to_string(),
            path: path.to_string(),
            status,
        };
        lock(&self.calls).push(call.clone());
        self.changes.publish(|| Change::Call(call));
    }

    /// Tells the dashboard the current groups of the connections `ids` of `hub` (those gone
    /// meanwhile are skipped).
    pub fn groups_changed(&self, hubs: &Hubs, hub: &str, ids: &[String]) {
        for id in ids {
            if !hubs.connection_exists(hub, id) {
                continue;
            }
            self.changes.publish(|| Change::Groups {
                hub: hub.to_string(),
                id: id.clone(),
                groups: hubs.groups_of(hub, id),
            });
        }
    }

    /// Records a REST send.
    pub fn sent(&self, sent: Sent) {
        lock(&self.sends).push(sent.clone());
        self.changes.publish(|| Change::Send(sent));
    }

    /// Records an upstream call.
    pub fn upstream_call(&self, call: UpstreamCall) {
        lock(&self.upstream).push(call.clone());
        self.changes.publish(|| Change::Upstream(call));
    }

    /// Every connection (without groups) and the recent records, oldest first.
    pub fn snapshot(&self) -> Snapshot {
        let mut connections: Vec<ConnectionInfo> =
            lock(&self.connections).values().cloned().collect();
        connections.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
        Snapshot {
            connections,
            calls: lock(&self.calls).to_vec(),
            sends: lock(&self.sends).to_vec(),
            upstream: lock(&self.upstream).to_vec(),
        }
    }

    /// The changes from now on (a receiver that lags more than [`EVENT_BUFFER`] learns so).
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
