//! The per-connection outgoing queue: fan-out pushes framed messages without ever waiting, the
//! transport drains them. The queue is bounded in bytes; a push that would exceed the bound marks
//! the connection as too slow, and the transport drops it instead of letting memory grow.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::outgoing::Outgoing;
use crate::service::hub_protocol::Protocol;

/// Why a connection is being ended from the service side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shutdown {
    /// A REST call or the emulator stopping closes it; the client may reconnect.
    Close {
        /// Sent as the Close message's `error`.
        reason: Option<String>,
    },
    /// The client did not read fast enough; it is dropped at once.
    Overflow,
    /// The transport refused what the client sent (an oversized WebSocket message): the
    /// session closes with this error, which the client is told in a Close message.
    Failed {
        /// Why, for the Close message and the `disconnected` event.
        error: String,
    },
    /// The session is over: the transport sends what is queued, then ends.
    Ended,
}

/// One framed message (JSON text ending in `0x1E`, or length-prefixed MessagePack) that holds
/// its share of the byte budget until the transport has written it.
#[derive(Debug)]
pub struct Frame {
    /// The bytes to write.
    pub data: Arc<[u8]>,
    /// Whether they are binary (MessagePack), to be sent as a binary WebSocket message.
    pub binary: bool,
    _permit: OwnedSemaphorePermit,
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Frame>,
    budget: Arc<Semaphore>,
    signal: Arc<watch::Sender<Option<Shutdown>>>,
    /// The hub protocol, once the handshake chose it (JSON until then).
    protocol: Arc<OnceLock<Protocol>>,
}

/// The transport's side: frames in order, then `None` once the connection is over.
#[derive(Debug)]
pub struct OutboxReader {
    rx: mpsc::UnboundedReceiver<Frame>,
    signal: watch::Receiver<Option<Shutdown>>,
}

/// A new queue that holds at most `max_bytes` of unsent text.
pub fn outbox(max_bytes: usize) -> (Outbox, OutboxReader) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (signal, signal_rx) = watch::channel(None);
    let outbox = Outbox {
        tx,
        budget: Arc::new(Semaphore::new(max_bytes.clamp(1, Semaphore::MAX_PERMITS))),
        signal: Arc::new(signal),
        protocol: Arc::new(OnceLock::new()),
    };
    (
        outbox,
        OutboxReader {
            rx,
            signal: signal_rx,
        },
    )
}

impl Outbox {
    /// Sets the protocol the client chose at the handshake (the first call wins).
    pub fn set_protocol(&self, protocol: Protocol) {
        let _ = self.protocol.set(protocol);
    }

    /// Queues `message`, encoded in the connection's protocol, without waiting. Returns false
    /// (and marks the connection as overflowed) when the client is too far behind, or when the
    /// connection is already gone.
    pub fn push(&self, message: Outgoing) -> bool {
        let protocol = self.protocol.get().copied().unwrap_or(Protocol::Json);
        let data = message.encode(protocol);
        let cost = u32::try_from(data.len().max(1)).unwrap_or(u32::MAX);
        let Ok(permit) = self.budget.clone().try_acquire_many_owned(cost) else {
            self.signal.send_replace(Some(Shutdown::Overflow));
            return false;
        };
        self.tx
            .send(Frame {
                data,
                binary: protocol == Protocol::MessagePack,
                _permit: permit,
            })
            .is_ok()
    }

    /// Asks the connection's session to end with a Close message (first request wins).
    pub fn close(&self, reason: Option<String>) {
        self.signal.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(Shutdown::Close { reason });
                true
            } else {
                false
            }
        });
    }

    /// Asks the session to end because the transport failed (first request wins).
    pub fn fail(&self, error: String) {
        self.signal.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(Shutdown::Failed { error });
                true
            } else {
                false
            }
        });
    }

    /// Marks the session as over; the transport ends once the queue is drained.
    pub fn end(&self) {
        self.signal.send_if_modified(|current| {
            if matches!(current, Some(Shutdown::Overflow | Shutdown::Ended)) {
                false
            } else {
                *current = Some(Shutdown::Ended);
                true
            }
        });
    }

    /// A receiver of shutdown requests, for the session.
    pub fn shutdown_signal(&self) -> watch::Receiver<Option<Shutdown>> {
        self.signal.subscribe()
    }
}

impl OutboxReader {
    /// The next frame; `None` when the session has ended and everything queued was taken, or at
    /// once when the client overflowed.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            match &*self.signal.borrow_and_update() {
                Some(Shutdown::Overflow) => return None,
                Some(Shutdown::Ended) => return self.rx.try_recv().ok(),
                _ => {}
            }
            tokio::select! {
                biased;
                frame = self.rx.recv() => return frame,
                changed = self.signal.changed() => {
                    if changed.is_err() {
                        return self.rx.try_recv().ok();
                    }
                }
            }
        }
    }

    /// Resolves when the client has overflowed (never, otherwise), so a blocked write can be
    /// abandoned.
    pub fn overflowed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut signal = self.signal.clone();
        async move {
            if signal
                .wait_for(|s| matches!(s, Some(Shutdown::Overflow)))
                .await
                .is_err()
            {
                std::future::pending::<()>().await;
            }
        }
    }

    /// A frame that is ready now, without waiting.
    pub fn try_next(&mut self) -> Option<Frame> {
        if matches!(*self.signal.borrow(), Some(Shutdown::Overflow)) {
            return None;
        }
        self.rx.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Outgoing {
        Outgoing::verbatim(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn overflow_drops_the_reader() {
        let (outbox, mut reader) = outbox(10);
        assert!(outbox.push(text("12345")));
        assert!(!outbox.push(text("1234567")));
        assert!(reader.next().await.is_none());
    }

    #[tokio::test]
    async fn frames_arrive_then_end() {
        let (outbox, mut reader) = outbox(100);
        assert!(outbox.push(text("a")));
        outbox.end();
        assert_eq!(
            reader.next().await.map(|f| f.data),
            Some(b"a".as_slice().into())
        );
        assert!(reader.next().await.is_none());
    }
}
