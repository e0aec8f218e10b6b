//! The Web PubSub hubs' state: every connection with its hub, user, groups, roles, runtime grants
//! and outgoing queue, and the operations REST calls and clients perform on them (select by
//! [`Recipients`], `excluded` and `filter`, deliver, close, join and leave). One lock; every
//! operation is a scan or a map lookup and never waits on a socket.
//!
//! A reliable client's connection outlives its socket for [`RECOVERY_WINDOW`] (`docs/webpubsub.md`
//! §8): messages keep their sequence ids and wait in its unacknowledged buffer (at most
//! [`MAX_UNACKED`] messages or [`MAX_UNACKED_BYTES`]) until it reconnects with its reconnection
//! token.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::closing::{Closing, POLICY_VIOLATION};
use super::events::EventContext;
use super::message::{self, MessageData, Origin};
use super::roles::{self, Grant};
use crate::emulator::outbox::{Frame, Outbox};
use crate::emulator::paging::{self, Page, PageRequest};
use crate::service::filter::{Filter, Subject};
use crate::service::recipients::Recipients;
use crate::service::webpubsub::Permission;

/// How long a dropped reliable connection may be recovered.
pub const RECOVERY_WINDOW: Duration = Duration::from_secs(30);
/// The most unacknowledged messages a reliable connection keeps.
pub const MAX_UNACKED: usize = 1000;
/// The most unacknowledged bytes a reliable connection keeps.
pub const MAX_UNACKED_BYTES: usize = 16 * 1024 * 1024;
/// How many ack ids each connection remembers for `Duplicate` detection.
const MAX_ACK_IDS: usize = 10_000;

/// The kinds of client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// No (or an unknown) subprotocol: raw frames.
    Simple,
    /// `json.webpubsub.azure.v1`.
    Json,
    /// `json.reliable.webpubsub.azure.v1`.
    Reliable,
}

/// One connection.
#[derive(Debug)]
pub struct Connection {
    /// Its hub, lowercased.
    pub hub: String,
    /// Its user.
    pub user: Option<String>,
    /// Its groups.
    pub groups: BTreeSet<String>,
    /// Roles from the token or the connect handler.
    pub roles: Vec<String>,
    /// Runtime grants (permissions REST API).
    pub grants: Vec<Grant>,
    /// Its protocol.
    pub kind: ClientKind,
    /// The socket's queue; `None` while a reliable client is away.
    pub outbox: Option<Outbox<Closing>>,
    /// The reliable reconnection token.
    pub reconnection_token: Option<String>,
    /// When the reliable client's socket went away.
    pub detached_at: Option<Instant>,
    /// Which socket owns the connection (a recovery starts a new one).
    pub generation: u64,
    /// The hub as the client named it (for the event handler).
    pub hub_name: String,
    /// The chosen subprotocol.
    pub subprotocol: Option<String>,
    /// The `ce-connectionState` last set by the event handler.
    pub connection_state: Option<String>,
    next_sequence: u64,
    unacked: VecDeque<(u64, Frame)>,
    unacked_bytes: usize,
    ack_ids: HashSet<u64>,
    ack_order: VecDeque<u64>,
}

impl Connection {
    /// A new connection.
    pub fn new(hub: &str, user: Option<String>, kind: ClientKind, outbox: Outbox<Closing>) -> Self {
        Self {
            hub: hub.to_ascii_lowercase(),
            user,
            groups: BTreeSet::new(),
            roles: Vec::new(),
            grants: Vec::new(),
            kind,
            outbox: Some(outbox),
            reconnection_token: None,
            detached_at: None,
            generation: 0,
            hub_name: hub.to_string(),
            subprotocol: None,
            connection_state: None,
            next_sequence: 1,
            unacked: VecDeque::new(),
            unacked_bytes: 0,
            ack_ids: HashSet::new(),
            ack_order: VecDeque::new(),
        }
    }

    /// The connection `id` as the event handler hears of it.
    pub fn event_context(&self, id: &str) -> EventContext {
        EventContext {
            hub: self.hub_name.clone(),
            connection_id: id.to_string(),
            user: self.user.clone(),
            subprotocol: self.subprotocol.clone(),
            state: self.connection_state.clone(),
        }
    }

    /// Records `ack_id`; `false` if it was seen before (a `Duplicate`).
    pub fn first_ack(&mut self, ack_id: u64) -> bool {
        if !self.ack_ids.insert(ack_id) {
            return false;
        }
        self.ack_order.push_back(ack_id);
        if self.ack_order.len() > MAX_ACK_IDS {
            if let Some(old) = self.ack_order.pop_front() {
                self.ack_ids.remove(&old);
            }
        }
        true
    }

    /// Whether `permission` on `group` is allowed.
    pub fn allows(&self, permission: Permission, group: &str) -> bool {
        roles::allows(&self.roles, &self.grants, permission, group)
    }

    /// Drops acknowledged messages (reliable `sequenceAck`).
    pub fn acknowledge(&mut self, sequence_id: u64) {
        while self.unacked.front().is_some_and(|(s, _)| *s <= sequence_id) {
            if let Some((_, frame)) = self.unacked.pop_front() {
                self.unacked_bytes -= frame.data.len();
            }
        }
    }

    /// Attaches a recovering socket: every unacknowledged message is queued again.
    pub fn reattach(&mut self, outbox: Outbox<Closing>) {
        if let Some(old) = self.outbox.take() {
            old.close(1000, "the client reconnected on another socket");
        }
        self.generation += 1;
        for (_, frame) in &self.unacked {
            outbox.push(frame.clone());
        }
        self.outbox = Some(outbox);
        self.detached_at = None;
    }

    /// Delivers a message rendered for this client's kind.
    fn deliver(&mut self, message: &Delivery) {
        match self.kind {
            ClientKind::Simple => {
                if let Some(outbox) = &self.outbox {
                    outbox.push_until(message.raw.clone(), message.deadline);
                }
            }
            ClientKind::Json => {
                if let Some(outbox) = &self.outbox {
                    outbox.push_until(Frame::text(Arc::clone(&message.json)), message.deadline);
                }
            }
            ClientKind::Reliable => {
                let sequence = self.next_sequence;
                self.next_sequence += 1;
                let frame = Frame::text(message::with_sequence(&message.json, sequence));
                self.unacked_bytes += frame.data.len();
                self.unacked.push_back((sequence, frame.clone()));
                if self.unacked.len() > MAX_UNACKED || self.unacked_bytes > MAX_UNACKED_BYTES {
                    // Unrecoverable: the client must start afresh.
                    self.reconnection_token = None;
                    if let Some(outbox) = &self.outbox {
                        outbox.close(POLICY_VIOLATION, "more than 1000 messages or 16 MiB are waiting for the client's sequenceAck");
                    }
                    return;
                }
                if let Some(outbox) = &self.outbox {
                    outbox.push_until(frame, message.deadline);
                }
            }
        }
    }
}

/// A message ready for fan-out.
#[derive(Debug, Clone)]
pub struct Delivery {
    json: Arc<str>,
    raw: Frame,
    deadline: Option<Instant>,
}

impl Delivery {
    /// A message from `origin` with `payload`, dropped if still queued after `ttl`.
    pub fn new(origin: &Origin, payload: &MessageData, ttl: Option<Duration>) -> Self {
        Self {
            json: message::message_json(origin, payload).into(),
            raw: payload.raw.clone(),
            deadline: ttl.map(|ttl| Instant::now() + ttl),
        }
    }
}

/// What became of a connection when its socket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketEnd {
    /// Kept for recovery.
    Detached,
    /// Gone (the `disconnected` event is due).
    Ended,
    /// A newer socket owns it.
    Replaced,
}

/// Every connection, by id.
#[derive(Debug, Default)]
pub struct Connections {
    inner: Mutex<HashMap<String, Connection>>,
}

/// Whether connection `id` of `hub` is one of `recipients`, not `excluded`, and passes `filter`.
fn selected(
    id: &str,
    conn: &Connection,
    hub: &str,
    recipients: &Recipients,
    excluded: &[String],
    filter: Option<&Filter>,
) -> bool {
    if conn.hub != hub || excluded.iter().any(|e| e == id) {
        return false;
    }
    let hit = match recipients {
        Recipients::All => true,
        Recipients::User(user) => conn.user.as_deref() == Some(user.as_str()),
        Recipients::Group(group) => conn.groups.contains(group),
        Recipients::Connection(c) => c == id,
    };
    hit && filter.is_none_or(|f| {
        let groups: Vec<&str> = conn.groups.iter().map(String::as_str).collect();
        f.matches(&Subject {
            user_id: conn.user.as_deref(),
            connection_id: id,
            groups: &groups,
        })
    })
}

impl Connections {
    /// The lock (poisoning is ignored: every update leaves the map consistent).
    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, Connection>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `message` to the `recipients` of `hub` but the `excluded` ones, those that pass
    /// `filter` if there is one; returns how many.
    pub fn send(
        &self,
        hub: &str,
        recipients: &Recipients,
        excluded: &[String],
        filter: Option<&Filter>,
        message: &Delivery,
    ) -> usize {
        let hub = hub.to_ascii_lowercase();
        let mut map = self.lock();
        let mut count = 0;
        for (id, conn) in map.iter_mut() {
            if selected(id, conn, &hub, recipients, excluded, filter) {
                conn.deliver(message);
                count += 1;
            }
        }
        count
    }

    /// Whether `hub` has any of `recipients`.
    pub fn exists(&self, hub: &str, recipients: &Recipients) -> bool {
        let hub = hub.to_ascii_lowercase();
        self.lock()
            .iter()
            .any(|(id, conn)| selected(id, conn, &hub, recipients, &[], None))
    }

    /// One page of a group's members with their users, in connection id order
    /// ([`paging::page`]: borrowed ids, only the page cloned).
    pub fn page_group(&self, hub: &str, group: &str, request: &PageRequest) -> Page {
        let hub = hub.to_ascii_lowercase();
        let group = Recipients::Group(group.to_string());
        let map = self.lock();
        let members = map
            .iter()
            .filter(|(id, c)| selected(id, c, &hub, &group, &[], None))
            .map(|(id, c)| (id.as_str(), c.user.as_deref()));
        paging::page(members, request)
    }

    /// Closes the `recipients` but the `excluded` ones (the client is told `reason`); returns
    /// how many.
    pub fn close(
        &self,
        hub: &str,
        recipients: &Recipients,
        excluded: &[String],
        reason: &str,
    ) -> usize {
        let hub = hub.to_ascii_lowercase();
        let mut map = self.lock();
        let ids: Vec<String> = map
            .iter()
            .filter(|(id, c)| selected(id, c, &hub, recipients, excluded, None))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ids {
            if let Some(conn) = map.remove(id) {
                if let Some(outbox) = conn.outbox {
                    outbox.close(1000, reason);
                }
            }
        }
        ids.len()
    }

    /// Adds (`join`) or removes the `recipients` that pass `filter` to/from `groups`; returns how
    /// many connections that was.
    pub fn set_groups(
        &self,
        hub: &str,
        recipients: &Recipients,
        filter: Option<&Filter>,
        groups: &[String],
        join: bool,
    ) -> usize {
        let hub = hub.to_ascii_lowercase();
        let mut map = self.lock();
        let mut count = 0;
        for (id, conn) in map.iter_mut() {
            if selected(id, conn, &hub, recipients, &[], filter) {
                count += 1;
                for group in groups {
                    if join {
                        conn.groups.insert(group.clone());
                    } else {
                        conn.groups.remove(group);
                    }
                }
            }
        }
        count
    }

    /// Removes the `recipients` from every group.
    pub fn leave_all(&self, hub: &str, recipients: &Recipients) {
        let hub = hub.to_ascii_lowercase();
        for (id, conn) in self.lock().iter_mut() {
            if selected(id, conn, &hub, recipients, &[], None) {
                conn.groups.clear();
            }
        }
    }

    /// Runs `f` on connection `id` of `hub`, if it exists.
    pub fn with<R>(&self, hub: &str, id: &str, f: impl FnOnce(&mut Connection) -> R) -> Option<R> {
        let hub = hub.to_ascii_lowercase();
        self.lock().get_mut(id).filter(|c| c.hub == hub).map(f)
    }

    /// Adds a connection.
    pub fn insert(&self, id: String, conn: Connection) {
        self.lock().insert(id, conn);
    }

    /// Ends socket `generation` of connection `id`. A reliable connection whose client may
    /// recover (`recoverable`) is kept, detached, for [`RECOVERY_WINDOW`].
    pub fn end_socket(&self, id: &str, generation: u64, recoverable: bool) -> SocketEnd {
        let mut map = self.lock();
        let Some(conn) = map.get_mut(id) else {
            return SocketEnd::Ended;
        };
        if conn.generation != generation {
            return SocketEnd::Replaced;
        }
        if recoverable && conn.kind == ClientKind::Reliable && conn.reconnection_token.is_some() {
            conn.outbox = None;
            conn.detached_at = Some(Instant::now());
            return SocketEnd::Detached;
        }
        map.remove(id);
        SocketEnd::Ended
    }

    /// Drops reliable connections whose client did not come back in time; returns them.
    pub fn purge_detached(&self) -> Vec<(String, Connection)> {
        let mut map = self.lock();
        let gone: Vec<String> = map
            .iter()
            .filter(|(_, c)| {
                c.detached_at
                    .is_some_and(|at| at.elapsed() >= RECOVERY_WINDOW)
            })
            .map(|(id, _)| id.clone())
            .collect();
        gone.into_iter()
            .filter_map(|id| map.remove(&id).map(|c| (id, c)))
            .collect()
    }

    /// Closes every socket (the emulator is stopping).
    pub fn close_all(&self, code: u16, reason: &str) {
        for conn in self.lock().values() {
            if let Some(outbox) = &conn.outbox {
                outbox.close(code, reason);
            }
        }
    }
}
