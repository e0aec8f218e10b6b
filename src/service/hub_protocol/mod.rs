//! The SignalR hub protocol, as the service and its clients speak it: the JSON protocol (`0x1E`
//! records) and the MessagePack protocol (varint-prefixed arrays). The emulator reads and writes
//! it on client connections, the app writes completions to upstream invocations and reads
//! MessagePack invocations. `docs/protocol.md` §5 has the facts.

pub mod error;
pub mod json;
pub mod message;
pub mod msgpack;
pub mod sequence;

pub use error::ProtocolError;
pub use message::{HubMessage, Protocol};

/// `message` framed for `protocol`.
pub fn encode(message: &HubMessage, protocol: Protocol) -> Vec<u8> {
    match protocol {
        Protocol::Json => json::encode(message),
        Protocol::MessagePack => msgpack::encode(message),
    }
}
