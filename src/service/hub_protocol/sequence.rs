//! Which hub messages stateful reconnect numbers (`docs/stateful-reconnect.md` §3): Invocation,
//! StreamItem, Completion, StreamInvocation and CancelInvocation (types 1 to 5). Each side counts
//! the ones it sends and the ones it receives, from 1; Ping, Close, Ack, Sequence and the
//! handshake are never counted. The ids are implicit: no message carries its own.

use super::json::{self, ClientMessage, RECORD_SEPARATOR};
use super::message::{HubMessage, Protocol};
use super::msgpack;

/// Whether a message of hub protocol `type` `kind` is numbered.
pub fn is_tracked_type(kind: u64) -> bool {
    (1..=5).contains(&kind)
}

impl HubMessage {
    /// Whether stateful reconnect numbers this message.
    pub fn is_tracked(&self) -> bool {
        match self {
            Self::Invocation { .. }
            | Self::InvokeClient { .. }
            | Self::StreamItem { .. }
            | Self::Completion { .. } => true,
            Self::Ping | Self::Close { .. } | Self::Ack { .. } | Self::Sequence { .. } => false,
        }
    }
}

impl ClientMessage {
    /// Whether stateful reconnect numbers this message.
    pub fn is_tracked(&self) -> bool {
        match self {
            Self::Invocation { .. }
            | Self::StreamInvocation { .. }
            | Self::Completion { .. }
            | Self::CancelInvocation { .. } => true,
            Self::Ping | Self::Close { .. } | Self::Ack { .. } | Self::Sequence { .. } => false,
            Self::Other { kind } => is_tracked_type(*kind),
        }
    }
}

/// How many numbered messages `bytes`, framed for `protocol`, hold (what a peer reading them
/// would count); counting stops at the first message that cannot be read.
pub fn count_tracked(bytes: &[u8], protocol: Protocol) -> u32 {
    let tracked: Vec<bool> = match protocol {
        Protocol::Json => bytes
            .split(|b| *b == RECORD_SEPARATOR)
            .filter(|record| !record.is_empty())
            .map_while(|record| json::parse(std::str::from_utf8(record).ok()?).ok())
            .map(|message| message.is_tracked())
            .collect(),
        Protocol::MessagePack => {
            let mut frames = msgpack::Frames::new(usize::MAX);
            frames.feed(bytes);
            std::iter::from_fn(|| frames.next_message()?.ok())
                .map_while(|message| msgpack::message_type(&msgpack::decode(&message).ok()?).ok())
                .map(is_tracked_type)
                .collect()
        }
    };
    u32::try_from(tracked.into_iter().filter(|t| *t).count()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invocations_and_completions_count_the_rest_do_not() {
        let invocation = HubMessage::Invocation {
            target: "t".into(),
            arguments: json!([]),
        };
        let completion = HubMessage::Completion {
            invocation_id: "1".into(),
            outcome: Ok(None),
        };
        assert!(invocation.is_tracked() && completion.is_tracked());
        assert!(!HubMessage::Ping.is_tracked());
        assert!(!HubMessage::Ack { sequence_id: 1 }.is_tracked());
        for (kind, tracked) in [(1, true), (2, true), (5, true), (6, false), (9, false)] {
            assert_eq!(is_tracked_type(kind), tracked, "type {kind}");
            assert_eq!(ClientMessage::Other { kind }.is_tracked(), tracked);
        }
        assert!(ClientMessage::StreamInvocation {
            invocation_id: None
        }
        .is_tracked());
        assert!(!ClientMessage::Sequence { sequence_id: 1 }.is_tracked());
    }

    #[test]
    fn framed_bytes_are_counted_message_by_message() {
        let json = b"{\"type\":3,\"invocationId\":\"1\"}\x1e{\"type\":6}\x1e{\"type\":1,\"target\":\"a\",\"arguments\":[]}\x1e";
        assert_eq!(count_tracked(json, Protocol::Json), 2);
        assert_eq!(
            count_tracked(
                b"{\"type\":3,\"invocationId\":\"1\"}\x1enot json\x1e",
                Protocol::Json
            ),
            1
        );
        let mut packed = msgpack::completion_frame("1", Ok(None));
        packed.extend(msgpack::ping_frame());
        packed.extend(msgpack::invocation_frame("a", &json!([1])));
        assert_eq!(count_tracked(&packed, Protocol::MessagePack), 2);
        assert_eq!(count_tracked(&[0x05, 0x91], Protocol::MessagePack), 0);
    }

    #[test]
    fn ack_and_sequence_are_read_and_written_in_json() {
        use super::super::json::{encode, parse};
        use super::super::ProtocolError;
        assert_eq!(
            parse(r#"{"type":8,"sequenceId":3}"#).unwrap(),
            ClientMessage::Ack { sequence_id: 3 }
        );
        assert_eq!(
            parse(r#"{"type":9,"sequenceId":1}"#).unwrap(),
            ClientMessage::Sequence { sequence_id: 1 }
        );
        for bad in [
            r#"{"type":9}"#,
            r#"{"type":9,"sequenceId":"1"}"#,
            r#"{"type":8,"sequenceId":-1}"#,
            r#"{"type":8,"sequenceId":1.5}"#,
        ] {
            assert_eq!(parse(bad), Err(ProtocolError::BadSequenceId), "{bad}");
        }
        assert_eq!(
            parse(r#"{"type":3,"invocationId":"1"}"#).unwrap(),
            ClientMessage::Completion {
                invocation_id: "1".into(),
                outcome: Ok(None)
            }
        );
        assert_eq!(
            encode(&HubMessage::Sequence { sequence_id: 12 }),
            b"{\"type\":9,\"sequenceId\":12}\x1e".to_vec()
        );
        assert_eq!(
            encode(&HubMessage::Ack { sequence_id: 0 }),
            b"{\"type\":8,\"sequenceId\":0}\x1e".to_vec()
        );
    }

    #[test]
    fn ack_and_sequence_have_the_spec_encodings() {
        assert_eq!(
            msgpack::encode(&HubMessage::Ack { sequence_id: 1 }),
            vec![0x03, 0x92, 0x08, 0x01]
        );
        assert_eq!(
            msgpack::encode(&HubMessage::Sequence { sequence_id: 300 }),
            vec![0x05, 0x92, 0x09, 0xcd, 0x01, 0x2c]
        );
    }
}
