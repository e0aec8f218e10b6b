//! Starting a transport on a negotiated connection, one way for the three transports: register
//! it (409 if it already has one), create its two queues (the client's bytes in, frames out),
//! start its [`session`], and forget the connection when the transport ends. A transport then
//! only moves bytes between its HTTP requests and these queues.
//!
//! How each transport holds them differs only in who owns what:
//! * WebSockets read the client's frames and write the session's on one socket: the socket's
//!   task owns both queues and the [`Registration`];
//! * Server-Sent Events stream the frames in one response and take the client's bytes as POSTs,
//!   which find the inbound queue through the registry: the stream owns the frames and the
//!   [`Registration`];
//! * long polling takes both through the registry (polls drain the frames, POSTs feed the
//!   inbound queue): the registry owns everything, and the connection ends when a poll sees the
//!   session finish, on DELETE, or when the janitor expires it.

use std::sync::Arc;

use axum::http::Uri;
use tokio::sync::mpsc;

use super::client_connection::ClientConnection;
use super::connection_tokens::Active;
use super::error::EmulatorError;
use super::outbox::{outbox, Outbox, OutboxReader};
use super::session;
use super::shutdown::Shutdown;
use super::Shared;
use crate::service::transports::Transport;

/// How many chunks of client bytes may wait for the session.
const INBOUND_CHUNKS: usize = 32;

/// Forgets the connection when dropped: when its transport ends, or when a WebSocket upgrade
/// fails before the socket exists.
pub struct Registration {
    shared: Arc<Shared>,
    token: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.tokens.remove(&self.token);
    }
}

/// A WebSocket's side of its connection.
pub struct Socket {
    /// The client's frames go here; dropping it tells the session the client is gone.
    pub inbound: mpsc::Sender<Vec<u8>>,
    /// Frames for the client.
    pub frames: OutboxReader<Shutdown>,
    /// The session's queue, to report a read failure to the session.
    pub outbox: Outbox<Shutdown>,
    /// Held while the socket lives.
    pub registration: Registration,
}

/// An event stream's side of its connection.
pub struct Stream {
    /// Frames for the client.
    pub frames: OutboxReader<Shutdown>,
    /// Held while the stream lives.
    pub registration: Registration,
}

/// The queues of a connection about to start.
struct Queues {
    inbound: mpsc::Sender<Vec<u8>>,
    inbound_rx: mpsc::Receiver<Vec<u8>>,
    outbox: Outbox<Shutdown>,
    frames: OutboxReader<Shutdown>,
}

impl Queues {
    fn new(shared: &Shared) -> Self {
        let (inbound, inbound_rx) = mpsc::channel(INBOUND_CHUNKS);
        let (outbox, frames) = outbox(shared.config.max_queued_bytes);
        Self {
            inbound,
            inbound_rx,
            outbox,
            frames,
        }
    }
}

/// Where a connection starts: its token, hub and the transport request's URI.
pub struct Start<'a> {
    /// The emulator.
    pub shared: &'a Arc<Shared>,
    /// The connection token from negotiate.
    pub token: &'a str,
    /// The hub the request named.
    pub hub: &'a str,
    /// The transport request's URI (its query goes upstream).
    pub uri: &'a Uri,
}

impl Start<'_> {
    /// Registers `active` and starts the session reading `inbound_rx` and writing `outbox`.
    fn begin(
        &self,
        active: Active,
        inbound_rx: mpsc::Receiver<Vec<u8>>,
        outbox: Outbox<Shutdown>,
    ) -> Result<(), EmulatorError> {
        let kind = active.kind;
        let negotiated = self.shared.tokens.start(self.token, self.hub, active)?;
        tokio::spawn(session::run(
            Arc::clone(self.shared),
            ClientConnection::new(negotiated, self.hub, self.uri),
            kind,
            inbound_rx,
            outbox,
        ));
        Ok(())
    }

    fn registration(&self) -> Registration {
        Registration {
            shared: Arc::clone(self.shared),
            token: self.token.to_string(),
        }
    }

    /// Starts a WebSocket connection.
    pub fn socket(self) -> Result<Socket, EmulatorError> {
        let queues = Queues::new(self.shared);
        let active = Active::new(Transport::WebSockets, None, None);
        self.begin(active, queues.inbound_rx, queues.outbox.clone())?;
        Ok(Socket {
            inbound: queues.inbound,
            frames: queues.frames,
            outbox: queues.outbox,
            registration: self.registration(),
        })
    }

    /// Starts a Server-Sent Events connection.
    pub fn stream(self) -> Result<Stream, EmulatorError> {
        let queues = Queues::new(self.shared);
        let active = Active::new(Transport::ServerSentEvents, Some(queues.inbound), None);
        self.begin(active, queues.inbound_rx, queues.outbox)?;
        Ok(Stream {
            frames: queues.frames,
            registration: self.registration(),
        })
    }

    /// Starts a long-polling connection; the registry holds it from now on.
    pub fn polled(self) -> Result<(), EmulatorError> {
        let queues = Queues::new(self.shared);
        let frames = Arc::new(tokio::sync::Mutex::new(queues.frames));
        let active = Active::new(Transport::LongPolling, Some(queues.inbound), Some(frames));
        self.begin(active, queues.inbound_rx, queues.outbox)?;
        // The starting GET is answered at once: it is not a poll the janitor should wait for.
        self.shared.tokens.end_poll(self.token);
        Ok(())
    }
}
