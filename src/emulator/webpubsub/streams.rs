//! A publisher connection's outbound group streams (`docs/webpubsub.md` §9): which streams are
//! open, the next fragment id each expects, and when each was last active; and the frames the
//! service sends about them (`streamAck`, `streamNack`, `streamClosed`, and the group messages
//! with a `stream` object that members get).
//!
//! Nothing is buffered per stream: a fragment is either the next one (published at once), a
//! duplicate (acknowledged again) or too far ahead (nacked). The state belongs to the connection,
//! so a reliable client that recovers its connection carries on with its streams.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::message::{self, MessageData, Origin};
use crate::emulator::outbox::Frame;

/// The most streams one connection may have open at once.
pub const MAX_STREAMS_PER_CONNECTION: usize = 16;
/// The most streams open at once in the whole process (every emulator together).
pub const MAX_STREAMS: usize = 10_000;
/// The idle timeout when the client names none (the service's default).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest idle timeout a client may ask for.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
/// The longest `streamId`.
pub const MAX_STREAM_ID_CHARS: usize = 256;

/// Streams open in the process (bounded by [`MAX_STREAMS`]).
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// One open stream.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Its group.
    pub group: String,
    /// Leave the publisher out.
    pub no_echo: bool,
    /// The id the next fragment must have.
    pub expected: u64,
    idle: Duration,
    last_active: Instant,
    /// When it was opened.
    pub started: Instant,
}

/// Why a stream frame is refused: `streamClosed`'s error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// `StreamNotFound`, `Forbidden`, `BadRequest`, `InternalServerError` or `IdleTimeout`.
    pub name: &'static str,
    /// What happened.
    pub message: String,
}

impl StreamError {
    /// An error named `name`.
    pub fn new(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }

    /// The stream is not open on this connection.
    pub fn not_found() -> Self {
        Self::new(
            "StreamNotFound",
            "no stream with this streamId is open on this connection",
        )
    }
}

/// What became of a data fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fragment {
    /// It is the next one: publish it to `group`; `expected` is now one more.
    Publish {
        /// The stream's group.
        group: String,
        /// Leave the publisher out.
        no_echo: bool,
    },
    /// Already published (acknowledge `expected` again).
    Duplicate,
    /// Ahead of `expected` (nack it).
    TooHigh,
    /// A keepalive: the idle timer is reset.
    KeptAlive,
}

/// A connection's open streams. Dropping it frees their places in the process-wide bound.
#[derive(Debug, Default)]
pub struct Streams {
    open: HashMap<String, Stream>,
}

impl Drop for Streams {
    fn drop(&mut self) {
        OPEN.fetch_sub(self.open.len(), Ordering::Relaxed);
    }
}

impl Streams {
    /// Opens stream `id` to `group`, if `id` is not open and the bounds allow it.
    pub fn start(
        &mut self,
        id: &str,
        group: &str,
        no_echo: bool,
        idle: Duration,
    ) -> Result<(), StreamError> {
        if self.open.contains_key(id) {
            return Err(StreamError::new(
                "BadRequest",
                "a stream with this streamId is already open on this connection",
            ));
        }
        if self.open.len() >= MAX_STREAMS_PER_CONNECTION {
            return Err(StreamError::new("BadRequest", format!("the connection already has {MAX_STREAMS_PER_CONNECTION} open streams (the emulator's limit); end one first")));
        }
        if OPEN.fetch_add(1, Ordering::Relaxed) >= MAX_STREAMS {
            OPEN.fetch_sub(1, Ordering::Relaxed);
            return Err(StreamError::new(
                "InternalServerError",
                format!("the emulator already has {MAX_STREAMS} open streams"),
            ));
        }
        let stream = Stream {
            group: group.to_string(),
            no_echo,
            expected: 1,
            idle,
            last_active: Instant::now(),
            started: Instant::now(),
        };
        self.open.insert(id.to_string(), stream);
        Ok(())
    }

    /// Applies fragment `sequence` (`None`: a keepalive) of stream `id`; the stream's next
    /// expected id follows, or `None` if the stream is not open.
    pub fn data(&mut self, id: &str, sequence: Option<u64>) -> Option<(Fragment, u64)> {
        let stream = self.open.get_mut(id)?;
        stream.last_active = Instant::now();
        let fragment = match sequence {
            None => Fragment::KeptAlive,
            Some(s) if s == stream.expected => {
                stream.expected += 1;
                Fragment::Publish {
                    group: stream.group.clone(),
                    no_echo: stream.no_echo,
                }
            }
            Some(s) if s < stream.expected => Fragment::Duplicate,
            Some(_) => Fragment::TooHigh,
        };
        Some((fragment, stream.expected))
    }

    /// The open streams by id (for the dashboard).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Stream)> {
        self.open.iter().map(|(id, s)| (id.as_str(), s))
    }

    /// Closes stream `id`, returning it if it was open.
    pub fn end(&mut self, id: &str) -> Option<Stream> {
        let stream = self.open.remove(id)?;
        OPEN.fetch_sub(1, Ordering::Relaxed);
        Some(stream)
    }

    /// Closes the streams idle for longer than their timeout, returning them.
    pub fn end_idle(&mut self) -> Vec<(String, Stream)> {
        let idle: Vec<String> = self
            .open
            .iter()
            .filter(|(_, s)| s.last_active.elapsed() >= s.idle)
            .map(|(id, _)| id.clone())
            .collect();
        idle.into_iter()
            .filter_map(|id| self.end(&id).map(|s| (id, s)))
            .collect()
    }

    /// Closes every stream, returning them.
    pub fn end_all(&mut self) -> Vec<(String, Stream)> {
        let ids: Vec<String> = self.open.keys().cloned().collect();
        ids.into_iter()
            .filter_map(|id| self.end(&id).map(|s| (id, s)))
            .collect()
    }
}

/// `{"type":"streamAck","streamId":…,"expectedSequenceId":…}`.
pub fn ack(id: &str, expected: u64) -> Frame {
    let value = json!({ "type": "streamAck", "streamId": id, "expectedSequenceId": expected });
    Frame::text(value.to_string())
}

/// `{"type":"streamNack","streamId":…,"name":"InvalidSequenceId",…}`.
pub fn nack(id: &str, expected: u64) -> Frame {
    let value = json!({
        "type": "streamNack", "streamId": id, "name": "InvalidSequenceId",
        "message": format!("the next fragment of this stream must have streamSequenceId {expected}"),
        "expectedSequenceId": expected,
    });
    Frame::text(value.to_string())
}

/// `{"type":"streamClosed","streamId":…}`, with the error if it did not end normally.
pub fn closed(id: &str, error: Option<&StreamError>) -> Frame {
    let mut value = json!({ "type": "streamClosed", "streamId": id });
    if let Some(StreamError { name, message }) = error {
        value["error"] = json!({ "name": name, "message": message });
    }
    Frame::text(value.to_string())
}

/// A fragment as members get it: the group message with `"stream":{streamId,streamSequenceId}`.
pub fn fragment_json(origin: &Origin, id: &str, sequence: u64, data: &MessageData) -> String {
    let stream = json!({ "streamId": id, "streamSequenceId": sequence });
    with_stream(&message::message_json(origin, data), &stream)
}

/// The terminal message members get: `endOfStream` at the next expected id, with the error if
/// the stream failed. It carries `"dataType":"json"` and no `data`: the 1.1.0 client drops a
/// group message without a `dataType`, and counts a json one without `data` as no payload.
pub fn terminal_json(origin: &Origin, id: &str, sequence: u64, error: Option<Value>) -> String {
    let mut stream = Map::new();
    stream.insert("streamId".into(), id.into());
    stream.insert("streamSequenceId".into(), sequence.into());
    stream.insert("endOfStream".into(), true.into());
    if let Some(error) = error {
        stream.insert("error".into(), error);
    }
    let head = message::message_json(origin, &MessageData::text(""));
    let head = head
        .rsplit_once(r#","dataType":"text""#)
        .map_or(head.as_str(), |(head, _)| head);
    format!(
        r#"{head},"dataType":"json","stream":{}}}"#,
        Value::Object(stream)
    )
}

/// `json` (an object) with `"stream":…` added at its end.
fn with_stream(json: &str, stream: &Value) -> String {
    format!(r#"{},"stream":{stream}}}"#, &json[..json.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_in_order_duplicates_and_gaps() {
        let mut streams = Streams::default();
        streams
            .start("s", "g", false, DEFAULT_IDLE_TIMEOUT)
            .unwrap();
        assert_eq!(
            streams
                .start("s", "g", false, DEFAULT_IDLE_TIMEOUT)
                .unwrap_err()
                .name,
            "BadRequest"
        );
        let publish = Fragment::Publish {
            group: "g".into(),
            no_echo: false,
        };
        assert_eq!(streams.data("s", Some(1)), Some((publish.clone(), 2)));
        assert_eq!(streams.data("s", Some(1)), Some((Fragment::Duplicate, 2)));
        assert_eq!(streams.data("s", Some(3)), Some((Fragment::TooHigh, 2)));
        assert_eq!(streams.data("s", None), Some((Fragment::KeptAlive, 2)));
        assert_eq!(streams.data("s", Some(2)), Some((publish, 3)));
        assert_eq!(streams.data("t", Some(1)), None);
        assert_eq!(streams.end("s").map(|s| s.expected), Some(3));
        assert!(streams.end("s").is_none());
        streams
            .start("s", "g", false, DEFAULT_IDLE_TIMEOUT)
            .unwrap();
    }

    #[test]
    fn bounded_and_idle() {
        let mut streams = Streams::default();
        for i in 0..MAX_STREAMS_PER_CONNECTION {
            streams
                .start(&i.to_string(), "g", false, Duration::ZERO)
                .unwrap();
        }
        assert!(streams
            .start("one more", "g", false, Duration::ZERO)
            .is_err());
        assert_eq!(streams.end_idle().len(), MAX_STREAMS_PER_CONNECTION);
        assert!(streams.end_all().is_empty());
    }

    #[test]
    fn renders_member_frames() {
        let origin = Origin::Group {
            group: "g".into(),
            from_user: Some("u".into()),
        };
        assert_eq!(
            fragment_json(&origin, "s", 1, &MessageData::text("hi")),
            r#"{"type":"message","from":"group","group":"g","fromUserId":"u","dataType":"text","data":"hi","stream":{"streamId":"s","streamSequenceId":1}}"#
        );
        assert_eq!(
            terminal_json(&origin, "s", 2, None),
            r#"{"type":"message","from":"group","group":"g","fromUserId":"u","dataType":"json","stream":{"streamId":"s","streamSequenceId":2,"endOfStream":true}}"#
        );
    }
}
