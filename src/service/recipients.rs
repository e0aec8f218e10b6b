//! Who a send or a close is for: both services' REST paths name everyone in a hub, a user, a
//! group or one connection. One name along the whole data path: the app's bodies, the REST
//! clients and both emulators use this type (excluded connection ids and filters travel beside it).

/// Who a send or a close is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// Every connection of the hub.
    All,
    /// Every connection of a user.
    User(String),
    /// Every connection in a group (directly or through its user).
    Group(String),
    /// One connection.
    Connection(String),
}

impl Recipients {
    /// How the dashboard names them: the kind (`all`, `user`, `group`, `connection`) and the name.
    pub fn kind_and_name(&self) -> (&'static str, Option<String>) {
        match self {
            Self::All => ("all", None),
            Self::User(u) => ("user", Some(u.clone())),
            Self::Group(g) => ("group", Some(g.clone())),
            Self::Connection(c) => ("connection", Some(c.clone())),
        }
    }
}
