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
    /// ([`paging::page_sorted`]); an unknown group is an empty page. The direct members are
    /// read from the cursor on in their ordered set, merged with the (sorted) connections of the
    /// group's users; only the page's members have their user looked up.
    pub fn page_group(&self, hub: &str, group: &str, request: &PageRequest) -> Page {
        let now = Instant::now();
        let after = request.after();
        self.read(hub, |h| {
            let direct = h.groups.members_after(group, after);
            let mut via_users: Vec<&str> = h
                .user_groups
                .users_of(group, now)
                .filter_map(|user| h.users.get(user))
                .flatten()
                .map(String::as_str)
                .filter(|id| *id > after)
                .collect();
            via_users.sort_unstable();
            let members = merged(direct, via_users.into_iter()).map(|id| {
                let user = h.connections.get(id).and_then(|m| m.user.as_deref());
                (id, user)
            });
            paging::page_sorted(members, request)
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

/// Two ascending id sequences as one, each id once.
fn merged<'a>(
    a: impl Iterator<Item = &'a str>,
    b: impl Iterator<Item = &'a str>,
) -> impl Iterator<Item = &'a str> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x < y => a.next(),
        (Some(x), Some(y)) if x > y => b.next(),
        (Some(_), Some(_)) => {
            b.next();
            a.next()
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

/// Every connection's groups, in one pass over the memberships.
fn groups_by_connection(h: &Hub, now: Instant) -> HashMap<&str, Vec<&str>> {
    let mut by_id: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, groups) in h.groups.by_connection() {
        by_id.insert(id, groups.collect());
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

#[cfg(test)]
mod tests {
    use super::merged;

    #[test]
    fn merging_keeps_order_and_each_id_once() {
        let a = ["a", "c", "d", "f"];
        let b = ["b", "c", "e", "f", "g"];
        let all: Vec<&str> = merged(a.into_iter(), b.into_iter()).collect();
        assert_eq!(all, ["a", "b", "c", "d", "e", "f", "g"]);
        assert_eq!(merged(a.into_iter(), [].into_iter()).count(), 4);
        assert_eq!(merged([].into_iter(), b.into_iter()).count(), 5);
    }
}
