//! `sendToGroup` with a `stream` object and no data: the client opens a group stream
//! (`docs/webpubsub.md` §9). Allowed as `sendToGroup` is; answered with `streamAck
//! {expectedSequenceId: 1}`, or `streamClosed` with the reason it was refused.

use std::time::Duration;

use serde_json::Value;

use super::{ClientFrameError, Fields};
use crate::emulator::webpubsub::connected::Connected;
use crate::emulator::webpubsub::streams::{
    self, StreamError, DEFAULT_IDLE_TIMEOUT, MAX_IDLE_TIMEOUT,
};
use crate::service::webpubsub::Permission;

/// `{"type":"sendToGroup","group":…,"noEcho":…,"stream":{"streamId":…,"idleTimeoutMs":…}}`.
#[derive(Debug)]
pub struct StreamStart {
    /// The stream's id.
    pub stream_id: String,
    /// The group, or why the frame cannot open a stream.
    pub group: Result<String, String>,
    /// Leave the publisher out.
    pub no_echo: bool,
    /// The idle timeout.
    pub idle: Duration,
}

/// The `streamId` of a stream frame: a non-empty string of at most
/// [`streams::MAX_STREAM_ID_CHARS`]; without one the frame cannot be answered, so the client is
/// closed.
pub fn stream_id(value: Option<&Value>) -> Result<String, ClientFrameError> {
    match value {
        Some(Value::String(id))
            if !id.is_empty() && id.chars().count() <= streams::MAX_STREAM_ID_CHARS =>
        {
            Ok(id.clone())
        }
        _ => Err(ClientFrameError::Close(format!(
            "a stream frame needs streamId, a string of 1 to {} characters",
            streams::MAX_STREAM_ID_CHARS
        ))),
    }
}

impl StreamStart {
    /// From the frame's fields (`stream` is an object).
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        let stream = fields.get("stream").and_then(Value::as_object);
        let stream_id = stream_id(stream.and_then(|s| s.get("streamId")))?;
        let max = MAX_IDLE_TIMEOUT.as_millis() as u64;
        let (idle, idle_error) = match stream.and_then(|s| s.get("idleTimeoutMs")) {
            None | Some(Value::Null) => (DEFAULT_IDLE_TIMEOUT, None),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|ms| (1..=max).contains(&ms)) => {
                (Duration::from_millis(n.as_u64().unwrap_or_default()), None)
            }
            Some(_) => (
                DEFAULT_IDLE_TIMEOUT,
                Some(format!(
                    "idleTimeoutMs must be a whole number from 1 to {max}"
                )),
            ),
        };
        let no_echo = match fields.get("noEcho") {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err("noEcho must be true or false".to_string()),
        };
        let group = fields
            .group()
            .map_err(|_| "group (a valid group name) is required".to_string());
        let data = fields.get("data").is_some() || fields.get("dataType").is_some();
        let group = match (group, no_echo.clone(), idle_error) {
            _ if data => Err("a stream start carries no data; send it in streamData".into()),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Some(e)) => Err(e),
            (Ok(group), Ok(_), None) => Ok(group),
        };
        Ok(Self {
            stream_id,
            group,
            no_echo: no_echo.unwrap_or(false),
            idle,
        })
    }

    /// Opens the stream if the connection may send to the group.
    pub fn apply(self, client: &Connected) {
        let result = self.open(client);
        let frame = match &result {
            Ok(()) => streams::ack(&self.stream_id, 1),
            Err(error) => streams::closed(&self.stream_id, Some(error)),
        };
        client.outbox.push(frame);
    }

    fn open(&self, client: &Connected) -> Result<(), StreamError> {
        let group = self
            .group
            .as_ref()
            .map_err(|e| StreamError::new("BadRequest", e.clone()))?;
        let gone = || StreamError::new("InternalServerError", "the connection is gone");
        match client.permitted(Permission::SendToGroup, group) {
            None => return Err(gone()),
            Some(Err(refusal)) => return Err(StreamError::new("Forbidden", refusal)),
            Some(Ok(())) => {}
        }
        client
            .with(|c| {
                c.streams
                    .start(&self.stream_id, group, self.no_echo, self.idle)
            })
            .ok_or_else(gone)?
    }
}
