//! The invocations of one client socket that wait for the event handler (`docs/webpubsub.md`
//! §4.4): each runs in the background under its `invocationId`, at most [`MAX_PENDING`] at once;
//! a cancelled one stops waiting, and only an invocation still pending may answer, so nothing
//! answers after its cancel.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::AbortHandle;

/// How many invocations of one socket may wait for the event handler at once.
pub const MAX_PENDING: usize = 32;

/// Why an invocation was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// An invocation with this id is still pending.
    Duplicate,
    /// [`MAX_PENDING`] are pending.
    Full,
}

/// The pending invocations of one socket.
#[derive(Debug, Clone, Default)]
pub struct Invocations(Arc<Mutex<Pending>>);

#[derive(Debug, Default)]
struct Pending {
    /// The serial of the last invocation started (tells a finished task from a newer one that
    /// reuses its id after a cancel).
    serial: u64,
    running: HashMap<String, (u64, AbortHandle)>,
}

impl Invocations {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` for invocation `id` in the background, then `answer` with its output, unless
    /// it was cancelled meanwhile.
    pub fn start<W>(
        &self,
        id: &str,
        work: W,
        answer: impl FnOnce(W::Output) + Send + 'static,
    ) -> Result<(), StartError>
    where
        W: Future + Send + 'static,
        W::Output: Send,
    {
        let mut pending = self.lock();
        if pending.running.contains_key(id) {
            return Err(StartError::Duplicate);
        }
        if pending.running.len() >= MAX_PENDING {
            return Err(StartError::Full);
        }
        pending.serial += 1;
        let serial = pending.serial;
        let (this, key) = (self.clone(), id.to_string());
        let task = tokio::spawn(async move {
            let output = work.await;
            // Under the lock, so that a cancel cannot come between the check and the answer.
            let mut pending = this.lock();
            if pending.running.get(&key).is_some_and(|(s, _)| *s == serial) {
                pending.running.remove(&key);
                answer(output);
            }
        });
        pending
            .running
            .insert(id.to_string(), (serial, task.abort_handle()));
        Ok(())
    }

    /// Stops waiting for invocation `id`; whether it was pending.
    pub fn cancel(&self, id: &str) -> bool {
        let removed = self.lock().running.remove(id);
        removed.map(|(_, task)| task.abort()).is_some()
    }

    /// Stops waiting for all of them (the socket ended).
    pub fn cancel_all(&self) {
        for (_, (_, task)) in self.lock().running.drain() {
            task.abort();
        }
    }

    /// How many are pending.
    pub fn len(&self) -> usize {
        self.lock().running.len()
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn bounded_deduplicated_and_silent_after_cancel() {
        let invocations = Invocations::default();
        let answered = Arc::new(AtomicUsize::new(0));
        let slow = || tokio::time::sleep(Duration::from_secs(60));
        for i in 0..MAX_PENDING {
            let answered = Arc::clone(&answered);
            let ok = invocations.start(&i.to_string(), slow(), move |()| {
                answered.fetch_add(1, Ordering::SeqCst);
            });
            assert_eq!(ok, Ok(()));
        }
        assert_eq!(
            invocations.start("0", slow(), |()| {}),
            Err(StartError::Duplicate)
        );
        assert_eq!(
            invocations.start("new", slow(), |()| {}),
            Err(StartError::Full)
        );
        assert!(invocations.cancel("0"));
        assert!(!invocations.cancel("0"));
        let done = Arc::clone(&answered);
        invocations
            .start("0", async {}, move |()| {
                done.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            while answered.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
        assert_eq!(invocations.len(), MAX_PENDING - 1);
        invocations.cancel_all();
        assert!(invocations.is_empty());
        assert_eq!(answered.load(Ordering::SeqCst), 1);
    }
}
