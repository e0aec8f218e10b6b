//! A hub's direct group memberships (a connection added to a group), kept both ways: by group
//! (each group's members in id order, what a group send and a page of a group's members read)
//! and by connection (what a connection's groups, a disconnect and a remove-from-every-group
//! read), so that anything starting from a connection costs that connection's groups, not a
//! pass over every group of the hub (`docs/performance.md`, "How cost grows"). Every change goes
//! through [`ConnectionGroups`], which keeps the two maps each other's inverse.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Bound::{Excluded, Unbounded};

/// The direct memberships of one hub, by group and by connection.
#[derive(Debug, Default)]
pub(super) struct ConnectionGroups {
    /// Each group's members, in id order so that a page of them is a seek.
    by_group: HashMap<String, BTreeSet<String>>,
    /// Each connection's groups.
    by_connection: HashMap<String, HashSet<String>>,
}

impl ConnectionGroups {
    /// Whether there are none.
    pub(super) fn is_empty(&self) -> bool {
        self.by_group.is_empty()
    }

    /// Puts connection `id` in `group`.
    pub(super) fn add(&mut self, group: &str, id: &str) {
        let members = self.by_group.entry(group.to_string()).or_default();
        if members.insert(id.to_string()) {
            self.by_connection
                .entry(id.to_string())
                .or_default()
                .insert(group.to_string());
        }
    }

    /// Takes connection `id` out of `group`; whether it was in it.
    pub(super) fn remove(&mut self, group: &str, id: &str) -> bool {
        let Some(groups) = self.by_connection.get_mut(id) else {
            return false;
        };
        if !groups.remove(group) {
            return false;
        }
        if groups.is_empty() {
            self.by_connection.remove(id);
        }
        self.leave(group, id);
        true
    }

    /// Takes connection `id` out of every group it is in.
    pub(super) fn remove_connection(&mut self, id: &str) {
        for group in self.by_connection.remove(id).into_iter().flatten() {
            self.leave(&group, id);
        }
    }

    /// Removes `id` from the members of `group`, and the group once it has none.
    fn leave(&mut self, group: &str, id: &str) {
        if let Some(members) = self.by_group.get_mut(group) {
            members.remove(id);
            if members.is_empty() {
                self.by_group.remove(group);
            }
        }
    }

    /// Whether connection `id` is in `group`.
    pub(super) fn contains(&self, group: &str, id: &str) -> bool {
        self.by_group
            .get(group)
            .is_some_and(|members| members.contains(id))
    }

    /// The groups connection `id` is in, in no particular order.
    pub(super) fn groups_of<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.by_connection
            .get(id)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// The members of `group` whose id sorts after `after` (all of them for ""), in id order.
    pub(super) fn members_after<'a>(
        &'a self,
        group: &str,
        after: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.by_group
            .get(group)
            .into_iter()
            .flat_map(move |members| members.range::<str, _>((Excluded(after), Unbounded)))
            .map(String::as_str)
    }

    /// The members of `group`, in id order (no connection id is empty).
    pub(super) fn members<'a>(&'a self, group: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.members_after(group, "")
    }

    /// Every connection that is in a group, with its groups.
    pub(super) fn by_connection(&self) -> impl Iterator<Item = (&str, impl Iterator<Item = &str>)> {
        self.by_connection
            .iter()
            .map(|(id, groups)| (id.as_str(), groups.iter().map(String::as_str)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (group, connection) pairs.
    type Pairs = BTreeSet<(String, String)>;

    /// Every (group, connection) pair of the by-group map, and of the by-connection map read
    /// the other way round.
    fn pairs(m: &ConnectionGroups) -> (Pairs, Pairs) {
        let by_group = m
            .by_group
            .iter()
            .flat_map(|(g, ids)| ids.iter().map(move |id| (g.clone(), id.clone())))
            .collect();
        let by_connection = m
            .by_connection
            .iter()
            .flat_map(|(id, gs)| gs.iter().map(move |g| (g.clone(), id.clone())))
            .collect();
        (by_group, by_connection)
    }

    /// The by-connection map is exactly what a full scan of the by-group map says, both are what
    /// `model` says, and no empty entry is left behind.
    fn check(m: &ConnectionGroups, model: &Pairs) {
        let (by_group, by_connection) = pairs(m);
        assert_eq!(by_group, by_connection);
        assert_eq!(&by_group, model);
        assert!(m.by_group.values().all(|ids| !ids.is_empty()));
        assert!(m.by_connection.values().all(|gs| !gs.is_empty()));
        for (group, id) in model {
            assert!(m.contains(group, id));
        }
    }

    /// A small deterministic generator (xorshift), so a failure repeats.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn the_connection_index_is_the_inverse_of_the_group_map_through_random_changes() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut m = ConnectionGroups::default();
        let mut model = Pairs::new();
        for _ in 0..5000 {
            let group = format!("g{}", rng.below(12));
            let id = format!("c{}", rng.below(9));
            match rng.below(10) {
                0..=4 => {
                    m.add(&group, &id);
                    model.insert((group.clone(), id.clone()));
                }
                5..=7 => {
                    let was = model.remove(&(group.clone(), id.clone()));
                    assert_eq!(m.remove(&group, &id), was, "{group} {id}");
                }
                _ => {
                    m.remove_connection(&id);
                    model.retain(|(_, c)| *c != id);
                }
            }
            check(&m, &model);
            let scan: BTreeSet<&str> = model
                .iter()
                .filter(|(_, c)| *c == id)
                .map(|(g, _)| g.as_str())
                .collect();
            assert_eq!(m.groups_of(&id).collect::<BTreeSet<_>>(), scan);
            let members: Vec<&str> = m.members(&group).collect();
            let scan: Vec<&str> = model
                .iter()
                .filter(|(g, _)| *g == group)
                .map(|(_, c)| c.as_str())
                .collect();
            assert_eq!(members, scan);
            let after: Vec<&str> = m.members_after(&group, "c4").collect();
            let scan: Vec<&str> = scan.into_iter().filter(|c| *c > "c4").collect();
            assert_eq!(after, scan);
        }
        for i in 0..9 {
            m.remove_connection(&format!("c{i}"));
        }
        m.remove_connection("nobody");
        assert!(!m.remove("g1", "nobody"));
        check(&m, &BTreeSet::new());
        assert!(m.is_empty() && m.by_connection.is_empty());
    }
}
