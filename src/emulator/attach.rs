//! Starting a transport on a negotiated connection, one way for the three transports: register
//! it (409 if it already has one), create its two queues (the client's bytes in, frames out),
//! start its [`session`], and forget the connection when the transport ends. A transport then
//! only moves bytes between its HTTP requests and these queues.
//!
//! How each transport holds them differs only in who owns what:
//! * WebSockets read the client's frames and write the session's on one socket: the socket's
//!   task owns its way in and the [`Registration`], and takes the frames from the connection's
//!   [`Attachment`]. With stateful reconnect (`docs/stateful-reconnect.md` §4) the connection
//!   outlives a socket that drops: the session waits for the client, the registration stays,
//!   and a WebSocket to the same `id` reattaches instead of getting a 409;
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
use super::reattach::{self, Attachment, ClientInput, ToSession, INBOUND_CHUNKS};
use super::session;
use super::shutdown::Shutdown;
use super::Shared;
use crate::service::transports::Transport;

/// Forgets the connection when dropped: when its transport ends, or when a WebSocket upgrade
/// fails before the socket exists; not while the connection waits for its client to reconnect
/// (its session forgets it when it ends).
pub struct Registration {
    shared: Arc<Shared>,
    token: String,
    attachment: Option<Arc<Attachment>>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.attachment.as_ref().is_some_and(|a| a.resumable()) {
            self.shared.tokens.remove(&self.token);
        }
    }
}

/// A WebSocket's side of its connection.
pub struct Socket {
    /// The client's frames go to the session here.
    pub to_session: ToSession,
    /// The connection's frames, queue and replay.
    pub attachment: Arc<Attachment>,
    /// Which socket of the connection this is (0 the first; later ones reattach).
    pub generation: u64,
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
    /// Registers `active` and starts the session reading `input` and writing `outbox`.
    fn begin(
        &self,
        active: Active,
        input: ClientInput,
        outbox: Outbox<Shutdown>,
    ) -> Result<(), EmulatorError> {
        let kind = active.kind;
        let negotiated = self.shared.tokens.start(self.token, self.hub, active)?;
        let input = input.offering_resume(negotiated.stateful_reconnect);
        tokio::spawn(session::run(
            Arc::clone(self.shared),
            ClientConnection::new(negotiated, self.hub, self.uri),
            kind,
            input,
            outbox,
        ));
        Ok(())
    }

    fn registration(&self, attachment: Option<Arc<Attachment>>) -> Registration {
        Registration {
            shared: Arc::clone(self.shared),
            token: self.token.to_string(),
            attachment,
        }
    }

    /// Starts a WebSocket connection, or reattaches one to a connection waiting for its client
    /// (stateful reconnect).
    pub fn socket(self) -> Result<Socket, EmulatorError> {
        if let Some(attachment) = self.shared.tokens.resumable(self.token) {
            return self.reattach(attachment);
        }
        let (outbox, frames) = outbox(self.shared.config.max_queued_bytes);
        let (attachment, sockets) = Attachment::new(self.token, outbox.clone(), frames);
        let (to_session, first) = reattach::socket_channel();
        let window = self.shared.config.reconnect_window;
        let input = ClientInput::websocket(first, Arc::clone(&attachment), sockets, window);
        let active =
            Active::new(Transport::WebSockets, None, None).with_attachment(Arc::clone(&attachment));
        self.begin(active, input, outbox)?;
        Ok(Socket {
            to_session,
            registration: self.registration(Some(Arc::clone(&attachment))),
            attachment,
            generation: 0,
        })
    }

    /// A new socket for a connection whose session waits for its client.
    fn reattach(self, attachment: Arc<Attachment>) -> Result<Socket, EmulatorError> {
        let (to_session, generation) = attachment.attach().ok_or_else(|| {
            EmulatorError::Conflict("the connection cannot take a new socket now".into())
        })?;
        Ok(Socket {
            to_session,
            registration: self.registration(Some(Arc::clone(&attachment))),
            attachment,
            generation,
        })
    }

    /// Starts a Server-Sent Events connection.
    pub fn stream(self) -> Result<Stream, EmulatorError> {
        let queues = Queues::new(self.shared);
        let active = Active::new(Transport::ServerSentEvents, Some(queues.inbound), None);
        let input = ClientInput::single(queues.inbound_rx);
        self.begin(active, input, queues.outbox)?;
        Ok(Stream {
            frames: queues.frames,
            registration: self.registration(None),
        })
    }

    /// Starts a long-polling connection; the registry holds it from now on.
    pub fn polled(self) -> Result<(), EmulatorError> {
        let queues = Queues::new(self.shared);
        let frames = Arc::new(tokio::sync::Mutex::new(queues.frames));
        let active = Active::new(Transport::LongPolling, Some(queues.inbound), Some(frames));
        let input = ClientInput::single(queues.inbound_rx);
        self.begin(active, input, queues.outbox)?;
        // The starting GET is answered at once: it is not a poll the janitor should wait for.
        self.shared.tokens.end_poll(self.token);
        Ok(())
    }
}
