//! The per-connection outgoing queue of both emulators: senders (fan-out, REST, the session)
//! push [`Frame`]s without ever waiting, the transport drains them. The queue is bounded in
//! bytes: a push past the bound ends the connection as too slow instead of letting memory grow.
//! A frame may carry a deadline (Web PubSub's `messageTtlSeconds`); once it has passed, the frame
//! is dropped instead of sent.
//!
//! How a connection is asked to end is each product's own [`Ending`]: the SignalR session's
//! [`Shutdown`](super::shutdown::Shutdown), Web PubSub's close code and reason
//! ([`Closing`](super::webpubsub::closing::Closing)). The queue carries the request to the
//! transport beside the frames, and the ending says what the reader does with what is queued.

use std::future::Future;
use std::sync::Arc;

use axum::extract::ws::Message;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// One wire frame: bytes for the client, sent as a text or a binary WebSocket message.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The bytes to write (UTF-8 for a text frame).
    pub data: Arc<[u8]>,
    /// Whether they go out as a binary WebSocket message.
    pub binary: bool,
    /// How many of the SignalR hub messages in it stateful reconnect numbers (0 for Web
    /// PubSub's frames; see `docs/stateful-reconnect.md` §3).
    pub tracked: u32,
}

impl Frame {
    /// A text frame.
    pub fn text(text: impl Into<Arc<str>>) -> Self {
        Self {
            data: Arc::<[u8]>::from(text.into()),
            binary: false,
            tracked: 0,
        }
    }

    /// A binary frame.
    pub fn binary(bytes: impl Into<Arc<[u8]>>) -> Self {
        Self {
            data: bytes.into(),
            binary: true,
            tracked: 0,
        }
    }

    /// The frame as a WebSocket message.
    pub fn message(&self) -> Message {
        if self.binary {
            Message::Binary(self.data.to_vec().into())
        } else {
            Message::Text(String::from_utf8_lossy(&self.data).into_owned().into())
        }
    }
}

/// A queued frame, holding its share of the byte budget until the transport has taken it.
#[derive(Debug)]
pub struct Queued {
    /// The frame.
    pub frame: Frame,
    deadline: Option<Instant>,
    _permit: OwnedSemaphorePermit,
}

impl Queued {
    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| d <= Instant::now())
    }
}

/// What the reader does with the queue once an ending is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Nothing more: the reader ends at once.
    Stop,
    /// What is queued now, without waiting for more.
    Queued,
    /// Everything, as before: the ending is for the session to act on.
    Continue,
}

/// How one product asks a connection to end.
pub trait Ending: Clone + Send + Sync + 'static {
    /// The ending a push past the byte budget asks for, given the one asked for before (if
    /// any); `None` leaves that one.
    fn overflow(current: Option<&Self>) -> Option<Self>;

    /// What the reader does with the queue under this ending.
    fn drain(&self) -> Drain;
}

/// The sending side; cheap to clone.
#[derive(Debug)]
pub struct Outbox<E> {
    tx: mpsc::UnboundedSender<Queued>,
    budget: Arc<Semaphore>,
    ending: Arc<watch::Sender<Option<E>>>,
}

impl<E> Clone for Outbox<E> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            budget: Arc::clone(&self.budget),
            ending: Arc::clone(&self.ending),
        }
    }
}

/// The transport's side: frames in order, and the ending once one is asked for.
#[derive(Debug)]
pub struct OutboxReader<E> {
    rx: mpsc::UnboundedReceiver<Queued>,
    ending: watch::Receiver<Option<E>>,
}

/// A new queue that holds at most `max_bytes` of unsent frames.
pub fn outbox<E: Ending>(max_bytes: usize) -> (Outbox<E>, OutboxReader<E>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (ending, ending_rx) = watch::channel(None);
    let outbox = Outbox {
        tx,
        budget: Arc::new(Semaphore::new(max_bytes.clamp(1, Semaphore::MAX_PERMITS))),
        ending: Arc::new(ending),
    };
    let reader = OutboxReader {
        rx,
        ending: ending_rx,
    };
    (outbox, reader)
}

impl<E: Ending> Outbox<E> {
    /// Queues `frame` without waiting. Returns false when the client is too far behind (its
    /// connection is then ended as [`Ending::overflow`] says) or already gone.
    pub fn push(&self, frame: Frame) -> bool {
        self.push_until(frame, None)
    }

    /// Queues `frame`, to be dropped instead of sent once `deadline` has passed.
    pub fn push_until(&self, frame: Frame, deadline: Option<Instant>) -> bool {
        let cost = u32::try_from(frame.data.len().max(1)).unwrap_or(u32::MAX);
        let Ok(permit) = Arc::clone(&self.budget).try_acquire_many_owned(cost) else {
            self.end_with(E::overflow);
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

    /// Asks for the ending `update` makes of the current one (`None` leaves it); returns whether
    /// it changed.
    pub fn end_with(&self, update: impl FnOnce(Option<&E>) -> Option<E>) -> bool {
        self.ending
            .send_if_modified(|current| match update(current.as_ref()) {
                Some(ending) => {
                    *current = Some(ending);
                    true
                }
                None => false,
            })
    }

    /// A receiver of the endings asked for.
    pub fn ending_signal(&self) -> watch::Receiver<Option<E>> {
        self.ending.subscribe()
    }

    /// Whether the reader is gone or an ending was asked for.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed() || self.ending.borrow().is_some()
    }
}

impl<E: Ending> OutboxReader<E> {
    fn drain(&self) -> Option<Drain> {
        self.ending.borrow().as_ref().map(E::drain)
    }

    fn take_now(&mut self) -> Option<Queued> {
        loop {
            let queued = self.rx.try_recv().ok()?;
            if !queued.expired() {
                return Some(queued);
            }
        }
    }

    /// The next frame, after the ending asked for ([`Ending::drain`]): `None` once the queue is
    /// done with, or when every sender is gone and nothing is queued.
    pub async fn next(&mut self) -> Option<Queued> {
        loop {
            let drain = self.ending.borrow_and_update().as_ref().map(E::drain);
            match drain {
                Some(Drain::Stop) => return None,
                Some(Drain::Queued) => return self.take_now(),
                Some(Drain::Continue) | None => {}
            }
            tokio::select! {
                biased;
                queued = self.rx.recv() => match queued {
                    Some(queued) if queued.expired() => {}
                    other => return other,
                },
                changed = self.ending.changed() => {
                    if changed.is_err() {
                        return self.take_now();
                    }
                }
            }
        }
    }

    /// A frame that is ready now, without waiting (none once the ending says stop).
    pub fn try_next(&mut self) -> Option<Queued> {
        if self.drain() == Some(Drain::Stop) {
            return None;
        }
        self.take_now()
    }

    /// The next frame whatever the ending (expired ones dropped); `None` when every sender is
    /// gone.
    pub async fn recv(&mut self) -> Option<Queued> {
        loop {
            let queued = self.rx.recv().await?;
            if !queued.expired() {
                return Some(queued);
            }
        }
    }

    /// The ending asked for, if any.
    pub fn ending(&self) -> Option<E> {
        self.ending.borrow().clone()
    }

    /// Resolves once an ending that `matches` is asked for (never if the senders are gone first),
    /// so a blocked write can be abandoned.
    pub fn ended(
        &self,
        matches: impl Fn(&E) -> bool + Send + Sync + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let mut ending = self.ending.clone();
        async move {
            if ending
                .wait_for(|e| e.as_ref().is_some_and(&matches))
                .await
                .is_err()
            {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ending that stops at once on overflow and drains otherwise.
    #[derive(Debug, Clone, PartialEq)]
    enum Test {
        Overflow,
        Done,
    }

    impl Ending for Test {
        fn overflow(_: Option<&Self>) -> Option<Self> {
            Some(Self::Overflow)
        }
        fn drain(&self) -> Drain {
            match self {
                Self::Overflow => Drain::Stop,
                Self::Done => Drain::Queued,
            }
        }
    }

    #[tokio::test]
    async fn overflow_ends_the_reader() {
        let (outbox, mut reader) = outbox::<Test>(10);
        assert!(outbox.push(Frame::text("12345")));
        assert!(!outbox.push(Frame::text("1234567")));
        assert!(reader.next().await.is_none());
        assert_eq!(reader.ending(), Some(Test::Overflow));
    }

    #[tokio::test]
    async fn frames_arrive_then_the_queue_drains() {
        let (outbox, mut reader) = outbox::<Test>(100);
        assert!(outbox.push(Frame::text("a")));
        outbox.end_with(|_| Some(Test::Done));
        assert_eq!(
            reader.next().await.map(|q| q.frame.data),
            Some(b"a".as_slice().into())
        );
        assert!(reader.next().await.is_none());
    }

    #[tokio::test]
    async fn expired_frames_are_dropped() {
        let (outbox, mut reader) = outbox::<Test>(100);
        let past = Instant::now() - std::time::Duration::from_secs(1);
        assert!(outbox.push_until(Frame::binary(vec![1]), Some(past)));
        assert!(outbox.push(Frame::binary(vec![2])));
        assert_eq!(reader.recv().await.map(|q| q.frame.data[0]), Some(2));
    }
}
