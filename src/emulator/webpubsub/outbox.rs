//! One Web PubSub client's outgoing queue: senders never wait, the socket task drains it. The
//! queue is bounded in bytes; a push past the bound closes the client (a slow reader is dropped,
//! not buffered without limit). A frame may carry a deadline (`messageTtlSeconds`): if it is
//! still queued when the deadline passes, it is dropped instead of sent.

use std::sync::Arc;

use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// What the socket writes.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A text frame.
    Text(Arc<str>),
    /// A binary frame.
    Binary(Arc<[u8]>),
}

impl Frame {
    fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) => b.len(),
        }
    }
}

/// A queued frame holding its share of the budget until written.
#[derive(Debug)]
pub struct Queued {
    /// The frame.
    pub frame: Frame,
    /// Drop it instead of sending after this instant.
    pub deadline: Option<Instant>,
    _permit: OwnedSemaphorePermit,
}

/// Why the service ends a client's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// The WebSocket close code.
    pub code: u16,
    /// The close reason (and the `disconnected` message's text).
    pub reason: String,
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Queued>,
    budget: Arc<Semaphore>,
    closing: Arc<watch::Sender<Option<Closing>>>,
}

/// The socket's side.
#[derive(Debug)]
pub struct OutboxReader {
    /// Frames in order.
    pub rx: mpsc::UnboundedReceiver<Queued>,
    /// Set once the service wants the socket closed.
    pub closing: watch::Receiver<Option<Closing>>,
}

/// A queue holding at most `max_bytes` of unsent frames.
pub fn outbox(max_bytes: usize) -> (Outbox, OutboxReader) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (closing, closing_rx) = watch::channel(None);
    (
        Outbox {
            tx,
            budget: Arc::new(Semaphore::new(max_bytes.clamp(1, Semaphore::MAX_PERMITS))),
            closing: Arc::new(closing),
        },
        OutboxReader {
            rx,
            closing: closing_rx,
        },
    )
}

impl Outbox {
    /// Queues `frame`; `false` (and the client is closed with 1008) if the queue is full.
    pub fn push(&self, frame: Frame, deadline: Option<Instant>) -> bool {
        let size = u32::try_from(frame.len().max(1)).unwrap_or(u32::MAX);
        let Ok(permit) = Arc::clone(&self.budget).try_acquire_many_owned(size) else {
            self.close(
                1008,
                "the client reads too slowly: its outgoing queue is full",
            );
            return false;
        };
        self.tx
            .send(Queued {
                frame,
                deadline,
                _permit: permit,
            })
            .is_ok()
    }

    /// Asks the socket to close with `code` and `reason` (the first request wins).
    pub fn close(&self, code: u16, reason: &str) {
        self.closing.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(Closing {
                code,
                reason: reason.to_string(),
            });
            true
        });
    }

    /// Whether the socket is gone or closing.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed() || self.closing.borrow().is_some()
    }
}
