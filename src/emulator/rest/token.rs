//! `POST /api/hubs/{hub}/:generateToken?userId=&minutesToExpire=` (api-version 2023-07-01 and
//! later, `docs/protocol.md` §7.14): a client token for this hub on this host, `{"token": …}`.
//! It is signed as the emulator's client checks want it: with the temporary key and its `kid` in
//! Entra ID mode, else with the access key.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::HubRequest;
use crate::emulator::error::EmulatorError;
use crate::service::names;

/// The first api-version with this operation.
pub const SINCE: &str = "2023-07-01";

/// Minutes a token lives when the query does not say (the swagger's default).
const DEFAULT_MINUTES: u64 = 60;

/// `HubProxyV20221101_GenerateClientToken`.
pub async fn generate(request: HubRequest, headers: HeaderMap) -> Result<Response, EmulatorError> {
    request.require_version(SINCE, ":generateToken")?;
    let minutes = match request.query.get("minutesToExpire") {
        None => DEFAULT_MINUTES,
        Some(raw) => raw
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|m| (1..=u64::from(i32::MAX as u32)).contains(m))
            .ok_or_else(|| {
                EmulatorError::BadRequest(format!(
                    "minutesToExpire must be a whole number from 1 to {}, got {raw:?}",
                    i32::MAX
                ))
            })?,
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut claims = json!({
        "aud": format!("http://{host}/client/?hub={}", request.hub.to_ascii_lowercase()),
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(minutes.saturating_mul(60)),
    });
    if let Some(user) = request.query.get("userId") {
        names::validate_user(user)?;
        claims["asrs.s.uid"] = user.into();
        claims["nameid"] = user.into();
    }
    let config = &request.shared.config;
    let (key, kid) = match &config.entra {
        Some(mode) => (&mode.temporary_key, Some(mode.key_id.clone())),
        None => (&config.access_key, None),
    };
    let header = Header {
        kid,
        ..Header::new(Algorithm::HS256)
    };
    let token =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key.as_bytes()))
            .map_err(|e| EmulatorError::Unavailable(format!("the token cannot be signed: {e}")))?;
    Ok(axum::Json(json!({ "token": token })).into_response())
}
