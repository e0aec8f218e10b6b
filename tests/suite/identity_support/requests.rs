//! Request-side helpers for the identity tests: authenticators, headers, assertions.

#![allow(dead_code)]

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use serverless_signalr::app::identity::{Authenticator, Caller, IdentitySettings, OidcSettings};

use super::{Issuer, AUDIENCE};

pub fn oidc_settings(issuer: &Issuer) -> OidcSettings {
    OidcSettings::new(issuer.url(), vec!["other-app".into(), AUDIENCE.into()])
}

pub fn authenticator(oidc: OidcSettings) -> Authenticator {
    let settings = IdentitySettings {
        oidc: Some(oidc),
        ..IdentitySettings::default()
    };
    Authenticator::new(settings)
}

pub fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
    headers.insert("authorization", value);
    headers
}

pub fn claim<'c>(caller: &'c Caller, name: &str) -> Option<&'c Value> {
    caller
        .claims
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// Asserts `token` is refused with 401 and a message containing `why` (and not the token).
pub async fn assert_rejected(auth: &Authenticator, token: &str, why: &str) {
    match auth.authenticate(&bearer(token)).await {
        Ok(caller) => panic!("accepted a token that should fail with {why:?}: {caller:?}"),
        Err(err) => {
            let message = err.to_string();
            assert_eq!(err.status(), 401, "{message}");
            assert!(message.contains(why), "{message:?} should say {why:?}");
            assert!(
                token.len() < 8 || !message.contains(token),
                "echoes the token"
            );
        }
    }
}

pub fn principal_headers(principal: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-ms-client-principal-id",
        HeaderValue::from_static("aad-oid-7"),
    );
    headers.insert(
        "x-ms-client-principal-name",
        HeaderValue::from_static("ada@example.com"),
    );
    headers.insert("x-ms-client-principal-idp", HeaderValue::from_static("aad"));
    let encoded = STANDARD.encode(principal.to_string());
    headers.insert(
        "x-ms-client-principal",
        HeaderValue::from_str(&encoded).expect("header"),
    );
    headers
}

pub fn aad_principal() -> Value {
    json!({
        "auth_typ": "aad",
        "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
        "claims": [
            {"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "val": "ada@example.com"},
            {"typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "val": "admin"},
            {"typ": "roles", "val": "reader"},
            {"typ": "groups", "val": "g1"},
            {"typ": "groups", "val": "g2"}
        ]
    })
}
