//! The per-connection queue of events waiting for the upstream worker, bounded by count and by
//! bytes (like the outbox): a client that invokes faster than the upstream answers cannot make the
//! emulator hold more than the byte budget of its invocations. Each queued invocation holds its
//! share of the budget until the worker has delivered it.
//!
//! When the queue is full, a client invocation is refused at once: the session answers one with an
//! `invocationId` with a completion error ([`QUEUE_FULL`]) and drops one without (with a warning).
//! Lifecycle events (`connected`, `disconnected`) are small and wait for room instead.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::upstream_event::UpstreamEvent;

/// The completion error of an invocation refused because the queue is full.
pub const QUEUE_FULL: &str =
    "Invocation failed: upstream queue full (too many invocations of this connection are waiting for the upstream)";

/// How many events of one connection may wait for the upstream, whatever their size.
const MAX_EVENTS: usize = 256;

/// One queued event and its share of the byte budget.
#[derive(Debug)]
pub struct QueuedEvent {
    /// The event to deliver.
    pub event: UpstreamEvent,
    _permit: Option<OwnedSemaphorePermit>,
}

/// The queue had no room for an invocation, which is handed back (for the caller's answer or
/// log line).
#[derive(Debug, thiserror::Error)]
#[error("upstream queue full")]
pub struct QueueFull(pub UpstreamEvent);

/// The sending side, used by the connection's session.
#[derive(Debug, Clone)]
pub struct UpstreamQueue {
    tx: mpsc::Sender<QueuedEvent>,
    budget: Arc<Semaphore>,
}

/// A queue holding at most 256 events and `max_bytes` of invocations.
pub fn upstream_queue(max_bytes: usize) -> (UpstreamQueue, mpsc::Receiver<QueuedEvent>) {
    let (tx, rx) = mpsc::channel(MAX_EVENTS);
    let budget = Arc::new(Semaphore::new(max_bytes.clamp(1, Semaphore::MAX_PERMITS)));
    (UpstreamQueue { tx, budget }, rx)
}

impl UpstreamQueue {
    /// Queues a lifecycle event, waiting at most `wait` for room; false if it could not be queued.
    pub async fn send_event(&self, event: UpstreamEvent, wait: Duration) -> bool {
        let queued = QueuedEvent {
            event,
            _permit: None,
        };
        matches!(
            tokio::time::timeout(wait, self.tx.send(queued)).await,
            Ok(Ok(()))
        )
    }

    /// Queues a client invocation without waiting.
    pub fn try_send_message(&self, event: UpstreamEvent) -> Result<(), QueueFull> {
        let cost = match &event {
            UpstreamEvent::Invocation { raw, target, .. } => raw.len() + target.len(),
            _ => 0,
        };
        let Some(permit) = u32::try_from(cost.max(1))
            .ok()
            .and_then(|cost| Arc::clone(&self.budget).try_acquire_many_owned(cost).ok())
        else {
            return Err(QueueFull(event));
        };
        self.tx
            .try_send(QueuedEvent {
                event,
                _permit: Some(permit),
            })
            .map_err(|e| QueueFull(e.into_inner().event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the invocation was queued; a refused one must come back unchanged.
    fn queued(queue: &UpstreamQueue, size: usize) -> bool {
        match queue.try_send_message(message(size)) {
            Ok(()) => true,
            Err(QueueFull(UpstreamEvent::Invocation { raw, .. })) => {
                assert_eq!(raw.len(), size, "the refused event is handed back");
                false
            }
            Err(QueueFull(other)) => panic!("another event came back: {other:?}"),
        }
    }

    fn message(size: usize) -> UpstreamEvent {
        UpstreamEvent::Invocation {
            raw: vec![b'x'; size],
            content_type: "application/json",
            target: String::new(),
            invocation_id: None,
        }
    }

    #[tokio::test]
    async fn bytes_bound_the_queue_until_events_are_delivered() {
        let (queue, mut rx) = upstream_queue(100);
        assert!(queued(&queue, 60));
        assert!(!queued(&queue, 60));
        assert!(queued(&queue, 40));
        assert!(
            queue
                .send_event(UpstreamEvent::Connected, Duration::ZERO)
                .await
        );
        drop(rx.recv().await);
        assert!(queued(&queue, 60));
    }

    #[tokio::test]
    async fn count_bounds_the_queue_too() {
        let (queue, _rx) = upstream_queue(1 << 20);
        for _ in 0..MAX_EVENTS {
            assert!(queued(&queue, 1));
        }
        assert!(!queued(&queue, 1));
        assert!(
            !queue
                .send_event(UpstreamEvent::Connected, Duration::ZERO)
                .await
        );
    }
}
