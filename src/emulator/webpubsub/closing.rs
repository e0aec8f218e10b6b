//! How the Web PubSub emulator ends a client's socket, on top of the shared [`Outbox`]: with a
//! WebSocket close code and reason, the first request winning. The socket sends what is queued
//! first, except when the client is refused for reading too slowly or breaking a limit (1008).

use crate::emulator::outbox::{Drain, Ending, Outbox};

/// The close code of a client dropped for breaking a rule (a full queue among them).
pub const POLICY_VIOLATION: u16 = 1008;

/// Why the service ends a client's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// The WebSocket close code.
    pub code: u16,
    /// The close reason (and the `disconnected` message's text).
    pub reason: String,
}

impl Ending for Closing {
    fn overflow(current: Option<&Self>) -> Option<Self> {
        current.is_none().then(|| Self {
            code: POLICY_VIOLATION,
            reason: "the client reads too slowly: its outgoing queue is full".into(),
        })
    }

    fn drain(&self) -> Drain {
        if self.code == POLICY_VIOLATION {
            Drain::Stop
        } else {
            Drain::Queued
        }
    }
}

impl Outbox<Closing> {
    /// Asks the socket to close with `code` and `reason` (the first request wins).
    pub fn close(&self, code: u16, reason: &str) {
        self.end_with(|current| {
            current.is_none().then(|| Closing {
                code,
                reason: reason.to_string(),
            })
        });
    }
}
