//! `joinGroup`: the client joins a group, if its roles or grants allow it.

use super::{ClientFrameError, Fields};
use crate::emulator::webpubsub::connected::Connected;
use crate::service::webpubsub::Permission;

/// `{"type":"joinGroup","group":…,"ackId":…}`.
#[derive(Debug)]
pub struct JoinGroup {
    /// The group.
    pub group: String,
    /// Its ack id.
    pub ack_id: Option<u64>,
}

impl JoinGroup {
    /// From the frame's fields.
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        Ok(Self {
            group: fields.group()?,
            ack_id: fields.ack_id,
        })
    }

    /// Joins, and acks.
    pub fn apply(self, client: &Connected) {
        let Self { group, ack_id } = self;
        client.guarded(ack_id, Permission::JoinLeaveGroup, &group, |c| {
            c.groups.insert(group.clone());
        });
    }
}
