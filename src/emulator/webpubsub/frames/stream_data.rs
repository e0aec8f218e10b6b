//! `streamData`: a fragment of an open group stream, or (with only a `streamId`) a keepalive
//! (`docs/webpubsub.md` §9). The next fragment is published to the group's members at once and
//! acknowledged; a duplicate is acknowledged again, not republished; one too far ahead is nacked
//! (never buffered).

use serde_json::Value;

use super::stream_start::stream_id;
use super::{ClientFrameError, Fields};
use crate::emulator::webpubsub::connected::Connected;
use crate::emulator::webpubsub::connections::Delivery;
use crate::emulator::webpubsub::message::{MessageData, Origin};
use crate::emulator::webpubsub::streams::{self, Fragment, StreamError};
use crate::service::recipients::Recipients;

/// `{"type":"streamData","streamId":…,"streamSequenceId":…,"dataType":…,"data":…}`.
#[derive(Debug)]
pub struct StreamData {
    /// The stream's id.
    pub stream_id: String,
    /// The fragment's id and data; `None` for a keepalive; `Err` if the fragment is malformed.
    pub fragment: Result<Option<(u64, MessageData)>, String>,
}

impl StreamData {
    /// From the frame's fields.
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        let stream_id = stream_id(fields.get("streamId"))?;
        let parts = [
            fields.get("streamSequenceId"),
            fields.get("dataType"),
            fields.get("data"),
        ];
        let fragment = match parts {
            [None, None, None] => Ok(None),
            [Some(Value::Number(n)), data_type @ Some(_), data @ Some(_)]
                if n.as_u64().is_some_and(|s| s > 0) =>
            {
                MessageData::from_request(data_type, data)
                    .map(|data| Some((n.as_u64().unwrap_or_default(), data)))
            }
            _ => Err("a fragment needs streamSequenceId (a whole number from 1), dataType and data; a keepalive has none of them".into()),
        };
        Ok(Self {
            stream_id,
            fragment,
        })
    }

    /// Publishes, acknowledges or nacks the fragment; a malformed one closes the stream.
    pub fn apply(self, client: &Connected) {
        let id = &self.stream_id;
        let fragment = match self.fragment {
            Ok(fragment) => fragment,
            Err(message) => {
                return super::stream_end::fail(client, id, StreamError::new("BadRequest", message))
            }
        };
        let sequence = fragment.as_ref().map(|(s, _)| *s);
        let Some(Some((outcome, expected))) = client.with(|c| c.streams.data(id, sequence)) else {
            client
                .outbox
                .push(streams::closed(id, Some(&StreamError::not_found())));
            return;
        };
        match outcome {
            Fragment::KeptAlive => {}
            Fragment::TooHigh => {
                client.outbox.push(streams::nack(id, expected));
            }
            Fragment::Duplicate => {
                client.outbox.push(streams::ack(id, expected));
            }
            Fragment::Publish { group, no_echo } => {
                let (sequence, data) = fragment.unwrap_or((0, MessageData::text("")));
                let context = &client.context;
                let origin = Origin::Group {
                    group: group.clone(),
                    from_user: context.user.clone(),
                };
                let json = streams::fragment_json(&origin, id, sequence, &data);
                let excluded = if no_echo {
                    vec![context.connection_id.clone()]
                } else {
                    Vec::new()
                };
                let delivery = Delivery::rendered(json, Some(data.raw.clone()));
                client.send(&Recipients::Group(group), &excluded, &delivery);
                client.outbox.push(streams::ack(id, expected));
            }
        }
    }
}
