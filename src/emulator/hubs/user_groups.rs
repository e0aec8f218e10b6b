//! A hub's user memberships (a user added to a group, until an expiry), kept both ways: by user
//! (what a connection's groups and `user_in_group` read) and by group (what a group send, an
//! existence check and a page of a group's members read), so that finding a group's users costs
//! the group's members, not a pass over every user (`docs/performance.md`, "How cost grows").
//! Every change goes through [`UserGroups`], which keeps the two maps each other's inverse.

use std::collections::HashMap;
use std::time::Instant;

/// Name → name → expiry.
type Memberships = HashMap<String, HashMap<String, Instant>>;

/// The user memberships of one hub, by user and by group.
#[derive(Debug, Default)]
pub(super) struct UserGroups {
    by_user: Memberships,
    by_group: Memberships,
}

/// Inserts `inner` under `outer` with `expiry`.
fn insert(map: &mut Memberships, outer: &str, inner: &str, expiry: Instant) {
    map.entry(outer.to_string())
        .or_default()
        .insert(inner.to_string(), expiry);
}

/// Removes `inner` under `outer`, and `outer` once it holds nothing.
fn remove(map: &mut Memberships, outer: &str, inner: &str) {
    if let Some(inners) = map.get_mut(outer) {
        inners.remove(inner);
        if inners.is_empty() {
            map.remove(outer);
        }
    }
}

impl UserGroups {
    /// Whether there are none.
    pub(super) fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }

    /// Puts `user` in `group` until `expiry` (replacing an earlier expiry).
    pub(super) fn add(&mut self, user: &str, group: &str, expiry: Instant) {
        insert(&mut self.by_user, user, group, expiry);
        insert(&mut self.by_group, group, user, expiry);
    }

    /// Takes `user` out of `group`.
    pub(super) fn remove(&mut self, user: &str, group: &str) {
        remove(&mut self.by_user, user, group);
        remove(&mut self.by_group, group, user);
    }

    /// Takes `user` out of every group.
    pub(super) fn remove_user(&mut self, user: &str) {
        for group in self
            .by_user
            .remove(user)
            .into_iter()
            .flat_map(HashMap::into_keys)
        {
            remove(&mut self.by_group, &group, user);
        }
    }

    /// Whether `user` is in `group` at `now`.
    pub(super) fn contains(&self, user: &str, group: &str, now: Instant) -> bool {
        self.by_user
            .get(user)
            .and_then(|groups| groups.get(group))
            .is_some_and(|expiry| *expiry > now)
    }

    /// The groups `user` is in at `now`.
    pub(super) fn groups_of<'a>(
        &'a self,
        user: &str,
        now: Instant,
    ) -> impl Iterator<Item = &'a str> + 'a {
        live(self.by_user.get(user), now)
    }

    /// The users in `group` at `now`.
    pub(super) fn users_of<'a>(
        &'a self,
        group: &str,
        now: Instant,
    ) -> impl Iterator<Item = &'a str> + 'a {
        live(self.by_group.get(group), now)
    }

    /// Every (user, group) membership live at `now`.
    pub(super) fn iter(&self, now: Instant) -> impl Iterator<Item = (&str, &str)> {
        self.by_user.iter().flat_map(move |(user, groups)| {
            live(Some(groups), now).map(move |g| (user.as_str(), g))
        })
    }

    /// Drops the memberships whose expiry has passed at `now`; returns the users that lost one.
    pub(super) fn purge(&mut self, now: Instant) -> Vec<String> {
        let mut expired = Vec::new();
        self.by_user.retain(|user, groups| {
            groups.retain(|group, expiry| {
                let keep = *expiry > now;
                if !keep {
                    expired.push((user.clone(), group.clone()));
                }
                keep
            });
            !groups.is_empty()
        });
        let mut users: Vec<String> = Vec::new();
        for (user, group) in expired {
            remove(&mut self.by_group, &group, &user);
            if users.last() != Some(&user) {
                users.push(user);
            }
        }
        users
    }
}

/// The names in `inners` whose expiry is after `now`.
fn live(inners: Option<&HashMap<String, Instant>>, now: Instant) -> impl Iterator<Item = &str> {
    inners
        .into_iter()
        .flatten()
        .filter(move |(_, expiry)| **expiry > now)
        .map(|(name, _)| name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::time::Duration;

    /// Every (user, group, expiry) of a map, `flip`ped to read (outer, inner) as (inner, outer).
    fn triples(map: &Memberships, flip: bool) -> BTreeSet<(String, String, Instant)> {
        map.iter()
            .flat_map(|(outer, inners)| {
                inners.iter().map(move |(inner, expiry)| {
                    let (o, i) = (outer.clone(), inner.clone());
                    if flip {
                        (i, o, *expiry)
                    } else {
                        (o, i, *expiry)
                    }
                })
            })
            .collect()
    }

    /// The by-group map is exactly what a full scan of the by-user map says, with no empty
    /// entries left behind.
    fn check(m: &UserGroups) {
        assert_eq!(triples(&m.by_user, false), triples(&m.by_group, true));
        assert!(m.by_user.values().all(|g| !g.is_empty()));
        assert!(m.by_group.values().all(|u| !u.is_empty()));
    }

    #[test]
    fn the_group_index_is_the_inverse_of_the_user_map_through_every_change() {
        let now = Instant::now();
        let soon = now + Duration::from_millis(1);
        let later = now + Duration::from_secs(3600);
        let mut m = UserGroups::default();
        for i in 0..30 {
            let expiry = if i % 3 == 0 { soon } else { later };
            m.add(&format!("u{}", i % 7), &format!("g{}", i % 5), expiry);
            check(&m);
        }
        m.add("u1", "g1", soon);
        m.add("u1", "g1", later);
        check(&m);
        m.remove("u2", "g2");
        m.remove("nobody", "g2");
        m.remove("u3", "no-group");
        check(&m);
        m.remove_user("u4");
        m.remove_user("nobody");
        check(&m);
        assert!(m.groups_of("u4", now).next().is_none());
        let scan = |group: &str, at: Instant| -> BTreeSet<String> {
            m.iter(at)
                .filter(|(_, g)| *g == group)
                .map(|(u, _)| u.to_string())
                .collect()
        };
        let at = now + Duration::from_millis(5);
        for g in 0..5 {
            let group = format!("g{g}");
            let via_index: BTreeSet<String> = m.users_of(&group, at).map(str::to_string).collect();
            assert_eq!(via_index, scan(&group, at), "{group}");
            for user in &via_index {
                assert!(m.contains(user, &group, at));
            }
        }
        let before = triples(&m.by_user, false);
        let lost: BTreeSet<String> = m.purge(at).into_iter().collect();
        check(&m);
        let expected: BTreeSet<String> = before
            .iter()
            .filter(|(_, _, expiry)| *expiry <= at)
            .map(|(u, _, _)| u.clone())
            .collect();
        assert_eq!(lost, expected);
        assert!(!lost.is_empty());
        for user in ["u0", "u1", "u2", "u3", "u5", "u6"] {
            m.remove_user(user);
        }
        check(&m);
        assert!(m.is_empty() && m.by_group.is_empty());
    }
}
