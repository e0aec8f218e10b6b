//! Who is in each Web PubSub group: hub → group → connection ids, in id order. A group send, an
//! existence check and a page of a group's members read the group's entry instead of passing
//! over every connection of every hub, and a page is a seek from the continuation token's id
//! (`docs/performance.md`, "How cost grows").
//!
//! [`Groups`](super::groups::Groups) keeps it true: every join, leave and clear of a connection's
//! groups (token groups at connect, `joinGroup` frames, REST calls, a connection dropped) updates
//! it, so it holds exactly the emulator's memberships and stays within their cap. Lock order: the
//! connections' lock first, then this one; never the other way round.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::{Mutex, MutexGuard};

/// Hub (lowercased) → group → member connection ids.
type Members = HashMap<String, HashMap<String, BTreeSet<String>>>;

/// The members of every group of every hub.
#[derive(Debug, Default)]
pub struct GroupIndex {
    inner: Mutex<Members>,
}

/// The index, locked for reading.
pub struct IndexGuard<'a>(MutexGuard<'a, Members>);

impl IndexGuard<'_> {
    /// The members of `group` of `hub` (lowercased) whose id is after `after`, in id order.
    pub fn members_after<'s>(
        &'s self,
        hub: &str,
        group: &str,
        after: &str,
    ) -> impl Iterator<Item = &'s String> + 's {
        self.0
            .get(hub)
            .and_then(|groups| groups.get(group))
            .map(|ids| ids.range::<str, _>((Excluded(after), Unbounded)))
            .into_iter()
            .flatten()
    }

    /// The members of `group` of `hub` (lowercased), in id order.
    pub fn members<'s>(&'s self, hub: &str, group: &str) -> impl Iterator<Item = &'s String> + 's {
        self.0
            .get(hub)
            .and_then(|groups| groups.get(group))
            .into_iter()
            .flatten()
    }
}

impl GroupIndex {
    fn guard(&self) -> MutexGuard<'_, Members> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the index for reading (after the connections' lock, if that is held too).
    pub fn lock(&self) -> IndexGuard<'_> {
        IndexGuard(self.guard())
    }

    /// Connection `id` of `hub` joined `group`.
    pub(super) fn add(&self, hub: &str, group: &str, id: &str) {
        let mut members = self.guard();
        let groups = match members.get_mut(hub) {
            Some(groups) => groups,
            None => members.entry(hub.to_string()).or_default(),
        };
        match groups.get_mut(group) {
            Some(ids) => ids.insert(id.to_string()),
            None => groups
                .entry(group.to_string())
                .or_default()
                .insert(id.to_string()),
        };
    }

    /// Connection `id` of `hub` left each of `groups`.
    pub(super) fn remove<'g>(&self, hub: &str, groups: impl Iterator<Item = &'g str>, id: &str) {
        let mut members = self.guard();
        let Some(hub_groups) = members.get_mut(hub) else {
            return;
        };
        for group in groups {
            if let Some(ids) = hub_groups.get_mut(group) {
                ids.remove(id);
                if ids.is_empty() {
                    hub_groups.remove(group);
                }
            }
        }
        if hub_groups.is_empty() {
            members.remove(hub);
        }
    }

    /// How many memberships it holds.
    #[cfg(test)]
    pub fn memberships(&self) -> usize {
        self.guard()
            .values()
            .flat_map(HashMap::values)
            .map(BTreeSet::len)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_come_in_order_from_a_seek_and_empty_entries_go() {
        let index = GroupIndex::default();
        for id in ["c3", "c1", "c2"] {
            index.add("chat", "g", id);
        }
        index.add("chat", "other", "c1");
        index.add("news", "g", "c9");
        let ids = |after: &str| -> Vec<String> {
            index
                .lock()
                .members_after("chat", "g", after)
                .cloned()
                .collect()
        };
        assert_eq!(ids(""), ["c1", "c2", "c3"]);
        assert_eq!(ids("c1"), ["c2", "c3"]);
        assert_eq!(ids("c3"), Vec::<String>::new());
        index.remove("chat", ["g", "other"].into_iter(), "c1");
        index.remove("chat", ["g"].into_iter(), "c2");
        index.remove("chat", ["g"].into_iter(), "c3");
        assert_eq!(index.memberships(), 1);
        assert!(
            !index.guard().contains_key("chat"),
            "an empty hub is forgotten"
        );
    }
}
