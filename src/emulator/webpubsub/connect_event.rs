//! The blocking `connect` event (`docs/webpubsub.md` §5): before a new client is accepted, the
//! event handler hears of its claims, query, headers and subprotocols, and may refuse it with its
//! own status, or set its user, add groups and roles, and pick one of the subprotocols the client
//! asked for.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

use super::auth::claim_list;
use super::error::WpsError;
use super::events::{Event, EventContext};
use super::subprotocol::{JSON, RELIABLE};
use super::WebPubSubState;

/// The longest part of a refusing handler's answer passed on to the client.
const MAX_REFUSAL_CHARS: usize = 1024;

/// Who a new client is: from its token, then as the `connect` handler changes it.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    /// Its user.
    pub user: Option<String>,
    /// Its roles.
    pub roles: Vec<String>,
    /// The groups it joins at once.
    pub groups: Vec<String>,
    /// The subprotocol it gets.
    pub subprotocol: Option<String>,
    /// The `ce-connectionState` the handler set.
    pub state: Option<String>,
}

impl ClientIdentity {
    /// From the token's claims and the subprotocols the client asked for (a json one is taken).
    pub fn from_token(claims: &Map<String, Value>, requested: &[String]) -> Self {
        Self {
            user: claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_string),
            roles: claim_list(claims, "role"),
            groups: claim_list(claims, "webpubsub.group"),
            subprotocol: requested
                .iter()
                .find(|p| *p == JSON || *p == RELIABLE)
                .cloned(),
            state: None,
        }
    }

    /// Applies a successful answer's JSON body.
    fn apply_answer(&mut self, body: &[u8], requested: &[String]) -> Result<(), WpsError> {
        let answer: Value = serde_json::from_slice(body).map_err(|e| {
            failed(format!(
                "the connect event handler's answer is not JSON: {e}"
            ))
        })?;
        if let Some(user) = answer.get("userId").and_then(Value::as_str) {
            self.user = Some(user.to_string());
        }
        let list = |name: &str| -> Vec<String> {
            answer
                .get(name)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        self.groups.extend(list("groups"));
        self.roles.extend(list("roles"));
        if let Some(p) = answer.get("subprotocol").and_then(Value::as_str) {
            if !requested.iter().any(|r| r == p) {
                return Err(failed(format!("the connect event handler chose subprotocol {p:?}, which the client did not ask for")));
            }
            self.subprotocol = Some(p.to_string());
        }
        Ok(())
    }
}

fn failed(message: String) -> WpsError {
    WpsError::Refused {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message,
    }
}

/// What the `connect` event tells the handler about the client.
pub struct ConnectRequest<'a> {
    /// The token's claims.
    pub claims: &'a Map<String, Value>,
    /// The connect URL's query, each name with its values.
    pub query: &'a Map<String, Value>,
    /// The upgrade request's headers.
    pub headers: &'a HeaderMap,
    /// The subprotocols the client asked for.
    pub requested: &'a [String],
}

impl ConnectRequest<'_> {
    /// The event's body: claims, query (without the token), headers (without the token and the
    /// WebSocket key) and subprotocols, as lists of strings.
    fn body(&self) -> Vec<u8> {
        let mut claims = Map::new();
        for (name, value) in self.claims {
            if ["aud", "exp", "iat", "nbf"].contains(&name.as_str()) {
                continue;
            }
            let text = |v: &Value| -> Value {
                v.as_str()
                    .map_or_else(|| v.to_string(), str::to_string)
                    .into()
            };
            let values: Vec<Value> = match value {
                Value::Array(items) => items.iter().map(text).collect(),
                other => vec![text(other)],
            };
            claims.insert(name.clone(), values.into());
        }
        let mut query = self.query.clone();
        query.remove("access_token");
        let mut headers = Map::new();
        for (name, value) in self.headers {
            if name == "authorization" || name == "sec-websocket-key" {
                continue;
            }
            if let (Ok(v), Value::Array(items)) = (
                value.to_str(),
                headers.entry(name.as_str()).or_insert_with(|| json!([])),
            ) {
                items.push(v.into());
            }
        }
        json!({
            "claims": claims,
            "query": query,
            "headers": headers,
            "subprotocols": self.requested,
            "clientCertificates": [],
        })
        .to_string()
        .into_bytes()
    }
}

/// Asks the handler about the client of `context`: its identity as the handler leaves it, or
/// why it is refused (the handler's own status, or 500 when the call or its answer failed).
pub async fn ask(
    state: &WebPubSubState,
    context: &EventContext,
    mut identity: ClientIdentity,
    request: &ConnectRequest<'_>,
) -> Result<ClientIdentity, WpsError> {
    let event = Event::System("connect");
    let answer = state
        .events
        .call(context, event, "application/json", request.body())
        .await
        .map_err(|e| {
            tracing::warn!(hub = %context.hub, "Web PubSub client refused: its connect event failed: {e}");
            failed(e.to_string())
        })?;
    let Some(answer) = answer else {
        return Ok(identity);
    };
    if !answer.status.is_success() {
        let text = String::from_utf8_lossy(&answer.body);
        return Err(WpsError::Refused {
            status: answer.status,
            message: text.chars().take(MAX_REFUSAL_CHARS).collect(),
        });
    }
    identity.state = answer.state;
    if !answer.body.is_empty() {
        identity.apply_answer(&answer.body, request.requested)?;
    }
    Ok(identity)
}
