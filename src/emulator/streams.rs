//! Server-to-client streams in the emulator: the streams each client opened with a
//! StreamInvocation (`connection.stream("M")`), by connection, so the REST API's
//! `streams/{streamId}/:send` and `:complete` can feed them. A stream closes when it is completed,
//! when the client cancels it (CancelInvocation) or when its connection ends; each connection may
//! hold a bounded number. The StreamInvocation itself goes nowhere else: the service does not
//! route it upstream in serverless mode (`docs/protocol.md` §9.3).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

/// The open streams of every connection.
pub struct Streams {
    open: Mutex<HashMap<String, HashSet<String>>>,
    per_connection: usize,
}

impl Streams {
    /// A table holding at most `per_connection` open streams per connection.
    pub fn new(per_connection: usize) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            per_connection,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashSet<String>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most streams one connection may hold open.
    pub fn limit(&self) -> usize {
        self.per_connection
    }

    /// Opens stream `id` of `connection`; `false` when the connection already holds the most.
    pub fn open(&self, connection: &str, id: &str) -> bool {
        let mut open = self.lock();
        let streams = open.entry(connection.to_string()).or_default();
        if streams.len() >= self.per_connection && !streams.contains(id) {
            return false;
        }
        streams.insert(id.to_string());
        true
    }

    /// Whether `connection` has stream `id` open.
    pub fn is_open(&self, connection: &str, id: &str) -> bool {
        self.lock()
            .get(connection)
            .is_some_and(|streams| streams.contains(id))
    }

    /// Closes stream `id`; `false` when it was not open.
    pub fn close(&self, connection: &str, id: &str) -> bool {
        let mut open = self.lock();
        let Some(streams) = open.get_mut(connection) else {
            return false;
        };
        let closed = streams.remove(id);
        if streams.is_empty() {
            open.remove(connection);
        }
        closed
    }

    /// The connection ended: its streams are gone.
    pub fn end(&self, connection: &str) {
        self.lock().remove(connection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_per_connection_and_closed_once() {
        let streams = Streams::new(2);
        assert!(streams.open("c", "0") && streams.open("c", "1"));
        assert!(!streams.open("c", "2"));
        assert!(streams.open("d", "2"));
        assert!(streams.is_open("c", "1") && !streams.is_open("d", "1"));
        assert!(streams.close("c", "1"));
        assert!(!streams.close("c", "1"));
        assert!(streams.open("c", "2"));
        streams.end("c");
        assert!(!streams.is_open("c", "0"));
        assert!(streams.lock().get("c").is_none());
    }
}
