//! The SignalR MessagePack hub protocol's framing and values (HubProtocol.md, "MessagePack
//! Encoding"): each message is a MessagePack array preceded by its length as a varint (7 bits
//! per byte, low groups first, high bit = more bytes, at most 5 bytes). Values are read and
//! written by `rmpv`; this module only frames them and converts to and from JSON values, so a
//! REST send's JSON arguments reach MessagePack clients unchanged and the app reads MessagePack
//! invocations like JSON ones.

use base64::Engine;
use rmpv::Value as Pack;
use serde_json::{Map, Number, Value};

use super::message::HubMessage;

/// The protocol name in the handshake.
pub const PROTOCOL_NAME: &str = "messagepack";

/// The content type of a MessagePack upstream body (`docs/protocol.md` §5.3).
pub const CONTENT_TYPE: &str = "application/x-msgpack";

/// Why MessagePack bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix runs over 5 bytes or past 2 GiB.
    #[error("a MessagePack message has an invalid length prefix (a varint of at most 5 bytes is expected)")]
    BadLength,
    /// The bytes end inside a length prefix or a message.
    #[error("a MessagePack message is truncated: {0}")]
    Truncated(&'static str),
    /// A message claims more bytes than allowed.
    #[error("a message is larger than the limit of {0} bytes")]
    TooLarge(usize),
    /// The payload is not one MessagePack value.
    #[error("a message is not valid MessagePack: {0}")]
    NotMessagePack(String),
}

/// Appends `len` as a varint.
pub fn write_length(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a varint at the start of `bytes`: `Ok(None)` when more bytes are needed, else the length
/// and how many bytes the prefix took.
pub fn read_length(bytes: &[u8]) -> Result<Option<(usize, usize)>, FrameError> {
    let mut len: u64 = 0;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        len |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if len > i32::MAX as u64 {
                return Err(FrameError::BadLength);
            }
            return Ok(Some((len as usize, i + 1)));
        }
    }
    if bytes.len() >= 5 {
        Err(FrameError::BadLength)
    } else {
        Ok(None)
    }
}

/// Encodes `value` and frames it with its length.
pub fn frame(value: &Pack) -> Vec<u8> {
    let mut body = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut body, value);
    let mut out = Vec::with_capacity(body.len() + 5);
    write_length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// Decodes one complete MessagePack value that must fill `bytes` exactly.
pub fn decode(bytes: &[u8]) -> Result<Pack, FrameError> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value(&mut reader)
        .map_err(|e| FrameError::NotMessagePack(e.to_string()))?;
    if !reader.is_empty() {
        return Err(FrameError::NotMessagePack(format!(
            "{} bytes follow the value inside its length prefix",
            reader.len()
        )));
    }
    Ok(value)
}

/// Splits a byte stream into messages (the bytes inside each length prefix).
#[derive(Debug)]
pub struct Frames {
    buffer: Vec<u8>,
    start: usize,
    max: usize,
}

impl Frames {
    /// A splitter that refuses messages longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buffer: Vec::new(),
            start: 0,
            max,
        }
    }

    /// Adds `bytes` after what is buffered.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete message; `None` until more bytes arrive. An error ends the stream.
    pub fn next_message(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        let rest = &self.buffer[self.start..];
        let (len, prefix) = match read_length(rest) {
            Err(e) => return Some(Err(e)),
            Ok(None) => return None,
            Ok(Some(found)) => found,
        };
        if len > self.max {
            return Some(Err(FrameError::TooLarge(self.max)));
        }
        if rest.len() < prefix + len {
            return None;
        }
        let message = rest[prefix..prefix + len].to_vec();
        self.start += prefix + len;
        Some(Ok(message))
    }

    /// Checks that nothing partial is left: each WebSocket message and each long-polling POST
    /// carries whole hub messages, so leftovers mean the client sent a truncated one.
    pub fn check_complete(&self) -> Result<(), FrameError> {
        let rest = &self.buffer[self.start..];
        match read_length(rest)? {
            _ if rest.is_empty() => Ok(()),
            None => Err(FrameError::Truncated(
                "the bytes end inside its length prefix",
            )),
            Some(_) => Err(FrameError::Truncated(
                "the bytes end before the length its prefix announces",
            )),
        }
    }
}

/// A JSON value as MessagePack: integers stay integers, other numbers become float64, objects
/// become maps with string keys.
pub fn from_json(value: &Value) -> Pack {
    match value {
        Value::Null => Pack::Nil,
        Value::Bool(b) => Pack::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Pack::from(i)
            } else if let Some(u) = n.as_u64() {
                Pack::from(u)
            } else {
                Pack::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Pack::from(s.as_str()),
        Value::Array(items) => Pack::Array(items.iter().map(from_json).collect()),
        Value::Object(map) => Pack::Map(
            map.iter()
                .map(|(k, v)| (Pack::from(k.as_str()), from_json(v)))
                .collect(),
        ),
    }
}

/// A MessagePack value as JSON: binary becomes a base64 string (as a .NET `byte[]` does in
/// JSON), extension values their data in base64, non-string map keys their JSON text.
pub fn to_json(value: &Pack) -> Value {
    convert(value, 0)
}

/// How deep a map or array key may sit inside other keys and still be written as its JSON
/// text. Each level escapes the text of the level inside it again, which doubles its length:
/// found by fuzzing (`fuzz/fuzz_targets/hub_protocol_msgpack.rs`), 300 bytes of maps used as
/// keys of maps took minutes and gigabytes. Deeper container keys become `"{…}"` / `"[…]"`.
pub const MAX_KEY_NESTING: usize = 2;

/// [`to_json`] of a value that sits inside `key_depth` map keys.
fn convert(value: &Pack, key_depth: usize) -> Value {
    let base64 =
        |bytes: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    match value {
        Pack::Nil => Value::Null,
        Pack::Boolean(b) => Value::Bool(*b),
        Pack::Integer(i) => i
            .as_i64()
            .map(Value::from)
            .or_else(|| i.as_u64().map(Value::from))
            .unwrap_or(Value::Null),
        Pack::F32(f) => Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        Pack::F64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Pack::String(s) => Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Pack::Binary(bytes) => base64(bytes),
        Pack::Array(items) => Value::Array(items.iter().map(|i| convert(i, key_depth)).collect()),
        Pack::Map(pairs) => {
            let mut map = Map::new();
            for (k, v) in pairs {
                let key = match k {
                    Pack::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                    Pack::Map(_) if key_depth >= MAX_KEY_NESTING => "{…}".to_owned(),
                    Pack::Array(_) if key_depth >= MAX_KEY_NESTING => "[…]".to_owned(),
                    other => convert(other, key_depth + 1).to_string(),
                };
                map.insert(key, convert(v, key_depth));
            }
            Value::Object(map)
        }
        Pack::Ext(_, data) => base64(data),
    }
}

/// An invocation read from a MessagePack client: `[1, headers, invocationId, target, arguments,
/// streamIds?]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// Present when the client waits for a completion.
    pub invocation_id: Option<String>,
    /// The hub method.
    pub target: String,
    /// The arguments, as JSON.
    pub arguments: Vec<Value>,
}

/// The message type (first array element) of a decoded message.
pub fn message_type(value: &Pack) -> Result<u64, String> {
    value
        .as_array()
        .ok_or("a MessagePack hub message must be an array")?
        .first()
        .and_then(Pack::as_u64)
        .ok_or_else(|| "a MessagePack hub message must start with its integer type".to_string())
}

/// An optional string field (nil = absent).
pub fn optional_string(value: Option<&Pack>, name: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Pack::Nil) => Ok(None),
        Some(Pack::String(s)) => s
            .as_str()
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| format!("`{name}` is not valid UTF-8")),
        Some(_) => Err(format!("`{name}` must be a string or nil")),
    }
}

/// Reads a type-1 or type-4 message's invocation fields.
pub fn invocation(value: &Pack) -> Result<Invocation, String> {
    let items = value
        .as_array()
        .ok_or("a MessagePack hub message must be an array")?;
    if items.len() < 5 {
        return Err(
            "an invocation must be [type, headers, invocationId, target, arguments]".into(),
        );
    }
    if !matches!(items[1], Pack::Map(_) | Pack::Nil) {
        return Err("an invocation's headers must be a map".into());
    }
    let invocation_id = optional_string(items.get(2), "invocationId")?;
    let target = optional_string(items.get(3), "target")?
        .ok_or("an invocation message has no string `target`")?;
    let arguments = items[4]
        .as_array()
        .ok_or("an invocation's arguments must be an array")?
        .iter()
        .map(to_json)
        .collect();
    Ok(Invocation {
        invocation_id,
        target,
        arguments,
    })
}

/// The headers map the service writes (none).
fn no_headers() -> Pack {
    Pack::Map(Vec::new())
}

/// `[1, {}, nil, target, arguments, []]`: a non-blocking invocation.
pub fn invocation_frame(target: &str, arguments: &Value) -> Vec<u8> {
    invocation_frame_with_id(None, target, arguments)
}

/// `[1, {}, invocationId, target, arguments, []]`: an invocation whose result the service waits
/// for, or with `None` a non-blocking one.
pub fn invocation_frame_with_id(
    invocation_id: Option<&str>,
    target: &str,
    arguments: &Value,
) -> Vec<u8> {
    let arguments = match arguments {
        Value::Array(items) => Pack::Array(items.iter().map(from_json).collect()),
        other => Pack::Array(vec![from_json(other)]),
    };
    frame(&Pack::Array(vec![
        Pack::from(1),
        no_headers(),
        invocation_id.map_or(Pack::Nil, Pack::from),
        Pack::from(target),
        arguments,
        Pack::Array(Vec::new()),
    ]))
}

/// `[3, {}, invocationId, 1, error]`, `[3, {}, invocationId, 2]` (void) or
/// `[3, {}, invocationId, 3, result]`.
pub fn completion_frame(invocation_id: &str, outcome: Result<Option<&Value>, &str>) -> Vec<u8> {
    let mut items = vec![Pack::from(3), no_headers(), Pack::from(invocation_id)];
    match outcome {
        Err(error) => items.extend([Pack::from(1), Pack::from(error)]),
        Ok(None) => items.push(Pack::from(2)),
        Ok(Some(result)) => items.extend([Pack::from(3), from_json(result)]),
    }
    frame(&Pack::Array(items))
}

/// `[2, {}, invocationId, item]`: one item of a stream.
pub fn stream_item_frame(invocation_id: &str, item: &Value) -> Vec<u8> {
    frame(&Pack::Array(vec![
        Pack::from(2),
        no_headers(),
        Pack::from(invocation_id),
        from_json(item),
    ]))
}

/// A Completion read from a client: `[3, headers, invocationId, resultKind, result?]` with
/// result kind 1 (error), 2 (void) or 3 (result).
pub fn completion(items: &[Pack]) -> Result<(String, Result<Option<Value>, String>), String> {
    let id = optional_string(items.get(2), "invocationId")?
        .ok_or("a completion message has no `invocationId`")?;
    let outcome = match items.get(3).and_then(Pack::as_u64) {
        Some(1) => Err(match items.get(4) {
            Some(Pack::String(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            other => other.map(to_json).unwrap_or(Value::Null).to_string(),
        }),
        Some(2) => Ok(None),
        Some(3) => Ok(Some(items.get(4).map_or(Value::Null, to_json))),
        _ => return Err("a completion's result kind must be 1, 2 or 3".into()),
    };
    Ok((id, outcome))
}

/// `[6]`.
pub fn ping_frame() -> Vec<u8> {
    frame(&Pack::Array(vec![Pack::from(6)]))
}

/// `[7, error, allowReconnect]`.
pub fn close_frame(error: Option<&str>, allow_reconnect: bool) -> Vec<u8> {
    frame(&Pack::Array(vec![
        Pack::from(7),
        error.map_or(Pack::Nil, Pack::from),
        Pack::Boolean(allow_reconnect),
    ]))
}

/// `[8, sequenceId]` (Ack) or `[9, sequenceId]` (Sequence), stateful reconnect's two messages.
pub fn sequence_frame(kind: u8, sequence_id: u64) -> Vec<u8> {
    frame(&Pack::Array(vec![
        Pack::from(kind),
        Pack::from(sequence_id),
    ]))
}

/// A hub message as a length-prefixed MessagePack array.
pub fn encode(message: &HubMessage) -> Vec<u8> {
    match message {
        HubMessage::Invocation { target, arguments } => invocation_frame(target, arguments),
        HubMessage::Completion {
            invocation_id,
            outcome,
        } => completion_frame(
            invocation_id,
            match outcome {
                Ok(result) => Ok(result.as_ref()),
                Err(error) => Err(error.as_str()),
            },
        ),
        HubMessage::InvokeClient {
            invocation_id,
            target,
            arguments,
        } => invocation_frame_with_id(Some(invocation_id), target, arguments),
        HubMessage::StreamItem {
            invocation_id,
            item,
        } => stream_item_frame(invocation_id, item),
        HubMessage::Ping => ping_frame(),
        HubMessage::Close {
            error,
            allow_reconnect,
        } => close_frame(error.as_deref(), *allow_reconnect),
        HubMessage::Ack { sequence_id } => sequence_frame(8, *sequence_id),
        HubMessage::Sequence { sequence_id } => sequence_frame(9, *sequence_id),
    }
}

#[cfg(test)]
#[path = "msgpack_tests.rs"]
mod tests;
