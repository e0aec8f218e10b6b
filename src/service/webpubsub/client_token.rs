//! Client access tokens and URLs (`docs/webpubsub.md` §2): an HS256 JWT with `aud` =
//! `<endpoint>/client/hubs/<hub>` (MQTT: `/clients/mqtt/hubs/`, Socket.IO:
//! `/clients/socketio/hubs/`), `sub` = the user id when there is one, `role` and
//! `webpubsub.group` as JSON arrays when not empty, and `nbf`/`exp`/`iat`. The URL handed to the
//! client is `ws(s)://<host>[:port]<path>?access_token=<jwt>`. Signing is the crate's one HS256
//! signer ([`TokenMinter::sign_claims`]).

use std::time::Duration;

use hyper::body::Bytes;
use serde_json::{Map, Value};

use super::connection_string::WebPubSubConnectionString;
use crate::service::names;
use crate::service::token::{TokenError, TokenMinter, DEFAULT_CLIENT_LIFETIME};
use crate::service::token_memo::{Flavour, Key};

/// Which kind of client the token is for: it decides the path (and so `aud`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientProtocol {
    /// Web PubSub clients: `/client/hubs/<hub>`.
    #[default]
    Default,
    /// MQTT clients: `/clients/mqtt/hubs/<hub>`.
    Mqtt,
    /// Web PubSub for Socket.IO: `/clients/socketio/hubs/<hub>`.
    SocketIo,
}

impl ClientProtocol {
    /// The client path of `hub`, from the first `/`.
    pub fn path(self, hub: &str) -> String {
        format!("{}{hub}", self.prefix())
    }

    /// The client path up to the hub.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Default => "/client/hubs/",
            Self::Mqtt => "/clients/mqtt/hubs/",
            Self::SocketIo => "/clients/socketio/hubs/",
        }
    }
}

/// What goes into a client token.
#[derive(Debug, Clone, Default)]
pub struct ClientTokenOptions {
    /// `sub`, when the client is a known user.
    pub user_id: Option<String>,
    /// `role`: permissions such as `webpubsub.joinLeaveGroup.<group>`.
    pub roles: Vec<String>,
    /// `webpubsub.group`: groups joined when the client connects.
    pub groups: Vec<String>,
    /// How long the token is valid (default one hour, as the SDKs).
    pub lifetime: Option<Duration>,
    /// The kind of client.
    pub protocol: ClientProtocol,
}

/// What a client needs to connect, as the Functions extension's `webPubSubConnection` gives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientAccess {
    /// `ws(s)://<host>[:port]/client/hubs/<hub>`.
    pub base_url: String,
    /// `base_url?access_token=<jwt>`.
    pub url: String,
    /// The JWT.
    pub access_token: String,
}

/// Signs client tokens for one Web PubSub connection string.
#[derive(Clone, Debug)]
pub struct ClientTokenMinter {
    minter: TokenMinter,
    endpoint: String,
    websocket_base: String,
}

impl ClientTokenMinter {
    /// A minter for the connection string's access key ([`TokenError::NoAccessKey`] without one).
    pub fn new(connection: &WebPubSubConnectionString) -> Result<Self, TokenError> {
        let endpoint = connection.endpoint();
        let websocket_base = websocket_base(connection);
        let key = connection.access_key().ok_or(TokenError::NoAccessKey)?;
        Ok(Self {
            minter: TokenMinter::from_parts(
                key,
                format!("{endpoint}/"),
                format!("{websocket_base}/"),
            )?,
            endpoint,
            websocket_base,
        })
    }

    /// The audience of client tokens for `hub`: `<endpoint>/client/hubs/<hub>`.
    pub fn audience(&self, hub: &str, protocol: ClientProtocol) -> String {
        format!("{}{}", self.endpoint, protocol.path(hub))
    }

    /// Mints a client token for `hub` after checking the hub, user id and groups against the
    /// service's name rules. A token without a user is the same for every client of the hub
    /// within a second that is granted the same roles and groups, and is memoised
    /// ([`TokenMinter::anonymous_token_for`]).
    pub fn token(&self, hub: &str, options: &ClientTokenOptions) -> Result<String, TokenError> {
        check_names(hub, options)?;
        let audience = || self.audience(hub, options.protocol);
        let Some(user) = &options.user_id else {
            let lists: &[&[String]] = &[&options.roles, &options.groups];
            let key = anonymous_key(hub, options, lists);
            let claims = || grants(Map::new(), options);
            return self.minter.anonymous_token_for(key, claims, audience);
        };
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(user.clone()));
        let lifetime = options.lifetime.unwrap_or(DEFAULT_CLIENT_LIFETIME);
        self.minter
            .sign_claims(grants(claims, options), audience(), lifetime)
    }

    /// For a client without a user: the negotiate answer `write(access)` with this second's
    /// token, written once per second and then shared; `None` for a client with a user.
    pub fn anonymous_answer(
        &self,
        hub: &str,
        options: &ClientTokenOptions,
        write: impl FnOnce(&ClientAccess) -> Bytes,
    ) -> Option<Result<Bytes, TokenError>> {
        if options.user_id.is_some() {
            return None;
        }
        if let Err(e) = check_names(hub, options) {
            return Some(Err(e));
        }
        let lists: &[&[String]] = &[&options.roles, &options.groups];
        let key = anonymous_key(hub, options, lists);
        let claims = || grants(Map::new(), options);
        let audience = || self.audience(hub, options.protocol);
        let write = |token: &str| {
            let access = ClientAccess::new(
                &self.websocket_base,
                hub,
                options.protocol,
                token.to_owned(),
            );
            write(&access)
        };
        Some(
            self.minter
                .anonymous_answer_for(key, claims, audience, write),
        )
    }

    /// A token and the URLs to connect with it.
    pub fn access(
        &self,
        hub: &str,
        options: &ClientTokenOptions,
    ) -> Result<ClientAccess, TokenError> {
        let access_token = self.token(hub, options)?;
        Ok(ClientAccess::new(
            &self.websocket_base,
            hub,
            options.protocol,
            access_token,
        ))
    }
}

impl ClientAccess {
    /// The URLs of `access_token` for `hub` on the client endpoint `websocket_base`
    /// (`ws(s)://<host>[:port]`).
    pub fn new(
        websocket_base: &str,
        hub: &str,
        protocol: ClientProtocol,
        access_token: String,
    ) -> Self {
        let prefix = protocol.prefix();
        let mut base_url = String::with_capacity(websocket_base.len() + prefix.len() + hub.len());
        base_url.push_str(websocket_base);
        base_url.push_str(prefix);
        base_url.push_str(hub);
        let mut url = String::with_capacity(base_url.len() + access_token.len() + 16);
        url.push_str(&base_url);
        url.push_str("?access_token=");
        names::push_encoded(&mut url, &access_token);
        Self {
            url,
            base_url,
            access_token,
        }
    }
}

/// `ws(s)://<host>[:port]` of the service's client endpoint.
pub fn websocket_base(connection: &WebPubSubConnectionString) -> String {
    format!(
        "{}://{}",
        connection.websocket_scheme(),
        connection.authority()
    )
}

/// The hub, the user id and the groups checked against the service's name rules.
fn check_names(hub: &str, options: &ClientTokenOptions) -> Result<(), TokenError> {
    let users = options.user_id.iter().map(|u| names::validate_user(u));
    let groups = options.groups.iter().map(|g| names::validate_group(g));
    std::iter::once(names::validate_hub(hub))
        .chain(users)
        .chain(groups)
        .collect::<Result<(), _>>()
        .map_err(|e| TokenError::Signing(e.to_string()))
}

/// The memo key of a token without a user for `hub` granting `lists` (roles, groups).
fn anonymous_key<'a>(
    hub: &'a str,
    options: &ClientTokenOptions,
    lists: &'a [&'a [String]],
) -> Key<'a> {
    Key {
        hub,
        flavour: Flavour::WebPubSub(options.protocol.prefix()),
        lists,
        lifetime: options
            .lifetime
            .unwrap_or(DEFAULT_CLIENT_LIFETIME)
            .as_secs(),
    }
}

/// `claims` with `role` and `webpubsub.group`, each when not empty.
fn grants(mut claims: Map<String, Value>, options: &ClientTokenOptions) -> Map<String, Value> {
    if !options.roles.is_empty() {
        claims.insert("role".into(), strings(&options.roles));
    }
    if !options.groups.is_empty() {
        claims.insert("webpubsub.group".into(), strings(&options.groups));
    }
    claims
}

fn strings(values: &[String]) -> Value {
    Value::Array(values.iter().cloned().map(Value::String).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minter() -> ClientTokenMinter {
        let cs =
            WebPubSubConnectionString::parse("Endpoint=http://Localhost;Port=8080;AccessKey=k")
                .expect("valid");
        ClientTokenMinter::new(&cs).expect("minter")
    }

    fn claims(token: &str) -> Value {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_audience(&["http://localhost:8080/client/hubs/Chat"]);
        jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(b"k"),
            &validation,
        )
        .expect("valid token")
        .claims
    }

    #[test]
    fn token_carries_sub_roles_groups_and_lifetime() {
        let access = minter()
            .access(
                "Chat",
                &ClientTokenOptions {
                    user_id: Some("alice".into()),
                    roles: vec!["webpubsub.joinLeaveGroup.room".into()],
                    groups: vec!["room".into(), "all".into()],
                    lifetime: Some(Duration::from_secs(120)),
                    protocol: ClientProtocol::Default,
                },
            )
            .expect("token");
        assert_eq!(access.base_url, "ws://localhost:8080/client/hubs/Chat");
        assert_eq!(
            access.url,
            format!("{}?access_token={}", access.base_url, access.access_token)
        );
        let c = claims(&access.access_token);
        assert_eq!(c["sub"], "alice");
        assert_eq!(
            c["role"],
            serde_json::json!(["webpubsub.joinLeaveGroup.room"])
        );
        assert_eq!(c["webpubsub.group"], serde_json::json!(["room", "all"]));
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 120);
    }

    #[test]
    fn anonymous_token_has_no_sub_role_or_group() {
        let c = claims(
            &minter()
                .token("Chat", &ClientTokenOptions::default())
                .unwrap(),
        );
        for absent in ["sub", "role", "webpubsub.group"] {
            assert!(c.get(absent).is_none(), "{absent}");
        }
        assert_eq!(
            c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
            3600
        );
    }

    /// Two tokens of hub `Chat` for `options` signed in the same second (retried across a second
    /// boundary, which starts a new memo entry).
    fn same_second(m: &ClientTokenMinter, options: &ClientTokenOptions) -> (String, String) {
        loop {
            let a = m.token("Chat", options).unwrap();
            let b = m.token("Chat", options).unwrap();
            if claims(&a)["iat"] == claims(&b)["iat"] {
                return (a, b);
            }
        }
    }

    #[test]
    fn anonymous_tokens_are_memoised_per_audience_and_lifetime() {
        let m = minter();
        let anonymous = ClientTokenOptions::default();
        let (a, b) = same_second(&m, &anonymous);
        assert_eq!(a, b);
        let mqtt = ClientTokenOptions {
            protocol: ClientProtocol::Mqtt,
            ..Default::default()
        };
        assert_ne!(m.token("Chat", &mqtt).unwrap(), a);
        let short = ClientTokenOptions {
            lifetime: Some(Duration::from_secs(60)),
            ..Default::default()
        };
        let c = claims(&m.token("Chat", &short).unwrap());
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 60);
        assert_ne!(m.token("other", &anonymous).unwrap(), a);
        let granted = ClientTokenOptions {
            roles: vec!["webpubsub.sendToGroup".into()],
            groups: vec!["room".into()],
            ..Default::default()
        };
        let (g, h) = same_second(&m, &granted);
        assert_eq!(g, h);
        assert_ne!(g, a);
        let c = claims(&g);
        assert_eq!(c["role"], serde_json::json!(["webpubsub.sendToGroup"]));
        assert_eq!(c["webpubsub.group"], serde_json::json!(["room"]));
        let swapped = ClientTokenOptions {
            roles: vec!["room".into()],
            groups: vec!["webpubsub.sendToGroup".into()],
            ..Default::default()
        };
        assert_eq!(
            claims(&m.token("Chat", &swapped).unwrap())["role"],
            serde_json::json!(["room"])
        );
        let user = ClientTokenOptions {
            user_id: Some("alice".into()),
            ..Default::default()
        };
        assert_eq!(claims(&m.token("Chat", &user).unwrap())["sub"], "alice");
    }

    #[test]
    fn other_protocols_change_the_path_and_bad_names_are_refused() {
        let m = minter();
        assert_eq!(
            m.audience("h", ClientProtocol::Mqtt),
            "http://localhost:8080/clients/mqtt/hubs/h"
        );
        assert_eq!(
            m.audience("h", ClientProtocol::SocketIo),
            "http://localhost:8080/clients/socketio/hubs/h"
        );
        assert!(m.token("1bad", &ClientTokenOptions::default()).is_err());
        let bad_group = ClientTokenOptions {
            groups: vec![" ".into()],
            ..Default::default()
        };
        assert!(m.token("h", &bad_group).is_err());
    }
}
