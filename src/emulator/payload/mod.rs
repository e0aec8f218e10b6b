//! The body of a REST send: a `PayloadMessage` in JSON (any casing of the names), in MessagePack
//! (`application/x-msgpack`), or as ready frames per hub protocol (`application/octet-stream`,
//! [`msgpack`]).

pub mod msgpack;

use axum::http::{header, HeaderMap};
use serde_json::Value;

use super::error::EmulatorError;

/// A validated `PayloadMessage`: what to invoke on the clients.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadMessage {
    /// The client method name, never empty.
    pub target: String,
    /// The arguments array.
    pub arguments: Value,
    /// Frames the sender made itself (`application/octet-stream`), sent as they are.
    pub frames: PreparedFrames,
}

/// Complete invocation frames per hub protocol, when the sender supplied them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PreparedFrames {
    /// The JSON record, ending in `0x1E`.
    pub json: Option<Vec<u8>>,
    /// The MessagePack message with its length prefix.
    pub msgpack: Option<Vec<u8>>,
}

impl PayloadMessage {
    /// Parses a send's body by its content type: MessagePack ([`msgpack`]) or JSON.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, EmulatorError> {
        if let Some(kind) = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            let media = kind
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media == "application/x-msgpack" {
                return msgpack::parse_payload(body);
            }
            if media == "application/octet-stream" {
                return msgpack::parse_frames(body);
            }
            if !(media.is_empty()
                || media == "application/json"
                || media == "text/json"
                || media.ends_with("+json"))
            {
                return Err(EmulatorError::UnsupportedMediaType(format!(
                    "Content-Type {media} is not supported; send application/json, \
                     application/x-msgpack or application/octet-stream"
                )));
            }
        }
        Self::parse_json(body)
    }

    /// A JSON body `{target, arguments}` (any casing of the names).
    fn parse_json(body: &[u8]) -> Result<Self, EmulatorError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(EmulatorError::BadRequest(
                "the body is empty; send a JSON object {\"target\": \"…\", \"arguments\": […]}"
                    .into(),
            ));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| EmulatorError::BadRequest(format!("the body is not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(EmulatorError::BadRequest(
                "the body must be a JSON object {\"target\": \"…\", \"arguments\": […]}".into(),
            ));
        };
        let field = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let target = match field("target") {
            Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
            Some(Value::String(_)) => {
                return Err(EmulatorError::BadRequest("target must not be empty".into()))
            }
            Some(_) => return Err(EmulatorError::BadRequest("target must be a string".into())),
            None => return Err(EmulatorError::BadRequest("the body has no target".into())),
        };
        let arguments = match field("arguments") {
            None | Some(Value::Null) => Value::Array(Vec::new()),
            Some(Value::Array(items)) => Value::Array(items.clone()),
            Some(_) => {
                return Err(EmulatorError::BadRequest(
                    "arguments must be an array".into(),
                ))
            }
        };
        Ok(Self {
            target,
            arguments,
            frames: PreparedFrames::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_casings() {
        let h = HeaderMap::new();
        let m = PayloadMessage::parse(&h, br#"{"Target":"t","Arguments":[1]}"#).unwrap();
        assert_eq!(m.target, "t");
        assert!(PayloadMessage::parse(&h, br#"{"target":""}"#).is_err());
        assert!(PayloadMessage::parse(&h, br#"{"arguments":[]}"#).is_err());
    }
}
