//! OIDC bearer tokens: validation of a token into a [`Caller`] with the issuer's keys (cached and
//! refreshed by [`super::oidc_keys`], fetched by [`super::oidc_fetch`]). Only RS256 and ES256
//! are accepted, and a key is only used for the algorithm it is for: `none`, HS* and "HS256
//! signed with the public key" all fail before any signature check.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::caller::{Caller, IdentitySource};
use super::error::IdentityError;
use super::oidc_fetch::SigningKey;
use super::oidc_keys::KeyCache;
use super::settings::OidcSettings;

/// Longest bearer token considered.
const MAX_TOKEN: usize = 16 * 1024;

/// Validates bearer tokens of one issuer. Cheap to clone; clones share the key cache.
#[derive(Clone)]
pub struct OidcValidator {
    settings: Arc<OidcSettings>,
    keys: KeyCache,
}

impl OidcValidator {
    /// A validator for `settings`. Nothing is fetched until the first token.
    pub fn new(settings: OidcSettings) -> Self {
        Self {
            keys: KeyCache::new(settings.clone()),
            settings: Arc::new(settings),
        }
    }

    /// Validates `token` and returns its caller: signature with the issuer's key, `iss`, `aud`,
    /// `exp` (required), `nbf`, and the user-id claim.
    pub async fn validate(&self, token: &str) -> Result<Caller, IdentityError> {
        let (alg, kid) = parse_header(token)?;
        let key = self.keys.key_for(alg, kid.as_deref()).await?;
        validate_with_key(token, &key, &self.settings, unix_now())
    }
}

/// The checks of [`OidcValidator::validate`] once the issuer's key for the token is known: the
/// header (RS256 or ES256, the key's own algorithm), the signature, then `iss`, `aud`, `exp` and
/// `nbf` at `now` (Unix seconds), and the user-id claim. Public so that the fuzz targets
/// (`fuzz/`) reach the whole validation without a key server.
pub fn validate_with_key(
    token: &str,
    key: &SigningKey,
    settings: &OidcSettings,
    now: i64,
) -> Result<Caller, IdentityError> {
    let (alg, _) = parse_header(token)?;
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
    check_claims(&claims, settings, now)?;
    caller_from(claims, &settings.user_id_claim)
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
