//! The Web PubSub hubs' state: every connection with its hub, user, groups, roles, runtime grants
//! and outgoing queue, and the operations REST calls and clients perform on them (select by
//! [`Recipients`], `excluded` and `filter` (`connections/selection.rs`), deliver, close, join and
//! leave). One lock; every operation is a scan, a map lookup or a read of the group index and
//! never waits on a socket.
//!
//! A reliable client's connection outlives its socket for [`RECOVERY_WINDOW`] (`docs/webpubsub.md`
//! §8): messages keep their sequence ids and wait in its unacknowledged buffer (at most
//! [`MAX_UNACKED`] messages or [`MAX_UNACKED_BYTES`]) until it reconnects with its reconnection
//! token.

mod selection;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::activity::WpsActivity;
use super::closing::{Closing, POLICY_VIOLATION};
use super::events::EventContext;
use super::groups::{GroupLimit, GroupLimits, Groups};
pub use super::message::Delivery;
use super::retained::{Retained, RetainedBytes};
use super::roles::Grant;
use super::streams::Streams;
use crate::emulator::activity::now_ms;
use crate::emulator::outbox::{Frame, Outbox};
use crate::emulator::paging::{self, Page, PageRequest};
use crate::service::filter::Filter;
use crate::service::recipients::Recipients;
use selection::Selection;

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
    /// Its groups (under the emulator's caps).
    pub groups: Groups,
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
    /// The group streams it publishes (`streams.rs`).
    pub streams: Streams,
    /// When it connected, in milliseconds since the Unix epoch.
    pub since: u128,
    /// Its recovery was given up (too much unacknowledged, or the emulator's retained bytes over
    /// budget while it was detached): nothing more is kept for it, and the janitor forgets it
    /// once detached.
    given_up: bool,
    next_sequence: u64,
    unacked: VecDeque<(u64, Arc<Retained>)>,
    unacked_bytes: usize,
    ack_ids: HashSet<u64>,
    ack_order: VecDeque<u64>,
}

impl Connection {
    /// A new connection `id`, its groups counted against `limits`.
    pub fn new(
        id: &str,
        hub: &str,
        user: Option<String>,
        kind: ClientKind,
        outbox: Outbox<Closing>,
        limits: &Arc<GroupLimits>,
    ) -> Self {
        let lowercased = hub.to_ascii_lowercase();
        Self {
            groups: Groups::new(limits, &lowercased, id),
            hub: lowercased,
            user,
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
            streams: Streams::default(),
            since: now_ms(),
            given_up: false,
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

    /// Drops acknowledged messages (reliable `sequenceAck`).
    pub fn acknowledge(&mut self, sequence_id: u64) {
        while self.unacked.front().is_some_and(|(s, _)| *s <= sequence_id) {
            if let Some((_, body)) = self.unacked.pop_front() {
                self.unacked_bytes -= body.len();
            }
        }
    }

    /// Attaches a recovering socket: every unacknowledged message is queued again.
    pub fn reattach(&mut self, outbox: Outbox<Closing>) {
        if let Some(old) = self.outbox.take() {
            old.close(1000, "the client reconnected on another socket");
        }
        self.generation += 1;
        for (sequence, body) in &self.unacked {
            outbox.push(body.frame(*sequence));
        }
        self.outbox = Some(outbox);
        self.detached_at = None;
    }

    /// Delivers a message rendered for this client's kind; a reliable client's buffer keeps
    /// `body`, shared with every other recipient.
    fn deliver(&mut self, message: &Delivery, body: &Arc<Retained>) {
        match self.kind {
            ClientKind::Simple => {
                if let (Some(outbox), Some(raw)) = (&self.outbox, &message.raw) {
                    outbox.push_until(raw.clone(), message.deadline);
                }
            }
            ClientKind::Json => {
                if let Some(outbox) = &self.outbox {
                    outbox.push_until(Frame::text(Arc::clone(&message.json)), message.deadline);
                }
            }
            ClientKind::Reliable if self.given_up => {}
            ClientKind::Reliable => {
                let sequence = self.next_sequence;
                self.next_sequence += 1;
                self.unacked_bytes += body.len();
                self.unacked.push_back((sequence, Arc::clone(body)));
                if self.unacked.len() > MAX_UNACKED || self.unacked_bytes > MAX_UNACKED_BYTES {
                    // Unrecoverable: the client must start afresh; nothing more is kept for it.
                    self.give_up();
                    if let Some(outbox) = &self.outbox {
                        outbox.close(POLICY_VIOLATION, "more than 1000 messages or 16 MiB are waiting for the client's sequenceAck");
                    }
                    return;
                }
                if let Some(outbox) = &self.outbox {
                    outbox.push_until(body.frame(sequence), message.deadline);
                }
            }
        }
    }

    /// Gives up a reliable connection's recovery: its buffer is freed, it can no longer be
    /// recovered, and once detached the janitor forgets it.
    fn give_up(&mut self) {
        self.unacked.clear();
        self.unacked_bytes = 0;
        self.reconnection_token = None;
        self.given_up = true;
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
    group_limits: Arc<GroupLimits>,
    retained: Arc<RetainedBytes>,
    activity: Arc<WpsActivity>,
}

impl Connections {
    /// No connections; their groups are capped by `group_limits`, `retained` is the budget of
    /// what reliable connections keep, and the dashboard hears of them through `activity`.
    pub fn new(
        group_limits: Arc<GroupLimits>,
        retained: Arc<RetainedBytes>,
        activity: Arc<WpsActivity>,
    ) -> Self {
        Self {
            inner: Mutex::default(),
            group_limits,
            retained,
            activity,
        }
    }

    /// Tells the dashboard how connection `id` is now (after a change of its groups, grants or
    /// socket).
    pub fn changed(&self, id: &str) {
        self.activity
            .connection(|| self.lock().get(id).map(|c| c.row(id)));
    }

    /// The bytes reliable connections keep, and their budget.
    pub fn retained(&self) -> &RetainedBytes {
        &self.retained
    }

    /// The caps every connection's groups are counted against.
    pub fn group_limits(&self) -> &Arc<GroupLimits> {
        &self.group_limits
    }

    /// The lock (poisoning is ignored: every update leaves the map consistent).
    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, Connection>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `message` to the `recipients` of `hub` but the `excluded` ones, those that pass
    /// `filter` if there is one; returns how many. Reliable recipients share one copy of it; if
    /// what reliable connections keep is then over budget, detached ones are given up, oldest
    /// first (`retained.rs`).
    pub fn send(
        &self,
        hub: &str,
        recipients: &Recipients,
        excluded: &[String],
        filter: Option<&Filter>,
        message: &Delivery,
    ) -> usize {
        let hub = hub.to_ascii_lowercase();
        let selection = Selection::new(&hub, recipients, excluded, filter);
        let mut map = self.lock();
        let body = Retained::new(&message.json, &self.retained);
        let mut count = 0;
        selection.each(&mut map, self.group_limits.index(), |_, conn| {
            conn.deliver(message, &body);
            count += 1;
        });
        drop(body);
        self.give_up_over_budget(&mut map);
        count
    }

    /// While the retained bytes are over budget, gives up the detached connection that has been
    /// away longest.
    fn give_up_over_budget(&self, map: &mut HashMap<String, Connection>) {
        while self.retained.over() {
            let oldest = map
                .iter_mut()
                .filter(|(_, c)| !c.given_up && !c.unacked.is_empty())
                .filter_map(|(id, c)| c.detached_at.map(|at| (at, id, c)))
                .min_by_key(|(at, _, _)| *at);
            let Some((_, id, conn)) = oldest else {
                return;
            };
            tracing::warn!(connection = %id, budget = self.retained.limit, "Web PubSub: a detached reliable connection is given up (it can no longer be recovered): the messages kept for detached connections exceed the emulator's budget");
            conn.give_up();
        }
    }

    /// Whether `hub` has any of `recipients`.
    pub fn exists(&self, hub: &str, recipients: &Recipients) -> bool {
        let hub = hub.to_ascii_lowercase();
        let mut found = false;
        Selection::new(&hub, recipients, &[], None).each(
            &mut self.lock(),
            self.group_limits.index(),
            |_, _| found = true,
        );
        found
    }

    /// One page of a group's members with their users, in connection id order: a seek into the
    /// group's entry of the index from the cursor ([`paging::page_sorted`]), only the page cloned.
    pub fn page_group(&self, hub: &str, group: &str, request: &PageRequest) -> Page {
        let hub = hub.to_ascii_lowercase();
        let map = self.lock();
        let index = self.group_limits.index().lock();
        let members = index
            .members_after(&hub, group, request.after())
            .filter_map(|id| map.get_key_value(id))
            .filter(|(_, c)| c.hub == hub && c.groups.contains(group))
            .map(|(id, c)| (id.as_str(), c.user.as_deref()));
        paging::page_sorted(members, request)
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
        let ids = Selection::new(&hub, recipients, excluded, None)
            .ids(&mut map, self.group_limits.index());
        for id in &ids {
            if let Some(conn) = map.remove(id) {
                if let Some(outbox) = conn.outbox {
                    outbox.close(1000, reason);
                }
            }
            self.activity.disconnected(id);
        }
        ids.len()
    }

    /// Adds (`join`) or removes the `recipients` that pass `filter` to/from `groups`; returns how
    /// many connections that was, or the cap that kept some of them out of a group (the others
    /// joined).
    pub fn set_groups(
        &self,
        hub: &str,
        recipients: &Recipients,
        filter: Option<&Filter>,
        groups: &[String],
        join: bool,
    ) -> Result<usize, GroupLimit> {
        let hub = hub.to_ascii_lowercase();
        let mut map = self.lock();
        let ids =
            Selection::new(&hub, recipients, &[], filter).ids(&mut map, self.group_limits.index());
        let mut refused = None;
        for id in &ids {
            let Some(conn) = map.get_mut(id) else {
                continue;
            };
            for group in groups {
                if !join {
                    conn.groups.leave(group);
                } else if let Err(limit) = conn.groups.join(group) {
                    refused = Some(limit);
                }
            }
            self.activity.connection(|| Some(conn.row(id)));
        }
        refused.map_or(Ok(ids.len()), Err)
    }

    /// Removes the `recipients` from every group.
    pub fn leave_all(&self, hub: &str, recipients: &Recipients) {
        let hub = hub.to_ascii_lowercase();
        let mut map = self.lock();
        let ids =
            Selection::new(&hub, recipients, &[], None).ids(&mut map, self.group_limits.index());
        for id in &ids {
            if let Some(conn) = map.get_mut(id) {
                conn.groups.clear();
                self.activity.connection(|| Some(conn.row(id)));
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
        self.activity.connection(|| Some(conn.row(&id)));
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
            self.activity.connection(|| Some(conn.row(id)));
            return SocketEnd::Detached;
        }
        self.activity.disconnected(id);
        if let Some(mut conn) = map.remove(id) {
            let streams = conn.streams.end_all();
            drop(map);
            self.cancel_streams(id, &conn, streams);
        }
        SocketEnd::Ended
    }

    /// Drops reliable connections whose client did not come back in time; returns them.
    pub fn purge_detached(&self) -> Vec<(String, Connection)> {
        let mut map = self.lock();
        let gone: Vec<String> = map
            .iter()
            .filter(|(_, c)| {
                (c.given_up && c.detached_at.is_some())
                    || c.detached_at
                        .is_some_and(|at| at.elapsed() >= RECOVERY_WINDOW)
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut gone: Vec<(String, Connection)> = gone
            .into_iter()
            .filter_map(|id| map.remove(&id).map(|c| (id, c)))
            .collect();
        drop(map);
        for (id, conn) in &mut gone {
            self.activity.disconnected(id);
            let streams = conn.streams.end_all();
            self.cancel_streams(id, conn, streams);
        }
        gone
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
