//! Typed async client for the Web PubSub data-plane REST API, api-version 2024-01-01
//! (`docs/webpubsub.md` §3, §6): one method per operation of the swagger, and [`send`] and
//! [`close`] over [`Recipients`]. Names are checked before anything is sent, path segments and
//! query values percent-encoded; every request carries an HS256 token whose `aud` is the whole
//! request URL, as the SDKs sign (or the Entra ID token). Paths, running calls, retries (never a
//! duplicate send) and error mapping are the crate's shared REST machinery
//! ([`crate::service::rest`]).
//!
//! [`send`]: WebPubSubClient::send
//! [`close`]: WebPubSubClient::close

use std::sync::Arc;

use reqwest::Method;

use super::connection_string::WebPubSubConnectionString;
use super::content::Content;
use super::rest_options::send_options;
pub use super::rest_options::{
    check_filter, GenerateTokenOptions, Permission, SendOptions, MAX_FILTER_CHARS, MAX_MESSAGE_TTL,
};
use crate::service::entra::{EntraCredential, Resource};
use crate::service::names;
use crate::service::recipients::Recipients;
use crate::service::rest::call::{takes_no_excluded, Call};
use crate::service::rest::list;
use crate::service::rest::paths::HubPath;
use crate::service::rest::runner::CallRunner;
use crate::service::rest::{
    GroupMemberPage, ListOptions, RestError, RestOptions, HEALTH_TIMEOUT, NEWER_API_VERSION,
};
use crate::service::token::{TokenError, TokenMinter};

/// The data-plane API version of every call.
pub const API_VERSION: &str = "2024-01-01";
/// The REST client. Cheap to clone: clones share one pooled HTTP client and one token cache.
#[derive(Clone)]
pub struct WebPubSubClient {
    pub(super) inner: Arc<CallRunner>,
}

impl std::fmt::Debug for WebPubSubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebPubSubClient")
            .field("server_base", &self.inner.server_base())
            .finish_non_exhaustive()
    }
}

impl WebPubSubClient {
    /// A client for the service of `connection`, signing with its access key.
    pub fn new(
        connection: &WebPubSubConnectionString,
        options: RestOptions,
    ) -> Result<Self, RestError> {
        let base = format!("{}/", connection.endpoint());
        let key = connection.access_key().ok_or(TokenError::NoAccessKey)?;
        let minter = TokenMinter::from_parts(key, base.clone(), base.clone())?;
        Ok(Self {
            inner: Arc::new(CallRunner::with_minter(base, minter, key.clone(), options)?),
        })
    }

    /// A client for the service of `connection` whose calls carry the Entra ID token of
    /// `credential` (for [`Resource::WEBPUBSUB`], whatever resource it was made for).
    pub fn with_entra(
        connection: &WebPubSubConnectionString,
        options: RestOptions,
        credential: EntraCredential,
    ) -> Result<Self, RestError> {
        let credential = credential.for_resource(Resource::WEBPUBSUB);
        Ok(Self {
            inner: Arc::new(CallRunner::with_entra(
                format!("{}/", connection.endpoint()),
                credential,
                connection.access_key().cloned(),
                options,
            )?),
        })
    }

    /// Whether calls carry an Entra ID token (else an HS256 token signed with the access key).
    pub fn uses_entra(&self) -> bool {
        self.inner.uses_entra()
    }

    /// Sends `content` to `recipients` with the typed send for them below; `options` must suit
    /// that send (only everyone and a group take excluded ids, only a connection takes no filter).
    pub async fn send(
        &self,
        hub: &str,
        recipients: &Recipients,
        content: &Content,
        options: &SendOptions,
    ) -> Result<(), RestError> {
        match recipients {
            Recipients::All => self.send_to_all(hub, content, options).await,
            Recipients::Group(group) => self.send_to_group(hub, group, content, options).await,
            Recipients::User(user) => self.send_to_user(hub, user, content, options).await,
            Recipients::Connection(id) => self.send_to_connection(hub, id, content, options).await,
        }
    }

    /// Closes the connections of `recipients` with the typed close for them below. Closing one
    /// connection takes no `excluded` ids (an [`RestError::InvalidArgument`]).
    pub async fn close(
        &self,
        hub: &str,
        recipients: &Recipients,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        match recipients {
            Recipients::All => self.close_all(hub, excluded, reason).await,
            Recipients::Group(group) => self.close_group(hub, group, excluded, reason).await,
            Recipients::User(user) => self.close_user(hub, user, excluded, reason).await,
            Recipients::Connection(id) => {
                takes_no_excluded("webpubsub.close_connection", excluded)?;
                self.close_connection(hub, id, reason).await
            }
        }
    }

    /// Sends `content` to every connection of `hub`. `POST /api/hubs/{hub}/:send`.
    pub async fn send_to_all(
        &self,
        hub: &str,
        content: &Content,
        options: &SendOptions,
    ) -> Result<(), RestError> {
        let call = call(
            "webpubsub.send_to_all",
            Method::POST,
            format!("{}/:send", HubPath::webpubsub(hub)?),
        );
        let call = send_options(call, options, true, true)?;
        self.run(with_content(call, content)?).await
    }

    /// Sends `content` to every connection of `user`. `POST /api/hubs/{hub}/users/{userId}/:send`.
    pub async fn send_to_user(
        &self,
        hub: &str,
        user: &str,
        content: &Content,
        options: &SendOptions,
    ) -> Result<(), RestError> {
        let path = format!("{}/:send", HubPath::webpubsub(hub)?.user(user)?);
        let call = send_options(
            call("webpubsub.send_to_user", Method::POST, path),
            options,
            false,
            true,
        )?;
        self.run(with_content(call, content)?).await
    }

    /// Sends `content` to every connection in `group`.
    /// `POST /api/hubs/{hub}/groups/{group}/:send`.
    pub async fn send_to_group(
        &self,
        hub: &str,
        group: &str,
        content: &Content,
        options: &SendOptions,
    ) -> Result<(), RestError> {
        let path = format!("{}/:send", HubPath::webpubsub(hub)?.group(group)?);
        let call = send_options(
            call("webpubsub.send_to_group", Method::POST, path),
            options,
            true,
            true,
        )?;
        self.run(with_content(call, content)?).await
    }

    /// Sends `content` to one connection.
    /// `POST /api/hubs/{hub}/connections/{connectionId}/:send`.
    pub async fn send_to_connection(
        &self,
        hub: &str,
        connection_id: &str,
        content: &Content,
        options: &SendOptions,
    ) -> Result<(), RestError> {
        let path = format!(
            "{}/:send",
            HubPath::webpubsub(hub)?.connection(connection_id)?
        );
        let call = send_options(
            call("webpubsub.send_to_connection", Method::POST, path),
            options,
            false,
            false,
        )?;
        self.run(with_content(call, content)?).await
    }

    /// Whether a connection exists. `HEAD /api/hubs/{hub}/connections/{connectionId}`.
    pub async fn connection_exists(
        &self,
        hub: &str,
        connection_id: &str,
    ) -> Result<bool, RestError> {
        self.check(
            "webpubsub.connection_exists",
            HubPath::webpubsub(hub)?.connection(connection_id)?,
        )
        .await
    }

    /// Whether `user` has a connection. `HEAD /api/hubs/{hub}/users/{userId}`.
    pub async fn user_exists(&self, hub: &str, user: &str) -> Result<bool, RestError> {
        let path = HubPath::webpubsub(hub)?.user(user)?;
        self.check("webpubsub.user_exists", path).await
    }

    /// Whether `group` has a connection. `HEAD /api/hubs/{hub}/groups/{group}`.
    pub async fn group_exists(&self, hub: &str, group: &str) -> Result<bool, RestError> {
        let path = HubPath::webpubsub(hub)?.group(group)?;
        self.check("webpubsub.group_exists", path).await
    }

    /// Closes one connection. `DELETE /api/hubs/{hub}/connections/{connectionId}?reason=`.
    pub async fn close_connection(
        &self,
        hub: &str,
        connection_id: &str,
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        let call = call(
            "webpubsub.close_connection",
            Method::DELETE,
            HubPath::webpubsub(hub)?.connection(connection_id)?,
        )
        .reason(reason)
        .not_found_expected();
        self.run(call).await
    }

    /// Closes every connection of `hub` but the excluded.
    /// `POST /api/hubs/{hub}/:closeConnections?excluded=&reason=`.
    pub async fn close_all(
        &self,
        hub: &str,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        let path = format!("{}/:closeConnections", HubPath::webpubsub(hub)?);
        let call = call("webpubsub.close_all_connections", Method::POST, path)
            .excluded(excluded)?
            .reason(reason);
        self.run(call).await
    }

    /// Closes every connection of `user` but the excluded.
    /// `POST /api/hubs/{hub}/users/{userId}/:closeConnections`.
    pub async fn close_user(
        &self,
        hub: &str,
        user: &str,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        let path = format!("{}/:closeConnections", HubPath::webpubsub(hub)?.user(user)?);
        let call = call("webpubsub.close_user_connections", Method::POST, path)
            .excluded(excluded)?
            .reason(reason);
        self.run(call).await
    }

    /// Closes every connection in `group` but the excluded.
    /// `POST /api/hubs/{hub}/groups/{group}/:closeConnections`.
    pub async fn close_group(
        &self,
        hub: &str,
        group: &str,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        let path = format!(
            "{}/:closeConnections",
            HubPath::webpubsub(hub)?.group(group)?
        );
        let call = call("webpubsub.close_group_connections", Method::POST, path)
            .excluded(excluded)?
            .reason(reason);
        self.run(call).await
    }

    /// One page of `group`'s connections with their users (api-version 2024-12-01,
    /// `listConnectionsInGroup`). `GET /api/hubs/{hub}/groups/{group}/connections`.
    pub async fn list_connections_in_group(
        &self,
        hub: &str,
        group: &str,
        options: &ListOptions,
    ) -> Result<GroupMemberPage, RestError> {
        let path = format!("{}/connections", HubPath::webpubsub(hub)?.group(group)?);
        let call =
            list::call("webpubsub.list_connections_in_group", path).for_api(NEWER_API_VERSION);
        list::run(&self.inner, call, options).await
    }

    /// Asks the service for a client token. `POST /api/hubs/{hub}/:generateToken`.
    pub async fn generate_token(
        &self,
        hub: &str,
        options: &GenerateTokenOptions,
    ) -> Result<String, RestError> {
        let mut call = call(
            "webpubsub.generate_token",
            Method::POST,
            format!("{}/:generateToken", HubPath::webpubsub(hub)?),
        );
        if let Some(user) = &options.user_id {
            names::validate_user(user)?;
            call = call.query("userId", user);
        }
        for role in &options.roles {
            call = call.query("role", role);
        }
        if let Some(minutes) = options.minutes_to_expire {
            if minutes == 0 || minutes > i32::MAX as u32 {
                return Err(RestError::InvalidArgument(format!(
                    "minutesToExpire {minutes} must be from 1 to {}",
                    i32::MAX
                )));
            }
            call = call.query("minutesToExpire", &minutes.to_string());
        }
        for group in &options.groups {
            names::validate_group(group)?;
            call = call.query("group", group);
        }
        if let Some(client_type) = options.client_type {
            call = call.query("clientType", client_type);
        }
        let (_, body) = self.inner.execute_answer(&call.with_answer_body()).await?;
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(String::from))
            .ok_or_else(|| {
                RestError::InvalidArgument(
                    "webpubsub.generate_token: the service's answer has no token".into(),
                )
            })
    }

    /// Whether the service is healthy: one `HEAD /api/health` within [`HEALTH_TIMEOUT`].
    pub async fn health(&self) -> Result<bool, RestError> {
        let call =
            call("webpubsub.health", Method::HEAD, "api/health".into()).probe(HEALTH_TIMEOUT);
        match self.inner.execute(&call).await {
            Err(RestError::Service { status, .. }) if status != 401 && status != 403 => Ok(false),
            other => other,
        }
    }

    pub(super) async fn run(&self, call: Call) -> Result<(), RestError> {
        self.inner.execute(&call).await.map(|_| ())
    }

    pub(super) async fn check(
        &self,
        operation: &'static str,
        path: String,
    ) -> Result<bool, RestError> {
        let call = call(operation, Method::HEAD, path).not_found_expected();
        self.inner.execute(&call).await
    }
}

/// A call of this API, its operation named `webpubsub.<operation>` in errors and logs.
pub(super) fn call(operation: &'static str, method: Method, path: String) -> Call {
    Call::new(operation, method, path).for_api(API_VERSION)
}

fn with_content(call: Call, content: &Content) -> Result<Call, RestError> {
    content.check()?;
    Ok(call.typed_body(content.bytes().to_vec(), content.content_type()))
}
