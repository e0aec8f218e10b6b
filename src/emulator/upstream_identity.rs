//! The emulators' own managed identity in Entra ID mode, for their calls to the app: SignalR's
//! upstream and Web PubSub's event handler carry `Authorization: Bearer <token>`, an Entra-style
//! v1 access token (`iss`, `aud` = the resource, `oid`, `appid`, `tid`, `ver`, `exp`…) signed
//! RS256 with a key of the emulator, as the services do with their managed identity
//! (`docs/protocol.md` §5.4). The SignalR emulator publishes the key like an issuer: OIDC metadata
//! at `{emulator}/oidc/.well-known/openid-configuration` and the JWKS at
//! `{emulator}/oidc/discovery/keys`, so the app checks these tokens with the code it uses for
//! Azure's. The RSA key is made on first use (only runs that call the app pay for it).

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use super::Shared;

/// Path of the issuer under the SignalR emulator (`iss` = `http://<emulator>/oidc`).
pub const ISSUER_PATH: &str = "/oidc";
/// Where the issuer's OIDC metadata is.
pub const METADATA_PATH: &str = "/oidc/.well-known/openid-configuration";
/// Where the issuer's keys are.
pub const JWKS_PATH: &str = "/oidc/discovery/keys";
/// The resource (`aud`) the emulators ask their tokens for: the app's, as an app ID URI.
pub const RESOURCE: &str = "api://serverless-signalr-app";
/// Lifetime of a token (Entra's managed-identity tokens live longer; an hour is plenty here).
const TOKEN_SECONDS: u64 = 3600;

/// The emulators' managed identity. Cheap to clone: both emulators share one.
#[derive(Clone)]
pub struct UpstreamIdentity {
    inner: Arc<Inner>,
}

struct Inner {
    object_id: String,
    client_id: String,
    tenant: String,
    kid: String,
    issuer: OnceLock<String>,
    key: OnceLock<Option<(EncodingKey, Value)>>,
}

impl std::fmt::Debug for UpstreamIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamIdentity")
            .field("object_id", &self.inner.object_id)
            .field("issuer", &self.inner.issuer.get())
            .finish_non_exhaustive()
    }
}

fn guid() -> String {
    let hex = format!("{:032x}", rand::random::<u128>());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl UpstreamIdentity {
    /// A fresh identity (random object, client and tenant ids); no key yet.
    pub fn generate() -> Self {
        Self {
            inner: Arc::new(Inner {
                object_id: guid(),
                client_id: guid(),
                tenant: guid(),
                kid: format!("emulator-{}", &guid()[..8]),
                issuer: OnceLock::new(),
                key: OnceLock::new(),
            }),
        }
    }

    /// Names the issuer once the SignalR emulator's address is known (`http://<host:port>`); the
    /// first call wins.
    pub fn set_issuer(&self, emulator_base: &str) {
        let _ = self
            .inner
            .issuer
            .set(format!("{emulator_base}{ISSUER_PATH}"));
    }

    /// The issuer URL, once the SignalR emulator runs.
    pub fn issuer(&self) -> Option<&str> {
        self.inner.issuer.get().map(String::as_str)
    }

    /// The identity's object (principal) id, its `oid`.
    pub fn object_id(&self) -> &str {
        &self.inner.object_id
    }

    fn key(&self) -> Option<&(EncodingKey, Value)> {
        self.inner
            .key
            .get_or_init(|| {
                let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).ok()?;
                let der = private.to_pkcs1_der().ok()?;
                let jwk = json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.inner.kid,
                    "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
                });
                Some((EncodingKey::from_rsa_der(der.as_bytes()), jwk))
            })
            .as_ref()
    }

    /// Makes the key now, off the async threads (RSA key generation takes a moment), so the first
    /// call to the app does not wait for it.
    pub fn warm(&self) {
        let identity = self.clone();
        tokio::task::spawn_blocking(move || {
            identity.key();
        });
    }

    /// A token for [`RESOURCE`], or `None` before the issuer is known.
    pub fn token(&self) -> Option<String> {
        let issuer = self.issuer()?;
        let (key, _) = self.key()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = json!({
            "iss": issuer, "aud": RESOURCE, "sub": self.inner.object_id,
            "oid": self.inner.object_id, "appid": self.inner.client_id, "tid": self.inner.tenant,
            "idtyp": "app", "ver": "1.0", "iat": now, "nbf": now, "exp": now + TOKEN_SECONDS,
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.inner.kid.clone());
        jsonwebtoken::encode(&header, &claims, key).ok()
    }

    /// `Authorization: Bearer <token>` for a call to the app, or nothing (no identity, or no
    /// token yet).
    pub fn bearer(identity: Option<&Self>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let token = identity.and_then(Self::token);
        if let Some(value) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        {
            headers.insert(axum::http::header::AUTHORIZATION, value);
        }
        headers
    }
}

fn identity(shared: &Shared) -> Option<&UpstreamIdentity> {
    shared.config.entra.as_ref().map(|m| &m.upstream_identity)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"code": "NotFound", "message": "the emulator is not in Entra ID mode, so it has no identity issuer"}})),
    )
        .into_response()
}

/// `GET /oidc/.well-known/openid-configuration`.
pub async fn metadata(State(shared): State<Arc<Shared>>) -> Response {
    match identity(&shared).and_then(UpstreamIdentity::issuer) {
        Some(issuer) => Json(json!({
            "issuer": issuer,
            "jwks_uri": format!("{}/discovery/keys", issuer),
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
        .into_response(),
        None => not_found(),
    }
}

/// `GET /oidc/discovery/keys`.
pub async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    match identity(&shared).and_then(UpstreamIdentity::key) {
        Some((_, jwk)) => Json(json!({ "keys": [jwk] })).into_response(),
        None => not_found(),
    }
}
