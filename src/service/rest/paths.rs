//! The request paths of both REST clients (SignalR's and Web PubSub's): every name is checked
//! against the service's rules, then percent-encoded as one path segment. The products differ in
//! one thing only: SignalR hub names are case-insensitive and sent lower-cased, as its SDK does;
//! Web PubSub keeps the hub's letter case, as its SDKs send it.

use std::fmt;

use super::error::RestError;
use crate::service::names;

/// `api/hubs/{hub}`, the start of every hub operation's path, with the hub checked and encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HubPath(String);

impl HubPath {
    /// A SignalR hub's path: the hub lower-cased.
    pub fn signalr(hub: &str) -> Result<Self, RestError> {
        names::validate_hub(hub)?;
        Ok(Self::encoded(&hub.to_ascii_lowercase()))
    }

    /// A Web PubSub hub's path: the hub as given.
    pub fn webpubsub(hub: &str) -> Result<Self, RestError> {
        names::validate_hub(hub)?;
        Ok(Self::encoded(hub))
    }

    fn encoded(hub: &str) -> Self {
        Self(format!("api/hubs/{}", names::encode(hub)))
    }

    /// `api/hubs/{hub}/users/{user}`.
    pub fn user(&self, user: &str) -> Result<String, RestError> {
        Ok(format!("{self}/users/{}", user_segment(user)?))
    }

    /// `api/hubs/{hub}/groups/{group}`.
    pub fn group(&self, group: &str) -> Result<String, RestError> {
        Ok(format!("{self}/groups/{}", group_segment(group)?))
    }

    /// `api/hubs/{hub}/connections/{connectionId}`.
    pub fn connection(&self, connection_id: &str) -> Result<String, RestError> {
        Ok(format!(
            "{self}/connections/{}",
            connection_segment(connection_id)?
        ))
    }

    /// `api/hubs/{hub}/users/{user}/groups/{group}`.
    pub fn user_group(&self, user: &str, group: &str) -> Result<String, RestError> {
        Ok(format!(
            "{}/groups/{}",
            self.user(user)?,
            group_segment(group)?
        ))
    }

    /// `api/hubs/{hub}/groups/{group}/connections/{connectionId}`.
    pub fn group_connection(&self, group: &str, connection_id: &str) -> Result<String, RestError> {
        Ok(format!(
            "{}/connections/{}",
            self.group(group)?,
            connection_segment(connection_id)?
        ))
    }
}

impl fmt::Display for HubPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user id as a path segment.
fn user_segment(user: &str) -> Result<String, RestError> {
    names::validate_user(user)?;
    Ok(names::encode(user))
}

/// A group name as a path segment.
fn group_segment(group: &str) -> Result<String, RestError> {
    names::validate_group(group)?;
    Ok(names::encode(group))
}

/// A connection id as a path segment.
pub(crate) fn connection_segment(connection_id: &str) -> Result<String, RestError> {
    names::validate_connection_id(connection_id)?;
    Ok(names::encode(connection_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signalr_lowercases_the_hub_and_webpubsub_keeps_it() {
        let signalr = HubPath::signalr("Chat").expect("valid hub");
        let webpubsub = HubPath::webpubsub("Chat").expect("valid hub");
        assert_eq!(signalr.to_string(), "api/hubs/chat");
        assert_eq!(webpubsub.to_string(), "api/hubs/Chat");
        assert_eq!(
            webpubsub.user_group("a b", "g/1").expect("valid names"),
            "api/hubs/Chat/users/a%20b/groups/g%2F1"
        );
        assert_eq!(
            signalr.group_connection("g", "c").expect("valid names"),
            "api/hubs/chat/groups/g/connections/c"
        );
        assert!(HubPath::signalr("no spaces").is_err());
        assert!(signalr.connection(" ").is_err());
    }
}
