//! The options of Web PubSub REST calls and their checks: permissions, who a send leaves out
//! (`excluded`, an OData `filter`) and how long it lives (`messageTtlSeconds`), what
//! `:generateToken` puts in a token, and the body of `:addToGroups` / `:removeFromGroups`.
//! Everything is refused before a request is built when the service would refuse it.

use serde_json::json;

use crate::service::names;
use crate::service::rest::call::Call;
use crate::service::rest::RestError;

/// Largest `messageTtlSeconds` the service accepts.
pub const MAX_MESSAGE_TTL: u32 = 300;
/// Longest OData filter sent (the service's URL limit leaves room for about this much).
pub const MAX_FILTER_CHARS: usize = 4096;

/// A permission of a connection (`docs/webpubsub.md` §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Publish to a group (or every group without a target).
    SendToGroup,
    /// Join and leave a group (or every group without a target).
    JoinLeaveGroup,
}

impl Permission {
    /// The path segment: `sendToGroup` or `joinLeaveGroup`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendToGroup => "sendToGroup",
            Self::JoinLeaveGroup => "joinLeaveGroup",
        }
    }
}

/// Who does not get a send, and for how long it is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Connection ids left out (`excluded`; not for sends to a user or connection).
    pub excluded: Vec<String>,
    /// An OData filter over `userId`, `connectionId` and `groups` (not for sends to a connection).
    pub filter: Option<String>,
    /// `messageTtlSeconds`, 0..=300 (0 = never expires).
    pub message_ttl_seconds: Option<u32>,
}

/// What `:generateToken` puts in the token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateTokenOptions {
    /// `userId`.
    pub user_id: Option<String>,
    /// `role`, repeated.
    pub roles: Vec<String>,
    /// `group`, repeated.
    pub groups: Vec<String>,
    /// `minutesToExpire` (at least 1; the service's default is 60).
    pub minutes_to_expire: Option<u32>,
    /// `clientType`: `Default` or `MQTT`.
    pub client_type: Option<&'static str>,
}

/// Adds `excluded`, `filter` and `messageTtlSeconds` where the operation takes them; refuses
/// them where it does not (rather than silently widening or narrowing a send).
pub(super) fn send_options(
    mut call: Call,
    options: &SendOptions,
    excluded: bool,
    filter: bool,
) -> Result<Call, RestError> {
    if !options.excluded.is_empty() {
        if !excluded {
            return Err(RestError::InvalidArgument(format!(
                "{} takes no excluded connections",
                call.operation
            )));
        }
        call = call.excluded(&options.excluded)?;
    }
    if let Some(text) = &options.filter {
        if !filter {
            return Err(RestError::InvalidArgument(format!(
                "{} takes no filter",
                call.operation
            )));
        }
        check_filter(text)?;
        call = call.query("filter", text);
    }
    if let Some(ttl) = options.message_ttl_seconds {
        if ttl > MAX_MESSAGE_TTL {
            return Err(RestError::InvalidArgument(format!(
                "messageTtlSeconds {ttl} is too large; use 0 (never expires) to {MAX_MESSAGE_TTL}"
            )));
        }
        call = call.query("messageTtlSeconds", &ttl.to_string());
    }
    Ok(call)
}

/// An OData filter must say something, fit in the URL and hold no control characters.
pub fn check_filter(filter: &str) -> Result<(), RestError> {
    if filter.trim().is_empty() {
        return Err(RestError::InvalidArgument("the filter is empty; leave it out or write an OData filter such as `userId eq 'alice'`".into()));
    }
    if filter.chars().count() > MAX_FILTER_CHARS {
        return Err(RestError::InvalidArgument(format!(
            "the filter is longer than {MAX_FILTER_CHARS} characters"
        )));
    }
    if filter.chars().any(char::is_control) {
        return Err(RestError::InvalidArgument(
            "the filter contains control characters".into(),
        ));
    }
    Ok(())
}

pub(super) fn groups_body(groups: &[String], filter: &str) -> Result<Vec<u8>, RestError> {
    if groups.is_empty() {
        return Err(RestError::InvalidArgument(
            "groups is empty; name at least one group".into(),
        ));
    }
    for group in groups {
        names::validate_group(group)?;
    }
    check_filter(filter)?;
    Ok(json!({ "groups": groups, "filter": filter })
        .to_string()
        .into_bytes())
}
