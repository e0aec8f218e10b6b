//! `event`: a user event for the event handler (`docs/webpubsub.md` §5). Its answer's body goes
//! back to the client as a message from the server; a handler that refuses the event closes the
//! client (1011). An `ackId` seen before is acked `Duplicate` and the event is not sent again.

use serde_json::Value;

use super::{ClientFrameError, Fields};
use crate::emulator::webpubsub::ack::AckError;
use crate::emulator::webpubsub::connected::Connected;
use crate::emulator::webpubsub::connections::Delivery;
use crate::emulator::webpubsub::events::Event;
use crate::emulator::webpubsub::message::{DataType, MessageData, Origin};
use crate::service::recipients::Recipients;

/// The close code of a client whose event the handler refused.
const HANDLER_FAILED: u16 = 1011;

/// `{"type":"event","event":…,"data":…,"dataType":…,"ackId":…}`.
#[derive(Debug)]
pub struct SendEvent {
    /// The event name.
    pub event: String,
    /// Its ack id.
    pub ack_id: Option<u64>,
    /// The data.
    pub data: MessageData,
}

/// Event names: `^[a-z][a-z0-9_.-]{0,127}$`, ignoring case.
pub fn valid_event(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl SendEvent {
    /// From the frame's fields.
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        let event = match fields.get("event") {
            Some(Value::String(e)) if valid_event(e) => e.clone(),
            Some(Value::String(e)) => return Err(fields.fail(format!("event name {e:?} is not valid: it must start with a letter and hold only letters, digits, `_`, `.` and `-` (at most 128)"))),
            _ => return Err(fields.fail("event (a string) is required")),
        };
        Ok(Self {
            event,
            ack_id: fields.ack_id,
            data: fields.data()?,
        })
    }

    /// Calls the handler, passes its answer on to the client, and acks.
    pub async fn apply(self, client: &Connected) {
        let Self {
            event,
            ack_id,
            data,
        } = self;
        if let Some(ack_id) = ack_id {
            if client.with(|c| c.first_ack(ack_id)) == Some(false) {
                let again = "this ackId was used before; the event was not sent again";
                return client.ack(Some(ack_id), Err(AckError::duplicate(again)));
            }
        }
        match client.call(Event::User(&event), &data).await {
            Ok(None) => client.ack(ack_id, Ok(())),
            Ok(Some(answer)) if answer.status.is_success() => {
                if !answer.body.is_empty() {
                    let data_type = answer
                        .content_type
                        .as_deref()
                        .and_then(DataType::from_content_type)
                        .unwrap_or(DataType::Binary);
                    match MessageData::from_body(data_type, &answer.body) {
                        Ok(reply) => {
                            let to_self =
                                Recipients::Connection(client.context.connection_id.clone());
                            client.send(
                                &to_self,
                                &[],
                                &Delivery::new(&Origin::Server, &reply, None),
                            );
                        }
                        Err(e) => {
                            tracing::warn!(
                                "the event handler's answer to {event:?} is unusable: {e}"
                            )
                        }
                    }
                }
                client.ack(ack_id, Ok(()));
            }
            Ok(Some(answer)) => {
                let status = answer.status;
                let failed = format!("the event handler answered {status}");
                client.ack(ack_id, Err(AckError::internal(failed)));
                let refused = format!("the event handler refused event {event:?} with {status}");
                client.outbox.close(HANDLER_FAILED, &refused);
            }
            Err(e) => client.ack(ack_id, Err(AckError::internal(e.to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_names() {
        assert!(super::valid_event("Chat.message-1"));
        assert!(!super::valid_event("1x"));
        assert!(!super::valid_event(&"a".repeat(129)));
    }
}
