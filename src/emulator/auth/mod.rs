//! Strict access-token checks for every REST call and client connection: HS256/HS512 signed with
//! the UTF-8 bytes of the access key, `exp` required, `nbf` honoured, and `aud` compared after the
//! normalisation of `docs/protocol.md` §6 (scheme + host without port, path without trailing `/`, query
//! ignored, hub case-insensitive). The one query parameter that counts is `application`: it
//! changes which hub a REST call addresses (`{application}_{hub}`), so the audience must name the
//! same one, as the SDK mints it (`…/api/hubs/chat/:send?application=app&api-version=…`, or v1's
//! `…/api/v1/hubs/app_chat/…`). Every rejection says exactly why. Tokens are never logged.

use axum::http::{header, HeaderMap, Uri};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

mod audience;
mod keyed;

use crate::service::names::{self, NameError};
use crate::service::Secret;
pub use audience::Audience;
use audience::Fit;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 5;

/// Claim types that carry the user id, in order of preference.
const USER_ID_CLAIMS: [&str; 4] = [
    "asrs.s.uid",
    "nameid",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "sub",
];

/// Why a token was refused. Messages never contain the token or the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token at all.
    #[error("no access token: send `Authorization: Bearer <token>`{0}")]
    Missing(&'static str),
    /// The `Authorization` header is not a bearer token.
    #[error("the Authorization header must be `Bearer <token>`")]
    NotBearer,
    /// Not a JWT.
    #[error("the access token is not a valid JWT: {0}")]
    Malformed(String),
    /// The signing algorithm is not HS256 or HS512.
    #[error("the access token must be signed with HS256 or HS512 (`alg` {0} is not accepted)")]
    Algorithm(String),
    /// The signature does not match the access key.
    #[error("the access token's signature is invalid: it must be signed with the access key of the connection string")]
    BadSignature,
    /// `exp` is in the past.
    #[error("the access token has expired (`exp` is in the past); mint a new one")]
    Expired,
    /// `nbf` is in the future.
    #[error("the access token is not valid yet (`nbf` is in the future)")]
    NotYetValid,
    /// A required claim is absent.
    #[error("the access token has no `{0}` claim; it is required")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("the access token's `{0}` claim has the wrong type")]
    BadClaim(String),
    /// `exp` is there but not a NumericDate.
    #[error("the access token's `exp` claim must be a whole number of seconds since 1970-01-01 UTC (a JSON integer), got {0}")]
    BadExp(String),
    /// `aud` names another endpoint.
    #[error("the access token's audience is wrong: expected {expected}, got {got} (the port, a trailing `/` and query parameters other than `hub` and `application` are ignored; the hub is case-insensitive)")]
    WrongAudience {
        /// What the request needs.
        expected: String,
        /// What the token says.
        got: String,
    },
    /// A client token's `aud` names `/client` but no hub.
    #[error("the client token's audience has no `hub` query parameter: it must be {expected} (as the SDKs mint it), got {got} (the port, a trailing `/` and other query parameters are ignored; the hub is case-insensitive)")]
    NoHubInAudience {
        /// What the request needs.
        expected: String,
        /// What the token says.
        got: String,
    },
    /// Neither the `Host` header nor the request URI names a host to check `aud` against.
    #[error("the request names no host (no valid `Host` header and no host in the request URI), so the token's audience cannot be checked; send `Host: <endpoint host>`")]
    NoHost,
    /// The token's user id cannot be used (the REST API could never address it, and it cannot
    /// travel in the upstream's `X-ASRS-User-Id` header).
    #[error(
        "the access token's user id (claim `asrs.s.uid`, `nameid` or `sub`) is not usable: {0}"
    )]
    BadUserId(NameError),
    /// Local (access key) auth is disabled in Entra ID mode.
    #[error("local authentication is disabled (Entra ID mode with local auth off): tokens signed with the access key are refused; sign with the temporary key from /api/v1/auth/accessKey (with its kid) or use an Entra ID bearer token")]
    LocalAuthDisabled,
    /// The token asks to close the connection when its authentication expires
    /// (`asrs.s.coae`), and that time (`asrs.s.aeo`) has passed.
    #[error("the client's authentication has expired (`asrs.s.aeo` is in the past); negotiate again for a new token")]
    AuthenticationExpired,
}

/// The claims of a verified token.
#[derive(Debug, Clone, Default)]
pub struct Claims(pub Map<String, Value>);

impl Claims {
    /// The user id: `asrs.s.uid`, else `nameid`, else the long NameIdentifier type, else `sub`.
    pub fn user_id(&self) -> Option<String> {
        USER_ID_CLAIMS
            .iter()
            .filter_map(|name| self.0.get(*name))
            .filter_map(|value| match value {
                Value::Array(items) => items.first().and_then(value_text),
                other => value_text(other),
            })
            .find(|id| !id.is_empty())
    }

    /// The user id, refused when the service could not work with it: empty after trimming,
    /// longer than 1024 characters or holding control characters (which no HTTP header, and so
    /// no upstream call about this connection, could carry).
    pub fn checked_user_id(&self) -> Result<Option<String>, AuthError> {
        let Some(user) = self.user_id() else {
            return Ok(None);
        };
        names::validate_user(&user).map_err(AuthError::BadUserId)?;
        Ok(Some(user))
    }

    /// Every claim as `(type, value)` pairs, except the registered time and audience claims;
    /// arrays become one pair per item. Pairs with control characters cannot travel in the
    /// upstream's `X-ASRS-User-Claims` header: they are left out, with a warning.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for (name, value) in &self.0 {
            if ["aud", "exp", "nbf", "iat"].contains(&name.as_str()) {
                continue;
            }
            let values: Vec<String> = match value {
                Value::Array(items) => items.iter().filter_map(value_text).collect(),
                other => value_text(other).into_iter().collect(),
            };
            for value in values {
                if name.chars().chain(value.chars()).any(char::is_control) {
                    tracing::warn!(
                        claim = ?name,
                        "a claim with control characters is left out of X-ASRS-User-Claims"
                    );
                    continue;
                }
                pairs.push((name.clone(), value));
            }
        }
        pairs
    }
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The bearer token of a request: the `Authorization` header, else (when `query_allowed`) the
/// `access_token` query parameter.
pub fn token_from(
    headers: &HeaderMap,
    uri: &Uri,
    query_allowed: bool,
) -> Result<String, AuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AuthError::NotBearer)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::NotBearer);
        }
        return Ok(token.trim().to_string());
    }
    if query_allowed {
        let query = uri.query().unwrap_or("");
        if let Some((_, token)) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k == "access_token" && !v.is_empty())
        {
            return Ok(token.into_owned());
        }
        return Err(AuthError::Missing(" or the `access_token` query parameter"));
    }
    Err(AuthError::Missing(""))
}

/// A present `exp` that is not a NumericDate (a string, a fraction, an array…), named so the
/// caller learns what is wrong; asked only once the signature is known to be good.
fn bad_exp(token: &str) -> Option<AuthError> {
    use base64::Engine as _;
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())?;
    match payload.get("exp")? {
        Value::Null => None,
        Value::Number(n) if n.is_u64() => None,
        other => Some(AuthError::BadExp(
            other.to_string().chars().take(40).collect(),
        )),
    }
}

/// Verifies `token` with `key` and checks its `aud` against `expected`.
pub fn verify(token: &str, key: &Secret, expected: &Audience) -> Result<Claims, AuthError> {
    let claims = decode(token, key, &[Algorithm::HS256, Algorithm::HS512])?;
    let audiences: Vec<&str> = match claims.get("aud") {
        None | Some(Value::Null) => return Err(AuthError::MissingClaim("aud")),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(_) => return Err(AuthError::BadClaim("aud".into())),
    };
    let fits: Vec<Fit> = audiences.iter().map(|aud| expected.fit(aud)).collect();
    if fits.contains(&Fit::Matches) {
        return Ok(Claims(claims));
    }
    let (expected, got) = (expected.to_string(), audiences.join(", "));
    Err(if fits.contains(&Fit::NoHub) {
        AuthError::NoHubInAudience { expected, got }
    } else {
        AuthError::WrongAudience { expected, got }
    })
}

/// Checks `token`'s signature with `key` (one of `algorithms`), `exp` (required) and `nbf`, and
/// returns its claims; the audience is the caller's to check (each product has its own rule).
/// A plain good token takes the short cut of `keyed.rs` (an HMAC keyed once per key); every other
/// one, and so every refusal, goes through `jsonwebtoken`.
pub fn decode(
    token: &str,
    key: &Secret,
    algorithms: &[Algorithm],
) -> Result<Map<String, Value>, AuthError> {
    match keyed::accept(token, key, algorithms) {
        Some(claims) => Ok(claims),
        None => decode_slowly(token, key, algorithms),
    }
}

/// [`decode`] by `jsonwebtoken`: the rules, and every error message, of the check.
fn decode_slowly(
    token: &str,
    key: &Secret,
    algorithms: &[Algorithm],
) -> Result<Map<String, Value>, AuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
        ErrorKind::InvalidAlgorithmName => AuthError::Algorithm("(unknown)".into()),
        _ => AuthError::Malformed(e.to_string()),
    })?;
    if !algorithms.contains(&header.alg) {
        return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
    }
    let mut validation = Validation::new(header.alg);
    validation.algorithms = algorithms.to_vec();
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(
        token,
        &DecodingKey::from_secret(key.as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::MissingRequiredClaim(_) => {
            bad_exp(token).unwrap_or(AuthError::MissingClaim("exp"))
        }
        // Claims are parsed after the signature is checked, so this names a bad claim type.
        ErrorKind::Json(_) => bad_exp(token).unwrap_or_else(|| AuthError::Malformed(e.to_string())),
        ErrorKind::InvalidClaimFormat(c) => AuthError::BadClaim(c.clone()),
        ErrorKind::InvalidAlgorithm => AuthError::Algorithm(format!("{:?}", header.alg)),
        _ => AuthError::Malformed(e.to_string()),
    })?;
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_and_claims_that_cannot_travel_in_headers() {
        let mut map = Map::new();
        map.insert("asrs.s.uid".into(), "ann\nsmith".into());
        map.insert("note".into(), "a\u{7}b".into());
        map.insert("roles".into(), serde_json::json!(["ok", "bad\r"]));
        map.insert("bad\ttype".into(), "v".into());
        let claims = Claims(map);
        let err = claims.checked_user_id().unwrap_err();
        assert!(err.to_string().contains("control characters"), "{err}");
        assert_eq!(
            claims.pairs(),
            vec![("roles".to_string(), "ok".to_string())]
        );
        let mut map = Map::new();
        map.insert("nameid".into(), "ann".into());
        assert_eq!(Claims(map).checked_user_id(), Ok(Some("ann".into())));
    }

    #[test]
    fn user_id_preference() {
        let mut map = Map::new();
        map.insert("sub".into(), "s".into());
        assert_eq!(Claims(map.clone()).user_id().as_deref(), Some("s"));
        map.insert("nameid".into(), "n".into());
        assert_eq!(Claims(map.clone()).user_id().as_deref(), Some("n"));
        map.insert("asrs.s.uid".into(), "u".into());
        assert_eq!(Claims(map).user_id().as_deref(), Some("u"));
    }
}
