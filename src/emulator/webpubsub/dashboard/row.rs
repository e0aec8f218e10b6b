//! A connection as the dashboard lists it ([`ConnectionRow`]), made from the connection's state
//! wherever it changes (`connections.rs`) and for the snapshot: its roles as granted, never a
//! token.

use crate::emulator::webpubsub::activity::ConnectionRow;
use crate::emulator::webpubsub::connections::Connection;

impl Connection {
    /// The connection `id` as the dashboard lists it: roles as granted, no token.
    pub fn row(&self, id: &str) -> ConnectionRow {
        let mut groups: Vec<String> = self.groups.iter().map(str::to_string).collect();
        groups.sort();
        let grants = self.grants.iter().map(|(permission, group)| {
            let group = group.as_ref().map(|g| format!(".{g}")).unwrap_or_default();
            format!("webpubsub.{}{group} (granted)", permission.as_str())
        });
        ConnectionRow {
            hub: self.hub.clone(),
            id: id.to_string(),
            user: self.user.clone(),
            subprotocol: self.subprotocol.clone(),
            groups,
            roles: self.roles.iter().cloned().chain(grants).collect(),
            since: self.since,
            away: self.outbox.is_none(),
        }
    }
}
