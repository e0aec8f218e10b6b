//! How the SignalR emulator ends a connection, on top of the shared [`Outbox`]: a REST close or
//! a transport failure is a request the session acts on (it queues a Close message, then ends);
//! a client that reads too slowly is dropped at once; a session that is over lets the transport
//! send what is queued, then end.

use super::outbox::{Drain, Ending, Outbox, OutboxReader};

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

impl Ending for Shutdown {
    fn overflow(_: Option<&Self>) -> Option<Self> {
        Some(Self::Overflow)
    }

    fn drain(&self) -> Drain {
        match self {
            Self::Overflow => Drain::Stop,
            Self::Ended => Drain::Queued,
            Self::Close { .. } | Self::Failed { .. } => Drain::Continue,
        }
    }
}

impl Outbox<Shutdown> {
    /// Asks the connection's session to end with a Close message (first request wins).
    pub fn close(&self, reason: Option<String>) {
        self.end_with(|current| current.is_none().then_some(Shutdown::Close { reason }));
    }

    /// Asks the session to end because the transport failed (first request wins).
    pub fn fail(&self, error: String) {
        self.end_with(|current| current.is_none().then_some(Shutdown::Failed { error }));
    }

    /// Marks the session as over; the transport ends once the queue is drained.
    pub fn end(&self) {
        self.end_with(|current| match current {
            Some(Shutdown::Overflow | Shutdown::Ended) => None,
            _ => Some(Shutdown::Ended),
        });
    }
}

impl OutboxReader<Shutdown> {
    /// Resolves when the client has overflowed (never, otherwise), so a blocked write can be
    /// abandoned.
    pub fn overflowed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.ended(|s| matches!(s, Shutdown::Overflow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::outbox::{outbox, Frame};

    #[tokio::test]
    async fn overflow_drops_the_reader() {
        let (outbox, mut reader) = outbox::<Shutdown>(10);
        assert!(outbox.push(Frame::text("12345")));
        assert!(!outbox.push(Frame::text("1234567")));
        assert!(reader.next().await.is_none());
    }

    #[tokio::test]
    async fn frames_arrive_then_end() {
        let (outbox, mut reader) = outbox::<Shutdown>(100);
        assert!(outbox.push(Frame::text("a")));
        outbox.close(None);
        assert!(outbox.push(Frame::text("b")));
        outbox.end();
        let mut got = Vec::new();
        while let Some(queued) = reader.next().await {
            got.push(queued.frame.data);
        }
        assert_eq!(got, vec![b"a".as_slice().into(), b"b".as_slice().into()]);
    }
}
