//! Who a send or a close is for: the service's REST paths name everyone in a hub, a user, a
//! group or one connection (the app's `Recipients` is the same choice, before the REST call).

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
