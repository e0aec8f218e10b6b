//! The request paths of Web PubSub REST calls: names checked against the service's rules, then
//! percent-encoded as path segments. The hub keeps its letter case, as the SDKs send it.

use crate::service::names;
use crate::service::rest::RestError;

/// `api/hubs/{hub}`: the hub as given (Web PubSub SDKs do not lower-case it).
pub(super) fn hub_path(hub: &str) -> Result<String, RestError> {
    names::validate_hub(hub)?;
    Ok(format!("api/hubs/{}", names::encode(hub)))
}

pub(super) fn user_segment(user: &str) -> Result<String, RestError> {
    names::validate_user(user)?;
    Ok(names::encode(user))
}

pub(super) fn group_segment(group: &str) -> Result<String, RestError> {
    names::validate_group(group)?;
    Ok(names::encode(group))
}

pub(super) fn connection_segment(id: &str) -> Result<String, RestError> {
    names::validate_connection_id(id)?;
    Ok(names::encode(id))
}

pub(super) fn connection_path(hub: &str, id: &str) -> Result<String, RestError> {
    Ok(format!(
        "{}/connections/{}",
        hub_path(hub)?,
        connection_segment(id)?
    ))
}

pub(super) fn group_connection_path(hub: &str, group: &str, id: &str) -> Result<String, RestError> {
    Ok(format!(
        "{}/groups/{}/connections/{}",
        hub_path(hub)?,
        group_segment(group)?,
        connection_segment(id)?
    ))
}

pub(super) fn user_group_path(hub: &str, group: &str, user: &str) -> Result<String, RestError> {
    Ok(format!(
        "{}/users/{}/groups/{}",
        hub_path(hub)?,
        user_segment(user)?,
        group_segment(group)?
    ))
}
