//! What a client can get wrong in the hub protocol; the text is sent back to the client.

/// A client sent something the protocol does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A record is not valid JSON or not an object.
    #[error("a message is not a valid JSON object: {0}")]
    NotJson(String),
    /// A record has no numeric `type`.
    #[error("a message has no numeric `type` field")]
    NoType,
    /// An invocation lacks a string `target`.
    #[error("an invocation message has no string `target`")]
    NoTarget,
    /// An `invocationId` that is not a string.
    #[error("`invocationId` must be a string")]
    BadInvocationId,
    /// An Ack or Sequence message whose `sequenceId` is not a non-negative integer.
    #[error("`sequenceId` must be a non-negative integer")]
    BadSequenceId,
    /// A Sequence message announcing more messages than were received: some were lost.
    #[error("Sequence ID greater than amount of messages we've received.")]
    SequenceAhead,
    /// A record that never ends.
    #[error("a message is larger than the limit of {0} bytes")]
    TooLarge(usize),
    /// A MessagePack message that cannot be read.
    #[error("{0}")]
    MessagePack(String),
    /// The handshake asked for something we cannot do.
    #[error("{0}")]
    Handshake(String),
}
