//! The signing keys of one OIDC issuer, cached by `kid` and refreshed by one background task at a
//! time (single flight) under one deadline for metadata and JWKS together.
//!
//! - A token whose key is cached never waits: keys past their age are still used while a
//!   background refresh replaces them.
//! - A request that needs keys the cache lacks (the first token, or an unknown `kid`) starts or
//!   joins the refresh and waits at most [`KeyRefresh::wait`](super::KeyRefresh::wait) for it; after that it gets a 503
//!   with `Retry-After` while the refresh goes on, so a slow issuer costs seconds, not the sum of
//!   two request timeouts.
//! - Unknown `kid`s start at most one refresh per [`KeyRefresh::min_interval`](super::KeyRefresh::min_interval), and after a
//!   failed refresh requests that need keys fail fast until [`KeyRefresh::retry_after_failure`](super::KeyRefresh::retry_after_failure)
//!   has passed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use tokio::sync::watch;

use super::error::IdentityError;
use super::oidc_fetch::{self, SigningKey};
use super::settings::OidcSettings;

/// The key cache. Cheap to clone; clones share the cache and the refresh.
#[derive(Clone)]
pub(super) struct KeyCache {
    inner: Arc<Inner>,
}

struct Inner {
    settings: OidcSettings,
    http: reqwest::Client,
    /// The current keys; read on every request.
    keys: RwLock<Arc<KeySet>>,
    refresh: Mutex<RefreshState>,
}

#[derive(Default)]
struct KeySet {
    fetched_at: Option<Instant>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    all: Vec<Arc<SigningKey>>,
}

#[derive(Default)]
struct RefreshState {
    /// The refresh in flight, if any.
    running: Option<Running>,
    /// When an unknown `kid` last started a refresh.
    last_unknown_kid: Option<Instant>,
    /// When and why the last refresh failed, cleared by a successful one.
    last_failure: Option<(Instant, String)>,
}

/// A refresh in flight: when it started, and its outcome once done.
#[derive(Clone)]
struct Running {
    started: Instant,
    done: watch::Receiver<Option<Result<(), String>>>,
}

/// Why a refresh is wanted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nothing is cached yet.
    NoKeys,
    /// The token names a key the cache lacks.
    UnknownKid,
    /// The cached keys are past their age (they are still used meanwhile).
    Stale,
}

/// What asking for a refresh came to.
enum Start {
    /// A refresh is in flight (just started, or joined).
    Running(Running),
    /// An unknown `kid` started a refresh too recently.
    RateLimited,
    /// The last refresh failed recently; retry after this long.
    Failed { why: String, retry_after: Duration },
}

impl KeyCache {
    /// An empty cache for `settings`; nothing is fetched until the first token.
    pub fn new(settings: OidcSettings) -> Self {
        let http = oidc_fetch::client(settings.refresh.deadline);
        Self {
            inner: Arc::new(Inner {
                settings,
                http,
                keys: RwLock::new(Arc::default()),
                refresh: Mutex::new(RefreshState::default()),
            }),
        }
    }

    /// The key for a token's `alg` and `kid`: from the cache when it is there, else after a
    /// refresh that this request waits a bounded time for.
    pub async fn key_for(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Arc<SigningKey>, IdentityError> {
        let keys = self.keys();
        let loaded = keys.fetched_at.is_some();
        if loaded {
            if let Some(key) = keys.lookup(alg, kid)? {
                if keys.is_older_than(self.inner.settings.refresh.max_age) {
                    // The answer does not wait: the old key is used meanwhile.
                    let _ = self.start(Need::Stale);
                }
                return Ok(key);
            }
        }
        match self.start(if loaded {
            Need::UnknownKid
        } else {
            Need::NoKeys
        }) {
            Start::Running(running) => self.wait_for(running).await?,
            Start::Failed { why, retry_after } => {
                return Err(IdentityError::IssuerUnreachable {
                    reason: why,
                    retry_after: whole_seconds(retry_after),
                })
            }
            Start::RateLimited => {
                tracing::debug!(kid, "unknown kid; keys were refreshed recently, not again");
            }
        }
        match self.keys().lookup(alg, kid)? {
            Some(key) => Ok(key),
            None => Err(IdentityError::UnknownKey {
                kid: kid.unwrap_or("(none)").to_owned(),
                issuer: self.inner.settings.issuer.clone(),
            }),
        }
    }

    /// The current key set.
    fn keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.inner.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn state(&self) -> MutexGuard<'_, RefreshState> {
        self.inner.refresh.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins the refresh in flight, or starts one when `need` allows it.
    fn start(&self, need: Need) -> Start {
        let refresh = &self.inner.settings.refresh;
        let mut state = self.state();
        if let Some(running) = &state.running {
            // A refresh whose task is gone (runtime shutting down) is not waited for.
            if running.done.has_changed().is_ok() {
                return Start::Running(running.clone());
            }
        }
        if need == Need::UnknownKid
            && state
                .last_unknown_kid
                .is_some_and(|at| at.elapsed() < refresh.min_interval)
        {
            return Start::RateLimited;
        }
        if let Some((at, why)) = &state.last_failure {
            let since = at.elapsed();
            if since < refresh.retry_after_failure {
                return Start::Failed {
                    why: why.clone(),
                    retry_after: refresh.retry_after_failure - since,
                };
            }
        }
        if need == Need::UnknownKid {
            state.last_unknown_kid = Some(Instant::now());
        }
        let (done_tx, done) = watch::channel(None);
        let running = Running {
            started: Instant::now(),
            done,
        };
        state.running = Some(running.clone());
        let cache = self.clone();
        tokio::spawn(async move { cache.refresh(done_tx).await });
        Start::Running(running)
    }

    /// Waits at most [`KeyRefresh::wait`](super::KeyRefresh::wait) for `running` to finish; its failure, or its still
    /// running, is a 503.
    async fn wait_for(&self, running: Running) -> Result<(), IdentityError> {
        let refresh = &self.inner.settings.refresh;
        let mut done = running.done;
        let outcome = tokio::time::timeout(refresh.wait, done.wait_for(Option::is_some)).await;
        match outcome {
            Ok(Ok(finished)) => match &*finished {
                Some(Err(why)) => Err(IdentityError::IssuerUnreachable {
                    reason: why.clone(),
                    retry_after: whole_seconds(refresh.retry_after_failure),
                }),
                _ => Ok(()),
            },
            Ok(Err(_)) => Err(IdentityError::IssuerUnreachable {
                reason: "the key refresh stopped before it finished".into(),
                retry_after: 1,
            }),
            Err(_) => Err(IdentityError::KeysPending {
                issuer: self.inner.settings.issuer.clone(),
                waited: format!("{:?}", refresh.wait),
                retry_after: whole_seconds(
                    (running.started + refresh.deadline).saturating_duration_since(Instant::now()),
                ),
            }),
        }
    }

    /// One refresh, bounded by [`KeyRefresh::deadline`](super::KeyRefresh::deadline); keeps the old keys when it fails.
    async fn refresh(self, done: watch::Sender<Option<Result<(), String>>>) {
        let settings = &self.inner.settings;
        let deadline = settings.refresh.deadline;
        let fetch = oidc_fetch::fetch_keys(&self.inner.http, settings);
        let outcome = match tokio::time::timeout(deadline, fetch).await {
            Ok(Ok(keys)) => {
                let set = Arc::new(KeySet::new(keys));
                *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = set;
                Ok(())
            }
            Ok(Err(why)) => Err(why),
            Err(_) => Err(format!(
                "its metadata and keys did not arrive within {deadline:?}"
            )),
        };
        {
            let mut state = self.state();
            state.running = None;
            state.last_failure = outcome
                .as_ref()
                .err()
                .map(|why| (Instant::now(), why.clone()));
        }
        if let Err(why) = &outcome {
            if self.keys().fetched_at.is_some() {
                tracing::warn!("keeping the cached OIDC keys, refreshing them failed: {why}");
            } else {
                tracing::warn!("fetching the OIDC keys failed: {why}");
            }
        }
        done.send_replace(Some(outcome));
    }
}

impl KeySet {
    fn new(keys: Vec<SigningKey>) -> Self {
        let mut set = Self {
            fetched_at: Some(Instant::now()),
            ..Self::default()
        };
        for key in keys {
            let key = Arc::new(key);
            set.by_kid.insert(key.kid.clone(), Arc::clone(&key));
            set.all.push(key);
        }
        set
    }

    fn is_older_than(&self, age: Duration) -> bool {
        self.fetched_at.is_some_and(|t| t.elapsed() >= age)
    }

    /// The cached key for `kid`; without a `kid`, the only key usable for `alg`.
    fn lookup(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Option<Arc<SigningKey>>, IdentityError> {
        match kid {
            Some(kid) => Ok(self.by_kid.get(kid).cloned()),
            None => {
                let usable: Vec<_> = self.all.iter().filter(|k| k.alg == alg).collect();
                match usable.as_slice() {
                    [] => Ok(None),
                    [only] => Ok(Some(Arc::clone(only))),
                    many => Err(IdentityError::MissingKid(many.len())),
                }
            }
        }
    }
}

/// `d` in whole seconds, rounded up, at least 1 (for `Retry-After`).
fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}
