//! `sendToGroup`: the client publishes to a group (leaving itself out with `noEcho`), if its
//! roles or grants allow it; members get a message `from` the group with `fromUserId`.

use serde_json::Value;

use super::{ClientFrameError, Fields};
use crate::emulator::webpubsub::connected::Connected;
use crate::emulator::webpubsub::connections::Delivery;
use crate::emulator::webpubsub::message::{MessageData, Origin};
use crate::service::recipients::Recipients;
use crate::service::webpubsub::Permission;

/// `{"type":"sendToGroup","group":…,"data":…,"dataType":…,"noEcho":…,"ackId":…}`.
#[derive(Debug)]
pub struct SendToGroup {
    /// The group.
    pub group: String,
    /// Its ack id.
    pub ack_id: Option<u64>,
    /// Leave the sender out.
    pub no_echo: bool,
    /// The data.
    pub data: MessageData,
}

impl SendToGroup {
    /// From the frame's fields.
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        let group = fields.group()?;
        let no_echo = match fields.get("noEcho") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(fields.fail("noEcho must be true or false")),
        };
        Ok(Self {
            group,
            ack_id: fields.ack_id,
            no_echo,
            data: fields.data()?,
        })
    }

    /// Acks, then sends if allowed.
    pub fn apply(self, client: &Connected) {
        if !client.guarded(
            self.ack_id,
            Permission::SendToGroup,
            &self.group,
            |_| Ok(()),
        ) {
            return;
        }
        let context = &client.context;
        let origin = Origin::Group {
            group: self.group.clone(),
            from_user: context.user.clone(),
        };
        let excluded = if self.no_echo {
            vec![context.connection_id.clone()]
        } else {
            Vec::new()
        };
        client.send(
            &Recipients::Group(self.group),
            &excluded,
            &Delivery::new(&origin, &self.data, None),
        );
    }
}
