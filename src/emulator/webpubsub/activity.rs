//! What the Web PubSub dashboard ([`super::dashboard`]) is told as it happens: connections
//! appearing, changing (groups, roles, away while a reliable client may come back) and going;
//! REST sends; event handler calls; invocations. The recent records are kept in bounded rings
//! ([`RECENT_CALLS`] each) and every change is published on the shared [`ChangeFeed`]. Nothing
//! secret is kept: no token (access or reconnection) is recorded, handler URLs lose their query
//! and user info ([`display_url`]).

use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::emulator::activity::{display_url, lock, now_ms, ChangeFeed, Ring, RECENT_CALLS};
use crate::service::recipients::Recipients;

/// A connection as the dashboard lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRow {
    /// The hub, lowercased.
    pub hub: String,
    /// The connection id.
    pub id: String,
    /// Its user.
    pub user: Option<String>,
    /// The chosen subprotocol (none for a simple WebSocket client).
    pub subprotocol: Option<String>,
    /// Its groups, sorted.
    pub groups: Vec<String>,
    /// Its roles (from the token or the connect handler) and runtime grants, as granted.
    pub roles: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub since: u128,
    /// Its socket dropped and a reliable client may still recover it.
    pub away: bool,
}

/// A REST send.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WpsSent {
    /// Milliseconds since the Unix epoch.
    pub at: u128,
    /// The hub.
    pub hub: String,
    /// `all`, `user`, `group` or `connection`.
    pub recipients: &'static str,
    /// The user id, group name or connection id (none for `all`).
    pub name: Option<String>,
    /// `json`, `text` or `binary`.
    pub data_type: &'static str,
    /// How many connections took it.
    pub received: usize,
}

/// A call to the event handler.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCall {
    /// Milliseconds since the Unix epoch.
    pub at: u128,
    /// The hub.
    pub hub: String,
    /// The connection it is about.
    pub connection: String,
    /// The CloudEvents type, e.g. `azure.webpubsub.sys.connected`.
    pub event: String,
    /// The URL without user info, query or fragment.
    pub url: String,
    /// The status the handler answered; none when there was no answer.
    pub status: Option<u16>,
    /// Why there was no usable answer, if so.
    pub error: Option<String>,
    /// How long the call took, in milliseconds.
    pub duration_ms: u64,
}

/// An `invoke` from a client, and how it ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationRecord {
    /// Milliseconds since the Unix epoch.
    pub at: u128,
    /// The hub.
    pub hub: String,
    /// The invoking connection.
    pub connection: String,
    /// The client's invocation id.
    pub invocation_id: String,
    /// The user event invoked (none when the frame was refused before naming one).
    pub event: Option<String>,
    /// `success`, `cancelled`, or the error name of a failure (`Timeout`, `NotFound`, …).
    pub outcome: String,
}

/// One change, as the event stream sends it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum WpsChange {
    /// A connection appeared or changed (groups, roles, away).
    Connection(ConnectionRow),
    /// A connection went away.
    Disconnected {
        /// The connection id.
        id: String,
    },
    /// A REST send was delivered.
    Send(WpsSent),
    /// An event handler call ended.
    Event(EventCall),
    /// An invocation ended.
    Invocation(InvocationRecord),
}

/// The recent records, oldest first.
pub struct Recent {
    /// REST sends.
    pub sends: Vec<WpsSent>,
    /// Event handler calls.
    pub events: Vec<EventCall>,
    /// Invocations.
    pub invocations: Vec<InvocationRecord>,
}

/// The Web PubSub dashboard's records and change feed.
#[derive(Debug)]
pub struct WpsActivity {
    sends: Mutex<Ring<WpsSent>>,
    events: Mutex<Ring<EventCall>>,
    invocations: Mutex<Ring<InvocationRecord>>,
    changes: ChangeFeed<WpsChange>,
}

impl Default for WpsActivity {
    fn default() -> Self {
        Self {
            sends: Mutex::new(Ring::new(RECENT_CALLS)),
            events: Mutex::new(Ring::new(RECENT_CALLS)),
            invocations: Mutex::new(Ring::new(RECENT_CALLS)),
            changes: ChangeFeed::default(),
        }
    }
}

impl WpsActivity {
    /// A connection appeared or changed; `row` (none: it is gone meanwhile) is made only if
    /// someone watches.
    pub fn connection(&self, row: impl FnOnce() -> Option<ConnectionRow>) {
        self.changes
            .publish_some(|| row().map(WpsChange::Connection));
    }

    /// A connection went away.
    pub fn disconnected(&self, id: &str) {
        self.changes
            .publish(|| WpsChange::Disconnected { id: id.to_string() });
    }

    /// Records a REST send of `data_type` to `recipients` of `hub` that `received` took.
    pub fn sent(
        &self,
        hub: &str,
        recipients: &Recipients,
        data_type: &'static str,
        received: usize,
    ) {
        let (kind, name) = recipients.kind_and_name();
        let sent = WpsSent {
            at: now_ms(),
            hub: hub.to_string(),
            recipients: kind,
            name,
            data_type,
            received,
        };
        lock(&self.sends).push(sent.clone());
        self.changes.publish(|| WpsChange::Send(sent));
    }

    /// Records an event handler call (its URL is stored without query or user info).
    pub fn event_call(&self, mut call: EventCall) {
        call.url = display_url(&call.url);
        lock(&self.events).push(call.clone());
        self.changes.publish(|| WpsChange::Event(call));
    }

    /// Records how an invocation ended.
    pub fn invocation(&self, record: InvocationRecord) {
        lock(&self.invocations).push(record.clone());
        self.changes.publish(|| WpsChange::Invocation(record));
    }

    /// The recent records, oldest first.
    pub fn recent(&self) -> Recent {
        Recent {
            sends: lock(&self.sends).to_vec(),
            events: lock(&self.events).to_vec(),
            invocations: lock(&self.invocations).to_vec(),
        }
    }

    /// The changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<WpsChange> {
        self.changes.subscribe()
    }
}
