//! The temporary access key an Entra-authorised app signs client tokens with
//! (`docs/protocol.md` §7.3): `GET {server base}api/v1/auth/accessKey` with the Entra token as
//! bearer answers `{"KeyId": "…", "AccessKey": "…"}`; client tokens are then HS256-signed with
//! the UTF-8 bytes of `AccessKey` and carry `kid` = `KeyId` in their header. The SDK fetches a
//! new key every 55 minutes ([`REFRESH_INTERVAL`]), 5 minutes after a 401.

use std::time::Duration;

use serde::Deserialize;

use super::{unreachable, EntraError, REQUEST_TIMEOUT};
use crate::service::secret::Secret;

/// How often the SDK fetches a new temporary key.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(55 * 60);

/// A temporary access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryKey {
    /// `KeyId`: goes into the `kid` header of client tokens.
    pub key_id: String,
    /// `AccessKey`: the HMAC key.
    pub key: Secret,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    key_id: Option<String>,
    access_key: Option<String>,
}

/// Fetches the temporary key from the service at `server_base` (ending in `/`) with the Entra
/// `bearer` token.
pub async fn fetch(
    http: &reqwest::Client,
    server_base: &str,
    bearer: &Secret,
) -> Result<TemporaryKey, EntraError> {
    let endpoint = format!("{server_base}api/v1/auth/accessKey");
    let response = http
        .get(&endpoint)
        .bearer_auth(bearer.expose())
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| unreachable(&endpoint, &e))?;
    let status = response.status().as_u16();
    if status != 200 {
        let hint = match status {
            401 => "the service did not accept the Entra token (wrong audience, expired, or from another tenant)",
            403 => "the identity has no role on the service; assign it \"SignalR App Server\" (or \"SignalR Service Owner\")",
            404 => "no SignalR service at this endpoint; check Endpoint",
            _ => "the service failed; it is retried",
        };
        return Err(EntraError::Refused {
            endpoint,
            status,
            hint: hint.to_string(),
        });
    }
    let bad = |reason: &str| EntraError::BadAnswer {
        endpoint: endpoint.clone(),
        reason: reason.to_string(),
    };
    let answer: Answer = response
        .json()
        .await
        .map_err(|_| bad("the body is not JSON with KeyId and AccessKey"))?;
    match (answer.key_id, answer.access_key) {
        (Some(key_id), Some(key)) if !key_id.is_empty() && !key.is_empty() => Ok(TemporaryKey {
            key_id,
            key: Secret::new(key),
        }),
        (None, _) => Err(bad("KeyId is missing")),
        _ => Err(bad("AccessKey is missing")),
    }
}
