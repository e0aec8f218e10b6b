//! OIDC bearer tokens: discovery of the issuer's keys (`/.well-known/openid-configuration` →
//! `jwks_uri`), a key cache by `kid` that is refetched, rate-limited and single-flight, when a token
//! names a key it has not seen, and validation of a token into a [`Caller`]. Only RS256 and ES256
//! are accepted, and a key is only used for the algorithm it is for: `none`, HS* and "HS256 signed
//! with the public key" all fail before any signature check.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::identity::{Caller, IdentityError, IdentitySource, OidcSettings};

/// Timeout of each request to the issuer (metadata, keys).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one refetch of the keys per this interval, so unknown `kid`s can't hammer the issuer.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// After a failed fetch, requests fail fast (503) for this long instead of retrying each time.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// Keys older than this are refreshed on the next request (keys the issuer retired stop working).
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Largest metadata or JWKS document read from the issuer.
const MAX_DOCUMENT: usize = 512 * 1024;
/// Longest bearer token considered.
const MAX_TOKEN: usize = 16 * 1024;

/// Validates bearer tokens of one issuer. Cheap to clone; clones share the key cache.
#[derive(Clone)]
pub struct OidcValidator {
    inner: Arc<Inner>,
}

struct Inner {
    settings: OidcSettings,
    http: reqwest::Client,
    /// The current keys; read on every request.
    keys: RwLock<Arc<KeySet>>,
    /// Held while fetching, so concurrent misses cause one fetch (single flight).
    fetch: Mutex<FetchState>,
}

#[derive(Default)]
struct KeySet {
    fetched_at: Option<Instant>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    all: Vec<Arc<SigningKey>>,
}

impl KeySet {
    /// Never fetched, or fetched longer than [`KEYS_MAX_AGE`] ago.
    fn is_stale(&self) -> bool {
        self.fetched_at.is_none_or(|t| t.elapsed() >= KEYS_MAX_AGE)
    }
}

struct SigningKey {
    kid: String,
    alg: Algorithm,
    key: DecodingKey,
}

#[derive(Default)]
struct FetchState {
    last_refetch: Option<Instant>,
    last_failure: Option<(Instant, String)>,
}

impl OidcValidator {
    /// A validator for `settings`, fetching with `http`. Nothing is fetched until the first token.
    pub fn new(settings: OidcSettings, http: reqwest::Client) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                http,
                keys: RwLock::new(Arc::default()),
                fetch: Mutex::new(FetchState::default()),
            }),
        }
    }

    /// Validates `token` and returns its caller: signature with the issuer's key, `iss`, `aud`,
    /// `exp` (required), `nbf`, and the user-id claim.
    pub async fn validate(&self, token: &str) -> Result<Caller, IdentityError> {
        let settings = &self.inner.settings;
        let (alg, kid) = parse_header(token)?;
        let key = self.key_for(alg, kid.as_deref()).await?;
        if key.alg != alg {
            return Err(IdentityError::KeyMismatch {
                kid: key.kid.clone(),
                alg: format!("{alg:?}"),
                key_alg: format!("{:?}", key.alg),
            });
        }
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    IdentityError::BadSignature(key.kid.clone())
                }
                _ => IdentityError::MalformedToken(e.to_string()),
            })?
            .claims;
        check_claims(&claims, settings, unix_now())?;
        caller_from(claims, &settings.user_id_claim)
    }

    /// The key for a token's `alg` and `kid`, fetching the keys when they are not loaded or the
    /// `kid` is new (once per [`REFETCH_INTERVAL`]).
    async fn key_for(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Arc<SigningKey>, IdentityError> {
        if !self.keys().is_stale() {
            if let Some(key) = self.lookup(alg, kid)? {
                return Ok(key);
            }
        }
        let mut state = self.inner.fetch.lock().await;
        let loaded = self.keys().fetched_at.is_some();
        let stale = loaded && self.keys().is_stale();
        if !stale {
            // Another request may have fetched while this one waited.
            if let Some(key) = self.lookup(alg, kid)? {
                return Ok(key);
            }
        }
        let may_refetch = !loaded
            || stale
            || state
                .last_refetch
                .is_none_or(|t| t.elapsed() >= REFETCH_INTERVAL);
        let recent_failure = state
            .last_failure
            .as_ref()
            .filter(|(at, _)| at.elapsed() < RETRY_AFTER_FAILURE)
            .map(|(_, why)| why.clone());
        if let (true, Some(why)) = (may_refetch, recent_failure) {
            // Keys past their age still beat no keys while the issuer is down.
            if !stale {
                return Err(IdentityError::IssuerUnreachable(why));
            }
        } else if may_refetch {
            match self.fetch_keys().await {
                Ok(keys) => {
                    *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                    if loaded {
                        state.last_refetch = Some(Instant::now());
                    }
                    state.last_failure = None;
                }
                Err(why) => {
                    state.last_failure = Some((Instant::now(), why.clone()));
                    if !stale {
                        return Err(IdentityError::IssuerUnreachable(why));
                    }
                    tracing::warn!("keeping old OIDC keys, refresh failed: {why}");
                }
            }
        } else {
            tracing::debug!(kid, "unknown kid; keys were refetched recently, not again");
        }
        match self.lookup(alg, kid)? {
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

    /// The cached key for `kid`; without a `kid`, the only key usable for `alg`.
    fn lookup(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Option<Arc<SigningKey>>, IdentityError> {
        let keys = self.keys();
        match kid {
            Some(kid) => Ok(keys.by_kid.get(kid).cloned()),
            None => {
                let usable: Vec<_> = keys.all.iter().filter(|k| k.alg == alg).collect();
                match usable.as_slice() {
                    [] => Ok(None),
                    [only] => Ok(Some(Arc::clone(only))),
                    many => Err(IdentityError::MissingKid(many.len())),
                }
            }
        }
    }

    /// Discovery then JWKS; the error is a message for the 503.
    async fn fetch_keys(&self) -> Result<KeySet, String> {
        let settings = &self.inner.settings;
        let metadata_url = settings.metadata_url();
        check_url("OIDC metadata URL", &metadata_url).map_err(|e| e.to_string())?;
        let metadata = self.get_json(&metadata_url).await?;
        let issuer = metadata.get("issuer").and_then(Value::as_str);
        if issuer != Some(settings.issuer.as_str()) {
            return Err(format!(
                "metadata at {metadata_url} is for issuer {}, not the configured issuer {}",
                issuer.unwrap_or("(none)"),
                settings.issuer
            ));
        }
        let Some(jwks_uri) = metadata.get("jwks_uri").and_then(Value::as_str) else {
            return Err(format!("metadata at {metadata_url} has no jwks_uri"));
        };
        check_url("jwks_uri", jwks_uri).map_err(|e| e.to_string())?;
        let jwks = self.get_json(jwks_uri).await?;
        let Some(entries) = jwks.get("keys").and_then(Value::as_array) else {
            return Err(format!("the JWKS at {jwks_uri} has no keys array"));
        };
        let mut set = KeySet {
            fetched_at: Some(Instant::now()),
            ..KeySet::default()
        };
        for entry in entries {
            match signing_key(entry) {
                Ok(key) => {
                    let key = Arc::new(key);
                    set.by_kid.insert(key.kid.clone(), Arc::clone(&key));
                    set.all.push(key);
                }
                Err(why) => tracing::debug!("skipping a key of {jwks_uri}: {why}"),
            }
        }
        tracing::info!(
            keys = set.all.len(),
            "fetched the signing keys of {}",
            settings.issuer
        );
        Ok(set)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let mut response = self
            .inner
            .http
            .get(url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT {
                return Err(format!("GET {url}: more than {MAX_DOCUMENT} bytes"));
            }
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
}

/// Only `https` URLs, except loopback hosts for local development and tests.
pub fn check_url(what: &str, url: &str) -> Result<(), IdentityError> {
    let bad = |why: &str| Err(IdentityError::Misconfigured(format!("{what} {url}: {why}")));
    let Ok(parsed) = url::Url::parse(url) else {
        return bad("not a URL");
    };
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => bad("must be https (http only for localhost)"),
    }
}

/// The usable signing key of a JWK: RSA → RS256, EC P-256 → ES256, when its `alg` and `use`
/// (if given) agree. Anything else (HMAC secrets, other curves, encryption keys) is not used.
fn signing_key(entry: &Value) -> Result<SigningKey, String> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).map_err(|e| e.to_string())?;
    let kid = jwk.common.key_id.clone().unwrap_or_default();
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return Err(format!("key {kid} is not for signatures"));
    }
    let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        (_, alg) => return Err(format!("key {kid} ({alg:?}) is not an RS256/ES256 key")),
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("key {kid}: {e}"))?;
    Ok(SigningKey { kid, alg, key })
}

/// The token's `alg` (RS256 or ES256, else an error saying so) and `kid`.
fn parse_header(token: &str) -> Result<(Algorithm, Option<String>), IdentityError> {
    let malformed = |why: &str| IdentityError::MalformedToken(why.to_owned());
    if token.is_empty() {
        return Err(malformed(
            "the Authorization header has an empty bearer token",
        ));
    }
    if token.len() > MAX_TOKEN {
        return Err(malformed("longer than 16 KB"));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed(
            "a JWT has three base64url parts separated by dots (encrypted tokens are not supported)",
        ));
    }
    let header = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map_err(|_| malformed("the header is not base64url"))?;
    let header: Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|_| malformed("the header is not a JSON object"))?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        Some(other) => {
            let shown: String = other.chars().take(20).collect();
            return Err(IdentityError::AlgorithmNotAccepted(shown));
        }
        None => return Err(malformed("the header has no alg")),
    };
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) if kid.len() > 256 => {
            return Err(malformed("the header's kid is longer than 256 characters"))
        }
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed("the header's kid is not a string")),
    };
    Ok((alg, kid))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `iss`, `aud`, `exp`, `nbf` of a token whose signature verified.
fn check_claims(
    claims: &Map<String, Value>,
    settings: &OidcSettings,
    now: i64,
) -> Result<(), IdentityError> {
    let leeway = settings.leeway.as_secs();
    let skew = i64::try_from(leeway).unwrap_or(i64::MAX);
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(settings.issuer.as_str()) {
        return Err(IdentityError::WrongIssuer {
            found: iss.unwrap_or("(none)").to_owned(),
            expected: settings.issuer.clone(),
        });
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => settings.audiences.contains(aud),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| settings.audiences.iter().any(|a| a == aud)),
        _ => false,
    };
    if !aud_ok {
        return Err(IdentityError::WrongAudience {
            found: claims.get("aud").map_or("(none)".into(), Value::to_string),
            expected: settings.audiences.join(", "),
        });
    }
    let exp = numeric_date(claims, "exp")?.ok_or_else(|| IdentityError::BadClaim {
        claim: "exp".into(),
        problem: "missing; tokens without an expiry are not accepted".into(),
    })?;
    if now > exp.saturating_add(skew) {
        return Err(IdentityError::Expired { exp, now, leeway });
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now < nbf.saturating_sub(skew) {
            return Err(IdentityError::NotYetValid { nbf, now, leeway });
        }
    }
    Ok(())
}

/// A NumericDate claim (seconds, possibly fractional), if present.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            // Fractional seconds: whole seconds are what matters for the check.
            .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| IdentityError::BadClaim {
                claim: name.into(),
                problem: "not a number of seconds".into(),
            }),
    }
}

/// The caller of a valid token: user id from `user_id_claim`, every claim, roles from `roles`
/// and `role`.
fn caller_from(claims: Map<String, Value>, user_id_claim: &str) -> Result<Caller, IdentityError> {
    let user_id = match claims.get(user_id_claim) {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(_) => {
            return Err(IdentityError::BadClaim {
                claim: user_id_claim.into(),
                problem: "configured as the user id but is not a non-empty string".into(),
            })
        }
        None => {
            return Err(IdentityError::BadClaim {
                claim: user_id_claim.into(),
                problem: "missing; it is configured as the user id".into(),
            })
        }
    };
    let mut roles = Vec::new();
    for name in ["roles", "role"] {
        match claims.get(name) {
            Some(Value::String(role)) => roles.push(role.clone()),
            Some(Value::Array(list)) => {
                roles.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    Ok(Caller {
        user_id: Some(user_id),
        claims: claims.into_iter().collect(),
        roles,
        source: IdentitySource::Bearer,
    })
}
