//! Request targets re-used per URL: the parsed request URL and the REST token for its audience.
//! A REST token is valid for [`REST_LIFETIME`] for exactly one audience (one operation on one hub,
//! user, group or connection), so minting one per call, and parsing the same URL again, is wasted
//! work on the hot path of a broadcast; like the SDK, we re-use the token. A cached token is
//! handed out only while at least half of its lifetime is left, so no caller ever sends one that
//! is about to expire. The map is bounded: per-user and per-connection URLs are unbounded in
//! number, so when it is full it is emptied and refilled by the URLs still in use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reqwest::header::HeaderValue;
use url::Url;

use super::error::RestError;
use crate::service::token::{TokenMinter, REST_LIFETIME};

/// Most URLs remembered at once.
pub(super) const MAX_ENTRIES: usize = 1024;

/// A request URL, parsed, with the token for its audience and the `Authorization` header that
/// carries it (built once, so that a request clones it rather than formatting and checking the
/// token's bytes again).
#[derive(Debug)]
pub(super) struct SignedUrl {
    pub url: Url,
    pub token: String,
    pub authorization: HeaderValue,
}

impl SignedUrl {
    /// `url` parsed, signed by `token`.
    pub(super) fn new(url: &str, token: String) -> Result<Self, RestError> {
        let url = Url::parse(url).map_err(|e| {
            RestError::InvalidArgument(format!("cannot build the request URL: {e}"))
        })?;
        // A token is base64url and dots, which a header value always accepts; the error is for
        // an Entra ID token from a broken identity endpoint.
        let mut authorization = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
            RestError::InvalidArgument("the access token is not a valid header value".into())
        })?;
        authorization.set_sensitive(true);
        Ok(Self {
            url,
            token,
            authorization,
        })
    }
}

type Entries = HashMap<String, (Arc<SignedUrl>, Instant)>;

/// Signed URLs by URL, each with the instant its token stops being handed out.
#[derive(Debug, Default)]
pub(super) struct TokenCache {
    targets: Mutex<Entries>,
}

impl TokenCache {
    /// The signed `url`, whose token audience is `audience(minter)` (asked only when a token is
    /// minted): a cached one whose token has at least half its lifetime left, else a new one.
    pub(super) fn signed_url(
        &self,
        minter: &TokenMinter,
        url: &str,
        audience: impl FnOnce(&TokenMinter) -> String,
    ) -> Result<Arc<SignedUrl>, RestError> {
        let now = Instant::now();
        if let Some((target, _)) = self
            .lock()
            .get(url)
            .filter(|(_, reuse_until)| now < *reuse_until)
        {
            return Ok(Arc::clone(target));
        }
        let target = Arc::new(SignedUrl::new(url, minter.rest_token(audience(minter))?)?);
        let reuse_until = now + REST_LIFETIME / 2;
        let mut targets = self.lock();
        if targets.len() >= MAX_ENTRIES {
            targets.clear();
        }
        targets.insert(url.to_owned(), (Arc::clone(&target), reuse_until));
        Ok(target)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ConnectionString;
    use std::time::Duration;

    const A: &str = "http://h:1/api/hubs/a/:send?api-version=2022-06-01";
    const A_AUD: &str = "http://h/api/hubs/a/:send?api-version=2022-06-01";

    fn minter() -> TokenMinter {
        let connection =
            ConnectionString::parse("Endpoint=https://x.service.signalr.net;AccessKey=k")
                .expect("valid");
        TokenMinter::new(&connection).expect("minter")
    }

    fn aud(_: &TokenMinter) -> String {
        A_AUD.to_string()
    }

    #[test]
    fn reuses_per_url_and_stays_bounded() {
        let (cache, minter) = (TokenCache::default(), minter());
        let a = cache.signed_url(&minter, A, aud).unwrap();
        assert_eq!(a.url.as_str(), A);
        let again = cache.signed_url(&minter, A, aud).unwrap();
        assert!(Arc::ptr_eq(&a, &again), "the same target, not a new one");
        let b = cache
            .signed_url(
                &minter,
                "http://h:1/api/hubs/b/:send?api-version=2022-06-01",
                |_| "b".to_string(),
            )
            .unwrap();
        assert_ne!(a.token, b.token, "another audience, another token");
        for i in 0..3 * MAX_ENTRIES {
            let url = format!("http://h:1/api/hubs/h/users/{i}/:send");
            cache.signed_url(&minter, &url, |_| url.clone()).unwrap();
            assert!(cache.lock().len() <= MAX_ENTRIES);
        }
    }

    #[test]
    fn an_aged_token_is_replaced() {
        let (cache, minter) = (TokenCache::default(), minter());
        let first = cache.signed_url(&minter, A, aud).unwrap();
        // Age the entry past its re-use period.
        cache.lock().get_mut(A).unwrap().1 = Instant::now() - Duration::from_millis(1);
        std::thread::sleep(Duration::from_millis(1100)); // a new `iat` second
        let second = cache.signed_url(&minter, A, aud).unwrap();
        assert_ne!(first.token, second.token);
    }
}
