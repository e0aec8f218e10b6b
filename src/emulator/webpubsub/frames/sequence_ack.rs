//! `sequenceAck` (reliable clients): the messages up to a sequence id arrived, so they leave
//! the connection's buffer of messages kept for a reconnection.

use serde_json::Value;

use super::{ClientFrameError, Fields};
use crate::emulator::webpubsub::connected::Connected;

/// `{"type":"sequenceAck","sequenceId":…}`.
#[derive(Debug)]
pub struct SequenceAck {
    /// The largest sequence id received.
    pub sequence_id: u64,
}

impl SequenceAck {
    /// From the frame's fields; a bad `sequenceId` closes the client.
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        match fields.get("sequenceId") {
            Some(Value::Number(n)) if n.is_u64() => Ok(Self {
                sequence_id: n.as_u64().unwrap_or_default(),
            }),
            _ => Err(ClientFrameError::Close(
                "sequenceAck needs sequenceId, an unsigned whole number".into(),
            )),
        }
    }

    /// Drops the acknowledged messages.
    pub fn apply(self, client: &Connected) {
        client.with(|conn| conn.acknowledge(self.sequence_id));
    }
}
