//! The dashboard's records of what happened: REST calls, sends and upstream calls, each kept in a
//! bounded [`Ring`]. Nothing secret is recorded: paths and URLs lose their query (which may carry
//! a token or a function key) and any user name or password.

use std::collections::VecDeque;

use serde::Serialize;

/// The newest `capacity` items, oldest first; pushing onto a full ring drops the oldest.
#[derive(Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T: Clone> Ring<T> {
    /// An empty ring that keeps at most `capacity` items (it grows as they come: an idle
    /// emulator holds none).
    pub fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity,
        }
    }

    /// Adds `item`, dropping the oldest when full.
    pub fn push(&mut self, item: T) {
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    /// The items, oldest first.
    pub fn to_vec(&self) -> Vec<T> {
        self.items.iter().cloned().collect()
    }
}

/// A REST call and its answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestCall {
    /// Milliseconds since the Unix epoch.
    pub at: u128,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

/// A message sent through the REST API.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// Milliseconds since the Unix epoch.
    pub at: u128,
    /// The hub (with its `application` prefix, if any).
    pub hub: String,
    /// Who it was for: `all`, `user`, `group` or `connection`.
    pub recipients: &'static str,
    /// The user id, group name or connection id (none for `all`).
    pub name: Option<String>,
    /// The invocation's target.
    pub target: String,
    /// How many connections were excluded by the request.
    pub excluded: usize,
    /// How many connections took the message.
    pub received: usize,
}

/// A call the emulator made to the upstream.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamCall {
    /// Milliseconds since the Unix epoch.
    pub at: u128,
    /// The hub as the client named it.
    pub hub: String,
    /// The connection the call is about.
    pub connection: String,
    /// `event` (connected, disconnected) or `invocation` (a client's hub method call).
    pub kind: &'static str,
    /// `connected`, `disconnected` or the invoked method.
    pub event: String,
    /// The URL without user info, query or fragment (see [`display_url`]).
    pub url: String,
    /// The status the upstream answered; none when there was no answer.
    pub status: Option<u16>,
    /// Why there was no usable answer, if so.
    pub error: Option<String>,
    /// How long the call took, in milliseconds.
    pub duration_ms: u64,
}

/// `url` as the dashboard may show it: scheme, host, port and path only. The query is dropped (an
/// Azure Functions upstream carries its key as `?code=`), and so are user info and fragment.
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "(not a valid URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_items() {
        let mut ring = Ring::new(3);
        for i in 0..5 {
            ring.push(i);
        }
        assert_eq!(ring.to_vec(), vec![2, 3, 4]);
    }

    #[test]
    fn urls_lose_their_query_fragment_and_user_info() {
        assert_eq!(
            display_url("http://user:pw@127.0.0.1:7071/runtime/webhooks/signalr?code=secret#x"),
            "http://127.0.0.1:7071/runtime/webhooks/signalr"
        );
        assert_eq!(
            display_url("https://app.example/api/upstream"),
            "https://app.example/api/upstream"
        );
        assert_eq!(display_url("not a url ?code=secret"), "(not a valid URL)");
    }
}
