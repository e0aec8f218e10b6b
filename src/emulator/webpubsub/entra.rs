//! The Web PubSub emulator's Entra ID mode, the peer of the SignalR emulator's
//! ([`crate::emulator::entra`]) and sharing its [`EntraMode`]: REST calls may carry an Entra ID
//! token from the emulator's managed-identity endpoint whose audience is
//! `https://webpubsub.azure.com`; `:generateToken` signs client tokens with the mode's temporary
//! key and names it in `kid`, and clients with such a token are accepted. With local auth
//! disabled, tokens signed with the access key are refused on REST and at the client endpoint,
//! as Azure refuses them under `disableLocalAuth` (`docs/webpubsub.md` §6).

use axum::http::{HeaderMap, Uri};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::auth::{self, WpsAuthError};
use super::WebPubSubConfig;
use crate::emulator::entra::EntraMode;
use crate::service::entra::WEBPUBSUB_RESOURCE;

/// The verdict on `token` when it is an Entra ID token of this emulator's identity endpoint
/// (signed with its key), `None` when it is not one.
fn entra_verdict(mode: &EntraMode, token: &str) -> Option<Result<(), WpsAuthError>> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Map<String, Value>>(
        token,
        &DecodingKey::from_secret(mode.token_key.as_bytes()),
        &validation,
    )
    .ok()?
    .claims;
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.iter().any(|a| {
        a.trim_end_matches('/')
            .eq_ignore_ascii_case(WEBPUBSUB_RESOURCE)
    }) {
        return Some(Err(WpsAuthError::EntraAudience {
            expected: WEBPUBSUB_RESOURCE,
            got: if audiences.is_empty() {
                "missing".into()
            } else {
                audiences.join(", ")
            },
        }));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp > now => Some(Ok(())),
        _ => Some(Err(WpsAuthError::EntraExpired)),
    }
}

/// A REST call's bearer token: an Entra ID token in Entra mode, else (unless local auth is
/// disabled) a token signed with the access key whose `aud` is the request URL.
pub fn verify_rest(
    config: &WebPubSubConfig,
    token: &str,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(), WpsAuthError> {
    if let Some(mode) = &config.entra {
        if let Some(verdict) = entra_verdict(mode, token) {
            return verdict;
        }
        if mode.disable_local_auth {
            return Err(WpsAuthError::LocalAuthDisabled);
        }
    }
    auth::verify_rest(token, &config.access_key, headers, uri)
}

/// A client token for `hub`: signed with the temporary key when its `kid` names it, else (unless
/// local auth is disabled) with the access key.
pub fn verify_client(
    config: &WebPubSubConfig,
    token: &str,
    origin: &str,
    hub: &str,
) -> Result<Map<String, Value>, WpsAuthError> {
    if let Some(mode) = &config.entra {
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        if kid.as_deref() == Some(mode.key_id.as_str()) {
            return auth::verify_client(token, &mode.temporary_key, origin, hub);
        }
        if mode.disable_local_auth {
            return Err(WpsAuthError::LocalAuthDisabled);
        }
    }
    auth::verify_client(token, &config.access_key, origin, hub)
}

/// Signs the client token `:generateToken` answers: with the temporary key and its `kid` in
/// Entra mode (so it is accepted when local auth is disabled), else with the access key.
pub fn sign_client_token(config: &WebPubSubConfig, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    let key = match &config.entra {
        Some(mode) => {
            header.kid = Some(mode.key_id.clone());
            &mode.temporary_key
        }
        None => &config.access_key,
    };
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key.as_bytes()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Secret;

    fn identity_token(mode: &EntraMode, aud: &str, exp_offset: i64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({ "aud": aud, "exp": now + exp_offset }),
            &EncodingKey::from_secret(mode.token_key.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn only_unexpired_webpubsub_tokens_of_this_identity_endpoint_pass() {
        let mode = EntraMode::generate(true);
        let ok = identity_token(&mode, WEBPUBSUB_RESOURCE, 600);
        assert_eq!(entra_verdict(&mode, &ok), Some(Ok(())));
        let signalr = identity_token(&mode, "https://signalr.azure.com", 600);
        assert!(matches!(
            entra_verdict(&mode, &signalr),
            Some(Err(WpsAuthError::EntraAudience { .. }))
        ));
        let expired = identity_token(&mode, WEBPUBSUB_RESOURCE, -600);
        assert_eq!(
            entra_verdict(&mode, &expired),
            Some(Err(WpsAuthError::EntraExpired))
        );
        let other = EntraMode::generate(true);
        assert_eq!(
            entra_verdict(&mode, &identity_token(&other, WEBPUBSUB_RESOURCE, 600)),
            None
        );
        let mut config = WebPubSubConfig::new(Secret::new("made-up-key"));
        config.entra = Some(mode);
        let signed = sign_client_token(&config, &serde_json::json!({"exp": 1}));
        let kid = jsonwebtoken::decode_header(&signed).unwrap().kid;
        assert_eq!(kid, config.entra.map(|m| m.key_id));
    }
}
