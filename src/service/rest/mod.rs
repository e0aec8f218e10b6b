//! Typed async client for Azure SignalR Service's data-plane REST API, api-version 2022-06-01
//! (`docs/protocol.md` §3 and §4): one method per operation, and [`RestClient::send`] and
//! [`RestClient::close`] over [`Recipients`]; names validated before anything is sent, every path
//! segment percent-encoded, each request signed with a token for its own audience (or carrying
//! the Entra ID token). The Web PubSub client ([`crate::service::webpubsub::rest`]) runs on the
//! same machinery:
//!
//! * `call` describes one operation (query, body, what a 404 means), `paths` its path;
//! * `runner` runs it: signs, sends with timeouts, retries (`retry` decides which are safe);
//! * `error` is what can go wrong; `payload` is the body of a SignalR send.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use serverless_signalr::service::rest::{Payload, RestClient, RestOptions};
//! use serverless_signalr::service::ConnectionString;
//!
//! let connection = ConnectionString::parse("Endpoint=http://localhost;Port=8888;AccessKey=ABC;Version=1.0;")?;
//! let client = RestClient::new(&connection, RestOptions::default())?;
//! let payload = Payload::new("newMessage", vec![serde_json::json!("hello")]);
//! client.send_to_group("chat", "room 1", &payload, &[]).await?;
//! # Ok(()) }
//! ```

pub(crate) mod call;
mod client_token;
mod error;
mod execute;
mod invoke;
pub(crate) mod list;
pub(crate) mod paths;
mod payload;
mod retry;
pub(crate) mod runner;
mod token_cache;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

pub use call::{
    check_excluded, check_ttl, API_VERSION, MAX_EXCLUDED_QUERY_CHARS, NEWER_API_VERSION,
};
pub use error::{RestError, MAX_MESSAGE_CHARS};
pub use execute::{check_filter, CommandMessage, ExecuteCommand};
pub use list::{GroupMember, GroupMemberPage, ListOptions, MAX_PAGE_SIZE};
pub use payload::{Payload, MAX_BODY_BYTES};

use call::{takes_no_excluded, Call};
use paths::HubPath;
use runner::CallRunner;

use crate::service::recipients::Recipients;
use crate::service::ConnectionString;

/// Longest wait for the health probe ([`RestClient::health`]).
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Timeouts and retry limits of a [`RestClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestOptions {
    /// Longest wait for one attempt (connecting, sending and reading the answer). Default 30 s.
    pub timeout: Duration,
    /// Most retries after the first attempt, for outcomes that cannot cause a duplicate. Default 3.
    pub max_retries: u32,
    /// Wait before the first retry; doubles per retry (with jitter). Default 200 ms.
    pub base_backoff: Duration,
    /// Longest wait between attempts. A `Retry-After` longer than this is not cut short: the
    /// call fails with the service's answer instead. Default 5 s.
    pub max_backoff: Duration,
}

impl Default for RestOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_retries: 3,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// The REST client. Cheap to clone: clones share one pooled HTTP client and one token minter.
#[derive(Clone)]
pub struct RestClient {
    inner: Arc<CallRunner>,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("server_base", &self.inner.server_base())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

use crate::service::entra::EntraCredential;
use crate::service::token::TokenMinter;

impl RestClient {
    /// A client for the service of `connection`, which must carry an `AccessKey`.
    ///
    /// Fails with [`RestError::Token`] without an access key, and with
    /// [`RestError::InvalidArgument`] for a zero timeout.
    pub fn new(connection: &ConnectionString, options: RestOptions) -> Result<Self, RestError> {
        Ok(Self {
            inner: Arc::new(CallRunner::new(connection, options, None)?),
        })
    }

    /// A client for an Entra ID connection string (`AuthType=…`): every call carries
    /// `credential`'s token as bearer instead of a signed REST token (`docs/protocol.md` §7.4).
    pub fn with_entra(
        connection: &ConnectionString,
        options: RestOptions,
        credential: EntraCredential,
    ) -> Result<Self, RestError> {
        Ok(Self {
            inner: Arc::new(CallRunner::new(connection, options, Some(credential))?),
        })
    }

    /// The minter of the connection string's access key, which signs this client's calls; the
    /// app signs client tokens with the same one. `None` under Entra ID.
    pub fn key_minter(&self) -> Option<&TokenMinter> {
        self.inner.key_minter()
    }

    /// Sends `payload` to `recipients` with the typed send for them below. Only a send to
    /// everyone or to a group takes `excluded` connection ids; given to another, they are an
    /// [`RestError::InvalidArgument`] and nothing is sent.
    pub async fn send(
        &self,
        hub: &str,
        recipients: &Recipients,
        excluded: &[String],
        payload: &Payload,
    ) -> Result<(), RestError> {
        match recipients {
            Recipients::All => self.send_to_all(hub, payload, excluded).await,
            Recipients::Group(group) => self.send_to_group(hub, group, payload, excluded).await,
            Recipients::User(user) => {
                takes_no_excluded("send_to_user", excluded)?;
                self.send_to_user(hub, user, payload).await
            }
            Recipients::Connection(id) => {
                takes_no_excluded("send_to_connection", excluded)?;
                self.send_to_connection(hub, id, payload).await
            }
        }
    }

    /// Closes the connections of `recipients`, telling the clients `reason` when given, with the
    /// typed close for them below. Closing one connection takes no `excluded` ids (an
    /// [`RestError::InvalidArgument`]).
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
                takes_no_excluded("close_connection", excluded)?;
                self.close_connection(hub, id, reason).await
            }
        }
    }

    /// Sends `payload` to every connection of `hub` except the `excluded` connection ids.
    /// `POST /api/hubs/{hub}/:send`.
    pub async fn send_to_all(
        &self,
        hub: &str,
        payload: &Payload,
        excluded: &[String],
    ) -> Result<(), RestError> {
        let call = Call::new(
            "send_to_all",
            Method::POST,
            format!("{}/:send", HubPath::signalr(hub)?),
        )
        .excluded(excluded)?
        .body(payload.to_body()?);
        self.run(call).await
    }

    /// Sends `payload` to every connection of `user`. `POST /api/hubs/{hub}/users/{user}/:send`.
    pub async fn send_to_user(
        &self,
        hub: &str,
        user: &str,
        payload: &Payload,
    ) -> Result<(), RestError> {
        let path = format!("{}/:send", HubPath::signalr(hub)?.user(user)?);
        let call = Call::new("send_to_user", Method::POST, path).body(payload.to_body()?);
        self.run(call).await
    }

    /// Sends `payload` to every connection in `group` except the `excluded` connection ids.
    /// `POST /api/hubs/{hub}/groups/{group}/:send`.
    pub async fn send_to_group(
        &self,
        hub: &str,
        group: &str,
        payload: &Payload,
        excluded: &[String],
    ) -> Result<(), RestError> {
        let path = format!("{}/:send", HubPath::signalr(hub)?.group(group)?);
        let call = Call::new("send_to_group", Method::POST, path)
            .excluded(excluded)?
            .body(payload.to_body()?);
        self.run(call).await
    }

    /// Sends `payload` to one connection.
    /// `POST /api/hubs/{hub}/connections/{connectionId}/:send`.
    pub async fn send_to_connection(
        &self,
        hub: &str,
        connection_id: &str,
        payload: &Payload,
    ) -> Result<(), RestError> {
        let path = format!(
            "{}/:send",
            HubPath::signalr(hub)?.connection(connection_id)?
        );
        let call = Call::new("send_to_connection", Method::POST, path).body(payload.to_body()?);
        self.run(call).await
    }

    /// Adds `user` (all its connections, now and later) to `group`, for `ttl` seconds when given
    /// (else up to a year). `PUT /api/hubs/{hub}/users/{user}/groups/{group}?ttl=`.
    pub async fn add_user_to_group(
        &self,
        hub: &str,
        group: &str,
        user: &str,
        ttl: Option<u32>,
    ) -> Result<(), RestError> {
        let call = Call::new(
            "add_user_to_group",
            Method::PUT,
            HubPath::signalr(hub)?.user_group(user, group)?,
        )
        .ttl(ttl)?;
        self.run(call).await
    }

    /// Removes `user` from `group`; succeeds when it was not a member.
    /// `DELETE /api/hubs/{hub}/users/{user}/groups/{group}`.
    pub async fn remove_user_from_group(
        &self,
        hub: &str,
        group: &str,
        user: &str,
    ) -> Result<(), RestError> {
        let path = HubPath::signalr(hub)?.user_group(user, group)?;
        let call = Call::new("remove_user_from_group", Method::DELETE, path).not_found_expected();
        self.run(call).await
    }

    /// Removes `user` from every group. `DELETE /api/hubs/{hub}/users/{user}/groups`.
    pub async fn remove_user_from_all_groups(
        &self,
        hub: &str,
        user: &str,
    ) -> Result<(), RestError> {
        let path = format!("{}/groups", HubPath::signalr(hub)?.user(user)?);
        let call =
            Call::new("remove_user_from_all_groups", Method::DELETE, path).not_found_expected();
        self.run(call).await
    }

    /// Adds a connection to `group`. `false` when the connection does not exist (404
    /// `Error.Connection.NotExisted`).
    /// `PUT /api/hubs/{hub}/groups/{group}/connections/{connectionId}`.
    pub async fn add_connection_to_group(
        &self,
        hub: &str,
        group: &str,
        connection_id: &str,
    ) -> Result<bool, RestError> {
        let path = HubPath::signalr(hub)?.group_connection(group, connection_id)?;
        let call = Call::new("add_connection_to_group", Method::PUT, path).not_found_expected();
        self.inner.execute(&call).await
    }

    /// Removes a connection from `group`; succeeds when it was not a member or does not exist.
    /// `DELETE /api/hubs/{hub}/groups/{group}/connections/{connectionId}`.
    pub async fn remove_connection_from_group(
        &self,
        hub: &str,
        group: &str,
        connection_id: &str,
    ) -> Result<(), RestError> {
        let path = HubPath::signalr(hub)?.group_connection(group, connection_id)?;
        let call =
            Call::new("remove_connection_from_group", Method::DELETE, path).not_found_expected();
        self.run(call).await
    }

    /// Removes a connection from every group.
    /// `DELETE /api/hubs/{hub}/connections/{connectionId}/groups`.
    pub async fn remove_connection_from_all_groups(
        &self,
        hub: &str,
        connection_id: &str,
    ) -> Result<(), RestError> {
        let path = format!(
            "{}/groups",
            HubPath::signalr(hub)?.connection(connection_id)?
        );
        let call = Call::new("remove_connection_from_all_groups", Method::DELETE, path)
            .not_found_expected();
        self.run(call).await
    }

    /// Whether `user` has at least one connection. `HEAD /api/hubs/{hub}/users/{user}`.
    pub async fn user_exists(&self, hub: &str, user: &str) -> Result<bool, RestError> {
        let path = HubPath::signalr(hub)?.user(user)?;
        self.check("user_exists", path).await
    }

    /// Whether `group` has at least one connection. `HEAD /api/hubs/{hub}/groups/{group}`.
    pub async fn group_exists(&self, hub: &str, group: &str) -> Result<bool, RestError> {
        let path = HubPath::signalr(hub)?.group(group)?;
        self.check("group_exists", path).await
    }

    /// One page of `group`'s connections with their users (api-version 2024-12-01); an unknown
    /// group is an empty page. `GET /api/hubs/{hub}/groups/{group}/connections`.
    pub async fn list_connections_in_group(
        &self,
        hub: &str,
        group: &str,
        options: &ListOptions,
    ) -> Result<GroupMemberPage, RestError> {
        let path = format!("{}/connections", HubPath::signalr(hub)?.group(group)?);
        let call = list::call("list_connections_in_group", path);
        list::run(&self.inner, call, options).await
    }

    /// Whether a connection is connected.
    /// `HEAD /api/hubs/{hub}/connections/{connectionId}`.
    pub async fn connection_exists(
        &self,
        hub: &str,
        connection_id: &str,
    ) -> Result<bool, RestError> {
        let path = HubPath::signalr(hub)?.connection(connection_id)?;
        self.check("connection_exists", path).await
    }

    /// Whether `user` is in `group`. `HEAD /api/hubs/{hub}/users/{user}/groups/{group}` (the
    /// swagger's method; the .NET SDK issues GET on the same path).
    pub async fn user_in_group(
        &self,
        hub: &str,
        group: &str,
        user: &str,
    ) -> Result<bool, RestError> {
        self.check(
            "user_in_group",
            HubPath::signalr(hub)?.user_group(user, group)?,
        )
        .await
    }

    /// Closes one connection, telling the client `reason` when given; succeeds when it does not
    /// exist. `DELETE /api/hubs/{hub}/connections/{connectionId}?reason=`.
    pub async fn close_connection(
        &self,
        hub: &str,
        connection_id: &str,
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        let path = HubPath::signalr(hub)?.connection(connection_id)?;
        let call = Call::new("close_connection", Method::DELETE, path)
            .reason(reason)
            .not_found_expected();
        self.run(call).await
    }

    /// Closes every connection of `hub` except the `excluded` ones.
    /// `POST /api/hubs/{hub}/:closeConnections?excluded=&reason=`.
    pub async fn close_all(
        &self,
        hub: &str,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        let path = format!("{}/:closeConnections", HubPath::signalr(hub)?);
        let call = Call::new("close_all", Method::POST, path)
            .excluded(excluded)?
            .reason(reason);
        self.run(call).await
    }

    /// Closes every connection in `group` except the `excluded` ones.
    /// `POST /api/hubs/{hub}/groups/{group}/:closeConnections?excluded=&reason=`.
    pub async fn close_group(
        &self,
        hub: &str,
        group: &str,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        let path = format!("{}/:closeConnections", HubPath::signalr(hub)?.group(group)?);
        let call = Call::new("close_group", Method::POST, path)
            .excluded(excluded)?
            .reason(reason);
        self.run(call).await
    }

    /// Closes every connection of `user` except the `excluded` ones.
    /// `POST /api/hubs/{hub}/users/{user}/:closeConnections?excluded=&reason=`.
    pub async fn close_user(
        &self,
        hub: &str,
        user: &str,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        let path = format!("{}/:closeConnections", HubPath::signalr(hub)?.user(user)?);
        let call = Call::new("close_user", Method::POST, path)
            .excluded(excluded)?
            .reason(reason);
        self.run(call).await
    }

    /// Whether the service is healthy: one signed `HEAD /api/health` within
    /// [`HEALTH_TIMEOUT`], never retried (a probe must answer now, as the SDK's does). `true` on
    /// 2xx, `false` on another status from the service. An error when it cannot be reached or
    /// does not answer in time, and on 401/403: those mean this app's key is wrong, not that the
    /// service is down.
    pub async fn health(&self) -> Result<bool, RestError> {
        let call = Call::new("health", Method::HEAD, "api/health".into()).probe(HEALTH_TIMEOUT);
        match self.inner.execute(&call).await {
            Err(RestError::Service { status, .. }) if status != 401 && status != 403 => Ok(false),
            other => other,
        }
    }

    /// Whether calls are authorised with an Entra ID token.
    pub fn uses_entra(&self) -> bool {
        self.inner.uses_entra()
    }

    async fn run(&self, call: Call) -> Result<(), RestError> {
        self.inner.execute(&call).await.map(|_| ())
    }

    async fn check(&self, operation: &'static str, path: String) -> Result<bool, RestError> {
        let call = Call::new(operation, Method::HEAD, path).not_found_expected();
        self.inner.execute(&call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn excluded_ids_for_one_user_or_connection_are_refused_before_sending() {
        // Port 9 (discard): were anything sent, the error would be Unreachable, not InvalidArgument.
        let cs = ConnectionString::parse("Endpoint=http://127.0.0.1;Port=9;AccessKey=ABC;")
            .expect("valid connection string");
        let client = RestClient::new(&cs, RestOptions::default()).expect("client");
        let excluded = ["c1".to_string()];
        let payload = Payload::new("t", vec![]);
        for (to, operation) in [
            (Recipients::User("u".into()), "send_to_user"),
            (Recipients::Connection("c".into()), "send_to_connection"),
        ] {
            let error = client.send("h", &to, &excluded, &payload).await;
            assert!(
                matches!(&error, Err(RestError::InvalidArgument(m)) if m.starts_with(operation)),
                "{error:?}"
            );
        }
        let to = Recipients::Connection("c".into());
        let error = client.close("h", &to, &excluded, None).await;
        assert!(
            matches!(&error, Err(RestError::InvalidArgument(m)) if m.starts_with("close_connection")),
            "{error:?}"
        );
    }
}
