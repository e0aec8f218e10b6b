//! A simple client's frames (no json subprotocol): raw text or binary, which go to a group
//! (`webpubsub_mode=sendToGroup`) or to the event handler as the `message` user event, whose
//! answer's body comes back as a raw frame.

use crate::emulator::outbox::Frame;
use crate::emulator::webpubsub::closing::POLICY_VIOLATION;
use crate::emulator::webpubsub::connected::Connected;
use crate::emulator::webpubsub::connections::Delivery;
use crate::emulator::webpubsub::events::Event;
use crate::emulator::webpubsub::message::{DataType, MessageData, Origin};
use crate::service::recipients::Recipients;

/// The close code of a client whose frame the handler refused.
const HANDLER_FAILED: u16 = 1011;

/// What a simple client's frames do.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Go to the event handler as the `message` user event (default).
    SendEvent,
    /// Go to this group.
    SendToGroup(String),
}

/// One raw frame.
#[derive(Debug)]
pub struct RawFrame(pub MessageData);

impl RawFrame {
    /// Sends it where `mode` says.
    pub async fn apply(self, mode: &Mode, client: &Connected) {
        let data = self.0;
        match mode {
            Mode::SendToGroup(group) => {
                let origin = Origin::Group {
                    group: group.clone(),
                    from_user: client.context.user.clone(),
                };
                let delivery = Delivery::new(&origin, &data, None);
                client.send(&Recipients::Group(group.clone()), &[], &delivery);
            }
            Mode::SendEvent => match client.call(Event::User("message"), &data).await {
                Ok(None) => client.outbox.close(
                    POLICY_VIOLATION,
                    "no event handler takes this hub's `message` events, so the frame cannot be delivered",
                ),
                Ok(Some(answer)) if answer.status.is_success() => {
                    if !answer.body.is_empty() {
                        let content_type = answer.content_type.as_deref();
                        let frame = if content_type.and_then(DataType::from_content_type)
                            == Some(DataType::Binary)
                        {
                            Frame::binary(answer.body)
                        } else {
                            Frame::text(String::from_utf8_lossy(&answer.body))
                        };
                        client.outbox.push(frame);
                    }
                }
                Ok(Some(answer)) => {
                    let answered = format!("the event handler answered {}", answer.status);
                    client.outbox.close(HANDLER_FAILED, &answered);
                }
                Err(e) => client.outbox.close(HANDLER_FAILED, &e.to_string()),
            },
        }
    }
}
