//! A connection's groups under the emulator's caps (`docs/webpubsub.md` §8, "Group caps"): at
//! most [`GroupLimits::per_connection`] groups per connection and [`GroupLimits::total`]
//! memberships across every connection of the emulator (all hubs: a cap per hub would not bound
//! memory, since hubs come into being with their first client). Group names are at most 1024
//! characters, so the names a connection holds stay within about 1 MiB by default and the
//! emulator's within about 100 MiB, however many `joinGroup` frames or REST calls arrive.
//!
//! Every change to a connection's groups goes through [`Groups`], which keeps the emulator-wide
//! count and the index of each group's members ([`GroupIndex`]) true: a connection that goes
//! away gives its memberships back when dropped.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::group_index::GroupIndex;

/// The default most groups one connection may be in.
pub const MAX_GROUPS_PER_CONNECTION: usize = 1000;
/// The default most memberships (connection × group) across the emulator.
pub const MAX_MEMBERSHIPS: usize = 100_000;

/// The caps, how many memberships exist now, and who is in each group.
#[derive(Debug)]
pub struct GroupLimits {
    /// The most groups one connection may be in.
    pub per_connection: usize,
    /// The most memberships across the emulator.
    pub total: usize,
    used: AtomicUsize,
    index: GroupIndex,
}

impl GroupLimits {
    /// Caps of `per_connection` groups per connection and `total` memberships.
    pub fn new(per_connection: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            per_connection,
            total,
            used: AtomicUsize::new(0),
            index: GroupIndex::default(),
        })
    }

    /// Each group's members.
    pub fn index(&self) -> &GroupIndex {
        &self.index
    }

    /// How many memberships exist now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn reserve(&self) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used < self.total).then_some(used + 1)
            })
            .is_ok()
    }

    fn release(&self, count: usize) {
        self.used.fetch_sub(count, Ordering::Relaxed);
    }
}

impl Default for GroupLimits {
    fn default() -> Self {
        Self {
            per_connection: MAX_GROUPS_PER_CONNECTION,
            total: MAX_MEMBERSHIPS,
            used: AtomicUsize::new(0),
            index: GroupIndex::default(),
        }
    }
}

/// Why a connection could not join a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupLimit {
    /// The connection is in as many groups as one may be.
    #[error("the connection is already in {0} groups, the most one connection may join in the emulator; leave a group first")]
    Connection(usize),
    /// The emulator holds as many memberships as it keeps.
    #[error("the emulator's connections are in {0} groups in all, the most it keeps; leave groups or close connections first")]
    Emulator(usize),
}

/// One connection's groups.
#[derive(Debug)]
pub struct Groups {
    names: BTreeSet<String>,
    limits: Arc<GroupLimits>,
    /// The connection's hub (lowercased) and id, as the index knows it.
    hub: String,
    id: String,
}

impl Groups {
    /// No groups yet for connection `id` of `hub` (lowercased), counted against `limits`.
    pub fn new(limits: &Arc<GroupLimits>, hub: &str, id: &str) -> Self {
        Self {
            names: BTreeSet::new(),
            limits: Arc::clone(limits),
            hub: hub.to_string(),
            id: id.to_string(),
        }
    }

    /// Whether the connection is in `group`.
    pub fn contains(&self, group: &str) -> bool {
        self.names.contains(group)
    }

    /// The groups, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether it is in no group.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Joins `group` (a member already: nothing changes), unless a cap is reached.
    pub fn join(&mut self, group: &str) -> Result<(), GroupLimit> {
        if self.names.contains(group) {
            return Ok(());
        }
        if self.names.len() >= self.limits.per_connection {
            return Err(GroupLimit::Connection(self.limits.per_connection));
        }
        if !self.limits.reserve() {
            return Err(GroupLimit::Emulator(self.limits.total));
        }
        self.names.insert(group.to_string());
        self.limits.index.add(&self.hub, group, &self.id);
        Ok(())
    }

    /// Leaves `group`.
    pub fn leave(&mut self, group: &str) {
        if self.names.remove(group) {
            self.limits.release(1);
            let group = std::iter::once(group);
            self.limits.index.remove(&self.hub, group, &self.id);
        }
    }

    /// Leaves every group.
    pub fn clear(&mut self) {
        if self.names.is_empty() {
            return;
        }
        self.limits.release(self.names.len());
        let names = self.names.iter().map(String::as_str);
        self.limits.index.remove(&self.hub, names, &self.id);
        self.names.clear();
    }
}

impl Drop for Groups {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_connection_and_in_all_and_gives_back_what_it_leaves() {
        let limits = GroupLimits::new(2, 3);
        let mut a = Groups::new(&limits, "h", "a");
        assert_eq!(a.join("g1"), Ok(()));
        assert_eq!(a.join("g1"), Ok(()), "joining twice is no new membership");
        assert_eq!(a.join("g2"), Ok(()));
        assert_eq!(a.join("g3"), Err(GroupLimit::Connection(2)));
        let mut b = Groups::new(&limits, "h", "b");
        assert_eq!(b.join("g1"), Ok(()));
        assert_eq!(b.join("g2"), Err(GroupLimit::Emulator(3)));
        assert_eq!(limits.used(), 3);
        assert_eq!(limits.index().memberships(), 3);
        a.leave("g1");
        a.leave("g1");
        assert_eq!(limits.used(), 2);
        assert_eq!(b.join("g2"), Ok(()));
        drop(b);
        assert_eq!(limits.used(), 1);
        assert_eq!(
            limits.index().memberships(),
            1,
            "a dropped connection leaves the index"
        );
        a.clear();
        assert_eq!(limits.used(), 0);
        assert_eq!(limits.index().memberships(), 0);
        assert!(a.is_empty());
    }
}
