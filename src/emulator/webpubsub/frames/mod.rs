//! The frames a json-subprotocol client sends (`json.webpubsub.azure.v1` and its reliable
//! variant, `docs/webpubsub.md` §4), each kind a type in its own file that parses its fields and
//! applies itself to its [`Connected`] client (`group_membership.rs` for joining and leaving,
//! `send_to_group.rs`, the group streams' `stream_start.rs`, `stream_data.rs` and
//! `stream_end.rs`, `send_event.rs`, `invoke.rs` with `cancelInvocation`, `sequence_ack.rs`,
//! `ping.rs`), the raw frames of simple
//! clients (`raw.rs`), and the service's `system` messages (its acks are [`super::ack`]).
//!
//! A frame that is not a JSON object with a known `type`, or has a bad `ackId`, closes the client
//! (the service "declines" malformed frames); a known frame with a bad field is answered with a
//! `BadRequest` ack when it has an `ackId`, and closes the client otherwise.

mod group_membership;
pub mod invoke;
mod ping;
pub mod raw;
mod send_event;
mod send_to_group;
mod sequence_ack;
mod stream_data;
mod stream_end;
mod stream_start;

use serde_json::{json, Map, Value};

use super::ack::AckError;
use super::closing::POLICY_VIOLATION;
use super::connected::Connected;
use super::message::MessageData;
use crate::emulator::outbox::Frame;
use crate::service::names;
pub use group_membership::GroupMembership;
pub use invoke::{CancelInvocation, Invoke};
pub use ping::Ping;
pub use send_event::SendEvent;
pub use send_to_group::SendToGroup;
pub use sequence_ack::SequenceAck;
pub use stream_data::StreamData;
pub use stream_end::StreamEnd;
pub use stream_start::StreamStart;

/// A json client's frame.
#[derive(Debug)]
pub enum ClientFrame {
    /// `joinGroup`.
    JoinGroup(GroupMembership),
    /// `leaveGroup`.
    LeaveGroup(GroupMembership),
    /// `sendToGroup`.
    SendToGroup(SendToGroup),
    /// `event`.
    SendEvent(SendEvent),
    /// `invoke`.
    Invoke(Invoke),
    /// `cancelInvocation`.
    CancelInvocation(CancelInvocation),
    /// `sendToGroup` with a `stream`: a group stream opens.
    StreamStart(StreamStart),
    /// `streamData`.
    StreamData(StreamData),
    /// `streamEnd`.
    StreamEnd(StreamEnd),
    /// `sequenceAck` (reliable).
    SequenceAck(SequenceAck),
    /// `ping`.
    Ping(Ping),
}

/// A frame that cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientFrameError {
    /// Close the client with 1008 and this reason.
    Close(String),
    /// Answer `{"type":"ack","ackId":…,"success":false,"error":{"name":"BadRequest",…}}`.
    BadRequest {
        /// The frame's ack id.
        ack_id: u64,
        /// What is wrong.
        message: String,
    },
}

/// A frame's fields, and how a mistake in them is answered.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// The frame's `ackId`.
    pub ack_id: Option<u64>,
}

impl Fields<'_> {
    /// The field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    /// A mistake: a `BadRequest` ack when the frame has an `ackId`, else the client is closed.
    pub fn fail(&self, message: impl Into<String>) -> ClientFrameError {
        let message = message.into();
        match self.ack_id {
            Some(ack_id) => ClientFrameError::BadRequest { ack_id, message },
            None => ClientFrameError::Close(message),
        }
    }

    /// The `group`, a valid group name.
    pub fn group(&self) -> Result<String, ClientFrameError> {
        match self.get("group") {
            Some(Value::String(g)) => names::validate_group(g)
                .map(|()| g.clone())
                .map_err(|e| self.fail(e.to_string())),
            _ => Err(self.fail("group (a string) is required")),
        }
    }

    /// The message in `data` and `dataType`.
    pub fn data(&self) -> Result<MessageData, ClientFrameError> {
        MessageData::from_request(self.get("dataType"), self.get("data")).map_err(|m| self.fail(m))
    }
}

impl ClientFrame {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Self, ClientFrameError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ClientFrameError::Close(format!("the frame is not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(ClientFrameError::Close(
                "the frame must be a JSON object with a `type`".into(),
            ));
        };
        let ack_id = match map.get("ackId") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_u64() => n.as_u64(),
            Some(other) => {
                let got: String = other.to_string().chars().take(40).collect();
                return Err(ClientFrameError::Close(format!(
                    "ackId must be an unsigned whole number, got {got}"
                )));
            }
        };
        let Some(Value::String(kind)) = map.get("type") else {
            return Err(ClientFrameError::Close(
                "the frame has no `type` (a string)".into(),
            ));
        };
        let fields = Fields { map: &map, ack_id };
        Ok(match kind.as_str() {
            "joinGroup" => Self::JoinGroup(GroupMembership::parse(&fields)?),
            "leaveGroup" => Self::LeaveGroup(GroupMembership::parse(&fields)?),
            "sendToGroup" if map.get("stream").is_some_and(|s| !s.is_null()) => {
                Self::StreamStart(StreamStart::parse(&fields)?)
            }
            "streamData" => Self::StreamData(StreamData::parse(&fields)?),
            "streamEnd" => Self::StreamEnd(StreamEnd::parse(&fields)?),
            "sendToGroup" => Self::SendToGroup(SendToGroup::parse(&fields)?),
            "event" => Self::SendEvent(SendEvent::parse(&fields)?),
            "invoke" => Self::Invoke(Invoke::parse(&fields)?),
            "cancelInvocation" => Self::CancelInvocation(CancelInvocation::parse(&fields)?),
            "sequenceAck" => Self::SequenceAck(SequenceAck::parse(&fields)?),
            "ping" => Self::Ping(Ping),
            other => {
                let other: String = other.chars().take(64).collect();
                return Err(fields.fail(format!(
                    "type {other:?} is not supported; use joinGroup, leaveGroup, sendToGroup, streamData, streamEnd, event, invoke, cancelInvocation, sequenceAck or ping"
                )));
            }
        })
    }

    /// Does what the frame asks, answering it (an ack, a pong) where it is answered.
    pub async fn apply(self, client: &Connected) {
        match self {
            Self::JoinGroup(frame) => frame.apply(client, true),
            Self::LeaveGroup(frame) => frame.apply(client, false),
            Self::SendToGroup(frame) => frame.apply(client),
            Self::SendEvent(frame) => frame.apply(client).await,
            Self::Invoke(frame) => frame.apply(client),
            Self::CancelInvocation(frame) => frame.apply(client),
            Self::StreamStart(frame) => frame.apply(client),
            Self::StreamData(frame) => frame.apply(client),
            Self::StreamEnd(frame) => frame.apply(client),
            Self::SequenceAck(frame) => frame.apply(client),
            Self::Ping(frame) => frame.apply(client),
        }
    }
}

/// Serves one text frame of a json client: applied, or refused as [`ClientFrameError`] says.
pub async fn receive(client: &Connected, text: &str) {
    match ClientFrame::parse(text) {
        Ok(frame) => frame.apply(client).await,
        Err(ClientFrameError::Close(reason)) => client.outbox.close(POLICY_VIOLATION, &reason),
        Err(ClientFrameError::BadRequest { ack_id, message }) => {
            client.ack(Some(ack_id), Err(AckError::bad_request(message)));
        }
    }
}

/// The `connected` system message.
pub fn connected(
    connection_id: &str,
    user: Option<&str>,
    reconnection_token: Option<&str>,
) -> Frame {
    let mut value = json!({ "type": "system", "event": "connected", "userId": user, "connectionId": connection_id });
    if let Some(token) = reconnection_token {
        value["reconnectionToken"] = token.into();
    }
    Frame::text(value.to_string())
}

/// The `disconnected` system message.
pub fn disconnected(reason: &str) -> String {
    json!({ "type": "system", "event": "disconnected", "message": reason }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ClientFrame, ClientFrameError> {
        ClientFrame::parse(text)
    }

    #[test]
    fn frames_and_their_mistakes() {
        assert!(matches!(
            parse(r#"{"type":"joinGroup","group":"g","ackId":1}"#),
            Ok(ClientFrame::JoinGroup(GroupMembership {
                ack_id: Some(1),
                ..
            }))
        ));
        assert!(matches!(
            parse(
                r#"{"type":"sendToGroup","group":"g","dataType":"text","data":"x","noEcho":true}"#
            ),
            Ok(ClientFrame::SendToGroup(SendToGroup { no_echo: true, .. }))
        ));
        assert!(matches!(
            parse(r#"{"type":"ping"}"#),
            Ok(ClientFrame::Ping(Ping))
        ));
        assert!(
            matches!(parse("nope"), Err(ClientFrameError::Close(m)) if m.contains("not valid JSON"))
        );
        assert!(matches!(parse("[1]"), Err(ClientFrameError::Close(_))));
        assert!(
            matches!(parse(r#"{"type":"joinGroup","group":"g","ackId":"1"}"#), Err(ClientFrameError::Close(m)) if m.contains("ackId"))
        );
        assert!(matches!(
            parse(r#"{"type":"joinGroup","ackId":2}"#),
            Err(ClientFrameError::BadRequest { ack_id: 2, .. })
        ));
        assert!(
            matches!(parse(r#"{"type":"fly","ackId":3}"#), Err(ClientFrameError::BadRequest { ack_id: 3, message }) if message.contains("fly"))
        );
        assert!(matches!(
            parse(r#"{"type":"fly"}"#),
            Err(ClientFrameError::Close(_))
        ));
        assert!(matches!(
            parse(r#"{"type":"event","event":"1x","data":1,"ackId":4}"#),
            Err(ClientFrameError::BadRequest { .. })
        ));
        assert!(matches!(
            parse(r#"{"type":"sequenceAck","sequenceId":-1,"ackId":5}"#),
            Err(ClientFrameError::Close(_))
        ));
    }
}
