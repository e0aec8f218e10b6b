//! The upstream body: one JSON hub-protocol message — an invocation (type 1), connected (10) or
//! disconnected (11). The service sends `type`/`target` or `Type`/`Target`, so property names
//! are matched case-insensitively. The body is parsed once into a [`Value`] (which is also what
//! the forward webhook receives) and read from there in one pass, borrowing, never copying keys.

use serde::Deserialize;
use serde_json::Value;

use crate::app::error::ApiError;
use crate::service::hub_protocol::msgpack;

/// An upstream body, borrowing from the parsed JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionEvent<'a> {
    /// A client connected.
    Connected,
    /// A client disconnected, with the reason when there was one.
    Disconnected {
        /// The service's error text.
        error: Option<&'a str>,
    },
    /// A client invoked a hub method.
    Invocation {
        /// Present when the client waits for a completion.
        invocation_id: Option<&'a str>,
        /// The method.
        target: &'a str,
        /// Its arguments.
        arguments: &'a [Value],
    },
}

impl<'a> ConnectionEvent<'a> {
    /// Parses the body into JSON; [`ConnectionEvent::read`] then reads the message from it.
    pub fn json(bytes: &[u8]) -> Result<Value, ApiError> {
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request("InvalidJson", format!("the body is not valid JSON: {e}"))
        })
    }

    /// Reads a MessagePack client's invocation (`[1, headers, invocationId, target, arguments]`,
    /// the body without its length prefix) into the JSON form of the same invocation, so it is
    /// read (and forwarded to the webhook) like a JSON client's.
    pub fn from_msgpack(bytes: &[u8]) -> Result<Value, ApiError> {
        let bad = |m: String| {
            ApiError::bad_request(
                "InvalidMessagePack",
                format!("the body is not a MessagePack invocation: {m}"),
            )
        };
        let value = msgpack::decode(bytes).map_err(|e| bad(e.to_string()))?;
        match msgpack::message_type(&value).map_err(bad)? {
            1 => {}
            other => {
                return Err(bad(format!(
                    "message type {other} is not supported; MessagePack bodies carry invocations (type 1)"
                )))
            }
        }
        let invocation = msgpack::invocation(&value).map_err(bad)?;
        let mut json = serde_json::json!({
            "type": 1,
            "target": invocation.target,
            "arguments": invocation.arguments,
        });
        if let Some(id) = invocation.invocation_id {
            json["invocationId"] = Value::String(id);
        }
        Ok(json)
    }

    /// Reads the message from the body's JSON.
    pub fn read(value: &'a Value) -> Result<Self, ApiError> {
        let bad = |m: String| ApiError::bad_request("InvalidBody", m);
        let not_upstream = |m: String| bad(format!("the body is not an upstream message: {m}"));
        let Value::Object(map) = value else {
            return Err(bad("the body must be a JSON object".into()));
        };
        let (mut kind, mut invocation_id, mut target, mut arguments, mut error) =
            (None, None, None, None, None);
        for (key, value) in map {
            let slot = if key.eq_ignore_ascii_case("type") {
                &mut kind
            } else if key.eq_ignore_ascii_case("invocationId") {
                &mut invocation_id
            } else if key.eq_ignore_ascii_case("target") {
                &mut target
            } else if key.eq_ignore_ascii_case("arguments") {
                &mut arguments
            } else if key.eq_ignore_ascii_case("error") {
                &mut error
            } else {
                continue;
            };
            *slot = Some(value);
        }
        let kind: i64 =
            field("type", kind.ok_or("missing field `type`".to_string())).map_err(not_upstream)?;
        let text = |name: &'static str, value: Option<&'a Value>| -> Result<_, ApiError> {
            match value {
                None => Ok(None),
                Some(v) => field::<Option<&'a str>>(name, Ok(v)).map_err(not_upstream),
            }
        };
        Ok(match kind {
            10 => Self::Connected,
            11 => Self::Disconnected {
                error: text("error", error)?,
            },
            1 => Self::Invocation {
                invocation_id: text("invocationId", invocation_id)?.filter(|id| !id.is_empty()),
                target: text("target", target)?
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| bad("the invocation has no target".into()))?,
                arguments: match arguments {
                    None | Some(Value::Null) => &[],
                    Some(Value::Array(items)) => items,
                    Some(_) => {
                        return Err(not_upstream(
                            "arguments: invalid type, expected an array".into(),
                        ))
                    }
                },
            },
            other => {
                return Err(bad(format!(
                    "message type {other} is not supported; expected 1 (invocation), 10 (connected) or 11 (disconnected)"
                )))
            }
        })
    }

    /// What kind of message this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connected => "connected (type 10)",
            Self::Disconnected { .. } => "disconnected (type 11)",
            Self::Invocation { .. } => "invocation (type 1)",
        }
    }
}

/// Reads one property, borrowing strings from the JSON; the error names the property.
fn field<'a, T: Deserialize<'a>>(
    name: &str,
    value: Result<&'a Value, String>,
) -> Result<T, String> {
    T::deserialize(value?).map_err(|e| format!("{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &[u8]) -> Result<String, String> {
        let value = ConnectionEvent::json(body).map_err(|e| e.message)?;
        ConnectionEvent::read(&value)
            .map(|m| format!("{m:?}"))
            .map_err(|e| e.message)
    }

    #[test]
    fn bodies_parse_case_insensitively() {
        assert_eq!(
            parse(br#"{"Type":11,"Error":"gone"}"#),
            Ok(r#"Disconnected { error: Some("gone") }"#.into())
        );
        assert_eq!(
            parse(br#"{"TYPE":1,"invocationID":"","Target":"t","Arguments":[1],"x":2}"#),
            Ok("Invocation { invocation_id: None, target: \"t\", arguments: [Number(1)] }".into())
        );
        assert_eq!(parse(br#"{"type":10}"#), Ok("Connected".into()));
    }

    #[test]
    fn messagepack_invocations_read_like_json_ones() {
        // [1, {}, "2", "publish", ["t", {"a": 1}]]
        let body = [
            0x95, 0x01, 0x80, 0xa1, b'2', 0xa7, b'p', b'u', b'b', b'l', b'i', b's', b'h', 0x92,
            0xa1, b't', 0x81, 0xa1, b'a', 0x01,
        ];
        let value = ConnectionEvent::from_msgpack(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"type": 1, "invocationId": "2", "target": "publish", "arguments": ["t", {"a": 1}]})
        );
        let error = ConnectionEvent::from_msgpack(&[0x91, 0x06])
            .unwrap_err()
            .message;
        assert!(error.contains("message type 6 is not supported"), "{error}");
        let error = ConnectionEvent::from_msgpack(&[0x92]).unwrap_err().message;
        assert!(error.contains("not a MessagePack invocation"), "{error}");
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        for (body, says) in [
            (&b"[1]"[..], "must be a JSON object"),
            (b"{", "not valid JSON"),
            (b"{}", "missing field `type`"),
            (br#"{"type":"10"}"#, "type: invalid type: string \"10\""),
            (
                br#"{"type":1,"target":7}"#,
                "target: invalid type: integer `7`",
            ),
            (
                br#"{"type":1,"target":"t","arguments":{}}"#,
                "arguments: invalid type",
            ),
            (br#"{"type":1}"#, "has no target"),
            (br#"{"type":3}"#, "message type 3 is not supported"),
        ] {
            let error = parse(body).unwrap_err();
            assert!(error.contains(says), "{error:?} should say {says:?}");
        }
    }
}
