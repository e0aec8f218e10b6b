//! The `json.webpubsub.azure.v1` / `json.reliable.webpubsub.azure.v1` frames (reference §5):
//! parsing a client's request, and the service's `ack` and `system` messages. A frame that is not
//! a JSON object with a known `type`, or has a bad `ackId`, closes the client (the service
//! "declines" malformed frames); a known request with a bad field is answered with a
//! `BadRequest` ack when it has an `ackId`.

use serde_json::{json, Map, Value};

use super::message::MessageData;
use crate::service::names;

/// A client's request.
#[derive(Debug)]
pub enum Request {
    /// `joinGroup`.
    JoinGroup {
        /// The group.
        group: String,
        /// Its ack id.
        ack_id: Option<u64>,
    },
    /// `leaveGroup`.
    LeaveGroup {
        /// The group.
        group: String,
        /// Its ack id.
        ack_id: Option<u64>,
    },
    /// `sendToGroup`.
    SendToGroup {
        /// The group.
        group: String,
        /// Its ack id.
        ack_id: Option<u64>,
        /// Leave the sender out.
        no_echo: bool,
        /// The data.
        payload: MessageData,
    },
    /// `event`.
    Event {
        /// The event name.
        event: String,
        /// Its ack id.
        ack_id: Option<u64>,
        /// The data.
        payload: MessageData,
    },
    /// `sequenceAck` (reliable).
    SequenceAck {
        /// The largest sequence id received.
        sequence_id: u64,
    },
    /// `ping`.
    Ping,
}

/// A frame that cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Close the client with 1008 and this reason.
    Close(String),
    /// Answer `{"type":"ack","ackId":…,"success":false,"error":{"name":"BadRequest",…}}`.
    BadRequest {
        /// The request's ack id.
        ack_id: u64,
        /// What is wrong.
        message: String,
    },
}

/// Parses one text frame.
pub fn parse(text: &str) -> Result<Request, FrameError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| FrameError::Close(format!("the frame is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(FrameError::Close(
            "the frame must be a JSON object with a `type`".into(),
        ));
    };
    let ack_id = match map.get("ackId") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.is_u64() => n.as_u64(),
        Some(other) => {
            return Err(FrameError::Close(format!(
                "ackId must be an unsigned whole number, got {}",
                short(other)
            )))
        }
    };
    let fail = |message: String| match ack_id {
        Some(ack_id) => FrameError::BadRequest { ack_id, message },
        None => FrameError::Close(message),
    };
    let kind = match map.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        _ => {
            return Err(FrameError::Close(
                "the frame has no `type` (a string)".into(),
            ))
        }
    };
    match kind {
        "joinGroup" | "leaveGroup" => {
            let group = group(&map).map_err(fail)?;
            Ok(if kind == "joinGroup" {
                Request::JoinGroup { group, ack_id }
            } else {
                Request::LeaveGroup { group, ack_id }
            })
        }
        "sendToGroup" => {
            let group = group(&map).map_err(fail)?;
            let no_echo = match map.get("noEcho") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(fail("noEcho must be true or false".into())),
            };
            let payload = MessageData::from_request(map.get("dataType"), map.get("data")).map_err(fail)?;
            Ok(Request::SendToGroup {
                group,
                ack_id,
                no_echo,
                payload,
            })
        }
        "event" => {
            let event = match map.get("event") {
                Some(Value::String(e)) if valid_event(e) => e.clone(),
                Some(Value::String(e)) => return Err(fail(format!("event name {e:?} is not valid: it must start with a letter and hold only letters, digits, `_`, `.` and `-` (at most 128)"))),
                _ => return Err(fail("event (a string) is required".into())),
            };
            let payload = MessageData::from_request(map.get("dataType"), map.get("data")).map_err(fail)?;
            Ok(Request::Event {
                event,
                ack_id,
                payload,
            })
        }
        "sequenceAck" => match map.get("sequenceId") {
            Some(Value::Number(n)) if n.is_u64() => Ok(Request::SequenceAck {
                sequence_id: n.as_u64().unwrap_or_default(),
            }),
            _ => Err(FrameError::Close("sequenceAck needs sequenceId, an unsigned whole number".into())),
        },
        "ping" => Ok(Request::Ping),
        other => Err(fail(format!(
            "type {:?} is not supported; use joinGroup, leaveGroup, sendToGroup, event, sequenceAck or ping",
            other.chars().take(64).collect::<String>()
        ))),
    }
}

fn short(value: &Value) -> String {
    value.to_string().chars().take(40).collect()
}

fn group(map: &Map<String, Value>) -> Result<String, String> {
    match map.get("group") {
        Some(Value::String(g)) => names::validate_group(g)
            .map(|()| g.clone())
            .map_err(|e| e.to_string()),
        _ => Err("group (a string) is required".into()),
    }
}

/// Event names: `^[a-z][a-z0-9_.-]{0,127}$`, ignoring case.
pub fn valid_event(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A successful ack.
pub fn ack_ok(ack_id: u64) -> String {
    json!({ "type": "ack", "ackId": ack_id, "success": true }).to_string()
}

/// A failed ack: `name` is `Forbidden`, `BadRequest`, `Duplicate` or `InternalServerError`.
pub fn ack_error(ack_id: u64, name: &str, message: &str) -> String {
    json!({ "type": "ack", "ackId": ack_id, "success": false, "error": { "name": name, "message": message } }).to_string()
}

/// The `connected` system message.
pub fn connected(
    connection_id: &str,
    user: Option<&str>,
    reconnection_token: Option<&str>,
) -> String {
    let mut value = json!({ "type": "system", "event": "connected", "userId": user, "connectionId": connection_id });
    if let Some(token) = reconnection_token {
        value["reconnectionToken"] = token.into();
    }
    value.to_string()
}

/// The `disconnected` system message.
pub fn disconnected(reason: &str) -> String {
    json!({ "type": "system", "event": "disconnected", "message": reason }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_their_mistakes() {
        assert!(matches!(
            parse(r#"{"type":"joinGroup","group":"g","ackId":1}"#),
            Ok(Request::JoinGroup {
                ack_id: Some(1),
                ..
            })
        ));
        assert!(matches!(
            parse(
                r#"{"type":"sendToGroup","group":"g","dataType":"text","data":"x","noEcho":true}"#
            ),
            Ok(Request::SendToGroup { no_echo: true, .. })
        ));
        assert!(matches!(parse(r#"{"type":"ping"}"#), Ok(Request::Ping)));
        assert!(matches!(parse("nope"), Err(FrameError::Close(m)) if m.contains("not valid JSON")));
        assert!(matches!(parse("[1]"), Err(FrameError::Close(_))));
        assert!(
            matches!(parse(r#"{"type":"joinGroup","group":"g","ackId":"1"}"#), Err(FrameError::Close(m)) if m.contains("ackId"))
        );
        assert!(matches!(
            parse(r#"{"type":"joinGroup","ackId":2}"#),
            Err(FrameError::BadRequest { ack_id: 2, .. })
        ));
        assert!(
            matches!(parse(r#"{"type":"fly","ackId":3}"#), Err(FrameError::BadRequest { ack_id: 3, message }) if message.contains("fly"))
        );
        assert!(matches!(
            parse(r#"{"type":"fly"}"#),
            Err(FrameError::Close(_))
        ));
        assert!(matches!(
            parse(r#"{"type":"event","event":"1x","data":1,"ackId":4}"#),
            Err(FrameError::BadRequest { .. })
        ));
        assert!(valid_event("Chat.message-1"));
    }
}
