//! The service's managed-identity bearer tokens for the webhook tests: the claims Entra puts in
//! a managed identity's v1 access token, the settings that accept them from the local issuer,
//! and the hostile variants every webhook must refuse with a 401 naming what failed.

use serde_json::{json, Value};
use serverless_signalr::app::settings::ServiceIdentityArgs;

use super::{hs256_token, now, rsa_keys, unsigned_token, Issuer};

/// The resource (`aud`) the service asks its token for.
pub const RESOURCE: &str = "api://my-function-app";
/// The service's managed identity: principal (object) id and client (app) id.
pub const SERVICE_OID: &str = "5e1f2a3b-0000-4000-8000-00000000a11e";
pub const SERVICE_APPID: &str = "c1d2e3f4-0000-4000-8000-0000000000a9";

/// The claims of the service's token from `issuer`, valid for an hour.
pub fn service_claims(issuer: &Issuer) -> Value {
    let t = now();
    json!({"iss": issuer.url(), "aud": RESOURCE, "sub": SERVICE_OID, "oid": SERVICE_OID,
           "appid": SERVICE_APPID, "idtyp": "app", "ver": "1.0", "iat": t, "nbf": t - 5,
           "exp": t + 3600})
}

/// A valid token of the service.
pub fn service_token(issuer: &Issuer) -> String {
    rsa_keys().main.sign(&service_claims(issuer))
}

/// Settings that accept the service's tokens from `issuer` on both webhooks, allow-listing the
/// identity by `allowed` (its object id or client id).
pub fn accepting(issuer: &Issuer, allowed: &str) -> ServiceIdentityArgs {
    ServiceIdentityArgs {
        upstream_identity_tenant: Some(issuer.url().into()),
        upstream_identity_resource: Some(format!(
            "{RESOURCE}, 00000000-0000-4000-8000-0000000000ff"
        )),
        upstream_identity_allowed_callers: Some(allowed.into()),
        webpubsub_events_identity_tenant: Some(issuer.url().into()),
        webpubsub_events_identity_resource: Some(RESOURCE.into()),
        webpubsub_events_identity_allowed_callers: Some(allowed.into()),
    }
}

/// Tokens a webhook must refuse: what is wrong, the token, and a word the 401's message must
/// contain.
pub fn hostile_tokens(issuer: &Issuer) -> Vec<(&'static str, String, &'static str)> {
    let claims = service_claims(issuer);
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let main = &rsa_keys().main;
    let t = now();
    vec![
        (
            "wrong audience",
            main.sign(&with(json!({"aud": "https://management.azure.com"}))),
            "audience",
        ),
        (
            "wrong issuer",
            main.sign(&with(
                json!({"iss": "https://sts.windows.net/other-tenant/"}),
            )),
            "issuer",
        ),
        (
            "expired",
            main.sign(&with(json!({"exp": t - 3600}))),
            "expired",
        ),
        (
            "not yet valid",
            main.sign(&with(json!({"nbf": t + 3600}))),
            "not valid before",
        ),
        (
            "bad signature",
            rsa_keys().other.sign_as("rsa-1", &claims),
            "signature",
        ),
        ("unknown kid", main.sign_as("nobody-knows", &claims), "kid"),
        (
            "another app of the tenant",
            main.sign(&with(
                json!({"oid": "someone-else", "appid": "other-app", "sub": "someone-else"}),
            )),
            "not allowed",
        ),
        ("alg none", unsigned_token(&claims), "alg"),
        (
            "HS256 with the public key",
            hs256_token(rsa_keys().public_pem.as_bytes(), &claims),
            "alg",
        ),
        ("garbage", "not.a.token".to_string(), "malformed"),
    ]
}
