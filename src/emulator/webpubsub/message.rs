//! A message's data and `dataType` (`docs/webpubsub.md` §3, §4): from a REST body
//! (`application/json` → `json`, `text/plain` → `text`, `application/octet-stream` → `binary`) or
//! from a client's `sendToGroup`/`event` (`data` + `dataType`), and how it is rendered for each
//! kind of client: the `{"type":"message",…}` JSON of the json subprotocols, or a raw text/binary
//! frame for simple WebSocket clients; a [`Delivery`] is a message rendered once for fan-out.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;
use tokio::time::Instant;

use crate::emulator::outbox::Frame;

/// The three data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// A JSON value.
    Json,
    /// A UTF-8 string.
    Text,
    /// Bytes (base64 in JSON).
    Binary,
}

impl DataType {
    /// The protocol name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Text => "text",
            Self::Binary => "binary",
        }
    }

    /// The HTTP content type of this data (towards the event handler).
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Text => "text/plain",
            Self::Binary => "application/octet-stream",
        }
    }

    /// The data type of an HTTP content type (parameters such as `charset` ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        [Self::Json, Self::Text, Self::Binary]
            .into_iter()
            .find(|t| media.eq_ignore_ascii_case(t.content_type()))
    }
}

/// Message data, validated.
#[derive(Debug, Clone)]
pub struct MessageData {
    /// Its type.
    pub data_type: DataType,
    /// The JSON encoding of the `data` field (a JSON value, a string, or base64 in a string).
    pub data_json: Arc<str>,
    /// The frame a simple client gets.
    pub raw: Frame,
}

impl MessageData {
    /// From an HTTP body of `data_type`. JSON must parse; text must be UTF-8.
    pub fn from_body(data_type: DataType, body: &[u8]) -> Result<Self, String> {
        match data_type {
            DataType::Json => {
                let value: Value = serde_json::from_slice(body)
                    .map_err(|e| format!("the body is not valid JSON ({e}); send JSON with Content-Type application/json, or use text/plain"))?;
                let text = std::str::from_utf8(body).unwrap_or_default();
                Ok(Self {
                    data_type,
                    data_json: value.to_string().into(),
                    raw: Frame::text(text),
                })
            }
            DataType::Text => {
                let text = std::str::from_utf8(body).map_err(|_| {
                    "the text/plain body is not UTF-8; send bytes as application/octet-stream"
                        .to_string()
                })?;
                Ok(Self::text(text))
            }
            DataType::Binary => Ok(Self::binary(body)),
        }
    }

    /// A text payload.
    pub fn text(text: &str) -> Self {
        Self {
            data_type: DataType::Text,
            data_json: Value::String(text.into()).to_string().into(),
            raw: Frame::text(text),
        }
    }

    /// A binary payload.
    pub fn binary(bytes: &[u8]) -> Self {
        Self {
            data_type: DataType::Binary,
            data_json: Value::String(BASE64.encode(bytes)).to_string().into(),
            raw: Frame::binary(bytes),
        }
    }

    /// From a client request's `dataType` (default `json`) and `data`.
    pub fn from_request(data_type: Option<&Value>, data: Option<&Value>) -> Result<Self, String> {
        let data_type = match data_type {
            None => DataType::Json,
            Some(Value::String(name)) => match name.as_str() {
                "json" => DataType::Json,
                "text" => DataType::Text,
                "binary" => DataType::Binary,
                other => {
                    return Err(format!(
                        "dataType `{other}` is unknown; use json, text or binary"
                    ))
                }
            },
            Some(_) => return Err("dataType must be a string: json, text or binary".into()),
        };
        match (data_type, data) {
            (DataType::Json, Some(value)) if !value.is_null() => Ok(Self {
                data_type,
                data_json: value.to_string().into(),
                raw: Frame::text(value.to_string()),
            }),
            (DataType::Json, _) => Err("data is required (a JSON value, not null)".into()),
            (DataType::Text, Some(Value::String(text))) => Ok(Self::text(text)),
            (DataType::Text, _) => Err("data must be a string when dataType is text".into()),
            (DataType::Binary, Some(Value::String(b64))) => BASE64
                .decode(b64)
                .map(|bytes| Self::binary(&bytes))
                .map_err(|_| "data must be base64 when dataType is binary".into()),
            (DataType::Binary, _) => {
                Err("data must be a base64 string when dataType is binary".into())
            }
        }
    }

    /// The bytes of the data (for the event handler's body).
    pub fn bytes(&self) -> Vec<u8> {
        self.raw.data.to_vec()
    }
}

/// Where a message comes from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// The server (REST, or an event handler's answer).
    Server,
    /// A client's `sendToGroup`.
    Group {
        /// The group.
        group: String,
        /// The sender's user id.
        from_user: Option<String>,
    },
}

/// `{"type":"message","from":…,"dataType":…,"data":…}` for json-subprotocol clients.
pub fn message_json(from: &Origin, payload: &MessageData) -> String {
    let head = match from {
        Origin::Server => r#"{"type":"message","from":"server""#.to_string(),
        Origin::Group { group, from_user } => {
            let mut head = format!(
                r#"{{"type":"message","from":"group","group":{}"#,
                Value::String(group.clone())
            );
            if let Some(user) = from_user {
                head.push_str(&format!(r#","fromUserId":{}"#, Value::String(user.clone())));
            }
            head
        }
    };
    format!(
        r#"{head},"dataType":"{}","data":{}}}"#,
        payload.data_type.name(),
        payload.data_json
    )
}

/// The same message with `"sequenceId":n` first, for reliable clients.
pub fn with_sequence(json: &str, sequence_id: u64) -> String {
    format!(r#"{{"sequenceId":{sequence_id},{}"#, &json[1..])
}

/// A message ready for fan-out.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub(super) json: Arc<str>,
    pub(super) raw: Option<Frame>,
    pub(super) deadline: Option<Instant>,
}

impl Delivery {
    /// A message from `origin` with `payload`, dropped if still queued after `ttl`.
    pub fn new(origin: &Origin, payload: &MessageData, ttl: Option<Duration>) -> Self {
        Self {
            json: message_json(origin, payload).into(),
            raw: Some(payload.raw.clone()),
            deadline: ttl.map(|ttl| Instant::now() + ttl),
        }
    }

    /// A message json clients get as `json`, and simple clients as `raw` (or not at all).
    pub fn rendered(json: String, raw: Option<Frame>) -> Self {
        Self {
            json: json.into(),
            raw,
            deadline: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_data_type() {
        let json = MessageData::from_body(DataType::Json, br#"{"a": 1}"#).unwrap();
        assert_eq!(
            message_json(&Origin::Server, &json),
            r#"{"type":"message","from":"server","dataType":"json","data":{"a":1}}"#
        );
        let text = MessageData::from_request(Some(&"text".into()), Some(&"hi".into())).unwrap();
        let from = Origin::Group {
            group: "g".into(),
            from_user: Some("u".into()),
        };
        assert_eq!(
            with_sequence(&message_json(&from, &text), 3),
            r#"{"sequenceId":3,"type":"message","from":"group","group":"g","fromUserId":"u","dataType":"text","data":"hi"}"#
        );
        let bin = MessageData::from_request(Some(&"binary".into()), Some(&"AQI=".into())).unwrap();
        assert_eq!(bin.bytes(), vec![1, 2]);
        assert!(MessageData::from_request(Some(&"binary".into()), Some(&"!!".into())).is_err());
        assert!(MessageData::from_request(None, Some(&Value::Null)).is_err());
        assert!(MessageData::from_body(DataType::Json, b"{").is_err());
        assert_eq!(
            DataType::from_content_type("Text/Plain; charset=utf-8"),
            Some(DataType::Text)
        );
    }
}
