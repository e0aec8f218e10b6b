//! Negotiated connections waiting for a transport, and the active transports by connection token:
//! what lets `/client/?id=…` requests find their connection (404 when unknown, 409 when it already
//! has a transport, unless a WebSocket reconnects with stateful reconnect) and what the janitor
//! expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::error::EmulatorError;
use super::outbox::OutboxReader;
use super::reattach::Attachment;
use super::shutdown::Shutdown;
use crate::service::transports::Transport;

/// A connection that negotiated but has not started a transport.
#[derive(Debug, Clone)]
pub struct Negotiated {
    /// The public connection id.
    pub connection_id: String,
    /// The hub named at negotiate.
    pub hub: String,
    /// The token's user id.
    pub user_id: Option<String>,
    /// The token's claims.
    pub claims: Vec<(String, String)>,
    /// Whether negotiate asked for stateful reconnect (`useStatefulReconnect=true`) and was told
    /// yes.
    pub stateful_reconnect: bool,
    created: Instant,
}

impl Negotiated {
    /// A connection negotiated now.
    pub fn new(
        connection_id: String,
        hub: String,
        user_id: Option<String>,
        claims: Vec<(String, String)>,
    ) -> Self {
        Self {
            connection_id,
            hub,
            user_id,
            claims,
            stateful_reconnect: false,
            created: Instant::now(),
        }
    }

    /// The same, with stateful reconnect negotiated or not.
    pub fn with_stateful_reconnect(mut self, stateful_reconnect: bool) -> Self {
        self.stateful_reconnect = stateful_reconnect;
        self
    }
}

/// A connection with a running transport.
#[derive(Debug)]
pub struct Active {
    /// Which transport.
    pub kind: Transport,
    /// Where POSTed client bytes go (Server-Sent Events and long polling).
    pub inbound: Option<mpsc::Sender<Vec<u8>>>,
    /// The outgoing queue a long poll drains.
    pub poll: Option<Arc<tokio::sync::Mutex<OutboxReader<Shutdown>>>>,
    /// Where a WebSocket connection's sockets attach.
    pub attachment: Option<Arc<Attachment>>,
    hub: String,
    user: Option<String>,
    polling: bool,
    last_poll: Instant,
}

impl Active {
    /// A transport of `kind`.
    pub fn new(
        kind: Transport,
        inbound: Option<mpsc::Sender<Vec<u8>>>,
        poll: Option<Arc<tokio::sync::Mutex<OutboxReader<Shutdown>>>>,
    ) -> Self {
        Self {
            kind,
            inbound,
            poll,
            attachment: None,
            hub: String::new(),
            user: None,
            polling: false,
            last_poll: Instant::now(),
        }
    }

    /// The same, with a WebSocket connection's attachment.
    pub fn with_attachment(mut self, attachment: Arc<Attachment>) -> Self {
        self.attachment = Some(attachment);
        self
    }
}

enum Entry {
    Negotiated(Negotiated),
    Active(Active),
}

/// All connections by connection token.
#[derive(Default)]
pub struct ConnectionTokens {
    inner: Mutex<HashMap<String, Entry>>,
}

fn unknown() -> EmulatorError {
    EmulatorError::NotFound {
        code: "Error.Connection.NotExisted",
        message:
            "no connection with this id: negotiate first, and use the connectionToken it returned"
                .into(),
    }
}

impl ConnectionTokens {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers a negotiated connection under its token.
    pub fn negotiated(&self, token: String, connection: Negotiated) {
        self.lock().insert(token, Entry::Negotiated(connection));
    }

    /// Starts a transport for a negotiated connection of `hub`.
    pub fn start(
        &self,
        token: &str,
        hub: &str,
        mut active: Active,
    ) -> Result<Negotiated, EmulatorError> {
        let mut map = self.lock();
        match map.get(token) {
            None => Err(unknown()),
            Some(Entry::Active(existing)) => Err(EmulatorError::Conflict(format!(
                "this connection already uses the {:?} transport",
                existing.kind
            ))),
            Some(Entry::Negotiated(n)) if !n.hub.eq_ignore_ascii_case(hub) => Err(unknown()),
            Some(Entry::Negotiated(n)) => {
                let negotiated = n.clone();
                active.hub = negotiated.hub.clone();
                active.user = negotiated.user_id.clone();
                map.insert(token.to_string(), Entry::Active(active));
                Ok(negotiated)
            }
        }
    }

    /// The attachment of a connection a new WebSocket may take over (stateful reconnect), if
    /// `token` names one.
    pub fn resumable(&self, token: &str) -> Option<Arc<Attachment>> {
        match self.lock().get(token) {
            Some(Entry::Active(a)) => a.attachment.clone().filter(|a| a.resumable()),
            _ => None,
        }
    }

    /// The transport kind of a token (`None` while only negotiated), after checking that the
    /// request's hub and user are the ones that negotiated it.
    pub fn kind(
        &self,
        token: &str,
        hub: &str,
        user: Option<&str>,
    ) -> Result<Option<Transport>, EmulatorError> {
        let map = self.lock();
        let (owner_hub, owner, kind) = match map.get(token) {
            None => return Err(unknown()),
            Some(Entry::Negotiated(n)) => (&n.hub, &n.user_id, None),
            Some(Entry::Active(a)) => (&a.hub, &a.user, Some(a.kind)),
        };
        if !owner_hub.eq_ignore_ascii_case(hub) {
            return Err(unknown());
        }
        if owner.as_deref() != user {
            return Err(EmulatorError::Forbidden(
                "this connection was negotiated by another user; use the token it was negotiated with".into(),
            ));
        }
        Ok(kind)
    }

    /// Where to deliver bytes POSTed by the client.
    pub fn inbound(&self, token: &str) -> Result<mpsc::Sender<Vec<u8>>, EmulatorError> {
        match self.lock().get(token) {
            Some(Entry::Active(a)) => {
                a.inbound
                    .clone()
                    .ok_or_else(|| EmulatorError::MethodNotAllowed {
                        method: "POST".into(),
                        allowed: "GET",
                    })
            }
            Some(Entry::Negotiated(_)) => Err(EmulatorError::Conflict(
                "this connection has not started a transport yet".into(),
            )),
            None => Err(unknown()),
        }
    }

    /// The queue of a long-polling connection. The caller locks it, then calls
    /// [`ConnectionTokens::begin_poll`], so a refused second poll never touches the first one's state.
    pub fn poll_queue(
        &self,
        token: &str,
    ) -> Result<Arc<tokio::sync::Mutex<OutboxReader<Shutdown>>>, EmulatorError> {
        match self.lock().get(token) {
            Some(Entry::Active(a)) => a.poll.clone().ok_or_else(|| {
                EmulatorError::Conflict(format!("this connection uses the {:?} transport", a.kind))
            }),
            _ => Err(unknown()),
        }
    }

    /// Marks a long-polling connection as being polled: the janitor leaves it alone until
    /// [`ConnectionTokens::end_poll`]. Call it only while holding the connection's poll queue, and make
    /// sure `end_poll` runs even when the poll is abandoned (a dropped request).
    pub fn begin_poll(&self, token: &str) {
        if let Some(Entry::Active(a)) = self.lock().get_mut(token) {
            a.polling = true;
        }
    }

    /// Records the end of a poll: the idle clock starts now.
    pub fn end_poll(&self, token: &str) {
        if let Some(Entry::Active(a)) = self.lock().get_mut(token) {
            a.polling = false;
            a.last_poll = Instant::now();
        }
    }

    /// Forgets a connection (its inbound sender goes, so its session ends).
    pub fn remove(&self, token: &str) -> bool {
        self.lock().remove(token).is_some()
    }

    /// Drops negotiations never used within `negotiated_for` and long-polling connections that
    /// have not polled for `idle_for`.
    pub fn sweep(&self, negotiated_for: Duration, idle_for: Duration) {
        let now = Instant::now();
        self.lock().retain(|_, entry| match entry {
            Entry::Negotiated(n) => now.duration_since(n.created) < negotiated_for,
            Entry::Active(a) => {
                a.kind != Transport::LongPolling
                    || a.polling
                    || now.duration_since(a.last_poll) < idle_for
            }
        });
    }
}
