//! App-registration credentials against a local stand-in of the authority's token endpoint
//! (`POST /{tenant}/oauth2/v2.0/token`, client credentials grant): a certificate (client
//! assertion JWT, RS256, `x5t` header) and workload identity (the federated token file as the
//! assertion, read again on each fetch). The stand-in checks what Entra ID checks.
//!
//! `tests/fixtures/entra/certificate.pem` is a throw-away self-signed certificate with its key
//! (`openssl req -x509 -newkey rsa:2048 -nodes`), `certificate-pkcs1.pem` the same with the key
//! in PKCS#1 form. Its x5t, from `openssl x509 -outform DER | openssl dgst -sha1 -binary`
//! in base64url, is [`X5T`] (with `-sha256`: [`X5T_S256`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{json, Value};
use serverless_signalr::service::entra::certificate::ClientCertificate;
use serverless_signalr::service::entra::workload_identity::WorkloadIdentity;
use serverless_signalr::service::entra::{EntraCredential, TokenSource, SIGNALR_SCOPE};

const X5T: &str = "xs8jAkHK0pLTQEiR7laloJIuSXY";
const X5T_S256: &str = "CesZRDW45Z6MgwSG1knKBS-R_oGYGqQ5cxqJfLJ0CuE";
const PEM: &str = include_str!("../fixtures/entra/certificate.pem");
const PEM_PKCS1: &str = include_str!("../fixtures/entra/certificate-pkcs1.pem");
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the stand-in saw: every form it was posted.
#[derive(Default)]
struct Authority {
    base: Mutex<String>,
    forms: Mutex<Vec<HashMap<String, String>>>,
}

fn public_key() -> DecodingKey {
    let der: String = PEM
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .unwrap()
        .split("-----END PRIVATE KEY-----")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_der(&der).unwrap();
    DecodingKey::from_rsa_der(key.to_public_key().to_pkcs1_der().unwrap().as_bytes())
}

fn refuse(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

/// The token endpoint: a certificate assertion must verify with the certificate's key and name
/// the endpoint as `aud`; a federated token must be `federated-<n>`.
async fn token(
    State(authority): State<Arc<Authority>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    authority.forms.lock().unwrap().push(form.clone());
    let field = |k: &str| form.get(k).map(String::as_str);
    if field("grant_type") != Some("client_credentials")
        || field("scope") != Some(SIGNALR_SCOPE)
        || field("client_id") != Some("app-id")
        || field("client_assertion_type") != Some(JWT_BEARER)
        || tenant != "tenant-1"
    {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let assertion = field("client_assertion").unwrap_or_default();
    if assertion.starts_with("federated-") {
        return Json(json!({"access_token": format!("for-{assertion}"), "expires_in": 3600}))
            .into_response();
    }
    let endpoint = format!(
        "{}/tenant-1/oauth2/v2.0/token",
        authority.base.lock().unwrap()
    );
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&endpoint]);
    validation.set_issuer(&["app-id"]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    match jsonwebtoken::decode::<Value>(assertion, &public_key(), &validation) {
        Ok(data)
            if header.x5t.as_deref() == Some(X5T)
                && header.x5t_s256.as_deref() == Some(X5T_S256)
                && data.claims["sub"] == "app-id"
                && data.claims["jti"].as_str().is_some_and(|j| !j.is_empty())
                && data.claims["exp"].as_u64() <= data.claims["nbf"].as_u64().map(|n| n + 600) =>
        {
            Json(json!({"access_token": "cert-token", "expires_in": 3600})).into_response()
        }
        _ => refuse(StatusCode::UNAUTHORIZED, "invalid_client"),
    }
}

async fn authority() -> (String, Arc<Authority>) {
    let state = Arc::new(Authority::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *state.base.lock().unwrap() = base.clone();
    let router = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .with_state(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, state)
}

fn certificate(pem: &str, base: &str, tenant: &str) -> EntraCredential {
    let mut cert =
        ClientCertificate::from_pem("ClientCert", pem, tenant.into(), "app-id".into()).unwrap();
    cert.authority = base.to_string();
    EntraCredential::new(TokenSource::Certificate(Box::new(cert))).unwrap()
}

#[tokio::test]
async fn certificate_signs_a_client_assertion_the_authority_accepts() {
    let (base, seen) = authority().await;
    for pem in [PEM, PEM_PKCS1] {
        let token = certificate(pem, &base, "tenant-1").token().await.unwrap();
        assert_eq!(token.token.expose(), "cert-token");
    }
    let forms = seen.forms.lock().unwrap();
    assert_eq!(forms.len(), 2);
    assert!(
        forms.iter().all(|f| !f.contains_key("client_secret")),
        "no secret is sent"
    );
}

#[tokio::test]
async fn certificate_refused_by_the_authority_gives_a_clear_error() {
    let (base, _) = authority().await;
    // The stand-in knows tenant-1 only: an unknown tenant is refused.
    let error = certificate(PEM, &base, "tenant-2")
        .token()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("HTTP 400"), "{error}");
    assert!(!error.contains("PRIVATE KEY"), "{error}");
}

#[test]
fn certificate_files_that_cannot_be_used_say_why_without_echoing_them() {
    let cases = [
        ("", "no -----BEGIN CERTIFICATE----- block"),
        (
            PEM.split("-----BEGIN PRIVATE KEY-----").next().unwrap(),
            "no -----BEGIN PRIVATE KEY----- block",
        ),
        (
            &PEM.replace("BEGIN PRIVATE KEY", "BEGIN ENCRYPTED PRIVATE KEY")
                .replace("END PRIVATE KEY", "END ENCRYPTED PRIVATE KEY"),
            "encrypted",
        ),
        (
            &PEM.replace(
                "-----BEGIN PRIVATE KEY-----\nMII",
                "-----BEGIN PRIVATE KEY-----\nAAA",
            ),
            "not an RSA key",
        ),
    ];
    for (pem, expected) in cases {
        let error = ClientCertificate::from_pem("ClientCert", pem, "t".into(), "c".into())
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("ClientCert: ") && error.contains(expected),
            "{error}"
        );
        assert!(!error.contains("MII"), "{error}");
    }
    let error =
        ClientCertificate::from_file("ClientCert", "/no/such/file.pem", "t".into(), "c".into())
            .unwrap_err()
            .to_string();
    assert!(error.contains("cannot read /no/such/file.pem"), "{error}");
}

#[tokio::test]
async fn workload_identity_sends_the_federated_token_and_rereads_it() {
    let (base, seen) = authority().await;
    let dir = std::env::temp_dir().join(format!("entra-wi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "federated-1\n").unwrap();
    let mut identity = WorkloadIdentity::new("tenant-1".into(), "app-id".into(), file.clone());
    identity.authority = base.clone();
    let credential = EntraCredential::new(TokenSource::WorkloadIdentity(identity)).unwrap();
    assert_eq!(
        credential.token().await.unwrap().token.expose(),
        "for-federated-1"
    );
    // The platform rotates the file: the next fetch sends the new token.
    std::fs::write(&file, "federated-2").unwrap();
    credential.invalidate().await;
    assert_eq!(
        credential.token().await.unwrap().token.expose(),
        "for-federated-2"
    );
    assert_eq!(seen.forms.lock().unwrap().len(), 2);

    // A missing file is named (not retried: nothing was sent) and recovers once it is back.
    std::fs::remove_file(&file).unwrap();
    credential.invalidate().await;
    let error = credential.token().await.unwrap_err().to_string();
    assert!(
        error.contains("AZURE_FEDERATED_TOKEN_FILE") && error.contains("cannot read"),
        "{error}"
    );
    assert_eq!(seen.forms.lock().unwrap().len(), 2);
    std::fs::write(&file, "federated-3").unwrap();
    assert_eq!(
        credential.token().await.unwrap().token.expose(),
        "for-federated-3"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
