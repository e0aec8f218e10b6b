//! What lets a WebSocket connection outlive its socket (stateful reconnect,
//! `docs/stateful-reconnect.md` §4). Every WebSocket connection has an [`Attachment`]: the
//! frames waiting for a socket, the numbered messages written but not acknowledged
//! ([`SentMessages`]), and the way a new socket reaches the session. Its session reads the client
//! through a [`ClientInput`]: the current socket's bytes and, once the connection is resumable
//! (it negotiated stateful reconnect and shook hands with version 2), the sockets that replace
//! it. When a socket drops without the client's Close frame, the session waits, detached, for
//! the next one within the reconnect window.
//!
//! Sockets take turns: a new one asks the session to read it and replaces the old one, which
//! stops writing; the new one takes the queue once the old one let go of it, and starts with a
//! `Sequence` message and the unacknowledged messages.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch, OwnedMutexGuard};
use tokio::time::{sleep_until, Instant};

use super::message_buffer::SentMessages;
use super::outbox::{Frame, Outbox, OutboxReader, Queued};
use super::outgoing::Outgoing;
use super::shutdown::Shutdown;
use crate::service::hub_protocol::{HubMessage, Protocol};

/// How many chunks of client bytes may wait for the session.
pub const INBOUND_CHUNKS: usize = 32;

/// How many new sockets may wait for the session to read them.
const WAITING_SOCKETS: usize = 4;

/// One socket's bytes for the session, and whether its client said goodbye (a Close frame)
/// rather than dropping.
#[derive(Debug)]
pub struct SocketInput {
    bytes: mpsc::Receiver<Vec<u8>>,
    left: Arc<AtomicBool>,
}

/// A socket's side of [`SocketInput`].
#[derive(Debug)]
pub struct ToSession {
    /// The client's frames go here; dropping it tells the session the socket is gone.
    pub bytes: mpsc::Sender<Vec<u8>>,
    left: Arc<AtomicBool>,
}

impl ToSession {
    /// The client sent a Close frame: the connection ends with this socket.
    pub fn client_left(&self) {
        self.left.store(true, Ordering::Relaxed);
    }
}

/// A new socket's two ends.
pub fn socket_channel() -> (ToSession, SocketInput) {
    let (bytes, rx) = mpsc::channel(INBOUND_CHUNKS);
    let left = Arc::new(AtomicBool::new(false));
    let input = SocketInput {
        bytes: rx,
        left: Arc::clone(&left),
    };
    (ToSession { bytes, left }, input)
}

#[derive(Debug, Default)]
struct State {
    /// Set once the connection is resumable: the protocol its `Sequence` messages use.
    protocol: Option<Protocol>,
    ended: bool,
    sent: SentMessages,
}

/// Where a WebSocket connection's sockets attach, one at a time.
#[derive(Debug)]
pub struct Attachment {
    token: String,
    outbox: Outbox<Shutdown>,
    frames: Arc<tokio::sync::Mutex<OutboxReader<Shutdown>>>,
    state: Mutex<State>,
    sockets: mpsc::Sender<SocketInput>,
    generation: watch::Sender<u64>,
}

impl Attachment {
    /// The attachment of the connection `token` whose frames `reader` holds, and the receiver of
    /// the sockets that attach after the first.
    pub fn new(
        token: &str,
        outbox: Outbox<Shutdown>,
        reader: OutboxReader<Shutdown>,
    ) -> (Arc<Self>, mpsc::Receiver<SocketInput>) {
        let (sockets, rx) = mpsc::channel(WAITING_SOCKETS);
        let attachment = Self {
            token: token.to_string(),
            outbox,
            frames: Arc::new(tokio::sync::Mutex::new(reader)),
            state: Mutex::default(),
            sockets,
            generation: watch::channel(0).0,
        };
        (Arc::new(attachment), rx)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection's outgoing queue (a socket reports read failures on it).
    pub fn outbox(&self) -> &Outbox<Shutdown> {
        &self.outbox
    }

    /// Whether a new socket may take the connection over.
    pub fn resumable(&self) -> bool {
        let state = self.state();
        state.protocol.is_some() && !state.ended
    }

    /// The session shook hands with stateful reconnect: from now on numbered messages are kept
    /// and the connection waits for its client when a socket drops.
    pub fn make_resumable(&self, protocol: Protocol) {
        self.state().protocol = Some(protocol);
    }

    /// The session is over; returns whether the connection was resumable (then only the
    /// session can forget it, as its sockets leave it registered).
    pub fn end(&self) -> bool {
        let mut state = self.state();
        let was = state.protocol.is_some() && !state.ended;
        state.ended = true;
        state.sent = SentMessages::default();
        was
    }

    /// The connection token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A new socket for a resumable connection: the session is asked to read it, and the socket
    /// before it to stop. `None` when the session is gone or too many sockets are waiting.
    pub fn attach(&self) -> Option<(ToSession, u64)> {
        let state = self.state();
        if state.protocol.is_none() || state.ended {
            return None;
        }
        let (to_session, input) = socket_channel();
        self.sockets.try_send(input).ok()?;
        let mut generation = 0;
        self.generation.send_modify(|g| {
            *g += 1;
            generation = *g;
        });
        drop(state);
        Some((to_session, generation))
    }

    /// Resolves once a socket newer than `generation` attached.
    pub fn replaced(&self, generation: u64) -> impl Future<Output = ()> + Send + 'static {
        let mut newer = self.generation.subscribe();
        async move {
            let _ = newer.wait_for(|g| *g > generation).await;
        }
    }

    /// The queue of frames, once the socket before has let go of it.
    pub async fn frames(&self) -> OwnedMutexGuard<OutboxReader<Shutdown>> {
        Arc::clone(&self.frames).lock_owned().await
    }

    /// What to write for `queued`: numbered and kept until acknowledged while resumable.
    pub fn write(&self, queued: Queued) -> Frame {
        let mut state = self.state();
        if state.protocol.is_none() || state.ended {
            return queued.frame.clone();
        }
        state.sent.write(queued)
    }

    /// The client's Ack.
    pub fn acknowledge(&self, sequence_id: u64) {
        self.state().sent.acknowledge(sequence_id);
    }

    /// What a reattached socket writes first: `Sequence`, then every unacknowledged message.
    pub fn replay(&self) -> Vec<Frame> {
        let state = self.state();
        let Some(protocol) = state.protocol else {
            return Vec::new();
        };
        let (sequence_id, kept) = state.sent.replay();
        let sequence = Outgoing::message(HubMessage::Sequence { sequence_id }).frame(protocol);
        std::iter::once(sequence).chain(kept).collect()
    }

    /// The bytes written and not yet acknowledged.
    pub fn unacknowledged_bytes(&self) -> usize {
        self.state().sent.kept_bytes()
    }
}

/// What the session reads next.
#[derive(Debug)]
pub enum Input {
    /// Bytes from the client.
    Bytes(Vec<u8>),
    /// The socket dropped; the connection waits for the client to come back.
    Detached,
    /// A new socket took over: its messages count once its `Sequence` arrives.
    Reattached,
    /// The client is gone: it left, its socket dropped and the connection is not resumable, or
    /// it did not come back within the window.
    Gone,
}

/// What [`ClientInput::next`] waited for.
enum Event {
    Bytes(Option<Vec<u8>>),
    Socket(SocketInput),
    WindowOver,
}

/// The session's reader of its client, across sockets.
#[derive(Debug)]
pub struct ClientInput {
    socket: Option<SocketInput>,
    attachment: Option<(Arc<Attachment>, mpsc::Receiver<SocketInput>)>,
    offers_resume: bool,
    window: Duration,
    away_until: Option<Instant>,
}

impl ClientInput {
    /// The input of a Server-Sent Events or long-polling connection: never resumed.
    pub fn single(bytes: mpsc::Receiver<Vec<u8>>) -> Self {
        let left = Arc::new(AtomicBool::new(false));
        Self {
            socket: Some(SocketInput { bytes, left }),
            attachment: None,
            offers_resume: false,
            window: Duration::ZERO,
            away_until: None,
        }
    }

    /// The input of a WebSocket connection, starting with its `first` socket; it waits `window`
    /// for a dropped socket's client once resumable.
    pub fn websocket(
        first: SocketInput,
        attachment: Arc<Attachment>,
        sockets: mpsc::Receiver<SocketInput>,
        window: Duration,
    ) -> Self {
        Self {
            socket: Some(first),
            attachment: Some((attachment, sockets)),
            offers_resume: false,
            window,
            away_until: None,
        }
    }

    /// Whether the client may shake hands with stateful reconnect: it negotiated it
    /// (`useStatefulReconnect=true`) and this is a WebSocket.
    pub fn offering_resume(mut self, negotiated: bool) -> Self {
        self.offers_resume = negotiated && self.attachment.is_some();
        self
    }

    /// The highest hub protocol version the handshake accepts (2 is stateful reconnect).
    pub fn max_version(&self) -> u64 {
        if self.offers_resume {
            2
        } else {
            1
        }
    }

    /// The WebSocket connection's attachment.
    pub fn attachment(&self) -> Option<&Arc<Attachment>> {
        self.attachment.as_ref().map(|(a, _)| a)
    }

    /// Whether a socket is there (false while detached).
    pub fn attached(&self) -> bool {
        self.socket.is_some()
    }

    /// The next thing that happens to the client: bytes, a dropped socket, a new socket, or the
    /// end. Cancel-safe.
    pub async fn next(&mut self) -> Input {
        let resumable = self.attachment().is_some_and(|a| a.resumable());
        let away_until = self.away_until;
        let event = {
            let bytes = async {
                match &mut self.socket {
                    Some(s) => s.bytes.recv().await,
                    None => std::future::pending().await,
                }
            };
            let next_socket = async {
                match &mut self.attachment {
                    Some((_, sockets)) => sockets.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                bytes = bytes => Event::Bytes(bytes),
                Some(new) = next_socket, if resumable => Event::Socket(new),
                _ = sleep_until(away_until.unwrap_or_else(Instant::now)), if away_until.is_some() => Event::WindowOver,
            }
        };
        match event {
            Event::Bytes(Some(bytes)) => Input::Bytes(bytes),
            Event::Bytes(None) => {
                let left = self
                    .socket
                    .take()
                    .is_some_and(|s| s.left.load(Ordering::Relaxed));
                if resumable && !left {
                    self.away_until = Some(Instant::now() + self.window);
                    Input::Detached
                } else {
                    Input::Gone
                }
            }
            Event::Socket(new) => {
                self.socket = Some(new);
                self.away_until = None;
                Input::Reattached
            }
            Event::WindowOver => Input::Gone,
        }
    }

    /// The session is over: returns the token to forget when only the session can (see
    /// [`Attachment::end`]).
    pub fn end(&self) -> Option<&str> {
        let attachment = self.attachment()?;
        attachment.end().then(|| attachment.token())
    }
}
