//! The bytes reliable connections keep for recovery (`docs/webpubsub.md` §8, "Reliable
//! connections"), shared and counted once: a message sent to many reliable connections is one
//! [`Retained`] body that each of their unacknowledged buffers points to (the `sequenceId` is
//! added only when a frame is written to a socket), and [`RetainedBytes`] counts the bodies alive.
//! When they exceed the emulator's budget, the detached connections are given up oldest first
//! (see [`super::connections::Connections::send`]), so however many reliable clients drop
//! away, what waits for them stays within the budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::message;
use crate::emulator::outbox::Frame;

/// The default budget of bytes kept for reliable connections (64 MiB).
pub const MAX_RETAINED_BYTES: usize = 64 * 1024 * 1024;

/// The bytes of every [`Retained`] body alive, and the budget they should stay within.
#[derive(Debug)]
pub struct RetainedBytes {
    /// The budget.
    pub limit: usize,
    used: AtomicUsize,
}

impl RetainedBytes {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// The bytes alive now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether they exceed the budget.
    pub fn over(&self) -> bool {
        self.used() > self.limit
    }
}

impl Default for RetainedBytes {
    fn default() -> Self {
        Self {
            limit: MAX_RETAINED_BYTES,
            used: AtomicUsize::new(0),
        }
    }
}

/// One message body (the json subprotocols' `{"type":"message",…}` without its `sequenceId`),
/// shared by every buffer that holds it and counted while any does.
#[derive(Debug)]
pub struct Retained {
    json: Arc<str>,
    count: Arc<RetainedBytes>,
}

impl Retained {
    /// `json`, counted in `count` until the last holder lets it go.
    pub fn new(json: &Arc<str>, count: &Arc<RetainedBytes>) -> Arc<Self> {
        count.used.fetch_add(json.len(), Ordering::Relaxed);
        Arc::new(Self {
            json: Arc::clone(json),
            count: Arc::clone(count),
        })
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.json.len()
    }

    /// Whether it is empty (never: a message is a JSON object).
    pub fn is_empty(&self) -> bool {
        self.json.is_empty()
    }

    /// The frame a reliable client gets: the body with `"sequenceId":n` first.
    pub fn frame(&self, sequence_id: u64) -> Frame {
        Frame::text(message::with_sequence(&self.json, sequence_id))
    }
}

impl Drop for Retained {
    fn drop(&mut self) {
        self.count
            .used
            .fetch_sub(self.json.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_counted_once_while_any_holder_keeps_it() {
        let count = RetainedBytes::new(10);
        let json: Arc<str> = r#"{"type":"message","data":1}"#.into();
        let body = Retained::new(&json, &count);
        let holders: Vec<_> = (0..40).map(|_| Arc::clone(&body)).collect();
        assert_eq!(count.used(), json.len());
        assert!(count.over());
        drop(body);
        drop(holders);
        assert_eq!(count.used(), 0);
        let frame = Retained::new(&json, &count).frame(7);
        assert_eq!(
            &*frame.data,
            br#"{"sequenceId":7,"type":"message","data":1}"#
        );
    }
}
