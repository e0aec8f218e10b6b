//! A message for clients, independent of their hub protocol: fan-out takes one [`Outgoing`]
//! for every member of a group and queues it for each as a [`Frame`] in the protocol its client
//! chose at the handshake. Each encoding is made once and shared, so a group mixing JSON
//! and MessagePack clients costs two encodings, not one per member.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::outbox::Frame;
use crate::service::hub_protocol::{self, json, sequence, HubMessage, Protocol};

#[derive(Debug)]
enum Body {
    /// The handshake response: JSON text whatever the protocol (HubProtocol.md).
    Handshake(Arc<[u8]>),
    /// Bytes already framed in the receiving connection's protocol (an upstream's answer).
    Verbatim(Arc<[u8]>),
    Message(HubMessage),
}

#[derive(Debug)]
struct Inner {
    body: Body,
    json: OnceLock<Arc<[u8]>>,
    msgpack: OnceLock<Arc<[u8]>>,
}

/// A message on its way to one or many connections; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outgoing(Arc<Inner>);

impl Outgoing {
    fn new(body: Body) -> Self {
        Self(Arc::new(Inner {
            body,
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        }))
    }

    /// A hub message, encoded on demand per protocol.
    pub fn message(message: HubMessage) -> Self {
        Self::new(Body::Message(message))
    }

    /// A hub message with encodings made by someone else (a REST sender's own frames), used
    /// as they are; a missing one is made on demand.
    pub fn prepared(message: HubMessage, json: Option<Vec<u8>>, msgpack: Option<Vec<u8>>) -> Self {
        let out = Self::message(message);
        if let Some(json) = json {
            let _ = out.0.json.set(json.into());
        }
        if let Some(msgpack) = msgpack {
            let _ = out.0.msgpack.set(msgpack.into());
        }
        out
    }

    /// A handshake response (JSON text with its separator).
    pub fn handshake(bytes: Vec<u8>) -> Self {
        Self::new(Body::Handshake(bytes.into()))
    }

    /// Bytes sent as they are, already framed for the connection they go to.
    pub fn verbatim(bytes: Vec<u8>) -> Self {
        Self::new(Body::Verbatim(bytes.into()))
    }

    /// The message framed for `protocol` (made once per protocol).
    pub fn encode(&self, protocol: Protocol) -> Arc<[u8]> {
        let message = match &self.0.body {
            Body::Handshake(bytes) | Body::Verbatim(bytes) => return Arc::clone(bytes),
            Body::Message(message) => message,
        };
        let cell = match protocol {
            Protocol::Json => &self.0.json,
            Protocol::MessagePack => &self.0.msgpack,
        };
        Arc::clone(cell.get_or_init(|| hub_protocol::encode(message, protocol).into()))
    }

    /// The message as a frame for a client of `protocol`: text for JSON, binary for MessagePack.
    pub fn frame(&self, protocol: Protocol) -> Frame {
        let data = self.encode(protocol);
        let tracked = match &self.0.body {
            Body::Handshake(_) => 0,
            Body::Message(message) => u32::from(message.is_tracked()),
            Body::Verbatim(bytes) => sequence::count_tracked(bytes, protocol),
        };
        Frame {
            data,
            binary: protocol == Protocol::MessagePack,
            tracked,
        }
    }
}

/// The successful handshake response `{}`.
pub fn handshake_ok() -> Outgoing {
    Outgoing::handshake(json::handshake_ok())
}

/// A failed handshake response `{"error": …}`.
pub fn handshake_error(message: &str) -> Outgoing {
    Outgoing::handshake(json::handshake_error(message))
}

/// A non-blocking invocation of `target` on the client (what REST sends produce).
pub fn invocation(target: &str, arguments: &Value) -> Outgoing {
    Outgoing::message(HubMessage::Invocation {
        target: target.to_string(),
        arguments: arguments.clone(),
    })
}

/// A successful completion without a result.
pub fn completion(invocation_id: &str) -> Outgoing {
    Outgoing::message(HubMessage::Completion {
        invocation_id: invocation_id.to_string(),
        outcome: Ok(None),
    })
}

/// A failed completion.
pub fn completion_error(invocation_id: &str, error: &str) -> Outgoing {
    Outgoing::message(HubMessage::Completion {
        invocation_id: invocation_id.to_string(),
        outcome: Err(error.to_string()),
    })
}

/// Stateful reconnect's acknowledgement of the client's messages up to `sequence_id`.
pub fn ack(sequence_id: u64) -> Outgoing {
    Outgoing::message(HubMessage::Ack { sequence_id })
}

/// A keep-alive ping.
pub fn ping() -> Outgoing {
    Outgoing::message(HubMessage::Ping)
}

/// A close message.
pub fn close(error: Option<&str>, allow_reconnect: bool) -> Outgoing {
    Outgoing::message(HubMessage::Close {
        error: error.map(str::to_string),
        allow_reconnect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_message_encodes_once_per_protocol() {
        let out = Outgoing::message(HubMessage::Invocation {
            target: "t".into(),
            arguments: json!(["é", 1]),
        });
        let text = out.encode(Protocol::Json);
        assert_eq!(
            &*text,
            "{\"type\":1,\"target\":\"t\",\"arguments\":[\"é\",1]}\u{1e}".as_bytes()
        );
        assert!(Arc::ptr_eq(&text, &out.clone().encode(Protocol::Json)));
        let packed = out.encode(Protocol::MessagePack);
        assert_eq!(
            hub_protocol::msgpack::decode(&packed[1..]).unwrap()[3],
            rmpv::Value::from("t")
        );
        assert_eq!(&*handshake_ok().encode(Protocol::MessagePack), b"{}\x1e");
    }
}
