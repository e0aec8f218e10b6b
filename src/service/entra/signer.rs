//! Client-token signing under Entra ID: a [`TokenMinter`] keyed with the service's temporary
//! access key (with its `kid`), fetched with the Entra token and replaced every 55 minutes as
//! the SDK does (`docs/protocol.md` §7.3). One fetch is in flight at a time; after a failure
//! the next caller tries again, so a fixed identity or role assignment recovers at once. A
//! negotiation with a fresh key reads it under a plain read lock: only a refresh waits on the
//! asynchronous lock, so negotiations on several threads do not queue behind each other.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::Mutex;

use super::access_key::{self, REFRESH_INTERVAL};
use super::{EntraCredential, EntraError, REQUEST_TIMEOUT};
use crate::service::connection_string::ConnectionString;
use crate::service::token::TokenMinter;

/// Signs client tokens with the temporary access key. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EntraSigner {
    credential: EntraCredential,
    connection: Arc<ConnectionString>,
    http: reqwest::Client,
    /// The current minter and when its key was fetched.
    current: Arc<RwLock<Option<(TokenMinter, Instant)>>>,
    /// Held by the one caller fetching a new key.
    refresh: Arc<Mutex<()>>,
}

impl EntraSigner {
    /// A signer for the service of `connection`, authorised by `credential`.
    pub fn new(connection: &ConnectionString, credential: EntraCredential) -> Self {
        Self {
            credential,
            connection: Arc::new(connection.clone()),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            current: Arc::default(),
            refresh: Arc::default(),
        }
    }

    /// The credential (REST calls use its token as bearer).
    pub fn credential(&self) -> &EntraCredential {
        &self.credential
    }

    /// A minter with a temporary key fetched less than 55 minutes ago.
    pub async fn minter(&self) -> Result<TokenMinter, EntraError> {
        if let Some(minter) = self.fresh() {
            return Ok(minter);
        }
        let _refreshing = self.refresh.lock().await;
        if let Some(minter) = self.fresh() {
            return Ok(minter);
        }
        let token = self.credential.token().await?;
        let key = match access_key::fetch(&self.http, &self.connection.server_base(), &token.token)
            .await
        {
            Ok(key) => key,
            Err(e @ EntraError::Refused { status: 401, .. }) => {
                // The service refused this Entra token: get a new one next time.
                self.credential.invalidate().await;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let minter = TokenMinter::with_key(&self.connection, &key.key, Some(&key.key_id))
            .map_err(|e| EntraError::NotConfigured(e.to_string()))?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) =
            Some((minter.clone(), Instant::now()));
        Ok(minter)
    }

    /// The current minter while its key is less than 55 minutes old.
    fn fresh(&self) -> Option<TokenMinter> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current
            .as_ref()
            .filter(|(_, fetched)| fetched.elapsed() < REFRESH_INTERVAL)
            .map(|(minter, _)| minter.clone())
    }
}
