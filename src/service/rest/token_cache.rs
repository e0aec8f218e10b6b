//! REST tokens re-used per audience. A REST token is valid for [`REST_LIFETIME`] for exactly one
//! audience (one operation on one hub, user, group or connection), so minting one per call is
//! wasted work on the hot path of a broadcast; like the SDK, we re-use it. A cached token is
//! handed out only while at least half of its lifetime is left, so no caller ever sends one that
//! is about to expire. The map is bounded: per-user and per-connection audiences are unbounded in
//! number, so when it is full it is emptied and refilled by the audiences still in use.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::service::token::{TokenError, TokenMinter, REST_LIFETIME};

/// Most audiences remembered at once.
pub(super) const MAX_ENTRIES: usize = 1024;

/// Tokens by audience, each with the instant it stops being handed out.
#[derive(Debug, Default)]
pub(super) struct TokenCache {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl TokenCache {
    /// A token for `audience`: a cached one with at least half its lifetime left, else a new one.
    pub(super) fn token(&self, minter: &TokenMinter, audience: &str) -> Result<String, TokenError> {
        let now = Instant::now();
        if let Some((token, _)) = self
            .lock()
            .get(audience)
            .filter(|(_, reuse_until)| now < *reuse_until)
        {
            return Ok(token.clone());
        }
        let token = minter.rest_token(audience.to_owned())?;
        let reuse_until = now + REST_LIFETIME / 2;
        let mut tokens = self.lock();
        if tokens.len() >= MAX_ENTRIES {
            tokens.clear();
        }
        tokens.insert(audience.to_owned(), (token.clone(), reuse_until));
        Ok(token)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ConnectionString;
    use std::time::Duration;

    fn minter() -> TokenMinter {
        let connection =
            ConnectionString::parse("Endpoint=https://x.service.signalr.net;AccessKey=k")
                .expect("valid");
        TokenMinter::new(&connection).expect("minter")
    }

    #[test]
    fn reuses_per_audience_and_stays_bounded() {
        let (cache, minter) = (TokenCache::default(), minter());
        let a = cache.token(&minter, "https://x/api/hubs/a/:send").unwrap();
        assert_eq!(
            cache.token(&minter, "https://x/api/hubs/a/:send").unwrap(),
            a
        );
        let b = cache.token(&minter, "https://x/api/hubs/b/:send").unwrap();
        assert_ne!(a, b, "another audience, another token");
        for i in 0..3 * MAX_ENTRIES {
            cache
                .token(&minter, &format!("https://x/api/hubs/h/users/{i}/:send"))
                .unwrap();
            assert!(cache.lock().len() <= MAX_ENTRIES);
        }
    }

    #[test]
    fn an_aged_token_is_replaced() {
        let (cache, minter) = (TokenCache::default(), minter());
        let first = cache.token(&minter, "aud").unwrap();
        // Age the entry past its re-use period.
        cache.lock().get_mut("aud").unwrap().1 = Instant::now() - Duration::from_millis(1);
        std::thread::sleep(Duration::from_millis(1100)); // a new `iat` second
        let second = cache.token(&minter, "aud").unwrap();
        assert_ne!(first, second);
    }
}
