//! A local OIDC issuer for the identity tests: an axum server on 127.0.0.1 serving discovery and
//! a JWKS made from keys generated here, counting JWKS fetches, plus helpers to sign tokens. It
//! can also answer slowly, name another `jwks_uri`, and redirect (`/moved`) anywhere.

#![allow(dead_code)]

pub mod requests;
pub mod service;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rand_core::OsRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

/// Audience the tests' tokens are for.
pub const AUDIENCE: &str = "api://signalr-test";

/// A key the test can sign with and publish.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    /// A fresh P-256 key.
    pub fn es256(kid: &str) -> Self {
        let secret = p256::SecretKey::random(&mut OsRng);
        let der = secret.to_pkcs8_der().expect("pkcs8 der");
        let point = secret.public_key().to_encoded_point(false);
        let coord = |c: Option<&p256::FieldBytes>| URL_SAFE_NO_PAD.encode(c.expect("coordinate"));
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            jwk: json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                        "x": coord(point.x()), "y": coord(point.y())}),
        }
    }

    fn rsa(kid: &str, private: &rsa::RsaPrivateKey) -> Self {
        let der = private.to_pkcs1_der().expect("pkcs1 der");
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}),
        }
    }

    /// A token with these claims, signed with this key and naming its kid.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }

    /// The same, naming another kid.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

/// The RSA keys, generated once per test run (2048-bit generation takes a moment).
pub struct RsaKeys {
    /// Published by the issuer as `rsa-1`.
    pub main: TestKey,
    /// Its public key as PEM (for the "HS256 signed with the public key" attack).
    pub public_pem: String,
    /// Never published: signs "wrong signature" tokens.
    pub other: TestKey,
}

pub fn rsa_keys() -> &'static RsaKeys {
    static KEYS: OnceLock<RsaKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let main = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("rsa key");
        let other = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("rsa key");
        let public_pem = main
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        RsaKeys {
            main: TestKey::rsa("rsa-1", &main),
            public_pem,
            other: TestKey::rsa("rsa-1", &other),
        }
    })
}

struct IssuerState {
    url: String,
    metadata_issuer: Mutex<Option<String>>,
    keys: Mutex<Vec<Value>>,
    jwks_fetches: AtomicUsize,
    /// Each document is answered after this long.
    delay: Mutex<Duration>,
    /// The metadata's `jwks_uri`, when not the issuer's own `/discovery/keys`.
    jwks_uri: Mutex<Option<String>>,
    /// Where `/moved` redirects to.
    moved_to: Mutex<String>,
}

/// A running local issuer.
pub struct Issuer {
    state: Arc<IssuerState>,
    pub es: TestKey,
}

impl Issuer {
    /// Starts an issuer publishing the RSA key `rsa-1` and a fresh P-256 key `ec-1`.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let es = TestKey::es256("ec-1");
        let state = Arc::new(IssuerState {
            url,
            metadata_issuer: Mutex::new(None),
            keys: Mutex::new(vec![rsa_keys().main.jwk.clone(), es.jwk.clone()]),
            jwks_fetches: AtomicUsize::new(0),
            delay: Mutex::new(Duration::ZERO),
            jwks_uri: Mutex::new(None),
            moved_to: Mutex::new(String::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(metadata))
            .route("/discovery/keys", get(jwks))
            .route("/moved", get(moved))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { state, es }
    }

    /// The issuer URL, also the `iss` of its tokens.
    pub fn url(&self) -> &str {
        &self.state.url
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Publishes another key (rotation).
    pub fn publish(&self, key: &TestKey) {
        self.state.keys.lock().expect("lock").push(key.jwk.clone());
    }

    /// Replaces the published keys with raw JWKs.
    pub fn set_jwks(&self, keys: Vec<Value>) {
        *self.state.keys.lock().expect("lock") = keys;
    }

    /// Answers each document (metadata, JWKS) only after `delay`.
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().expect("lock") = delay;
    }

    /// Makes the metadata name `uri` as its `jwks_uri`.
    pub fn set_jwks_uri(&self, uri: &str) {
        *self.state.jwks_uri.lock().expect("lock") = Some(uri.to_owned());
    }

    /// Makes `{url}/moved` answer `302 Found` to `target`; returns `{url}/moved`.
    pub fn redirect_to(&self, target: &str) -> String {
        *self.state.moved_to.lock().expect("lock") = target.to_owned();
        format!("{}/moved", self.url())
    }

    /// Makes the metadata claim another issuer.
    pub fn set_metadata_issuer(&self, issuer: &str) {
        *self.state.metadata_issuer.lock().expect("lock") = Some(issuer.to_owned());
    }

    /// Claims of a valid token for `sub`, expiring in an hour.
    pub fn claims(&self, sub: &str) -> Value {
        let now = now();
        json!({"iss": self.url(), "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now - 5,
               "exp": now + 3600})
    }
}

async fn delay(state: &IssuerState) {
    let delay = *state.delay.lock().expect("lock");
    tokio::time::sleep(delay).await;
}

async fn metadata(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    delay(&state).await;
    let jwks_uri = state
        .jwks_uri
        .lock()
        .expect("lock")
        .clone()
        .unwrap_or_else(|| format!("{}/discovery/keys", state.url));
    let issuer = state
        .metadata_issuer
        .lock()
        .expect("lock")
        .clone()
        .unwrap_or_else(|| state.url.clone());
    Json(json!({"issuer": issuer, "jwks_uri": jwks_uri,
                "id_token_signing_alg_values_supported": ["RS256", "ES256"]}))
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    delay(&state).await;
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({"keys": state.keys.lock().expect("lock").clone()}))
}

async fn moved(State(state): State<Arc<IssuerState>>) -> impl IntoResponse {
    let target = state.moved_to.lock().expect("lock").clone();
    (StatusCode::FOUND, [(header::LOCATION, target)])
}

/// Unix time now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// An unsigned token: `alg: none`.
pub fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// An HS256 token whose HMAC secret is `secret`, naming the RSA key's kid.
pub fn hs256_token(secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign")
}
