//! The MessagePack REST bodies of a send (`docs/protocol.md` §4): `application/x-msgpack`, the
//! `PayloadMessage` `{target, arguments}` as a MessagePack map; and `application/octet-stream`, a
//! MessagePack map with one complete invocation frame per hub protocol the sender supports
//! (`{"json": <bin>, "messagepack": <bin>}`), which clients of that protocol receive as sent.

use rmpv::Value as Pack;
use serde_json::Value;

use super::{PayloadMessage, PreparedFrames};
use crate::emulator::error::EmulatorError;
use crate::service::hub_protocol::msgpack;

fn bad(message: String) -> EmulatorError {
    EmulatorError::BadRequest(message)
}

/// The map entries of a MessagePack body with string keys.
fn map_of(body: &[u8], what: &str) -> Result<Vec<(String, Pack)>, EmulatorError> {
    let value = msgpack::decode(body).map_err(|e| {
        bad(format!(
            "the body is not valid MessagePack: {e}; send {what}"
        ))
    })?;
    let Pack::Map(pairs) = value else {
        return Err(bad(format!("the body must be a MessagePack map: {what}")));
    };
    Ok(pairs
        .into_iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
        .collect())
}

/// Checks a target and an arguments array taken from a body.
fn target_and_arguments(
    target: Option<&Value>,
    arguments: Option<Value>,
) -> Result<(String, Value), EmulatorError> {
    let target = match target {
        Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
        Some(Value::String(_)) => return Err(bad("target must not be empty".into())),
        Some(_) => return Err(bad("target must be a string".into())),
        None => return Err(bad("the body has no target".into())),
    };
    let arguments = match arguments {
        None | Some(Value::Null) => Value::Array(Vec::new()),
        Some(items @ Value::Array(_)) => items,
        Some(_) => return Err(bad("arguments must be an array".into())),
    };
    Ok((target, arguments))
}

/// An `application/x-msgpack` body: `{target, arguments}` as a MessagePack map (any casing).
pub fn parse_payload(body: &[u8]) -> Result<PayloadMessage, EmulatorError> {
    let pairs = map_of(
        body,
        "{\"target\": \"…\", \"arguments\": […]} as a MessagePack map",
    )?;
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| msgpack::to_json(v))
    };
    let (target, arguments) = target_and_arguments(field("target").as_ref(), field("arguments"))?;
    Ok(PayloadMessage {
        target,
        arguments,
        frames: Default::default(),
    })
}

/// An `application/octet-stream` body: per-protocol invocation frames.
pub fn parse_frames(body: &[u8]) -> Result<PayloadMessage, EmulatorError> {
    let what = "{\"json\": <bin: JSON invocation frame>, \"messagepack\": <bin: MessagePack invocation frame>}";
    let pairs = map_of(body, what)?;
    let entry = |name: &str| -> Result<Option<Vec<u8>>, EmulatorError> {
        match pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            None => Ok(None),
            Some((_, Pack::Binary(bytes))) => Ok(Some(bytes.clone())),
            Some((_, Pack::String(s))) => Ok(Some(s.as_bytes().to_vec())),
            Some(_) => Err(bad(format!("the {name:?} entry must be binary: {what}"))),
        }
    };
    let (json, packed) = (entry("json")?, entry(msgpack::PROTOCOL_NAME)?);
    let mut parsed = None;
    let json = match json {
        None => None,
        Some(mut frame) => {
            if frame.last() != Some(&crate::service::hub_protocol::json::RECORD_SEPARATOR) {
                frame.push(crate::service::hub_protocol::json::RECORD_SEPARATOR);
            }
            let record = &frame[..frame.len() - 1];
            let value: Value = serde_json::from_slice(record)
                .map_err(|e| bad(format!("the json frame is not valid JSON: {e}")))?;
            if value.get("type").and_then(Value::as_u64) != Some(1) {
                return Err(bad(
                    "the json frame must be an invocation (\"type\": 1)".into()
                ));
            }
            parsed = Some(target_and_arguments(
                value.get("target"),
                value.get("arguments").cloned(),
            )?);
            Some(frame)
        }
    };
    let packed = match packed {
        None => None,
        Some(frame) => {
            let invalid = |m: String| bad(format!("the messagepack frame is invalid: {m}"));
            let (len, prefix) = msgpack::read_length(&frame)
                .map_err(|e| invalid(e.to_string()))?
                .ok_or_else(|| invalid("it ends inside its length prefix".into()))?;
            if prefix + len != frame.len() {
                return Err(invalid(format!(
                    "its length prefix says {len} bytes but {} follow",
                    frame.len() - prefix
                )));
            }
            let value = msgpack::decode(&frame[prefix..]).map_err(|e| invalid(e.to_string()))?;
            if msgpack::message_type(&value).map_err(invalid)? != 1 {
                return Err(invalid("it must be an invocation (type 1)".into()));
            }
            let invocation = msgpack::invocation(&value).map_err(invalid)?;
            if parsed.is_none() {
                parsed = Some(target_and_arguments(
                    Some(&Value::String(invocation.target)),
                    Some(Value::Array(invocation.arguments)),
                )?);
            }
            Some(frame)
        }
    };
    let Some((target, arguments)) = parsed else {
        return Err(bad(format!(
            "the body has neither a json nor a messagepack entry: {what}"
        )));
    };
    Ok(PayloadMessage {
        target,
        arguments,
        frames: PreparedFrames {
            json,
            msgpack: packed,
        },
    })
}
