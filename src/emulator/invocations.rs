//! Client results in the emulator: the invocations the REST API's `:invoke` sent to one client
//! and is waiting on, by connection. Each gets a service id (`s1`, `s2`, … as ASP.NET Core makes
//! them, so they never clash with a client's own ids); the connection's session hands the
//! client's Completion to [`Invocations::complete`], which wakes the waiting request. The table
//! is bounded per connection and in total; a connection that ends fails its pending invocations
//! at once ([`Invocations::end`]); a request that stops waiting (answered, timed out, or its
//! caller went away) removes its entry when its [`Pending`] is dropped, so nothing stays behind.
//! `docs/protocol.md` §9.1 has the facts and our choices.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

/// What a client answered: `Ok(None)` void, `Ok(Some(result))`, or its error text.
pub type Outcome = Result<Option<Value>, String>;

/// Why no invocation could be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    /// The connection already has this many invocations waiting.
    #[error("the connection already has {0} invocations waiting for its answers; wait for some to finish")]
    Connection(usize),
    /// The emulator already has this many invocations waiting.
    #[error("the emulator already has {0} invocations waiting for clients' answers; wait for some to finish")]
    Emulator(usize),
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Waited {
    /// The client answered.
    Answered(Outcome),
    /// The connection ended before it answered.
    Gone,
    /// No answer within the time limit.
    TimedOut,
}

#[derive(Default)]
struct Table {
    by_connection: HashMap<String, HashMap<String, oneshot::Sender<Outcome>>>,
    count: usize,
}

/// Every invocation waiting for a client's answer.
pub struct Invocations {
    table: Mutex<Table>,
    next_id: AtomicU64,
    per_connection: usize,
    total: usize,
}

impl Invocations {
    /// A table holding at most `per_connection` invocations per connection and `total` in all.
    pub fn new(per_connection: usize, total: usize) -> Self {
        Self {
            table: Mutex::new(Table::default()),
            next_id: AtomicU64::new(1),
            per_connection,
            total,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new invocation for `connection` (before it is sent, so a quick answer finds
    /// it); the returned [`Pending`] has its id and waits for the answer.
    pub fn start(&self, connection: &str) -> Result<Pending<'_>, Full> {
        let mut table = self.lock();
        if table.count >= self.total {
            return Err(Full::Emulator(self.total));
        }
        let waiting = table
            .by_connection
            .entry(connection.to_string())
            .or_default();
        if waiting.len() >= self.per_connection {
            return Err(Full::Connection(self.per_connection));
        }
        let id = format!("s{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (sender, answer) = oneshot::channel();
        waiting.insert(id.clone(), sender);
        table.count += 1;
        Ok(Pending {
            table: self,
            connection: connection.to_string(),
            id,
            answer,
        })
    }

    /// Hands a client's Completion to the request waiting for it; `false` when none is (an id the
    /// service never sent, or one that already timed out): the completion is then dropped.
    pub fn complete(&self, connection: &str, id: &str, outcome: Outcome) -> bool {
        match self.take(connection, id) {
            Some(sender) => sender.send(outcome).is_ok(),
            None => false,
        }
    }

    /// The connection ended: every invocation waiting on it fails now.
    pub fn end(&self, connection: &str) {
        let mut table = self.lock();
        if let Some(waiting) = table.by_connection.remove(connection) {
            table.count -= waiting.len();
        }
    }

    /// How many invocations are waiting, in all.
    pub fn waiting(&self) -> usize {
        self.lock().count
    }

    fn take(&self, connection: &str, id: &str) -> Option<oneshot::Sender<Outcome>> {
        let mut table = self.lock();
        let waiting = table.by_connection.get_mut(connection)?;
        let sender = waiting.remove(id)?;
        if waiting.is_empty() {
            table.by_connection.remove(connection);
        }
        table.count -= 1;
        Some(sender)
    }
}

/// One invocation waiting for its client; dropping it forgets the invocation.
pub struct Pending<'a> {
    table: &'a Invocations,
    connection: String,
    id: String,
    answer: oneshot::Receiver<Outcome>,
}

impl Pending<'_> {
    /// The service's id of the invocation.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits for the client's answer, at most `limit`.
    pub async fn wait(&mut self, limit: Duration) -> Waited {
        match tokio::time::timeout(limit, &mut self.answer).await {
            Ok(Ok(outcome)) => Waited::Answered(outcome),
            Ok(Err(_)) => Waited::Gone,
            Err(_) => Waited::TimedOut,
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.table.take(&self.connection, &self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn answers_reach_their_waiter_and_nothing_stays_behind() {
        let table = Invocations::new(2, 3);
        let mut first = table.start("c1").unwrap();
        let second = table.start("c1").unwrap();
        assert_eq!((first.id(), second.id()), ("s1", "s2"));
        assert_eq!(table.start("c1").err(), Some(Full::Connection(2)));
        let third = table.start("c2").unwrap();
        assert_eq!(table.start("c3").err(), Some(Full::Emulator(3)));
        assert!(
            !table.complete("c2", "s1", Ok(None)),
            "another connection's id"
        );
        assert!(table.complete("c1", "s1", Ok(Some(json!({"a": 1})))));
        assert_eq!(
            first.wait(Duration::from_secs(1)).await,
            Waited::Answered(Ok(Some(json!({"a": 1}))))
        );
        assert!(!table.complete("c1", "s1", Ok(None)), "answered twice");
        drop(second);
        assert_eq!(table.waiting(), 1);
        let mut gone = third;
        table.end("c2");
        assert_eq!(gone.wait(Duration::from_secs(1)).await, Waited::Gone);
        drop(gone);
        let mut late = table.start("c1").unwrap();
        assert_eq!(late.wait(Duration::from_millis(10)).await, Waited::TimedOut);
        drop(late);
        assert_eq!(table.waiting(), 0);
        assert!(table.lock().by_connection.is_empty());
    }
}
