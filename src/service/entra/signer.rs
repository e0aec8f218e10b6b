//! Client-token signing under Entra ID: a [`TokenMinter`] keyed with the service's temporary
//! access key (with its `kid`), fetched with the Entra token and replaced every 55 minutes as
//! the SDK does (`docs/protocol.md` §7.3). One fetch is in flight at a time; after a failure
//! the next caller tries again, so a fixed identity or role assignment recovers at once.

use std::sync::Arc;
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
    current: Arc<Mutex<Option<(TokenMinter, Instant)>>>,
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
        }
    }

    /// The credential (REST calls use its token as bearer).
    pub fn credential(&self) -> &EntraCredential {
        &self.credential
    }

    /// A minter with a temporary key fetched less than 55 minutes ago.
    pub async fn minter(&self) -> Result<TokenMinter, EntraError> {
        let mut current = self.current.lock().await;
        if let Some((minter, fetched)) = current.as_ref() {
            if fetched.elapsed() < REFRESH_INTERVAL {
                return Ok(minter.clone());
            }
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
        *current = Some((minter.clone(), Instant::now()));
        Ok(minter)
    }
}
