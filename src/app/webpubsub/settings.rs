//! The Web PubSub settings: the extension's `WebPubSubConnectionString` and `WebPubSubHub`, plus
//! our `WEBPUBSUB_*` policy settings for negotiate (roles, groups, lifetime as templates over the
//! caller's claims, like `SIGNALR_NEGOTIATE_GROUPS`) and for the events handler (what `connect`
//! answers; which built-in behaviours run on events; where other events are forwarded).

use std::time::Duration;

use crate::app::forward::Webhook;
use crate::app::negotiate::validate_template;
use crate::app::settings::identity_connection::{IdentityConnection, IdentityNames};
use crate::app::settings::value::{boolean, err, list, nonempty, SettingsError};
use crate::service::names;
use crate::service::webpubsub::WebPubSubConnectionString;
use crate::service::Secret;

/// Raw Web PubSub settings, as text (see [`crate::app::settings::ServeArgs`]).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct WebPubSubArgs {
    /// [setting WebPubSubConnectionString] The Web PubSub service (environment only).
    #[arg(skip)]
    pub connection_string: Option<String>,
    /// [setting WebPubSubConnectionString__serviceUri, __credential, …] The identity-based form.
    #[arg(skip)]
    pub identity_connection: IdentityConnection,
    /// Default Web PubSub hub for routes without `{hub}` (WebPubSubHub, default `default`).
    #[arg(id = "webpubsub-hub", long = "webpubsub-hub", env = "WebPubSubHub")]
    pub hub: Option<String>,
    /// Roles in Web PubSub client tokens: comma-separated templates over claims, e.g.
    /// `webpubsub.joinLeaveGroup.room-{tid},webpubsub.sendToGroup.room-{tid}`.
    #[arg(
        id = "webpubsub-token-roles",
        long = "webpubsub-token-roles",
        env = "WEBPUBSUB_TOKEN_ROLES"
    )]
    pub token_roles: Option<String>,
    /// Groups a Web PubSub client joins when it connects (`webpubsub.group` claims):
    /// comma-separated templates over claims, e.g. `tenant-{tid},everyone`.
    #[arg(
        id = "webpubsub-token-groups",
        long = "webpubsub-token-groups",
        env = "WEBPUBSUB_TOKEN_GROUPS"
    )]
    pub token_groups: Option<String>,
    /// Web PubSub client token lifetime in seconds (60..=86400, default 3600).
    #[arg(
        id = "webpubsub-token-lifetime",
        long = "webpubsub-token-lifetime",
        env = "WEBPUBSUB_TOKEN_LIFETIME"
    )]
    pub token_lifetime: Option<String>,
    /// Roles the `connect` event grants: templates over `{userId}`, `{connectionId}` and claims.
    #[arg(
        id = "webpubsub-connect-roles",
        long = "webpubsub-connect-roles",
        env = "WEBPUBSUB_CONNECT_ROLES"
    )]
    pub connect_roles: Option<String>,
    /// Groups the `connect` event joins: templates over `{userId}`, `{connectionId}` and claims.
    #[arg(
        id = "webpubsub-connect-groups",
        long = "webpubsub-connect-groups",
        env = "WEBPUBSUB_CONNECT_GROUPS"
    )]
    pub connect_groups: Option<String>,
    /// Subprotocols the `connect` event may select, comma-separated (first the client asked for wins).
    #[arg(
        id = "webpubsub-connect-subprotocols",
        long = "webpubsub-connect-subprotocols",
        env = "WEBPUBSUB_CONNECT_SUBPROTOCOLS"
    )]
    pub connect_subprotocols: Option<String>,
    /// Refuse (401) clients without a user id at `connect` (`true`/`false`, default false).
    #[arg(
        id = "webpubsub-connect-require-user",
        long = "webpubsub-connect-require-user",
        env = "WEBPUBSUB_CONNECT_REQUIRE_USER"
    )]
    pub connect_require_user: Option<String>,
    /// User events whose data is broadcast to everyone in the hub, with the same dataType:
    /// comma-separated event names (e.g. `message`); none by default.
    #[arg(
        id = "webpubsub-broadcast-events",
        long = "webpubsub-broadcast-events",
        env = "WEBPUBSUB_BROADCAST_EVENTS"
    )]
    pub broadcast_events: Option<String>,
    /// Tell everyone `<user> connected` / `<user> disconnected` as text (`true`/`false`).
    #[arg(
        id = "webpubsub-announce-connections",
        long = "webpubsub-announce-connections",
        env = "WEBPUBSUB_ANNOUNCE_CONNECTIONS"
    )]
    pub announce_connections: Option<String>,
    /// Webhook receiving connected/disconnected events and user events not broadcast, as JSON.
    #[arg(
        id = "webpubsub-forward-url",
        long = "webpubsub-forward-url",
        env = "WEBPUBSUB_FORWARD_URL",
        hide_env_values = true
    )]
    pub forward_url: Option<String>,
    /// Signs every forwarded request: `X-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    #[arg(
        id = "webpubsub-forward-secret",
        long = "webpubsub-forward-secret",
        env = "WEBPUBSUB_FORWARD_SECRET",
        hide_env_values = true
    )]
    pub forward_secret: Option<String>,
    /// Access keys accepted in `ce-signature` besides the connection string's (the service's
    /// other key, for key rotation), comma-separated.
    #[arg(
        id = "webpubsub-secondary-keys",
        long = "webpubsub-secondary-keys",
        env = "WEBPUBSUB_SECONDARY_KEYS",
        hide_env_values = true
    )]
    pub secondary_keys: Option<String>,
}

/// What `connect` answers.
#[derive(Debug, Clone, Default)]
pub struct ConnectPolicy {
    /// Role templates.
    pub roles: Vec<String>,
    /// Group templates.
    pub groups: Vec<String>,
    /// Subprotocols that may be selected.
    pub subprotocols: Vec<String>,
    /// Refuse connections without a user id.
    pub require_user: bool,
}

/// What the events handler does besides answering.
#[derive(Debug, Clone, Default)]
pub struct EventBehaviours {
    /// User events broadcast to the hub.
    pub broadcast: Vec<String>,
    /// Announce connects and disconnects.
    pub announce: bool,
    /// Where other events go.
    pub forward: Option<Webhook>,
    /// Keys accepted in signatures besides the connection string's.
    pub secondary_keys: Vec<Secret>,
}

/// Validated Web PubSub settings.
#[derive(Debug, Clone)]
pub struct WebPubSubSettings {
    /// The service; `None` when `WebPubSubConnectionString` is not set.
    pub connection: Option<WebPubSubConnectionString>,
    /// Default hub.
    pub hub: String,
    /// Role templates of negotiate.
    pub token_roles: Vec<String>,
    /// Group templates of negotiate.
    pub token_groups: Vec<String>,
    /// Client token lifetime.
    pub token_lifetime: Duration,
    /// The `connect` event's answer.
    pub connect: ConnectPolicy,
    /// Built-in event behaviours.
    pub events: EventBehaviours,
}

impl Default for WebPubSubSettings {
    fn default() -> Self {
        Self {
            connection: None,
            hub: "default".into(),
            token_roles: Vec::new(),
            token_groups: Vec::new(),
            token_lifetime: crate::service::token::DEFAULT_CLIENT_LIFETIME,
            connect: ConnectPolicy::default(),
            events: EventBehaviours::default(),
        }
    }
}

const CONNECTION_SETTING: &str = "WebPubSubConnectionString";

impl WebPubSubSettings {
    /// Validates `args` with its own connection string (from the environment).
    pub fn from_args(args: WebPubSubArgs) -> Result<Self, SettingsError> {
        let connection_string = args.connection_string.clone();
        Self::new(args, connection_string.as_deref())
    }

    /// Validates `args` for the service at `connection_string` (e.g. the embedded emulator's,
    /// which the local stack injects); `None` or blank = Web PubSub is not configured.
    pub fn new(
        args: WebPubSubArgs,
        connection_string: Option<&str>,
    ) -> Result<Self, SettingsError> {
        let connection = connection(connection_string, &args.identity_connection)?;
        let hub = nonempty(args.hub).unwrap_or_else(|| "default".into());
        names::validate_hub(&hub).map_err(|e| err("WebPubSubHub", e.to_string()))?;
        let token_roles = roles("WEBPUBSUB_TOKEN_ROLES", args.token_roles)?;
        let token_groups = templates("WEBPUBSUB_TOKEN_GROUPS", args.token_groups)?;
        let token_lifetime = match nonempty(args.token_lifetime) {
            None => crate::service::token::DEFAULT_CLIENT_LIFETIME,
            Some(v) => match v.parse::<u64>() {
                Ok(secs @ 60..=86_400) => Duration::from_secs(secs),
                _ => {
                    return Err(err(
                        "WEBPUBSUB_TOKEN_LIFETIME",
                        format!("{v:?} must be a number of seconds from 60 to 86400"),
                    ))
                }
            },
        };
        let connect = ConnectPolicy {
            roles: roles("WEBPUBSUB_CONNECT_ROLES", args.connect_roles)?,
            groups: templates("WEBPUBSUB_CONNECT_GROUPS", args.connect_groups)?,
            subprotocols: list(args.connect_subprotocols),
            require_user: boolean("WEBPUBSUB_CONNECT_REQUIRE_USER", args.connect_require_user)?,
        };
        let broadcast = list(args.broadcast_events);
        for event in &broadcast {
            if !valid_event_name(event) {
                return Err(err(
                    "WEBPUBSUB_BROADCAST_EVENTS",
                    format!("{event:?} is not an event name (a letter, then letters, digits, _ . -; at most 128)"),
                ));
            }
        }
        let forward = webhook(args.forward_url, args.forward_secret)?;
        Ok(Self {
            connection,
            hub,
            token_roles,
            token_groups,
            token_lifetime,
            connect,
            events: EventBehaviours {
                broadcast,
                announce: boolean("WEBPUBSUB_ANNOUNCE_CONNECTIONS", args.announce_connections)?,
                forward,
                secondary_keys: list(args.secondary_keys)
                    .into_iter()
                    .map(Secret::new)
                    .collect(),
            },
        })
    }
}

/// The service: `WebPubSubConnectionString`, or the identity-based
/// `WebPubSubConnectionString__serviceUri` (+ `__credential`, `__clientId`, …), not both.
fn connection(
    connection_string: Option<&str>,
    identity: &IdentityConnection,
) -> Result<Option<WebPubSubConnectionString>, SettingsError> {
    let names = &IdentityNames::WEBPUBSUB;
    let text = connection_string.map(str::trim).filter(|s| !s.is_empty());
    match (text, identity.identity(names)?) {
        (Some(_), Some(_)) => Err(err(
            CONNECTION_SETTING,
            "and WebPubSubConnectionString__serviceUri are both set; keep one: the connection string, or the identity-based settings",
        )),
        (Some(text), None) => WebPubSubConnectionString::parse(text)
            .map(Some)
            .map_err(|e| err(CONNECTION_SETTING, e.to_string())),
        (None, Some(found)) => {
            let cs = WebPubSubConnectionString::parse(&format!(
                "Endpoint={};AuthType=azure;",
                found.service_uri
            ))
            .map_err(|e| {
                err(
                    "WebPubSubConnectionString__serviceUri",
                    e.to_string().replace("Endpoint:", "").trim().to_string(),
                )
            })?;
            Ok(Some(cs.with_auth(found.auth)))
        }
        (None, None) => Ok(None),
    }
}

/// An event name the service accepts: `^[a-z][a-z0-9_.-]{0,127}$`, case-insensitive.
pub fn valid_event_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Role templates: each must grant a Web PubSub permission.
fn roles(setting: &'static str, value: Option<String>) -> Result<Vec<String>, SettingsError> {
    let templates = templates(setting, value)?;
    for role in &templates {
        let known = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
            .iter()
            .any(|p| {
                role == p
                    || role.starts_with(&format!("{p}."))
                    || role.starts_with(&format!("{p}s."))
            });
        if !known {
            return Err(err(
                setting,
                format!("{role:?} is not a Web PubSub role; use webpubsub.joinLeaveGroup[.<group>] or webpubsub.sendToGroup[.<group>]"),
            ));
        }
    }
    Ok(templates)
}

fn templates(setting: &'static str, value: Option<String>) -> Result<Vec<String>, SettingsError> {
    let templates = list(value);
    for template in &templates {
        validate_template(template).map_err(|e| err(setting, e))?;
    }
    Ok(templates)
}

fn webhook(url: Option<String>, secret: Option<String>) -> Result<Option<Webhook>, SettingsError> {
    let secret = secret.filter(|s| !s.is_empty()).map(Secret::new);
    match (nonempty(url), secret) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(err(
            "WEBPUBSUB_FORWARD_SECRET",
            "is set but WEBPUBSUB_FORWARD_URL is not; set the webhook URL too, or remove the secret",
        )),
        (Some(url), secret) => {
            // The URL may carry a key, so the message does not repeat it.
            let ok = url::Url::parse(&url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !ok {
                return Err(err("WEBPUBSUB_FORWARD_URL", "is not an absolute http:// or https:// URL"));
            }
            Ok(Some(Webhook { url: Secret::new(url), secret }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_the_setting() {
        let s = WebPubSubSettings::new(WebPubSubArgs::default(), None).expect("defaults");
        assert!(s.connection.is_none());
        assert_eq!(s.hub, "default");
        let bad = |args: WebPubSubArgs, cs: Option<&str>| {
            WebPubSubSettings::new(args, cs).unwrap_err().setting
        };
        assert_eq!(
            bad(WebPubSubArgs::default(), Some("Endpoint=https://x")),
            CONNECTION_SETTING
        );
        let args = WebPubSubArgs {
            hub: Some("1x".into()),
            ..Default::default()
        };
        assert_eq!(bad(args, None), "WebPubSubHub");
        let args = WebPubSubArgs {
            token_roles: Some("admin".into()),
            ..Default::default()
        };
        assert_eq!(bad(args, None), "WEBPUBSUB_TOKEN_ROLES");
        let args = WebPubSubArgs {
            connect_groups: Some("x-{".into()),
            ..Default::default()
        };
        assert_eq!(bad(args, None), "WEBPUBSUB_CONNECT_GROUPS");
        let args = WebPubSubArgs {
            forward_secret: Some("s".into()),
            ..Default::default()
        };
        assert_eq!(bad(args, None), "WEBPUBSUB_FORWARD_SECRET");
        let args = WebPubSubArgs {
            broadcast_events: Some("bad name".into()),
            ..Default::default()
        };
        assert_eq!(bad(args, None), "WEBPUBSUB_BROADCAST_EVENTS");
    }
}
