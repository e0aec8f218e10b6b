//! `/api/upstream` with `SIGNALR_UPSTREAM_IDENTITY_*`: the service's managed-identity bearer
//! token from a local issuer (OIDC metadata and JWKS served in the test). Keyless (no access key
//! anywhere), the bearer alone lets the service in and every hostile token is a 401 naming what
//! failed; with a key too, both the signature and the bearer are required.

use reqwest::StatusCode;
use serde_json::json;

use crate::identity_support::service::{
    accepting, hostile_tokens, service_claims, service_token, SERVICE_APPID, SERVICE_OID,
};
use crate::identity_support::{rsa_keys, Issuer};
use crate::support::{spawn_app, FakeService, TestApp, KEY};
use crate::upstream_support::{code, connected, invoke, message, setup, sign, CONN};

/// The app with an Entra ID connection string (no access key) and the upstream identity set.
async fn keyless(issuer: &Issuer, allowed: &str) -> (TestApp, FakeService) {
    let service = FakeService::start().await;
    let mut args = crate::support::keyed();
    args.service_identity = accepting(issuer, allowed);
    let endpoint = service.connection_string();
    let endpoint = endpoint.split(';').next().unwrap();
    let app = spawn_app(args, &format!("{endpoint};AuthType=azure.msi;Version=1.0;")).await;
    (app, service)
}

#[tokio::test]
async fn keyless_upstream_takes_the_services_bearer_token_and_refuses_every_other() {
    let issuer = Issuer::start().await;
    let (app, rec) = keyless(&issuer, &format!("unrelated-id, {SERVICE_OID}")).await;
    let token = service_token(&issuer);
    let bearer = format!("Bearer {token}");
    let (status, body) = connected()
        .without("X-ASRS-Signature")
        .header("Authorization", &bearer)
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // No signature to check without a key: a forged one changes nothing, the bearer decides.
    let (status, body) = connected()
        .header("X-ASRS-Signature", &sign("not-a-key", CONN))
        .header("Authorization", &bearer)
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = connected().without("X-ASRS-Signature").send(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "AuthenticationRequired");
    assert!(message(&body).contains("Authorization: Bearer"), "{body}");

    for (why, hostile, says) in hostile_tokens(&issuer) {
        let (status, body) = invoke("subscribe", json!(["orders"]))
            .header("Authorization", &format!("Bearer {hostile}"))
            .send(&app)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
        assert_eq!(code(&body), "InvalidToken", "{why}: {body}");
        let text = message(&body);
        assert!(text.to_lowercase().contains(says), "{why}: {text}");
        assert!(!body.contains(&hostile) && !body.contains(&token), "{why}");
    }
    let mut stranger = service_claims(&issuer);
    stranger["oid"] = json!("someone-else");
    stranger["appid"] = json!("other-app");
    let (_, body) = connected()
        .header(
            "Authorization",
            &format!("Bearer {}", rsa_keys().main.sign(&stranger)),
        )
        .send(&app)
        .await;
    let text = message(&body);
    assert!(
        text.contains("SIGNALR_UPSTREAM_IDENTITY_ALLOWED_CALLERS"),
        "{text}"
    );
    assert!(text.contains("oid someone-else"), "{text}");
    assert!(rec.take().is_empty());
}

#[tokio::test]
async fn the_client_id_of_the_identity_may_be_the_allowed_caller() {
    let issuer = Issuer::start().await;
    let (app, _rec) = keyless(&issuer, SERVICE_APPID).await;
    let (status, body) = connected()
        .without("X-ASRS-Signature")
        .header(
            "Authorization",
            &format!("Bearer {}", service_token(&issuer)),
        )
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn with_a_key_too_both_the_signature_and_the_bearer_are_required() {
    let issuer = Issuer::start().await;
    let (app, rec) = setup(|a| a.service_identity = accepting(&issuer, SERVICE_OID)).await;
    let bearer = format!("Bearer {}", service_token(&issuer));
    let (status, body) = connected()
        .header("Authorization", &bearer)
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = connected().send(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "AuthenticationRequired");
    let (status, body) = connected()
        .header("X-ASRS-Signature", &sign("not-a-key", CONN))
        .header("Authorization", &bearer)
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "InvalidSignature");
    assert!(!body.contains(KEY));
    assert!(rec.take().is_empty());
}
