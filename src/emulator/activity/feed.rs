//! The stream of changes a dashboard follows, shared by both emulators' dashboards: a broadcast
//! channel of at most [`EVENT_BUFFER`] changes, made when the first viewer subscribes (an
//! emulator nobody watches allocates nothing for it). A viewer that falls more than
//! [`EVENT_BUFFER`] changes behind learns so and is sent a fresh snapshot instead.

use std::sync::OnceLock;

use tokio::sync::broadcast;

/// How many changes may wait for a slow dashboard before it is told to reload the snapshot.
pub const EVENT_BUFFER: usize = 1024;

/// The changes of one emulator, published to every open dashboard.
#[derive(Debug)]
pub struct ChangeFeed<C> {
    sender: OnceLock<broadcast::Sender<C>>,
}

impl<C> Default for ChangeFeed<C> {
    fn default() -> Self {
        Self {
            sender: OnceLock::new(),
        }
    }
}

impl<C: Clone> ChangeFeed<C> {
    /// Publishes `change` to the viewers, if any ever subscribed; `make` is not called otherwise
    /// (nobody watching costs nothing).
    pub fn publish(&self, make: impl FnOnce() -> C) {
        self.publish_some(|| Some(make()));
    }

    /// Publishes the change `make` gives, if any, to the viewers; as [`ChangeFeed::publish`].
    pub fn publish_some(&self, make: impl FnOnce() -> Option<C>) {
        if let Some(sender) = self.sender.get() {
            if sender.receiver_count() > 0 {
                if let Some(change) = make() {
                    let _ = sender.send(change);
                }
            }
        }
    }

    /// The changes from now on (a receiver that lags more than [`EVENT_BUFFER`] learns so).
    pub fn subscribe(&self) -> broadcast::Receiver<C> {
        self.sender
            .get_or_init(|| broadcast::channel(EVENT_BUFFER).0)
            .subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_made_until_someone_subscribes() {
        let feed = ChangeFeed::<u32>::default();
        feed.publish(|| panic!("no viewer: the change is not even made"));
        assert!(feed.sender.get().is_none());
        let mut receiver = feed.subscribe();
        feed.publish(|| 7);
        assert_eq!(receiver.try_recv().unwrap(), 7);
    }
}
