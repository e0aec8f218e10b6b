//! Fetching an OIDC issuer's signing keys: discovery (`/.well-known/openid-configuration` →
//! `jwks_uri`) then the JWKS. Every URL the fetch is sent to passes [`check_url`] — the configured
//! metadata URL, the `jwks_uri` it names, and each redirect hop of either (a hop that fails the
//! check, or leaves `https` for `http`, ends the fetch), so a redirect cannot swap in keys from a
//! plain-http or disguised-loopback address.

use std::error::Error as _;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::oidc_url::{check_url, url_problem};
use super::settings::OidcSettings;

/// Largest metadata or JWKS document read from the issuer.
const MAX_DOCUMENT: usize = 512 * 1024;
/// Most redirects followed per document.
const MAX_REDIRECTS: usize = 5;
/// Longest wait for a TCP (and TLS) connection to the issuer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A usable public key of the issuer.
pub struct SigningKey {
    /// Its `kid` (empty when the JWK has none).
    pub kid: String,
    /// The only algorithm it verifies.
    pub alg: Algorithm,
    /// The key.
    pub key: DecodingKey,
}

/// The HTTP client for one issuer: each redirect hop is checked like the first URL, never
/// leaves `https`, and there are at most [`MAX_REDIRECTS`]; `timeout` caps each request (the
/// caller bounds the whole refresh too).
pub(super) fn client(timeout: Duration) -> reqwest::Client {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let previous = attempt.previous();
        if previous.len() > MAX_REDIRECTS {
            let message = format!("more than {MAX_REDIRECTS} redirects");
            return attempt.error(message);
        }
        let downgrade =
            attempt.url().scheme() != "https" && previous.iter().any(|url| url.scheme() == "https");
        let problem = if downgrade {
            Some("leaves https for http")
        } else {
            url_problem(attempt.url())
        };
        match problem {
            None => attempt.follow(),
            Some(why) => {
                let message = format!("refused a redirect to {}: {why}", attempt.url());
                attempt.error(message)
            }
        }
    });
    reqwest::Client::builder()
        .redirect(policy)
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .build()
        .unwrap_or_default()
}

/// Discovery then JWKS: the usable signing keys, or an error message for the 503.
pub(super) async fn fetch_keys(
    http: &reqwest::Client,
    settings: &OidcSettings,
) -> Result<Vec<SigningKey>, String> {
    let metadata_url = settings.metadata_url();
    check_url("OIDC metadata URL", &metadata_url).map_err(|e| e.to_string())?;
    let metadata = get_json(http, &metadata_url).await?;
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
    let jwks = get_json(http, jwks_uri).await?;
    let Some(entries) = jwks.get("keys").and_then(Value::as_array) else {
        return Err(format!("the JWKS at {jwks_uri} has no keys array"));
    };
    let mut keys = Vec::new();
    for entry in entries {
        match signing_key(entry) {
            Ok(key) => keys.push(key),
            Err(why) => tracing::debug!("skipping a key of {jwks_uri}: {why}"),
        }
    }
    tracing::info!(
        keys = keys.len(),
        "fetched the signing keys of {}",
        settings.issuer
    );
    Ok(keys)
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let failed = |e: reqwest::Error| format!("GET {url}: {}", describe(&e));
    let mut response = http.get(url).send().await.map_err(failed)?;
    if !response.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT {
            return Err(format!("GET {url}: more than {MAX_DOCUMENT} bytes"));
        }
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
}

/// A reqwest error with its causes (`Display` alone hides e.g. why a redirect was refused).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
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
