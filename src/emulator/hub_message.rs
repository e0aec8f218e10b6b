//! A message for clients, independent of their hub protocol: fan-out queues one [`Outgoing`]
//! for every member of a group, and each connection's outbox encodes it in the protocol its
//! client chose at the handshake. Each encoding is made once and shared, so a group mixing JSON
//! and MessagePack clients costs two encodings, not one per member.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::protocol;
use crate::service::msgpack;

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
    /// Type 3 without a result; `error` when it failed.
    Completion {
        /// The client's invocation id.
        invocation_id: String,
        /// Why it failed, if it did.
        error: Option<String>,
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
}

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
    pub fn handshake(text: &str) -> Self {
        Self::new(Body::Handshake(text.as_bytes().into()))
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
        Arc::clone(cell.get_or_init(|| match protocol {
            Protocol::Json => protocol::encode_json(message).as_bytes().into(),
            Protocol::MessagePack => encode_msgpack(message).into(),
        }))
    }
}

fn encode_msgpack(message: &HubMessage) -> Vec<u8> {
    match message {
        HubMessage::Invocation { target, arguments } => {
            msgpack::invocation_frame(target, arguments)
        }
        HubMessage::Completion {
            invocation_id,
            error,
        } => msgpack::completion_frame(invocation_id, error.as_deref().map_or(Ok(None), Err)),
        HubMessage::Ping => msgpack::ping_frame(),
        HubMessage::Close {
            error,
            allow_reconnect,
        } => msgpack::close_frame(error.as_deref(), *allow_reconnect),
    }
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
            "{\"arguments\":[\"é\",1],\"target\":\"t\",\"type\":1}\u{1e}".as_bytes()
        );
        assert!(Arc::ptr_eq(&text, &out.clone().encode(Protocol::Json)));
        let packed = out.encode(Protocol::MessagePack);
        assert_eq!(
            crate::service::msgpack::decode(&packed[1..]).unwrap()[3],
            rmpv::Value::from("t")
        );
        assert_eq!(
            &*Outgoing::handshake("{}\u{1e}").encode(Protocol::MessagePack),
            b"{}\x1e"
        );
    }
}
