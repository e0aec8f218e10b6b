//! Topic pub/sub as hub methods clients invoke through the upstream: `subscribe(topic)`,
//! `unsubscribe(topic)`, `publish(payload)` and `publishToTopic(topic, payload)`. A topic is a
//! service group named `topic:<name>`, so topics cannot collide with the app's own groups. The
//! policy (who may publish, which topics exist) comes from the settings; every refusal says why.

use serde_json::{json, Value};

use crate::service::names;
use crate::service::rest::{Payload, RestClient, RestError};

/// Prefix of the service group that holds a topic's subscribers.
pub const GROUP_PREFIX: &str = "topic:";

/// Who may publish (`SIGNALR_PUBSUB_PUBLISHERS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Publishers {
    /// Every connected client (default).
    #[default]
    Anyone,
    /// Clients whose connection has a user id.
    Authenticated,
    /// No client: topics are subscribe-only, backend services publish through `/api/messages`.
    Nobody,
}

impl Publishers {
    /// Parses `anyone`, `authenticated` or `nobody` (any case).
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "anyone" => Ok(Self::Anyone),
            "authenticated" => Ok(Self::Authenticated),
            "nobody" => Ok(Self::Nobody),
            _ => Err(format!(
                "{value:?} is not one of anyone, authenticated, nobody"
            )),
        }
    }
}

/// Which topic names exist (`SIGNALR_PUBSUB_TOPICS`): exact names and `prefix*` patterns; empty
/// = every name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicFilter {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl TopicFilter {
    /// Parses the list entries; `*` may only end an entry (`*` alone allows every name).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut filter = Self::default();
        for entry in entries {
            let (name, is_prefix) = match entry.strip_suffix('*') {
                Some(prefix) => (prefix, true),
                None => (entry.as_str(), false),
            };
            if name.contains('*') {
                return Err(format!(
                    "{entry:?}: '*' may only end an entry (e.g. orders-*)"
                ));
            }
            if is_prefix {
                filter.prefixes.push(name.to_string());
            } else {
                validate_topic(name).map_err(|e| format!("{entry:?}: {e}"))?;
                filter.exact.push(name.to_string());
            }
        }
        Ok(filter)
    }

    /// Whether `topic` is allowed.
    pub fn allows(&self, topic: &str) -> bool {
        (self.exact.is_empty() && self.prefixes.is_empty())
            || self.exact.iter().any(|e| e == topic)
            || self.prefixes.iter().any(|p| topic.starts_with(p.as_str()))
    }
}

/// The pub/sub settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSettings {
    /// The client method messages are delivered to (`SIGNALR_PUBSUB_TARGET`, default `message`).
    pub target: String,
    /// Who may publish.
    pub publishers: Publishers,
    /// Which topics exist.
    pub allowed: TopicFilter,
}

impl Default for TopicSettings {
    fn default() -> Self {
        Self {
            target: "message".into(),
            publishers: Publishers::Anyone,
            allowed: TopicFilter::default(),
        }
    }
}

/// Checks a topic name: a valid group name once prefixed.
pub fn validate_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("a topic name must not be empty".into());
    }
    names::validate_group(&group_of(topic)).map_err(|e| e.to_string())
}

/// The service group of a topic.
pub fn group_of(topic: &str) -> String {
    format!("{GROUP_PREFIX}{topic}")
}

/// The client connection that invoked a method.
#[derive(Debug, Clone, Copy)]
pub struct ClientConnection<'a> {
    /// Hub of the connection.
    pub hub: &'a str,
    /// The connection id.
    pub connection_id: &'a str,
    /// The user id, when the connection has one.
    pub user_id: Option<&'a str>,
}

impl ClientConnection<'_> {
    /// Who a published message says it is from: the user id, else the connection id.
    pub fn sender(&self) -> &str {
        self.user_id.unwrap_or(self.connection_id)
    }
}

/// A built-in hub method with its arguments checked.
#[derive(Debug, Clone, PartialEq)]
pub enum HubMethod {
    /// Join the topic's group.
    Subscribe(String),
    /// Leave the topic's group.
    Unsubscribe(String),
    /// Send to every connection of the hub.
    Publish(Value),
    /// Send to the topic's subscribers.
    PublishToTopic(String, Value),
}

/// Why a hub method was refused; the text goes to the client as the completion error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodError {
    /// Wrong number or kind of arguments; says what the method expects.
    #[error("{0}")]
    Arguments(String),
    /// The publish policy refuses this caller.
    #[error("{0}")]
    NotAllowed(&'static str),
    /// The topic name is invalid or not in the allow-list.
    #[error("{0}")]
    Topic(String),
    /// The service refused or failed; the details are only logged.
    #[error("{0}")]
    Service(String),
}

impl HubMethod {
    /// The built-in method called `target` (any case), or `None` when there is none.
    pub fn parse(target: &str, arguments: &[Value]) -> Option<Result<Self, MethodError>> {
        let topic_arg = |usage: &str| -> Result<String, MethodError> {
            match arguments.first() {
                Some(Value::String(topic)) => Ok(topic.clone()),
                _ => Err(MethodError::Arguments(format!(
                    "{usage}; the topic must be a string"
                ))),
            }
        };
        let count = |n: usize, usage: &str| -> Result<(), MethodError> {
            if arguments.len() == n {
                Ok(())
            } else {
                Err(MethodError::Arguments(format!(
                    "{usage}; got {} argument{}",
                    arguments.len(),
                    if arguments.len() == 1 { "" } else { "s" }
                )))
            }
        };
        let parsed = match target.to_ascii_lowercase().as_str() {
            "subscribe" => {
                const USAGE: &str = "subscribe expects (topic)";
                count(1, USAGE).and_then(|()| topic_arg(USAGE).map(Self::Subscribe))
            }
            "unsubscribe" => {
                const USAGE: &str = "unsubscribe expects (topic)";
                count(1, USAGE).and_then(|()| topic_arg(USAGE).map(Self::Unsubscribe))
            }
            "publish" => {
                count(1, "publish expects (payload)").map(|()| Self::Publish(arguments[0].clone()))
            }
            "publishtotopic" => {
                const USAGE: &str = "publishToTopic expects (topic, payload)";
                count(2, USAGE).and_then(|()| {
                    topic_arg(USAGE).map(|t| Self::PublishToTopic(t, arguments[1].clone()))
                })
            }
            _ => return None,
        };
        Some(parsed)
    }

    /// Checks the policy and applies the method with one REST call. The result is the topic for
    /// subscribe/unsubscribe and `true` for publishing.
    pub async fn apply(
        self,
        rest: &RestClient,
        settings: &TopicSettings,
        caller: ClientConnection<'_>,
    ) -> Result<Value, MethodError> {
        if let Some(topic) = self.topic() {
            check_topic(topic, &settings.allowed)?;
        }
        if matches!(self, Self::Publish(_) | Self::PublishToTopic(..)) {
            check_publisher(settings.publishers, caller)?;
        }
        let hub = caller.hub;
        let message = |topic: Option<&str>, payload: Value| {
            Payload::new(
                settings.target.clone(),
                vec![json!(topic), payload, json!(caller.sender())],
            )
        };
        match self {
            Self::Subscribe(topic) => {
                let joined = rest
                    .add_connection_to_group(hub, &group_of(&topic), caller.connection_id)
                    .await
                    .map_err(|e| service_error("subscribe", &topic, e))?;
                if !joined {
                    return Err(MethodError::Service(format!(
                        "subscribe to {topic:?} failed: the service does not know this connection"
                    )));
                }
                Ok(json!(topic))
            }
            Self::Unsubscribe(topic) => {
                rest.remove_connection_from_group(hub, &group_of(&topic), caller.connection_id)
                    .await
                    .map_err(|e| service_error("unsubscribe", &topic, e))?;
                Ok(json!(topic))
            }
            Self::Publish(payload) => {
                rest.send_to_all(hub, &message(None, payload), &[])
                    .await
                    .map_err(|e| service_error("publish", "", e))?;
                Ok(json!(true))
            }
            Self::PublishToTopic(topic, payload) => {
                let message = message(Some(&topic), payload);
                rest.send_to_group(hub, &group_of(&topic), &message, &[])
                    .await
                    .map_err(|e| service_error("publishToTopic", &topic, e))?;
                Ok(json!(true))
            }
        }
    }

    fn topic(&self) -> Option<&str> {
        match self {
            Self::Subscribe(t) | Self::Unsubscribe(t) | Self::PublishToTopic(t, _) => Some(t),
            Self::Publish(_) => None,
        }
    }
}

fn check_topic(topic: &str, allowed: &TopicFilter) -> Result<(), MethodError> {
    validate_topic(topic).map_err(|e| MethodError::Topic(format!("topic is not valid: {e}")))?;
    if allowed.allows(topic) {
        Ok(())
    } else {
        Err(MethodError::Topic(format!(
            "topic {topic:?} is not allowed by this app"
        )))
    }
}

fn check_publisher(
    publishers: Publishers,
    caller: ClientConnection<'_>,
) -> Result<(), MethodError> {
    match publishers {
        Publishers::Anyone => Ok(()),
        Publishers::Authenticated if caller.user_id.is_some() => Ok(()),
        Publishers::Authenticated => Err(MethodError::NotAllowed(
            "publishing needs a signed-in user; this connection has no user id",
        )),
        Publishers::Nobody => Err(MethodError::NotAllowed(
            "publishing is not allowed from clients in this app; topics are subscribe-only",
        )),
    }
}

/// Turns a REST failure into a completion error: the caller's own mistakes (e.g. a payload over
/// 1 MB) are explained, service failures only logged, since their details are not the client's.
fn service_error(method: &str, topic: &str, error: RestError) -> MethodError {
    match error {
        RestError::InvalidArgument(text) => MethodError::Arguments(format!("{method}: {text}")),
        RestError::InvalidName(e) => MethodError::Topic(format!("{method}: {e}")),
        other => {
            tracing::error!(method, topic, "hub method failed: {other}");
            MethodError::Service(format!(
                "{method} failed: SignalR Service did not accept the request; try again later"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_matches_exact_names_and_prefixes() {
        let f = TopicFilter::parse(&["orders".into(), "team-*".into()]).unwrap_or_default();
        assert!(f.allows("orders") && f.allows("team-a") && f.allows("team-"));
        assert!(!f.allows("order") && !f.allows("billing") && !f.allows("Orders"));
        assert!(TopicFilter::default().allows("anything"));
        assert!(TopicFilter::parse(&["*".into()]).is_ok_and(|f| f.allows("x")));
        assert!(TopicFilter::parse(&["a*b".into()]).is_err());
    }

    #[test]
    fn methods_are_case_insensitive_and_check_arguments() {
        let ok = HubMethod::parse("PublishToTopic", &[json!("t"), json!(1)]);
        assert_eq!(
            ok,
            Some(Ok(HubMethod::PublishToTopic("t".into(), json!(1))))
        );
        assert!(HubMethod::parse("broadcast", &[]).is_none());
        let bad = HubMethod::parse("subscribe", &[json!(1)]);
        assert!(matches!(bad, Some(Err(MethodError::Arguments(_)))));
    }
}
