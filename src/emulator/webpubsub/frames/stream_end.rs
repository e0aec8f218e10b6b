//! `streamEnd`: the publisher ends a group stream, normally or with its own error (classified
//! `UserError`); members get the terminal message and the publisher `streamClosed`
//! (`docs/webpubsub.md` §9).

use serde_json::{json, Map, Value};

use super::stream_start::stream_id;
use super::{ClientFrameError, Fields};
use crate::emulator::webpubsub::connected::Connected;
use crate::emulator::webpubsub::stream_ends::Publisher;
use crate::emulator::webpubsub::streams::{self, StreamError};

/// The longest error message or code kept from a client's `streamEnd`.
const MAX_ERROR_CHARS: usize = 1024;

/// `{"type":"streamEnd","streamId":…,"error"?:{"message":…,"userErrorCode":…}}`.
#[derive(Debug)]
pub struct StreamEnd {
    /// The stream's id.
    pub stream_id: String,
    /// The members' `error` (`UserError`), if the publisher failed the stream.
    pub error: Option<Value>,
}

impl StreamEnd {
    /// From the frame's fields; the error's strings are cut to [`MAX_ERROR_CHARS`].
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        let stream_id = stream_id(fields.get("streamId"))?;
        let error = match fields.get("error") {
            None | Some(Value::Null) => None,
            Some(Value::Object(given)) => {
                let mut error = Map::new();
                error.insert("name".into(), "UserError".into());
                for key in ["message", "userErrorCode"] {
                    if let Some(Value::String(text)) = given.get(key) {
                        let text: String = text.chars().take(MAX_ERROR_CHARS).collect();
                        error.insert(key.into(), text.into());
                    }
                }
                Some(Value::Object(error))
            }
            Some(_) => {
                return Err(ClientFrameError::Close(
                    "streamEnd's error must be an object".into(),
                ))
            }
        };
        Ok(Self { stream_id, error })
    }

    /// Ends the stream: the terminal message to the members, `streamClosed` to the publisher.
    pub fn apply(self, client: &Connected) {
        end(client, &self.stream_id, self.error, None);
    }
}

/// Ends stream `id` because of `error` (`streamClosed` with it to the publisher; the members'
/// terminal message carries its name).
pub fn fail(client: &Connected, id: &str, error: StreamError) {
    let members = json!({ "name": error.name, "message": error.message });
    end(client, id, Some(members), Some(error));
}

fn end(client: &Connected, id: &str, members: Option<Value>, publisher: Option<StreamError>) {
    let Some(Some(stream)) = client.with(|c| c.streams.end(id)) else {
        client
            .outbox
            .push(streams::closed(id, Some(&StreamError::not_found())));
        return;
    };
    let context = &client.context;
    let from = Publisher {
        hub: &context.hub,
        connection_id: &context.connection_id,
        user: context.user.as_ref(),
    };
    client
        .state
        .connections
        .end_stream(&from, id, &stream, members);
    client.outbox.push(streams::closed(id, publisher.as_ref()));
}
