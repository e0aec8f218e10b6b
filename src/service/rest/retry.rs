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
//! (half fixed, half random). A `Retry-After` header (seconds or an HTTP date) replaces the
//! computed wait. It is honoured, never cut short: when the service asks for a longer wait than
//! `max_backoff`, the call is not retried but fails with the service's answer, whose message says
//! when to try again, so one answer cannot stall a caller for long either.

use std::time::{Duration, SystemTime};

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
/// gave one, else `base · 2^retry` with equal jitter, at most `max`. `None` when the service asked
/// for a longer wait than `max`: then there is no retry.
pub(super) fn delay(
    retry: u32,
    retry_after: Option<Duration>,
    base: Duration,
    max: Duration,
) -> Option<Duration> {
    if let Some(wait) = retry_after {
        return (wait <= max).then_some(wait);
    }
    let exponential = base
        .checked_mul(2u32.saturating_pow(retry))
        .unwrap_or(max)
        .min(max);
    let half = exponential / 2;
    let jitter_nanos = rand::random_range(0..=half.as_nanos().min(u128::from(u64::MAX)) as u64);
    Some(half + Duration::from_nanos(jitter_nanos))
}

/// Reads `Retry-After`: delay seconds, or an HTTP date (a date in the past means no wait). An
/// unreadable value is ignored and the computed backoff applies.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
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
            let wait = delay(retry, None, 100 * MS, 10_000 * MS).unwrap();
            assert!(wait >= full / 2 && wait <= full, "{retry}: {wait:?}");
        }
        let capped = delay(40, None, 100 * MS, 5000 * MS).unwrap();
        assert!(capped <= 5000 * MS && capped >= 2500 * MS, "{capped:?}");
    }

    #[test]
    fn retry_after_wins_and_is_never_cut_short() {
        let max = 5000 * MS;
        assert_eq!(delay(0, Some(2000 * MS), MS, max), Some(2000 * MS));
        assert_eq!(delay(0, Some(max), MS, max), Some(max));
        assert_eq!(delay(0, Some(60_000 * MS), MS, max), None);
    }

    #[test]
    fn parses_retry_after_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 3 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        // A date in the past: retry now.
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        // A date an hour ahead: about an hour.
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600),
            "{wait:?}"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
