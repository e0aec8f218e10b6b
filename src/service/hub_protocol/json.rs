//! The SignalR JSON hub protocol: `0x1E` record framing, the handshake (JSON for every protocol),
//! reading a client's records and writing the service's messages.

use serde_json::{json, Value};

use super::error::ProtocolError;
use super::message::{HubMessage, Protocol};
use super::msgpack;

/// The record separator that ends every JSON hub message.
pub const RECORD_SEPARATOR: u8 = 0x1E;

/// Splits incoming bytes into complete records, whatever the transport's chunking.
///
/// [`Records::feed`] appends bytes; [`Records::next_record`] hands out complete records one by
/// one.
/// Each byte is scanned for the separator once (the scan resumes where it stopped) and consumed
/// records are dropped from the buffer once per push, so a frame holding many small records costs
/// time linear in its size, and a caller that stops early (a protocol error) never materialises
/// the rest.
#[derive(Debug)]
pub struct Records {
    buffer: Vec<u8>,
    /// Where the next record starts; everything before it was handed out.
    start: usize,
    /// Where the separator scan resumes; `buffer[start..scanned]` holds no separator.
    scanned: usize,
    max: usize,
}

impl Records {
    /// A splitter that refuses records longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buffer: Vec::new(),
            start: 0,
            scanned: 0,
            max,
        }
    }

    /// Adds `bytes` after what is buffered.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Takes the bytes after the records handed out (what follows the handshake).
    pub fn take_rest(&mut self) -> Vec<u8> {
        let rest = self.buffer.split_off(self.start);
        self.buffer.clear();
        self.start = 0;
        self.scanned = 0;
        rest
    }

    /// The next complete record (without the separator); `None` until more bytes arrive. An
    /// error (a record over the limit or not UTF-8) ends the stream: the connection must close.
    pub fn next_record(&mut self) -> Option<Result<String, ProtocolError>> {
        let found = self.buffer[self.scanned..]
            .iter()
            .position(|b| *b == RECORD_SEPARATOR);
        let Some(offset) = found else {
            self.scanned = self.buffer.len();
            return (self.buffer.len() - self.start > self.max)
                .then_some(Err(ProtocolError::TooLarge(self.max)));
        };
        let end = self.scanned + offset;
        let record = &self.buffer[self.start..end];
        self.start = end + 1;
        self.scanned = self.start;
        if record.len() > self.max {
            return Some(Err(ProtocolError::TooLarge(self.max)));
        }
        Some(
            String::from_utf8(record.to_vec())
                .map_err(|_| ProtocolError::NotJson("it is not UTF-8".into())),
        )
    }
}

/// A handshake request the service accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// The protocol the client chose.
    pub protocol: Protocol,
    /// Its version: 1, or 2 for a client that uses stateful reconnect
    /// (`docs/stateful-reconnect.md` §2).
    pub version: u64,
}

/// Checks a handshake request and says which protocol the client chose; `binary` tells whether
/// the transport carries binary (Server-Sent Events do not, so MessagePack is refused there, as
/// the service does). Only version 1 is accepted. The error text is sent back to the client.
pub fn check_handshake(record: &str, binary: bool) -> Result<Protocol, ProtocolError> {
    check_handshake_up_to(record, binary, 1).map(|handshake| handshake.protocol)
}

/// [`check_handshake`] accepting versions 1 to `max_version` (2 when the connection negotiated
/// stateful reconnect).
pub fn check_handshake_up_to(
    record: &str,
    binary: bool,
    max_version: u64,
) -> Result<Handshake, ProtocolError> {
    let value: Value = serde_json::from_str(record)
        .map_err(|_| ProtocolError::Handshake("the handshake request is not valid JSON".into()))?;
    let protocol = value
        .get("protocol")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ProtocolError::Handshake("the handshake request has no `protocol` field".into())
        })?;
    let chosen = match protocol {
        "json" => Protocol::Json,
        msgpack::PROTOCOL_NAME => Protocol::MessagePack,
        other => {
            return Err(ProtocolError::Handshake(format!(
                "the requested protocol '{other}' is not available; use 'json' or 'messagepack'"
            )))
        }
    };
    let version = value
        .get("version")
        .and_then(Value::as_u64)
        .filter(|v| (1..=max_version).contains(v));
    let Some(version) = version else {
        let stateful = if max_version < 2 {
            " (version 2 is for stateful reconnect: negotiate with useStatefulReconnect=true and connect with WebSockets)"
        } else {
            " or 2"
        };
        return Err(ProtocolError::Handshake(format!(
            "the requested protocol version {} of '{protocol}' is not supported; use version 1{stateful}",
            value
                .get("version")
                .map(Value::to_string)
                .unwrap_or_default()
        )));
    };
    if chosen == Protocol::MessagePack && !binary {
        return Err(ProtocolError::Handshake(
            "Cannot use the 'messagepack' protocol on the current transport: Server-Sent Events \
             carry text only. Use WebSockets or long polling, or the 'json' protocol"
                .into(),
        ));
    }
    Ok(Handshake {
        protocol: chosen,
        version,
    })
}

/// A message read from a client, as far as the service cares.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// Type 1: forwarded upstream as the raw record.
    Invocation {
        /// The message exactly as received, without its framing.
        raw: Vec<u8>,
        /// The upstream content type of `raw`.
        content_type: &'static str,
        /// Present when the client waits for a completion.
        invocation_id: Option<String>,
        /// The hub method name.
        target: String,
    },
    /// Type 4: streaming is not supported in serverless mode.
    StreamInvocation {
        /// The id to complete with an error.
        invocation_id: Option<String>,
    },
    /// Type 3: a client's answer to an invocation of the service ([`HubMessage::InvokeClient`]).
    Completion {
        /// The id the service gave the invocation.
        invocation_id: String,
        /// `Ok(None)` void, `Ok(Some(result))`, or the client's error.
        outcome: Result<Option<Value>, String>,
    },
    /// Type 5: the client stops listening to a stream it opened.
    CancelInvocation {
        /// The stream's id.
        invocation_id: String,
    },
    /// Type 6.
    Ping,
    /// Type 7: the client is leaving.
    Close {
        /// The client's error, if any.
        error: Option<String>,
    },
    /// Type 8 (stateful reconnect): the client received every numbered message up to this id.
    Ack {
        /// The highest sequence id the client received.
        sequence_id: u64,
    },
    /// Type 9 (stateful reconnect): the id of the next numbered message the client sends.
    Sequence {
        /// The first message the client replays, or its next new one.
        sequence_id: u64,
    },
    /// Anything else (completions, stream items, cancels): ignored.
    Other {
        /// Its `type`.
        kind: u64,
    },
}

/// Parses one record from a client.
pub fn parse(record: &str) -> Result<ClientMessage, ProtocolError> {
    let value: Value =
        serde_json::from_str(record).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| ProtocolError::NotJson("it is not an object".into()))?;
    let kind = object
        .get("type")
        .and_then(Value::as_u64)
        .ok_or(ProtocolError::NoType)?;
    let invocation_id = match object.get("invocationId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(ProtocolError::BadInvocationId),
    };
    Ok(match kind {
        1 => ClientMessage::Invocation {
            raw: record.as_bytes().to_vec(),
            content_type: "application/json",
            invocation_id,
            target: object
                .get("target")
                .and_then(Value::as_str)
                .ok_or(ProtocolError::NoTarget)?
                .to_string(),
        },
        3 => ClientMessage::Completion {
            invocation_id: invocation_id.ok_or(ProtocolError::BadInvocationId)?,
            outcome: outcome(object),
        },
        4 => ClientMessage::StreamInvocation { invocation_id },
        5 => ClientMessage::CancelInvocation {
            invocation_id: invocation_id.ok_or(ProtocolError::BadInvocationId)?,
        },
        6 => ClientMessage::Ping,
        7 => ClientMessage::Close {
            error: object
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        8 => ClientMessage::Ack {
            sequence_id: sequence_id(object.get("sequenceId"))?,
        },
        9 => ClientMessage::Sequence {
            sequence_id: sequence_id(object.get("sequenceId"))?,
        },
        kind => ClientMessage::Other { kind },
    })
}

/// A Completion's outcome: its `error` when it has one (a string), else its `result` when the
/// key is present (even `null`), else void.
fn outcome(object: &serde_json::Map<String, Value>) -> Result<Option<Value>, String> {
    match (object.get("error"), object.get("result")) {
        (Some(Value::String(error)), _) => Err(error.clone()),
        (Some(error), _) if !error.is_null() => Err(error.to_string()),
        (_, result) => Ok(result.cloned()),
    }
}

/// The `sequenceId` of an Ack or Sequence message.
fn sequence_id(value: Option<&Value>) -> Result<u64, ProtocolError> {
    value
        .and_then(Value::as_u64)
        .ok_or(ProtocolError::BadSequenceId)
}

/// Frames a JSON value as a record.
pub fn frame(value: &Value) -> Vec<u8> {
    let mut bytes = value.to_string().into_bytes();
    bytes.push(RECORD_SEPARATOR);
    bytes
}

/// The successful handshake response `{}` (JSON, whatever the protocol).
pub fn handshake_ok() -> Vec<u8> {
    frame(&json!({}))
}

/// A failed handshake response `{"error": …}`.
pub fn handshake_error(message: &str) -> Vec<u8> {
    frame(&json!({ "error": message }))
}

/// A hub message as a JSON record.
pub fn encode(message: &HubMessage) -> Vec<u8> {
    match message {
        HubMessage::Invocation { target, arguments } => {
            frame(&json!({ "type": 1, "target": target, "arguments": arguments }))
        }
        // Written by hand so `type` comes first, as in the protocol's examples.
        HubMessage::Completion {
            invocation_id,
            outcome,
        } => {
            let id = Value::from(invocation_id.as_str());
            let text = match outcome {
                Ok(None) => format!(r#"{{"type":3,"invocationId":{id}}}"#),
                Ok(Some(result)) => {
                    format!(r#"{{"type":3,"invocationId":{id},"result":{result}}}"#)
                }
                Err(error) => format!(
                    r#"{{"type":3,"invocationId":{id},"error":{}}}"#,
                    Value::from(error.as_str())
                ),
            };
            let mut bytes = text.into_bytes();
            bytes.push(RECORD_SEPARATOR);
            bytes
        }
        HubMessage::InvokeClient {
            invocation_id,
            target,
            arguments,
        } => frame(&json!({
            "type": 1,
            "invocationId": invocation_id,
            "target": target,
            "arguments": arguments,
        })),
        HubMessage::StreamItem {
            invocation_id,
            item,
        } => frame(&json!({ "type": 2, "invocationId": invocation_id, "item": item })),
        HubMessage::Ping => frame(&json!({ "type": 6 })),
        HubMessage::Close {
            error,
            allow_reconnect,
        } => {
            let mut value = json!({ "type": 7 });
            if let Some(error) = error {
                value["error"] = json!(error);
            }
            if *allow_reconnect {
                value["allowReconnect"] = json!(true);
            }
            frame(&value)
        }
        // By hand so `type` comes first, as in the protocol's examples.
        HubMessage::Ack { sequence_id } => {
            format!("{{\"type\":8,\"sequenceId\":{sequence_id}}}\u{1e}").into_bytes()
        }
        HubMessage::Sequence { sequence_id } => {
            format!("{{\"type\":9,\"sequenceId\":{sequence_id}}}\u{1e}").into_bytes()
        }
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
