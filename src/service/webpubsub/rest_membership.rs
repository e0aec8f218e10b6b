//! The Web PubSub REST client's group membership and permission operations (`docs/webpubsub.md` §3.2):
//! connections and users in groups, the filtered `:addToGroups`/`:removeFromGroups`, and the
//! `sendToGroup`/`joinLeaveGroup` permissions of a connection.

use reqwest::Method;

use super::rest::{call, WebPubSubClient};
use super::rest_options::{groups_body, Permission};
use crate::service::names;
use crate::service::rest::call::Call;
use crate::service::rest::paths::{connection_segment, HubPath};
use crate::service::rest::RestError;

impl WebPubSubClient {
    /// Adds a connection to `group`. `PUT /api/hubs/{hub}/groups/{group}/connections/{connectionId}`.
    pub async fn add_connection_to_group(
        &self,
        hub: &str,
        group: &str,
        connection_id: &str,
    ) -> Result<(), RestError> {
        let path = HubPath::webpubsub(hub)?.group_connection(group, connection_id)?;
        self.run(call("webpubsub.add_connection_to_group", Method::PUT, path))
            .await
    }

    /// Removes a connection from `group`.
    /// `DELETE /api/hubs/{hub}/groups/{group}/connections/{connectionId}`.
    pub async fn remove_connection_from_group(
        &self,
        hub: &str,
        group: &str,
        connection_id: &str,
    ) -> Result<(), RestError> {
        let path = HubPath::webpubsub(hub)?.group_connection(group, connection_id)?;
        self.run(
            call(
                "webpubsub.remove_connection_from_group",
                Method::DELETE,
                path,
            )
            .not_found_expected(),
        )
        .await
    }

    /// Removes a connection from every group. `DELETE /api/hubs/{hub}/connections/{connectionId}/groups`.
    pub async fn remove_connection_from_all_groups(
        &self,
        hub: &str,
        connection_id: &str,
    ) -> Result<(), RestError> {
        let path = format!(
            "{}/groups",
            HubPath::webpubsub(hub)?.connection(connection_id)?
        );
        self.run(
            call(
                "webpubsub.remove_connection_from_all_groups",
                Method::DELETE,
                path,
            )
            .not_found_expected(),
        )
        .await
    }

    /// Adds `user` (all its connections) to `group`. `PUT /api/hubs/{hub}/users/{userId}/groups/{group}`.
    pub async fn add_user_to_group(
        &self,
        hub: &str,
        group: &str,
        user: &str,
    ) -> Result<(), RestError> {
        let path = HubPath::webpubsub(hub)?.user_group(user, group)?;
        self.run(call("webpubsub.add_user_to_group", Method::PUT, path))
            .await
    }

    /// Removes `user` from `group`. `DELETE /api/hubs/{hub}/users/{userId}/groups/{group}`.
    pub async fn remove_user_from_group(
        &self,
        hub: &str,
        group: &str,
        user: &str,
    ) -> Result<(), RestError> {
        let path = HubPath::webpubsub(hub)?.user_group(user, group)?;
        self.run(
            call("webpubsub.remove_user_from_group", Method::DELETE, path).not_found_expected(),
        )
        .await
    }

    /// Removes `user` from every group. `DELETE /api/hubs/{hub}/users/{userId}/groups`.
    pub async fn remove_user_from_all_groups(
        &self,
        hub: &str,
        user: &str,
    ) -> Result<(), RestError> {
        let path = format!("{}/groups", HubPath::webpubsub(hub)?.user(user)?);
        self.run(
            call(
                "webpubsub.remove_user_from_all_groups",
                Method::DELETE,
                path,
            )
            .not_found_expected(),
        )
        .await
    }

    /// Adds the connections `filter` selects to every one of `groups`. `POST /api/hubs/{hub}/:addToGroups`.
    pub async fn add_connections_to_groups(
        &self,
        hub: &str,
        groups: &[String],
        filter: &str,
    ) -> Result<(), RestError> {
        let body = groups_body(groups, filter)?;
        let path = format!("{}/:addToGroups", HubPath::webpubsub(hub)?);
        self.run(
            call("webpubsub.add_connections_to_groups", Method::POST, path)
                .typed_body(body, "application/json"),
        )
        .await
    }

    /// Removes the connections `filter` selects from every one of `groups`.
    /// `POST /api/hubs/{hub}/:removeFromGroups`.
    pub async fn remove_connections_from_groups(
        &self,
        hub: &str,
        groups: &[String],
        filter: &str,
    ) -> Result<(), RestError> {
        let body = groups_body(groups, filter)?;
        let path = format!("{}/:removeFromGroups", HubPath::webpubsub(hub)?);
        self.run(
            call(
                "webpubsub.remove_connections_from_groups",
                Method::POST,
                path,
            )
            .typed_body(body, "application/json"),
        )
        .await
    }

    /// Grants a permission, for the group `target_name` or every group.
    /// `PUT /api/hubs/{hub}/permissions/{permission}/connections/{connectionId}?targetName=`.
    pub async fn grant_permission(
        &self,
        hub: &str,
        permission: Permission,
        connection_id: &str,
        target_name: Option<&str>,
    ) -> Result<(), RestError> {
        let call = permission_call(
            "webpubsub.grant_permission",
            Method::PUT,
            hub,
            permission,
            connection_id,
            target_name,
        )?;
        self.run(call).await
    }

    /// Revokes a permission. `DELETE …/permissions/{permission}/connections/{connectionId}`.
    pub async fn revoke_permission(
        &self,
        hub: &str,
        permission: Permission,
        connection_id: &str,
        target_name: Option<&str>,
    ) -> Result<(), RestError> {
        let call = permission_call(
            "webpubsub.revoke_permission",
            Method::DELETE,
            hub,
            permission,
            connection_id,
            target_name,
        )?;
        self.run(call.not_found_expected()).await
    }

    /// Whether a connection has a permission. `HEAD …/permissions/{permission}/connections/{connectionId}`.
    pub async fn check_permission(
        &self,
        hub: &str,
        permission: Permission,
        connection_id: &str,
        target_name: Option<&str>,
    ) -> Result<bool, RestError> {
        let call = permission_call(
            "webpubsub.check_permission",
            Method::HEAD,
            hub,
            permission,
            connection_id,
            target_name,
        )?;
        self.inner.execute(&call.not_found_expected()).await
    }
}

fn permission_call(
    operation: &'static str,
    method: Method,
    hub: &str,
    permission: Permission,
    connection_id: &str,
    target_name: Option<&str>,
) -> Result<Call, RestError> {
    let path = format!(
        "{}/permissions/{}/connections/{}",
        HubPath::webpubsub(hub)?,
        permission.as_str(),
        connection_segment(connection_id)?
    );
    let mut call = call(operation, method, path);
    if let Some(target) = target_name {
        names::validate_group(target)?;
        call = call.query("targetName", target);
    }
    Ok(call)
}
