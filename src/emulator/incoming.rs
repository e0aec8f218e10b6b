//! A client's messages after the handshake, in the protocol it chose: JSON records or
//! length-prefixed MessagePack messages, read into the same [`ClientMessage`]s.

use rmpv::Value as Pack;

use crate::service::hub_protocol::json::{self, ClientMessage, Records};
use crate::service::hub_protocol::msgpack::{self, FrameError, Frames};
use crate::service::hub_protocol::Protocol;
use crate::service::hub_protocol::ProtocolError;

/// The reader of one connection's messages.
#[derive(Debug)]
pub enum Incoming {
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
        match protocol {
            Protocol::Json => Self::Json(records),
            Protocol::MessagePack => {
                let mut frames = Frames::new(max);
                frames.feed(&records.take_rest());
                Self::MessagePack(frames)
            }
        }
    }

    /// Adds bytes from the transport.
    pub fn feed(&mut self, bytes: &[u8]) {
        match self {
            Self::Json(records) => records.feed(bytes),
            Self::MessagePack(frames) => frames.feed(bytes),
        }
    }

    /// The next complete message, `None` until more bytes arrive; an error ends the connection.
    pub fn next_message(&mut self) -> Option<Result<ClientMessage, ProtocolError>> {
        Some(match self {
            Self::Json(records) => records
                .next_record()?
                .and_then(|record| json::parse(&record)),
            Self::MessagePack(frames) => match frames.next_message()? {
                Ok(bytes) => parse_msgpack(bytes),
                Err(e) => Err(e.into()),
            },
        })
    }

    /// After a transport message was read: MessagePack clients send whole messages per
    /// WebSocket message or POST, so a partial one left over is an error (JSON waits for more).
    pub fn check_complete(&self) -> Result<(), ProtocolError> {
        match self {
            Self::Json(_) => Ok(()),
            Self::MessagePack(frames) => Ok(frames.check_complete()?),
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
        _ => ClientMessage::Other,
    })
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
}
