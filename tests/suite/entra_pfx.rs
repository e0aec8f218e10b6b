//! PFX (PKCS#12) certificates for the app-registration credential: files `openssl` writes at
//! test time (modern PBES2/AES and legacy RC2/3DES, with a password or an empty one) sign a
//! client assertion that a local stand-in of the authority's token endpoint verifies with the
//! certificate's public key and `x5t`; a certificate named by thumbprint is read from the
//! directory App Service loads certificates into; a wrong password, a wrong thumbprint or a
//! damaged file each give an error naming the setting that never repeats a secret.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{json, Value};
use serverless_signalr::service::entra::certificate::ClientCertificate;
use serverless_signalr::service::entra::pkcs12;
use serverless_signalr::service::entra::{EntraCredential, EntraError, TokenSource};
use serverless_signalr::service::Secret;

use crate::pfx_support::TestCertificate;

const PASSWORD: &str = "made-up-pfx-password";

/// The stand-in: what it was posted, and the certificate it trusts.
struct Authority {
    base: String,
    certificate: Arc<TestCertificate>,
    assertions: Mutex<Vec<String>>,
}

/// `POST /tenant-1/oauth2/v2.0/token`: the assertion must be signed with the certificate's key,
/// name it by `x5t`, and be meant for this endpoint.
async fn token(
    State(authority): State<Arc<Authority>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let assertion = form.get("client_assertion").cloned().unwrap_or_default();
    authority.assertions.lock().unwrap().push(assertion.clone());
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[format!("{}/tenant-1/oauth2/v2.0/token", authority.base)]);
    validation.set_issuer(&["app-id"]);
    let header = jsonwebtoken::decode_header(&assertion).ok();
    let verified = jsonwebtoken::decode::<Value>(
        &assertion,
        &authority.certificate.decoding_key(),
        &validation,
    );
    match (header, verified) {
        (Some(h), Ok(data))
            if h.x5t.as_deref() == Some(authority.certificate.x5t.as_str())
                && data.claims["sub"] == "app-id"
                && form.get("client_id").map(String::as_str) == Some("app-id") =>
        {
            Json(json!({"access_token": "pfx-token", "expires_in": 3600})).into_response()
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response(),
    }
}

async fn authority(certificate: Arc<TestCertificate>) -> Arc<Authority> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let state = Arc::new(Authority {
        base: format!("http://{}", listener.local_addr().unwrap()),
        certificate,
        assertions: Mutex::default(),
    });
    let router = Router::new()
        .route("/tenant-1/oauth2/v2.0/token", post(token))
        .with_state(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    state
}

async fn token_with(mut certificate: ClientCertificate, authority: &Authority) -> String {
    certificate.authority = authority.base.clone();
    let credential = EntraCredential::new(TokenSource::Certificate(Box::new(certificate))).unwrap();
    credential.token().await.unwrap().token.expose().to_string()
}

fn from_file(
    setting: &str,
    path: &Path,
    password: Option<&str>,
) -> Result<ClientCertificate, EntraError> {
    ClientCertificate::from_file_with_password(
        setting,
        path.to_str().unwrap(),
        password.map(Secret::new).as_ref(),
        "tenant-1".into(),
        "app-id".into(),
    )
}

#[tokio::test]
async fn pfx_files_sign_client_assertions_the_authority_accepts() {
    let certificate = Arc::new(TestCertificate::generate("accepted"));
    let authority = authority(Arc::clone(&certificate)).await;
    let files = [
        (
            certificate.export("modern.pfx", PASSWORD, false),
            Some(PASSWORD),
        ),
        (
            certificate.export("legacy.pfx", PASSWORD, true),
            Some(PASSWORD),
        ),
        // ClientCert= has no password key: the SDK opens the file with none.
        (certificate.export("open.pfx", "", false), None),
        (certificate.export("open-legacy.p12", "", true), None),
    ];
    for (path, password) in &files {
        let loaded = from_file("ClientCert", path, *password).unwrap();
        assert_eq!(loaded.thumbprint, certificate.x5t, "{}", path.display());
        assert_eq!(
            token_with(loaded, &authority).await,
            "pfx-token",
            "{}",
            path.display()
        );
    }
    // The connection string's ClientCert path takes a PFX file as it takes PEM.
    let loaded = ClientCertificate::from_file(
        "ClientCert",
        files[2].0.to_str().unwrap(),
        "tenant-1".into(),
        "app-id".into(),
    )
    .unwrap();
    assert_eq!(token_with(loaded, &authority).await, "pfx-token");
    assert_eq!(authority.assertions.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn a_certificate_named_by_thumbprint_is_read_where_app_service_loads_it() {
    let certificate = Arc::new(TestCertificate::generate("store"));
    let authority = authority(Arc::clone(&certificate)).await;
    // App Service on Linux: /var/ssl/private/<THUMBPRINT>.p12, without a password.
    std::fs::copy(
        certificate.export("open.pfx", "", false),
        certificate
            .dir
            .join(format!("{}.p12", certificate.thumbprint)),
    )
    .unwrap();
    // Any case, with spaces or colons, as portals and tools print thumbprints.
    let pasted = certificate
        .thumbprint
        .to_ascii_lowercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    for thumbprint in [certificate.thumbprint.clone(), pasted] {
        let setting = "AzureSignalRConnectionString__clientCertificate";
        let (der, key) = pkcs12::find(&certificate.dir, setting, &thumbprint).unwrap();
        let loaded =
            ClientCertificate::from_parts(setting, &der, &key, "tenant-1".into(), "app-id".into())
                .unwrap();
        assert_eq!(token_with(loaded, &authority).await, "pfx-token");
    }
}

#[test]
fn pfx_errors_name_the_setting_and_never_the_password() {
    let certificate = TestCertificate::generate("errors");
    let protected = certificate.export("protected.pfx", PASSWORD, false);
    let legacy = certificate.export("legacy.pfx", PASSWORD, true);
    let damaged = certificate.dir.join("damaged.pfx");
    let mut bytes = std::fs::read(&protected).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&damaged, bytes).unwrap();
    let garbage = certificate.dir.join("garbage.pfx");
    std::fs::write(&garbage, b"this is not a certificate").unwrap();

    let setting = "AZURE_CLIENT_CERTIFICATE_PATH";
    let cases: [(&Path, Option<&str>, &str); 6] = [
        (
            &protected,
            Some("made-up-wrong-password"),
            "cannot be opened with the password given",
        ),
        (
            &legacy,
            Some("made-up-wrong-password"),
            "cannot be opened with the password given",
        ),
        (&protected, None, "has a password"),
        (&damaged, Some(PASSWORD), "nor a valid PFX/PKCS#12 file"),
        (&garbage, None, "nor a valid PFX/PKCS#12 file"),
        (
            Path::new("/no/such/file.pfx"),
            None,
            "cannot read /no/such/file.pfx",
        ),
    ];
    for (path, password, expected) in cases {
        let error = from_file(setting, path, password).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{setting}: ")) && error.contains(expected),
            "{}: {error}",
            path.display()
        );
        assert!(
            !error.contains(PASSWORD) && !error.contains("made-up-wrong"),
            "{error}"
        );
    }

    // By thumbprint: not a thumbprint, no such file, a file holding another certificate.
    let setting = "AzureSignalRConnectionString__clientCertificate";
    let other = TestCertificate::generate("other");
    std::fs::copy(
        other.export("open.pfx", "", false),
        certificate
            .dir
            .join(format!("{}.p12", certificate.thumbprint)),
    )
    .unwrap();
    let cases = [
        (
            "not-a-thumbprint".to_string(),
            "must be a certificate thumbprint: 40 hex digits".to_string(),
        ),
        ("AB".repeat(20), "WEBSITE_LOAD_CERTIFICATES".to_string()),
        (
            certificate.thumbprint.clone(),
            format!(
                "holds the certificate with thumbprint {}, not {}",
                other.thumbprint, certificate.thumbprint
            ),
        ),
    ];
    for (thumbprint, expected) in cases {
        let error = pkcs12::find(&certificate.dir, setting, &thumbprint)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!("{setting}: ")) && error.contains(&expected),
            "{error}\nexpected: {expected}"
        );
    }
}
