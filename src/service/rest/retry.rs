//! When a REST call may be tried again, and how long to wait first.
//!
//! The rule is "never deliver a message twice":
//! * every operation is retried when the request never left (connect failure: refused, DNS,
//!   TLS) and when the service answered 429 or 503, which it does before doing any work;
//! * idempotent operations (HEAD, PUT, DELETE: existence checks, group membership, closing a
//!   connection) are also retried on 500, 502 and 504 and when the connection was lost
//!   mid-request, because doing them twice has the same effect as doing them once;
//! * nothing is retried after a timeout: the attempt already used the caller's whole time budget,
//!   and for a send the message may have been delivered;
//! * a send (POST) is never retried after an ambiguous outcome (500, 502, 504, connection lost).
//!
//! Waits grow exponentially from `base_backoff`, capped at `max_backoff`, with "equal jitter"
//! (half fixed, half random). A `Retry-After: <seconds>` header replaces the computed wait, still
//! capped at `max_backoff` so one answer cannot stall a caller for long.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How a failed attempt ended, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The service answered with this status.
    Status(u16),
    /// No connection could be made: the request was never sent.
    NotSent,
    /// No answer within the timeout; the request may have been processed.
    TimedOut,
    /// The connection broke after the request may have been written.
    Lost,
}

impl Failure {
    /// Classifies a transport error. Connect errors are checked first: a connect that timed out
    /// (`connect_timeout`) still never sent the request.
    pub(super) fn from_transport(error: &reqwest::Error) -> Self {
        if error.is_connect() {
            Self::NotSent
        } else if error.is_timeout() {
            Self::TimedOut
        } else {
            Self::Lost
        }
    }

    /// Whether another attempt cannot cause a duplicate (see the module comment).
    pub(super) fn is_retryable(self, idempotent: bool) -> bool {
        match self {
            Self::NotSent | Self::Status(429 | 503) => true,
            Self::Status(500 | 502 | 504) | Self::Lost => idempotent,
            Self::Status(_) | Self::TimedOut => false,
        }
    }
}

/// The wait before retry number `retry` (0 for the first retry): `Retry-After` when the service
/// gave one, else `base · 2^retry` with equal jitter; never more than `max`.
pub(super) fn delay(
    retry: u32,
    retry_after: Option<Duration>,
    base: Duration,
    max: Duration,
) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(max);
    }
    let exponential = base
        .checked_mul(2u32.saturating_pow(retry))
        .unwrap_or(max)
        .min(max);
    let half = exponential / 2;
    let jitter_nanos = rand::random_range(0..=half.as_nanos().min(u128::from(u64::MAX)) as u64);
    half + Duration::from_nanos(jitter_nanos)
}

/// Reads `Retry-After` as whole seconds. The HTTP-date form is ignored (the service sends
/// seconds); the computed backoff is used instead.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn only_duplicate_free_outcomes_are_retried() {
        for idempotent in [false, true] {
            assert!(Failure::NotSent.is_retryable(idempotent));
            assert!(Failure::Status(429).is_retryable(idempotent));
            assert!(Failure::Status(503).is_retryable(idempotent));
            assert!(!Failure::TimedOut.is_retryable(idempotent));
            assert!(!Failure::Status(400).is_retryable(idempotent));
            assert!(!Failure::Status(401).is_retryable(idempotent));
        }
        for ambiguous in [
            Failure::Status(500),
            Failure::Status(502),
            Failure::Status(504),
            Failure::Lost,
        ] {
            assert!(!ambiguous.is_retryable(false), "{ambiguous:?}");
            assert!(ambiguous.is_retryable(true), "{ambiguous:?}");
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for retry in 0..4 {
            let full = 100 * MS * 2u32.pow(retry);
            let wait = delay(retry, None, 100 * MS, 10_000 * MS);
            assert!(wait >= full / 2 && wait <= full, "{retry}: {wait:?}");
        }
        assert!(delay(40, None, 100 * MS, 5000 * MS) <= 5000 * MS);
        assert!(delay(40, None, 100 * MS, 5000 * MS) >= 2500 * MS);
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let max = 5000 * MS;
        assert_eq!(delay(0, Some(2000 * MS), MS, max), 2000 * MS);
        assert_eq!(delay(0, Some(60_000 * MS), MS, max), max);
    }

    #[test]
    fn parses_retry_after_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 3 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
