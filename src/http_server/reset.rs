//! Resetting a connection from inside a handler, for fault injection: the handler asks through the
//! [`ConnectionReset`] request extension, the connection's task then drops the connection at once
//! without answering, and the socket is closed with `SO_LINGER` 0, so the peer sees a TCP reset
//! (`ECONNRESET`) rather than an orderly end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// The request extension a handler uses to reset the connection its request came on. Every
/// request served by [`super::serve`] carries one.
#[derive(Clone)]
pub struct ConnectionReset(pub(super) Arc<ResetSwitch>);

impl ConnectionReset {
    /// Resets the connection: nothing more is read or written on it. The caller should then never
    /// answer (e.g. await [`std::future::pending`]), because the connection's task drops the
    /// request together with the connection.
    pub fn reset(&self) {
        self.0.requested.store(true, Ordering::Release);
        self.0.notify.notify_one();
    }
}

/// Whether a connection's reset was asked for, and the wake-up of its task.
#[derive(Default)]
pub(super) struct ResetSwitch {
    requested: AtomicBool,
    notify: Notify,
}

impl ResetSwitch {
    /// Whether a reset was asked for.
    pub(super) fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// Resolves when a reset is asked for.
    pub(super) async fn requested(&self) {
        while !self.is_requested() {
            self.notify.notified().await;
        }
    }
}
