//! `/api/health` is anonymous and probes every endpoint (and Web PubSub under Entra ID), so its
//! answer is reused for a few seconds (`SIGNALR_HEALTH_CACHE_SECONDS`, default 5): any number of
//! calls within that window make one probe per endpoint, and calls that arrive while a probe
//! runs wait for it instead of starting their own.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;
use tokio::sync::Mutex;

use super::error::ApiError;

/// A health answer: status and body, or the error every call gets (not configured).
pub type HealthAnswer = Result<(StatusCode, Value), ApiError>;

/// The last health answer and when it was made.
#[derive(Debug)]
pub struct HealthCache {
    window: Duration,
    last: Mutex<Option<(Instant, HealthAnswer)>>,
}

impl HealthCache {
    /// Reuses an answer for `window` (zero: never).
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            last: Mutex::new(None),
        }
    }

    /// The last answer while it is younger than the window, else a fresh one from `check`.
    pub async fn answer<F, Fut>(&self, check: F) -> HealthAnswer
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = HealthAnswer>,
    {
        if self.window.is_zero() {
            return check().await;
        }
        // Held while checking: concurrent callers wait for this answer.
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = last.as_ref() {
            if at.elapsed() < self.window {
                return answer.clone();
            }
        }
        let answer = check().await;
        *last = Some((Instant::now(), answer.clone()));
        answer
    }
}
