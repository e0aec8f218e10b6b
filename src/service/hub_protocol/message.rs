//! The hub messages the service writes, independent of the protocol a client chose.

use serde_json::Value;

/// A connection's hub protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Text records ending in `0x1E`.
    Json,
    /// Length-prefixed MessagePack arrays, sent as binary.
    MessagePack,
}

/// A hub message the service sends.
#[derive(Debug, Clone, PartialEq)]
pub enum HubMessage {
    /// Type 1 without an invocation id (what REST sends produce); `arguments` is a JSON array.
    Invocation {
        /// The client method.
        target: String,
        /// Its arguments.
        arguments: Value,
    },
    /// Type 3: `Ok(None)` void, `Ok(Some(result))`, or `Err(error)`.
    Completion {
        /// The client's invocation id.
        invocation_id: String,
        /// The result, or why it failed.
        outcome: Result<Option<Value>, String>,
    },
    /// Type 1 with an invocation id: the service asks one client for a result (client results,
    /// `docs/protocol.md` §9.1); the client answers with a Completion of that id.
    InvokeClient {
        /// The service's id, `s1`, `s2`, … (never one a client uses).
        invocation_id: String,
        /// The client method.
        target: String,
        /// Its arguments, a JSON array.
        arguments: Value,
    },
    /// Type 2: one item of a stream the client opened (`docs/protocol.md` §9.3).
    StreamItem {
        /// The client's StreamInvocation id.
        invocation_id: String,
        /// The item.
        item: Value,
    },
    /// Type 6.
    Ping,
    /// Type 7.
    Close {
        /// Why the connection closes.
        error: Option<String>,
        /// Whether the client may reconnect.
        allow_reconnect: bool,
    },
    /// Type 8 (stateful reconnect): every numbered message up to `sequence_id` arrived.
    Ack {
        /// The highest sequence id received.
        sequence_id: u64,
    },
    /// Type 9 (stateful reconnect): the id of the next numbered message on this socket.
    Sequence {
        /// The first replayed message's id, or the next new one's.
        sequence_id: u64,
    },
}
