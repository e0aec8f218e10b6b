//! Reading a hub's connections in bulk: a page of a group's members (`docs/protocol.md` §4.5),
//! and the connections an OData filter selects (`:execute`, §4.6), each under one lock with
//! borrowed ids.

use std::collections::HashMap;
use std::time::Instant;

use super::{Hub, Hubs};
use crate::emulator::paging::{self, Page, PageRequest};
use crate::service::filter::{Filter, Subject};

impl Hubs {
    /// One page of a group's connections with their users, in connection id order
    /// ([`paging::page`]); an unknown group is an empty page.
    pub fn page_group(&self, hub: &str, group: &str, request: &PageRequest) -> Page {
        let now = Instant::now();
        self.read(hub, |h| {
            // Borrowed ids, each once: direct members, then the users' connections not among them.
            let direct = h.groups.get(group);
            let is_direct = |id: &str| direct.is_some_and(|members| members.contains(id));
            let via_users = h
                .user_groups
                .users_of(group, now)
                .filter_map(|user| h.users.get(user))
                .flatten()
                .filter(|id| !is_direct(id));
            let members = direct.into_iter().flatten().chain(via_users).map(|id| {
                let user = h.connections.get(id).and_then(|m| m.user.as_deref());
                (id.as_str(), user)
            });
            paging::page(members, request)
        })
    }

    /// The ids of the hub's connections `filter` selects (all without one), sorted; each is
    /// matched with its user, id and groups (joined directly or through its user).
    pub fn select(&self, hub: &str, filter: Option<&Filter>) -> Vec<String> {
        let now = Instant::now();
        self.read(hub, |h| {
            let groups = groups_by_connection(h, now);
            let mut ids: Vec<String> = h
                .connections
                .iter()
                .filter(|(id, member)| {
                    filter.is_none_or(|f| {
                        let groups = groups.get(id.as_str()).map_or(&[][..], Vec::as_slice);
                        f.matches(&Subject {
                            user_id: member.user.as_deref(),
                            connection_id: id,
                            groups,
                        })
                    })
                })
                .map(|(id, _)| id.clone())
                .collect();
            ids.sort();
            ids
        })
    }
}

/// Every connection's groups, in one pass over the memberships.
fn groups_by_connection(h: &Hub, now: Instant) -> HashMap<&str, Vec<&str>> {
    let mut by_id: HashMap<&str, Vec<&str>> = HashMap::new();
    for (group, members) in &h.groups {
        for id in members {
            by_id.entry(id.as_str()).or_default().push(group.as_str());
        }
    }
    for (user, group) in h.user_groups.iter(now) {
        for id in h.users.get(user).into_iter().flatten() {
            let list = by_id.entry(id.as_str()).or_default();
            if !list.contains(&group) {
                list.push(group);
            }
        }
    }
    by_id
}
