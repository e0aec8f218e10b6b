//! `joinGroup` and `leaveGroup`: the client joins or leaves a group, if its roles or grants
//! allow it, and the frame is acked.

use super::{ClientFrameError, Fields};
use crate::emulator::webpubsub::ack::AckError;
use crate::emulator::webpubsub::connected::Connected;
use crate::service::webpubsub::Permission;

/// `{"type":"joinGroup"|"leaveGroup","group":…,"ackId":…}`.
#[derive(Debug)]
pub struct GroupMembership {
    /// The group.
    pub group: String,
    /// Its ack id.
    pub ack_id: Option<u64>,
}

impl GroupMembership {
    /// From the frame's fields.
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        Ok(Self {
            group: fields.group()?,
            ack_id: fields.ack_id,
        })
    }

    /// Joins (`join`) or leaves, and acks.
    pub fn apply(self, client: &Connected, join: bool) {
        let Self { group, ack_id } = self;
        client.guarded(ack_id, Permission::JoinLeaveGroup, &group, |c| {
            if join {
                c.groups
                    .join(&group)
                    .map_err(|limit| AckError::bad_request(limit.to_string()))
            } else {
                c.groups.leave(&group);
                Ok(())
            }
        });
        let id = &client.context.connection_id;
        client.state.connections.changed(id);
    }
}
