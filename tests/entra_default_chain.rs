//! `AuthType=azure` (the default credential chain) picks its source from the environment in
//! the order of .NET's `DefaultAzureCredential`: client secret, certificate (PEM or PFX),
//! workload identity, managed identity, then the developer tools Azure CLI and Azure Developer
//! CLI; app registrations use `AZURE_AUTHORITY_HOST` (sovereign clouds). Every token comes from
//! a local stand-in; the tools are fake `az` / `azd` scripts that print what the real ones print.
//!
//! The tests change process-wide environment variables, so they take [`ENV`] in turn.

#[path = "entra_default_chain/developer_tools.rs"]
mod developer_tools;
#[path = "suite/pfx_support.rs"]
mod pfx_support;
#[path = "suite/system_packages.rs"]
mod system_packages;

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::json;
use serverless_signalr::service::connection_string::{AppCredential, AuthType};
use serverless_signalr::service::entra::{EntraCredential, TokenSource};

/// Held by each test while it changes the environment.
pub static ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn authority(Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let token = if field("client_id") != "app-id" {
        "wrong-client".to_string()
    } else if field("client_secret") == "the-secret" {
        "secret-token".to_string()
    } else if field("client_assertion").starts_with("federated") {
        format!("wi-token-{}", field("client_assertion"))
    } else if jsonwebtoken::decode_header(field("client_assertion")).is_ok_and(|h| h.x5t.is_some())
    {
        "cert-token".to_string()
    } else {
        "unknown".to_string()
    };
    Json(json!({"access_token": token, "expires_in": 3600})).into_response()
}

async fn imds(Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    assert_eq!(headers.get("metadata").unwrap(), "true");
    let client = q.get("client_id").cloned().unwrap_or_default();
    Json(json!({"access_token": format!("mi-token-{client}"), "expires_on": "9999999999"}))
        .into_response()
}

/// The token for `auth`, and which source gave it.
async fn token_of(auth: &AuthType) -> (&'static str, String) {
    let source = TokenSource::from_auth(auth).unwrap();
    let credential = EntraCredential::new(source.clone()).unwrap();
    let token = credential.token().await.unwrap().token.expose().to_string();
    (source.kind(), token)
}

#[tokio::test]
async fn default_chain_order_and_authority_host() {
    let _env = ENV.lock().await;
    std::env::remove_var("AZURE_TOKEN_CREDENTIALS");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new()
        .route("/sovereign/tenant-1/oauth2/v2.0/token", post(authority))
        .route("/imds", get(imds));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let file = std::env::temp_dir().join(format!("entra-chain-{}", std::process::id()));
    std::fs::write(&file, "federated-a").unwrap();
    let certificate = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/entra/certificate.pem"
    );

    for name in ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"] {
        std::env::remove_var(name);
    }
    // A trailing slash on the authority host is fine.
    std::env::set_var("AZURE_AUTHORITY_HOST", format!("{base}/sovereign/"));
    std::env::set_var("AZURE_TENANT_ID", "tenant-1");
    std::env::set_var("AZURE_CLIENT_ID", "app-id");
    std::env::set_var("AZURE_CLIENT_SECRET", "the-secret");
    std::env::set_var("AZURE_CLIENT_CERTIFICATE_PATH", certificate);
    std::env::set_var("AZURE_FEDERATED_TOKEN_FILE", &file);
    std::env::set_var("SIGNALR_IMDS_ENDPOINT", format!("{base}/imds"));
    let chain = AuthType::DefaultAzure {
        client_id: None,
        tenant_id: None,
    };

    assert_eq!(
        token_of(&chain).await,
        ("client secret", "secret-token".into())
    );
    std::env::remove_var("AZURE_CLIENT_SECRET");
    assert_eq!(
        token_of(&chain).await,
        ("client certificate", "cert-token".into())
    );
    // A PFX file, with its password (legacy and modern encryption alike).
    let pfx = pfx_support::TestCertificate::generate("chain");
    for legacy in [true, false] {
        let file = pfx.export("chain.pfx", "made-up-pfx-password", legacy);
        std::env::set_var("AZURE_CLIENT_CERTIFICATE_PATH", &file);
        std::env::set_var("AZURE_CLIENT_CERTIFICATE_PASSWORD", "made-up-pfx-password");
        assert_eq!(
            token_of(&chain).await,
            ("client certificate", "cert-token".into())
        );
        std::env::set_var(
            "AZURE_CLIENT_CERTIFICATE_PASSWORD",
            "made-up-wrong-password",
        );
        let error = TokenSource::from_auth(&chain).unwrap_err().to_string();
        assert!(
            error.contains("AZURE_CLIENT_CERTIFICATE_PATH: the PFX file cannot be opened with the password given")
                && !error.contains("made-up"),
            "{error}"
        );
    }
    std::env::remove_var("AZURE_CLIENT_CERTIFICATE_PASSWORD");
    std::env::remove_var("AZURE_CLIENT_CERTIFICATE_PATH");
    assert_eq!(
        token_of(&chain).await,
        ("workload identity", "wi-token-federated-a".into())
    );
    // The identity-based settings' client id wins over AZURE_CLIENT_ID.
    let named = AuthType::DefaultAzure {
        client_id: Some("other-id".into()),
        tenant_id: None,
    };
    assert_eq!(
        token_of(&named).await,
        ("workload identity", "wrong-client".into())
    );
    std::env::remove_var("AZURE_FEDERATED_TOKEN_FILE");
    assert_eq!(
        token_of(&chain).await,
        ("managed identity", "mi-token-app-id".into()),
        "AZURE_CLIENT_ID names the user-assigned identity"
    );
    std::env::remove_var("AZURE_CLIENT_ID");
    assert_eq!(
        token_of(&chain).await,
        ("managed identity", "mi-token-".into())
    );

    // Workload identity named by the identity-based settings, the rest from the environment.
    let workload = AuthType::WorkloadIdentity {
        client_id: Some("app-id".into()),
        tenant_id: None,
        token_file: Some(file.display().to_string()),
    };
    assert_eq!(
        token_of(&workload).await,
        ("workload identity", "wi-token-federated-a".into())
    );
    std::env::remove_var("AZURE_TENANT_ID");
    let error = TokenSource::from_auth(&workload).unwrap_err().to_string();
    assert!(error.contains("AZURE_TENANT_ID"), "{error}");
    std::fs::remove_file(&file).unwrap();
}

/// `AzureSignalRConnectionString__clientCertificate` names a certificate by thumbprint; it is
/// read from `/var/ssl/private/<THUMBPRINT>.p12` (App Service on Linux), or from
/// `SIGNALR_CERTIFICATE_DIR`.
#[tokio::test]
async fn certificate_by_thumbprint_from_the_certificate_directory() {
    let _env = ENV.lock().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new().route("/tenant-1/oauth2/v2.0/token", post(authority));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    std::env::set_var("AZURE_AUTHORITY_HOST", &base);

    let certificate = pfx_support::TestCertificate::generate("thumbprint");
    std::fs::copy(
        certificate.export("open.pfx", "", false),
        certificate
            .dir
            .join(format!("{}.p12", certificate.thumbprint)),
    )
    .unwrap();
    let auth = AuthType::Application {
        client_id: "app-id".into(),
        tenant_id: "tenant-1".into(),
        credential: AppCredential::CertificateThumbprint(certificate.thumbprint.to_lowercase()),
    };
    std::env::remove_var("SIGNALR_CERTIFICATE_DIR");
    let error = TokenSource::from_auth(&auth).unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "AzureSignalRConnectionString__clientCertificate: cannot read /var/ssl/private/{}.p12",
            certificate.thumbprint
        )),
        "{error}"
    );
    std::env::set_var("SIGNALR_CERTIFICATE_DIR", &certificate.dir);
    assert_eq!(
        token_of(&auth).await,
        ("client certificate", "cert-token".into())
    );
    std::env::remove_var("SIGNALR_CERTIFICATE_DIR");
    std::env::remove_var("AZURE_AUTHORITY_HOST");
}
