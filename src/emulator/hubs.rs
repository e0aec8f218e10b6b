//! The SignalR emulator's state: hubs (keyed case-insensitively), their connections, users with any
//! number of connections, and groups of connections and of users. A user's group membership
//! (optionally with a `ttl`) also covers the user's future connections. Sends copy the recipients'
//! outboxes out of the lock and push without waiting, so one slow client never stalls the others.

mod connection_groups;
mod listing;
mod user_groups;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::outbox::Outbox;
use super::outgoing::Outgoing;
use super::shutdown::Shutdown;
use crate::service::hub_protocol::Protocol;
use crate::service::recipients::Recipients;
use connection_groups::ConnectionGroups;
use user_groups::UserGroups;

/// How long a user stays in a group when no `ttl` is given (the service's "at most one year").
const DEFAULT_MEMBERSHIP: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What removing a connection from a group found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// It was in the group and is no longer.
    Removed,
    /// The connection does not exist.
    NoConnection,
    /// The connection exists but was not in the group.
    NotInGroup,
}

struct Member {
    user: Option<String>,
    outbox: Outbox<Shutdown>,
    protocol: Protocol,
}

#[derive(Default)]
struct Hub {
    connections: HashMap<String, Member>,
    users: HashMap<String, HashSet<String>>,
    /// The connections' direct group memberships, by group and by connection.
    groups: ConnectionGroups,
    user_groups: UserGroups,
}

impl Hub {
    fn user_in_group(&self, user: &str, group: &str, now: Instant) -> bool {
        self.user_groups.contains(user, group, now)
            || self
                .users
                .get(user)
                .is_some_and(|ids| ids.iter().any(|id| self.groups.contains(group, id)))
    }

    fn group_members(&self, group: &str, now: Instant) -> HashSet<&str> {
        let mut ids: HashSet<&str> = self.groups.members(group).collect();
        for user in self.user_groups.users_of(group, now) {
            if let Some(conns) = self.users.get(user) {
                ids.extend(conns.iter().map(String::as_str));
            }
        }
        ids
    }

    fn members(&self, recipients: &Recipients, now: Instant) -> Vec<&str> {
        match recipients {
            Recipients::All => self.connections.keys().map(String::as_str).collect(),
            Recipients::User(user) => self
                .users
                .get(user)
                .map(|ids| ids.iter().map(String::as_str).collect())
                .unwrap_or_default(),
            Recipients::Group(group) => self.group_members(group, now).into_iter().collect(),
            Recipients::Connection(id) => self
                .connections
                .get_key_value(id)
                .map(|(id, _)| vec![id.as_str()])
                .unwrap_or_default(),
        }
    }
}

/// All hubs of the emulator.
#[derive(Default)]
pub struct Hubs {
    inner: Mutex<HashMap<String, Hub>>,
}

fn key(hub: &str) -> String {
    hub.to_ascii_lowercase()
}

impl Hubs {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Hub>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_hub<T>(&self, hub: &str, f: impl FnOnce(&mut Hub) -> T) -> T {
        let mut hubs = self.lock();
        let key = key(hub);
        let result = f(hubs.entry(key.clone()).or_default());
        if hubs.get(&key).is_some_and(|h| {
            h.connections.is_empty() && h.user_groups.is_empty() && h.groups.is_empty()
        }) {
            hubs.remove(&key);
        }
        result
    }

    fn read<T: Default>(&self, hub: &str, f: impl FnOnce(&Hub) -> T) -> T {
        self.lock().get(&key(hub)).map(f).unwrap_or_default()
    }

    /// Registers a connection that completed its handshake, queueing `greeting` (the handshake
    /// response) first under the lock, so no send can overtake it and none made after the client
    /// sees it is missed.
    pub fn add_connection(
        &self,
        hub: &str,
        id: &str,
        user: Option<String>,
        outbox: Outbox<Shutdown>,
        protocol: Protocol,
        greeting: Outgoing,
    ) {
        self.with_hub(hub, |h| {
            outbox.push(greeting.frame(protocol));
            if let Some(user) = &user {
                h.users
                    .entry(user.clone())
                    .or_default()
                    .insert(id.to_string());
            }
            let member = Member {
                user,
                outbox,
                protocol,
            };
            h.connections.insert(id.to_string(), member);
        });
    }

    /// Forgets a connection: its user link and its group memberships.
    pub fn remove_connection(&self, hub: &str, id: &str) {
        self.with_hub(hub, |h| {
            if let Some(Member {
                user: Some(user), ..
            }) = h.connections.remove(id)
            {
                if let Some(ids) = h.users.get_mut(&user) {
                    ids.remove(id);
                    if ids.is_empty() {
                        h.users.remove(&user);
                    }
                }
            }
            h.groups.remove_connection(id);
        });
    }

    /// The outboxes of the recipients and the protocols their clients read.
    fn outboxes(
        &self,
        hub: &str,
        recipients: &Recipients,
        excluded: &[String],
    ) -> Vec<(Outbox<Shutdown>, Protocol)> {
        let now = Instant::now();
        self.read(hub, |h| {
            h.members(recipients, now)
                .into_iter()
                .filter(|id| !excluded.iter().any(|x| x == id))
                .filter_map(|id| h.connections.get(id))
                .map(|m| (m.outbox.clone(), m.protocol))
                .collect()
        })
    }

    /// Queues `frame` for every recipient except `excluded`; returns how many took it.
    /// A connection whose queue is full is closed as too slow.
    pub fn send(
        &self,
        hub: &str,
        recipients: &Recipients,
        excluded: &[String],
        frame: Outgoing,
    ) -> usize {
        self.outboxes(hub, recipients, excluded)
            .into_iter()
            .filter(|(outbox, protocol)| outbox.push(frame.frame(*protocol)))
            .count()
    }

    /// Closes every recipient except `excluded`; returns how many.
    pub fn close(
        &self,
        hub: &str,
        recipients: &Recipients,
        excluded: &[String],
        reason: Option<&str>,
    ) -> usize {
        let outboxes = self.outboxes(hub, recipients, excluded);
        for (outbox, _) in &outboxes {
            outbox.close(reason.map(str::to_string));
        }
        outboxes.len()
    }

    /// Closes every connection of every hub (the service going down); returns how many.
    pub fn close_all(&self, reason: Option<&str>) -> usize {
        let outboxes: Vec<Outbox<Shutdown>> = self
            .lock()
            .values()
            .flat_map(|h| h.connections.values().map(|m| m.outbox.clone()))
            .collect();
        for outbox in &outboxes {
            outbox.close(reason.map(str::to_string));
        }
        outboxes.len()
    }

    /// Whether the connection is connected to the hub.
    pub fn connection_exists(&self, hub: &str, id: &str) -> bool {
        self.read(hub, |h| h.connections.contains_key(id))
    }

    /// Whether the user has at least one connection.
    pub fn user_exists(&self, hub: &str, user: &str) -> bool {
        self.read(hub, |h| {
            h.users.get(user).is_some_and(|ids| !ids.is_empty())
        })
    }

    /// Whether the group has at least one connection.
    pub fn group_exists(&self, hub: &str, group: &str) -> bool {
        let now = Instant::now();
        self.read(hub, |h| !h.group_members(group, now).is_empty())
    }

    /// Adds a connection to a group; false when the connection does not exist.
    pub fn add_to_group(&self, hub: &str, group: &str, id: &str) -> bool {
        self.with_hub(hub, |h| {
            if !h.connections.contains_key(id) {
                return false;
            }
            h.groups.add(group, id);
            true
        })
    }

    /// Removes a connection from a group.
    pub fn remove_from_group(&self, hub: &str, group: &str, id: &str) -> Removal {
        self.with_hub(hub, |h| {
            if !h.connections.contains_key(id) {
                return Removal::NoConnection;
            }
            if h.groups.remove(group, id) {
                Removal::Removed
            } else {
                Removal::NotInGroup
            }
        })
    }

    /// The groups a connection is in, directly or through its user, sorted.
    pub fn groups_of(&self, hub: &str, id: &str) -> Vec<String> {
        let now = Instant::now();
        self.read(hub, |h| {
            let user = h.connections.get(id).and_then(|m| m.user.as_deref());
            let mut groups: Vec<String> = h
                .groups
                .groups_of(id)
                .map(str::to_string)
                .chain(
                    user.into_iter()
                        .flat_map(|u| h.user_groups.groups_of(u, now))
                        .map(str::to_string),
                )
                .collect();
            groups.sort();
            groups.dedup();
            groups
        })
    }

    /// Removes a connection from every group it joined directly.
    pub fn remove_from_all_groups(&self, hub: &str, id: &str) {
        self.with_hub(hub, |h| h.groups.remove_connection(id));
    }

    /// Adds a user to a group for `ttl` (none: the service's one-year maximum). The membership
    /// covers the user's current and future connections; `ttl` zero adds only the current ones.
    pub fn add_user_to_group(&self, hub: &str, user: &str, group: &str, ttl: Option<Duration>) {
        self.with_hub(hub, |h| {
            if ttl == Some(Duration::ZERO) {
                for id in h.users.get(user).into_iter().flatten() {
                    h.groups.add(group, id);
                }
                return;
            }
            let expiry = Instant::now() + ttl.unwrap_or(DEFAULT_MEMBERSHIP);
            h.user_groups.add(user, group, expiry);
        });
    }

    /// Removes a user (and the user's connections) from a group.
    pub fn remove_user_from_group(&self, hub: &str, user: &str, group: &str) {
        self.with_hub(hub, |h| {
            h.user_groups.remove(user, group);
            for id in h.users.get(user).into_iter().flatten() {
                h.groups.remove(group, id);
            }
        });
    }

    /// Removes a user (and the user's connections) from every group.
    pub fn remove_user_from_all_groups(&self, hub: &str, user: &str) {
        self.with_hub(hub, |h| {
            h.user_groups.remove_user(user);
            for id in h.users.get(user).into_iter().flatten() {
                h.groups.remove_connection(id);
            }
        });
    }

    /// Whether the user is in the group (through a membership that has not expired, or through
    /// one of its connections).
    pub fn user_in_group(&self, hub: &str, user: &str, group: &str) -> bool {
        let now = Instant::now();
        self.read(hub, |h| h.user_in_group(user, group, now))
    }

    /// The user id of a connection, if it is connected and has one.
    pub fn user_of(&self, hub: &str, id: &str) -> Option<String> {
        self.read(hub, |h| h.connections.get(id).and_then(|m| m.user.clone()))
    }

    /// The connection ids of a user.
    pub fn connections_of_user(&self, hub: &str, user: &str) -> Vec<String> {
        self.read(hub, |h| {
            h.users.get(user).into_iter().flatten().cloned().collect()
        })
    }

    /// Drops user memberships whose `ttl` has passed; returns the connections (by hub) that
    /// left a group that way.
    pub fn purge_expired(&self) -> Vec<(String, Vec<String>)> {
        let now = Instant::now();
        let mut hubs = self.lock();
        let mut left = Vec::new();
        for (name, hub) in hubs.iter_mut() {
            let ids: Vec<String> = hub
                .user_groups
                .purge(now)
                .iter()
                .filter_map(|user| hub.users.get(user))
                .flatten()
                .cloned()
                .collect();
            if !ids.is_empty() {
                left.push((name.clone(), ids));
            }
        }
        hubs.retain(|_, h| {
            !(h.connections.is_empty() && h.user_groups.is_empty() && h.groups.is_empty())
        });
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::outbox::outbox;
    use crate::service::hub_protocol::Protocol::Json;

    #[test]
    fn user_groups_cover_future_connections_and_expire() {
        let hubs = Hubs::default();
        hubs.add_user_to_group("Chat", "ann", "g", None);
        hubs.add_user_to_group("chat", "bob", "g", Some(Duration::from_millis(1)));
        let (a, _ra) = outbox::<Shutdown>(1000);
        hubs.add_connection(
            "CHAT",
            "c1",
            Some("ann".into()),
            a,
            Json,
            Outgoing::handshake(b"{}".to_vec()),
        );
        let (b, _rb) = outbox::<Shutdown>(1000);
        hubs.add_connection(
            "chat",
            "c2",
            Some("bob".into()),
            b,
            Json,
            Outgoing::handshake(b"{}".to_vec()),
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            hubs.send(
                "chat",
                &Recipients::Group("g".into()),
                &[],
                Outgoing::handshake(b"x".to_vec())
            ),
            1
        );
        assert!(hubs.user_in_group("chat", "ann", "g"));
        assert!(!hubs.user_in_group("chat", "bob", "g"));
        hubs.remove_connection("chat", "c1");
        assert!(!hubs.group_exists("chat", "g"));
        assert!(!hubs.user_exists("chat", "ann"));
    }

    #[test]
    fn every_writer_keeps_a_connections_groups_in_step_with_the_groups_members() {
        let hubs = Hubs::default();
        let mut keep = Vec::new();
        for (id, user) in [("a", Some("ann")), ("b", Some("ann")), ("c", None)] {
            let (outbox, receiver) = outbox::<Shutdown>(1000);
            keep.push(receiver);
            let greeting = Outgoing::handshake(b"{}".to_vec());
            hubs.add_connection("h", id, user.map(str::to_string), outbox, Json, greeting);
        }
        let groups = |id: &str| hubs.groups_of("h", id).join(",");
        let send = |group: &str| {
            let frame = Outgoing::handshake(b"x".to_vec());
            hubs.send("h", &Recipients::Group(group.into()), &[], frame)
        };
        assert!(hubs.add_to_group("h", "g1", "a") && hubs.add_to_group("h", "g2", "c"));
        hubs.add_user_to_group("h", "ann", "g2", Some(Duration::ZERO));
        assert_eq!((groups("a"), groups("b")), ("g1,g2".into(), "g2".into()));
        assert_eq!(send("g2"), 3);
        hubs.remove_user_from_group("h", "ann", "g2");
        assert_eq!((groups("a"), groups("b")), ("g1".into(), "".into()));
        hubs.add_user_to_group("h", "ann", "g3", Some(Duration::ZERO));
        hubs.remove_user_from_all_groups("h", "ann");
        assert!(groups("a").is_empty() && groups("b").is_empty());
        assert_eq!((send("g1"), send("g2"), send("g3")), (0, 1, 0));
        hubs.remove_connection("h", "c");
        assert!(groups("c").is_empty() && !hubs.group_exists("h", "g2"));
        for id in ["a", "b"] {
            hubs.remove_connection("h", id);
        }
        assert!(hubs.lock().is_empty(), "a hub with nothing left is dropped");
    }

    #[test]
    fn excluded_connections_get_nothing() {
        let hubs = Hubs::default();
        let (a, _ra) = outbox::<Shutdown>(1000);
        let (b, _rb) = outbox::<Shutdown>(1000);
        hubs.add_connection("h", "a", None, a, Json, Outgoing::handshake(b"{}".to_vec()));
        hubs.add_connection("h", "b", None, b, Json, Outgoing::handshake(b"{}".to_vec()));
        assert_eq!(
            hubs.send(
                "h",
                &Recipients::All,
                &["a".into()],
                Outgoing::handshake(b"x".to_vec())
            ),
            1
        );
        assert_eq!(hubs.remove_from_group("h", "g", "a"), Removal::NotInGroup);
        assert!(hubs.add_to_group("h", "g", "a"));
        assert_eq!(hubs.remove_from_group("h", "g", "a"), Removal::Removed);
        assert_eq!(
            hubs.remove_from_group("h", "g", "zz"),
            Removal::NoConnection
        );
    }
}
