//! A client's messages after the handshake, in the protocol it chose: JSON records or
//! length-prefixed MessagePack messages, read into the same [`ClientMessage`]s. With stateful
//! reconnect it also counts the client's numbered messages ([`ReceivedMessages`]): a replay's
//! repeats and the `Sequence` never reach the session, and a new socket starts a fresh reader.

use rmpv::Value as Pack;

use super::message_buffer::ReceivedMessages;
use crate::service::hub_protocol::json::{self, ClientMessage, Records};
use crate::service::hub_protocol::msgpack::{self, FrameError, Frames};
use crate::service::hub_protocol::Protocol;
use crate::service::hub_protocol::ProtocolError;

/// The reader of one connection's messages.
#[derive(Debug)]
pub struct Incoming {
    reader: Reader,
    max: usize,
    /// Stateful reconnect's count; `None` without it.
    received: Option<ReceivedMessages>,
}

/// How the bytes are split into messages.
#[derive(Debug)]
enum Reader {
    /// JSON records.
    Json(Records),
    /// MessagePack messages.
    MessagePack(Frames),
}

impl From<FrameError> for ProtocolError {
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::TooLarge(max) => ProtocolError::TooLarge(max),
            other => ProtocolError::MessagePack(other.to_string()),
        }
    }
}

impl Incoming {
    /// Continues after the handshake record read by `records`, in `protocol`.
    pub fn after_handshake(mut records: Records, protocol: Protocol, max: usize) -> Self {
        let reader = match protocol {
            Protocol::Json => Reader::Json(records),
            Protocol::MessagePack => {
                let mut frames = Frames::new(max);
                frames.feed(&records.take_rest());
                Reader::MessagePack(frames)
            }
        };
        Self {
            reader,
            max,
            received: None,
        }
    }

    /// Counts the client's numbered messages from now on (stateful reconnect).
    pub fn count_received(&mut self) {
        self.received = Some(ReceivedMessages::default());
    }

    /// A new socket took over: what the old one left half-read is dropped, and messages count
    /// again once the client's `Sequence` arrives.
    pub fn reconnected(&mut self) {
        self.reader = match self.reader {
            Reader::Json(_) => Reader::Json(Records::new(self.max)),
            Reader::MessagePack(_) => Reader::MessagePack(Frames::new(self.max)),
        };
        if let Some(received) = &mut self.received {
            received.reconnected();
        }
    }

    /// The id to acknowledge to the client, when numbered messages arrived since the last Ack.
    pub fn ack_due(&mut self) -> Option<u64> {
        self.received.as_mut()?.ack_due()
    }

    /// Adds bytes from the transport.
    pub fn feed(&mut self, bytes: &[u8]) {
        match &mut self.reader {
            Reader::Json(records) => records.feed(bytes),
            Reader::MessagePack(frames) => frames.feed(bytes),
        }
    }

    /// The next complete message, `None` until more bytes arrive; an error ends the connection.
    pub fn next_message(&mut self) -> Option<Result<ClientMessage, ProtocolError>> {
        loop {
            let message = self.next_read()?;
            let (Some(received), Ok(read)) = (&mut self.received, &message) else {
                return Some(message);
            };
            match received.accept(read) {
                Ok(true) => return Some(message),
                Ok(false) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    fn next_read(&mut self) -> Option<Result<ClientMessage, ProtocolError>> {
        Some(match &mut self.reader {
            Reader::Json(records) => records
                .next_record()?
                .and_then(|record| json::parse(&record)),
            Reader::MessagePack(frames) => match frames.next_message()? {
                Ok(bytes) => parse_msgpack(bytes),
                Err(e) => Err(e.into()),
            },
        })
    }

    /// After a transport message was read: MessagePack clients send whole messages per
    /// WebSocket message or POST, so a partial one left over is an error (JSON waits for more).
    pub fn check_complete(&self) -> Result<(), ProtocolError> {
        match &self.reader {
            Reader::Json(_) => Ok(()),
            Reader::MessagePack(frames) => Ok(frames.check_complete()?),
        }
    }
}

/// Reads one MessagePack message (the bytes inside its length prefix).
fn parse_msgpack(bytes: Vec<u8>) -> Result<ClientMessage, ProtocolError> {
    let value = msgpack::decode(&bytes)?;
    let kind = msgpack::message_type(&value).map_err(ProtocolError::MessagePack)?;
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    Ok(match kind {
        1 => {
            let invocation = msgpack::invocation(&value).map_err(ProtocolError::MessagePack)?;
            ClientMessage::Invocation {
                raw: bytes,
                content_type: msgpack::CONTENT_TYPE,
                invocation_id: invocation.invocation_id,
                target: invocation.target,
            }
        }
        3 => {
            let (invocation_id, outcome) =
                msgpack::completion(items).map_err(ProtocolError::MessagePack)?;
            ClientMessage::Completion {
                invocation_id,
                outcome,
            }
        }
        4 => ClientMessage::StreamInvocation {
            invocation_id: msgpack::optional_string(items.get(2), "invocationId")
                .map_err(ProtocolError::MessagePack)?,
        },
        5 => ClientMessage::CancelInvocation {
            invocation_id: msgpack::optional_string(items.get(2), "invocationId")
                .map_err(ProtocolError::MessagePack)?
                .ok_or_else(|| {
                    ProtocolError::MessagePack("a cancel has no `invocationId`".into())
                })?,
        },
        6 => ClientMessage::Ping,
        7 => ClientMessage::Close {
            error: items.get(1).and_then(Pack::as_str).map(str::to_string),
        },
        8 => ClientMessage::Ack {
            sequence_id: sequence_id(items)?,
        },
        9 => ClientMessage::Sequence {
            sequence_id: sequence_id(items)?,
        },
        kind => ClientMessage::Other { kind },
    })
}

/// The `sequenceId` of `[8 or 9, sequenceId]`.
fn sequence_id(items: &[Pack]) -> Result<u64, ProtocolError> {
    items
        .get(1)
        .and_then(Pack::as_u64)
        .ok_or(ProtocolError::BadSequenceId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messagepack_follows_the_handshake_in_the_same_chunk() {
        let mut records = Records::new(100);
        let mut bytes = b"{\"protocol\":\"messagepack\",\"version\":1}\x1e".to_vec();
        bytes.extend(msgpack::ping_frame());
        records.feed(&bytes);
        assert!(records.next_record().unwrap().is_ok());
        let mut incoming = Incoming::after_handshake(records, Protocol::MessagePack, 100);
        assert_eq!(incoming.next_message(), Some(Ok(ClientMessage::Ping)));
        assert_eq!(incoming.next_message(), None);
        // [1, {}, "0", "echo", ["x"]]
        let call = msgpack::frame(&Pack::Array(vec![
            Pack::from(1),
            Pack::Map(vec![]),
            Pack::from("0"),
            Pack::from("echo"),
            Pack::Array(vec![Pack::from("x")]),
        ]));
        incoming.feed(&call);
        let Some(Ok(ClientMessage::Invocation { raw, target, .. })) = incoming.next_message()
        else {
            panic!("an invocation was expected");
        };
        assert_eq!((raw.as_slice(), target.as_str()), (&call[1..], "echo"));
        incoming.feed(&[0x03, 0x91]);
        assert_eq!(incoming.next_message(), None);
        assert!(incoming.check_complete().is_err());
        incoming.feed(&[0xa5, b'a']);
        assert!(matches!(
            incoming.next_message(),
            Some(Err(ProtocolError::MessagePack(_)))
        ));
    }

    fn target(message: Option<Result<ClientMessage, ProtocolError>>) -> String {
        match message {
            Some(Ok(ClientMessage::Invocation { target, .. })) => target,
            other => panic!("an invocation was expected, got {other:?}"),
        }
    }

    #[test]
    fn counted_messages_skip_what_a_new_socket_replays() {
        let call = |t: &str| format!("{{\"type\":1,\"target\":\"{t}\",\"arguments\":[]}}\u{1e}");
        let mut incoming = Incoming::after_handshake(Records::new(100), Protocol::Json, 100);
        incoming.count_received();
        incoming.feed(format!("{}{}{{\"type\":1,\"tar", call("a"), call("b")).as_bytes());
        assert_eq!(target(incoming.next_message()), "a");
        assert_eq!(target(incoming.next_message()), "b");
        assert_eq!(incoming.next_message(), None);
        assert_eq!(incoming.ack_due(), Some(2));
        // The half-read message goes with the old socket; the new one's messages count from
        // its Sequence: "x" before it is ignored, "b" is a repeat, "c" is new.
        incoming.reconnected();
        let replay = format!(
            "{}{{\"type\":9,\"sequenceId\":2}}\u{1e}{}{}",
            call("x"),
            call("b"),
            call("c")
        );
        incoming.feed(replay.as_bytes());
        assert_eq!(target(incoming.next_message()), "c");
        assert_eq!(incoming.next_message(), None);
        assert_eq!(incoming.ack_due(), Some(3));
        incoming.feed(b"{\"type\":9,\"sequenceId\":5}\x1e");
        assert_eq!(
            incoming.next_message(),
            Some(Err(ProtocolError::SequenceAhead))
        );
    }

    #[test]
    fn messagepack_ack_and_sequence_are_read() {
        let mut incoming = Incoming::after_handshake(Records::new(100), Protocol::MessagePack, 100);
        incoming.feed(&msgpack::sequence_frame(8, 7));
        let ack = ClientMessage::Ack { sequence_id: 7 };
        assert_eq!(incoming.next_message(), Some(Ok(ack)));
        incoming.feed(&msgpack::frame(&Pack::Array(vec![
            Pack::from(9),
            Pack::from("1"),
        ])));
        assert_eq!(
            incoming.next_message(),
            Some(Err(ProtocolError::BadSequenceId))
        );
    }
}
