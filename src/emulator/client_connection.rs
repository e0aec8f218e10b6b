//! A client connection as the service describes it to the upstream: id, hub, user, claims and
//! the connect query. Built once when a transport starts; the session and the upstream caller
//! read it.

use axum::http::Uri;

use super::connection_tokens::Negotiated;

/// A client connection as the upstream hears of it (`X-ASRS-*` headers).
#[derive(Debug, Clone)]
pub struct ClientConnection {
    /// The connection id.
    pub connection_id: String,
    /// The hub as the client named it.
    pub hub: String,
    /// The user id, if the token had one.
    pub user_id: Option<String>,
    /// The token's claims as `type: value` pairs.
    pub claims: Vec<(String, String)>,
    /// The connect request's query without `access_token`, with its leading `?` (empty if none).
    pub query: String,
}

impl ClientConnection {
    /// From the negotiation and the transport request (the query without `access_token`).
    pub fn new(negotiated: Negotiated, hub: &str, uri: &Uri) -> Self {
        let raw = uri.query().unwrap_or("");
        let mut kept = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            if k != "access_token" {
                kept.append_pair(&k, &v);
            }
        }
        let kept = kept.finish();
        Self {
            connection_id: negotiated.connection_id,
            hub: hub.to_string(),
            user_id: negotiated.user_id,
            claims: negotiated.claims,
            // `X-ASRS-Client-Query` carries the leading `?`, as the service sends it (`docs/protocol.md` §5.1).
            query: if kept.is_empty() {
                kept
            } else {
                format!("?{kept}")
            },
        }
    }
}
