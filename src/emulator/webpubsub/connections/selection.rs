//! Which connections an operation selects: the [`Recipients`] of a hub but the `excluded` ones,
//! those that pass an OData `filter` if there is one. A group's members come from the
//! [`GroupIndex`] and one connection from a map lookup, so only a hub-wide or user selection
//! passes over every connection.

use std::collections::HashMap;

use super::Connection;
use crate::emulator::webpubsub::group_index::GroupIndex;
use crate::service::filter::{Filter, Subject};
use crate::service::recipients::Recipients;

/// What to select.
pub struct Selection<'a> {
    /// The hub, lowercased.
    pub hub: &'a str,
    /// Whom.
    pub recipients: &'a Recipients,
    /// Connections left out.
    pub excluded: &'a [String],
    /// The filter the connections must pass, if any.
    pub filter: Option<&'a Filter>,
}

impl<'a> Selection<'a> {
    /// The `recipients` of `hub` (lowercased) but `excluded`, passing `filter`.
    pub fn new(
        hub: &'a str,
        recipients: &'a Recipients,
        excluded: &'a [String],
        filter: Option<&'a Filter>,
    ) -> Self {
        Self {
            hub,
            recipients,
            excluded,
            filter,
        }
    }

    /// Whether connection `id` is selected.
    pub fn selects(&self, id: &str, conn: &Connection) -> bool {
        if conn.hub != self.hub || self.excluded.iter().any(|e| e == id) {
            return false;
        }
        let hit = match self.recipients {
            Recipients::All => true,
            Recipients::User(user) => conn.user.as_deref() == Some(user.as_str()),
            Recipients::Group(group) => conn.groups.contains(group),
            Recipients::Connection(c) => c == id,
        };
        hit && self.filter.is_none_or(|f| {
            let groups: Vec<&str> = conn.groups.iter().collect();
            f.matches(&Subject {
                user_id: conn.user.as_deref(),
                connection_id: id,
                groups: &groups,
            })
        })
    }

    /// Runs `f` on each selected connection of `map`, reading a group's members from `index`
    /// (locked meanwhile: `f` must not change any connection's groups nor drop a connection).
    pub fn each(
        &self,
        map: &mut HashMap<String, Connection>,
        index: &GroupIndex,
        mut f: impl FnMut(&String, &mut Connection),
    ) {
        let mut visit = |id: &String, conn: &mut Connection| {
            if self.selects(id, conn) {
                f(id, conn);
            }
        };
        match self.recipients {
            Recipients::Group(group) => {
                let index = index.lock();
                for id in index.members(self.hub, group) {
                    if let Some(conn) = map.get_mut(id) {
                        visit(id, conn);
                    }
                }
            }
            Recipients::Connection(id) => {
                if let Some(conn) = map.get_mut(id) {
                    visit(id, conn);
                }
            }
            Recipients::All | Recipients::User(_) => {
                for (id, conn) in map.iter_mut() {
                    visit(id, conn);
                }
            }
        }
    }

    /// The ids of the selected connections of `map`.
    pub fn ids(&self, map: &mut HashMap<String, Connection>, index: &GroupIndex) -> Vec<String> {
        let mut ids = Vec::new();
        self.each(map, index, |id, _| ids.push(id.clone()));
        ids
    }
}
