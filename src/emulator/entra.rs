//! The emulator's Entra ID mode (`docs/protocol.md` §7): what Azure does for an app with a
//! managed identity, on one machine. It serves an App Service managed-identity endpoint
//! (`GET /msi/token?api-version=2019-08-01&resource=https://signalr.azure.com` with
//! `X-IDENTITY-HEADER`; only for the SignalR and Web PubSub resources) whose tokens it signs
//! with its own key, accepts those tokens as bearer on REST (audience
//! `https://signalr.azure.com` checked), serves the temporary access key
//! (`GET /api/v1/auth/accessKey`) and accepts client tokens signed with it and carrying its
//! `kid`. With local auth disabled, tokens signed with the access key are refused, as Azure
//! refuses them under `disableLocalAuth`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::json;

use super::auth::{self, Audience, AuthError, Claims};
use super::upstream_identity::UpstreamIdentity;
use super::Shared;
use crate::service::entra::{SIGNALR_RESOURCE, WEBPUBSUB_RESOURCE};
use crate::service::Secret;

/// Path of the managed-identity endpoint (`IDENTITY_ENDPOINT` = `{emulator}/msi/token`).
pub const IDENTITY_PATH: &str = "/msi/token";
/// Lifetime of the identity tokens it issues.
const TOKEN_SECONDS: u64 = 3600;

/// The Entra mode's keys and switches.
#[derive(Debug, Clone)]
pub struct EntraMode {
    /// The `IDENTITY_HEADER` value callers of the identity endpoint must send.
    pub identity_header: Secret,
    /// Signs the identity tokens (HS256; never leaves the emulator).
    pub token_key: Secret,
    /// `KeyId` of the temporary access key.
    pub key_id: String,
    /// The temporary access key.
    pub temporary_key: Secret,
    /// Refuse tokens signed with the access key (`disableLocalAuth`).
    pub disable_local_auth: bool,
    /// The emulators' own managed identity, whose bearer token their calls to the app carry.
    pub upstream_identity: UpstreamIdentity,
}

impl EntraMode {
    /// Fresh random keys.
    pub fn generate(disable_local_auth: bool) -> Self {
        let random = || format!("{:032x}", rand::random::<u128>());
        Self {
            identity_header: Secret::new(random()),
            token_key: Secret::new(random()),
            key_id: format!("t-{}", &random()[..12]),
            temporary_key: Secret::new(random()),
            disable_local_auth,
            upstream_identity: UpstreamIdentity::generate(),
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": "IdentityRequestRefused", "message": message } })),
    )
        .into_response()
}

/// `GET /msi/token`: the App Service managed-identity protocol.
pub async fn identity_token(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(mode) = &shared.config.entra else {
        return refuse(
            StatusCode::NOT_FOUND,
            "the emulator is not in Entra ID mode",
        );
    };
    let header = headers.get("x-identity-header").map(|v| v.as_bytes());
    if header != Some(mode.identity_header.as_bytes()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "X-IDENTITY-HEADER is missing or wrong; send the IDENTITY_HEADER the emulator printed",
        );
    }
    if query.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return refuse(StatusCode::BAD_REQUEST, "api-version must be 2019-08-01");
    }
    let Some(resource) = query.get("resource") else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the resource query parameter is required",
        );
    };
    // Only what the emulators accept: a token for anything else could only be misused.
    if ![SIGNALR_RESOURCE, WEBPUBSUB_RESOURCE].contains(&resource.as_str()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("the emulators accept tokens only for resource={SIGNALR_RESOURCE} (SignalR) or resource={WEBPUBSUB_RESOURCE} (Web PubSub)"),
        );
    }
    let now = now();
    let claims = json!({
        "aud": resource,
        "iss": "serverless-signalr-emulator",
        "sub": query.get("client_id").map_or("system-assigned", String::as_str),
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_SECONDS,
    });
    let Ok(token) = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(mode.token_key.as_bytes()),
    ) else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "signing failed");
    };
    Json(json!({
        "access_token": token,
        "expires_on": (now + TOKEN_SECONDS).to_string(),
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// Checks an Entra bearer token issued by [`identity_token`]: signature and audience.
pub fn verify_bearer(mode: &EntraMode, token: &str) -> Result<(), AuthError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[SIGNALR_RESOURCE]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    jsonwebtoken::decode::<serde_json::Value>(
        token,
        &DecodingKey::from_secret(mode.token_key.as_bytes()),
        &validation,
    )
    .map(|_| ())
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
        jsonwebtoken::errors::ErrorKind::InvalidAudience => AuthError::WrongAudience {
            expected: SIGNALR_RESOURCE.into(),
            got: "another audience".into(),
        },
        _ => AuthError::Malformed(format!("not an Entra ID token of this emulator ({e})")),
    })
}

/// A REST token: an Entra bearer in Entra mode, else (unless local auth is disabled) a token
/// signed with the access key.
pub fn verify_rest(shared: &Shared, token: &str, audience: &Audience) -> Result<(), AuthError> {
    if let Some(mode) = &shared.config.entra {
        let entra = verify_bearer(mode, token);
        if entra.is_ok() || mode.disable_local_auth {
            return entra;
        }
    }
    auth::verify(token, &shared.config.access_key, audience).map(|_| ())
}

/// A client token: signed with the temporary key when its `kid` names it, else (unless local
/// auth is disabled) with the access key.
pub fn verify_client(
    shared: &Shared,
    token: &str,
    audience: &Audience,
) -> Result<Claims, AuthError> {
    if let Some(mode) = &shared.config.entra {
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        if kid.as_deref() == Some(mode.key_id.as_str()) {
            return auth::verify(token, &mode.temporary_key, audience);
        }
        if mode.disable_local_auth {
            return Err(AuthError::LocalAuthDisabled);
        }
    }
    auth::verify(token, &shared.config.access_key, audience)
}

/// `GET /api/v1/auth/accessKey`: the temporary key, for an Entra bearer.
pub async fn access_key(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(mode) = &shared.config.entra else {
        return refuse(
            StatusCode::NOT_FOUND,
            "the emulator is not in Entra ID mode",
        );
    };
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer.map(|t| verify_bearer(mode, t)) {
        Some(Ok(())) => Json(json!({
            "KeyId": mode.key_id,
            "AccessKey": mode.temporary_key.expose(),
        }))
        .into_response(),
        Some(Err(e)) => refuse(StatusCode::UNAUTHORIZED, &e.to_string()),
        None => refuse(
            StatusCode::UNAUTHORIZED,
            "send Authorization: Bearer <Entra ID token>",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(mode: &EntraMode, aud: &str, exp_offset: i64) -> String {
        let now = now() as i64;
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({ "aud": aud, "iat": now, "exp": now + exp_offset }),
            &EncodingKey::from_secret(mode.token_key.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn bearer_must_be_ours_for_signalr_and_unexpired() {
        let mode = EntraMode::generate(false);
        assert_eq!(
            verify_bearer(&mode, &token(&mode, SIGNALR_RESOURCE, 600)),
            Ok(())
        );
        assert!(matches!(
            verify_bearer(&mode, &token(&mode, "https://management.azure.com", 600)),
            Err(AuthError::WrongAudience { .. })
        ));
        assert_eq!(
            verify_bearer(&mode, &token(&mode, SIGNALR_RESOURCE, -600)),
            Err(AuthError::Expired)
        );
        let other = EntraMode::generate(false);
        assert!(matches!(
            verify_bearer(&mode, &token(&other, SIGNALR_RESOURCE, 600)),
            Err(AuthError::Malformed(_))
        ));
    }
}
