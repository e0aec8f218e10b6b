//! Entra ID token sources against local stand-ins of their protocols on 127.0.0.1: the App
//! Service managed-identity endpoint, IMDS (at an overridden address; 169.254.169.254 is never
//! called), the authority's token endpoint and the service's temporary access key API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::json;
use serverless_signalr::service::entra::client_secret::ClientSecret;
use serverless_signalr::service::entra::managed_identity::{
    ManagedIdentity, ManagedIdentityProtocol,
};
use serverless_signalr::service::entra::{
    access_key, EntraCredential, EntraError, TokenSource, SIGNALR_RESOURCE, SIGNALR_SCOPE,
};
use serverless_signalr::service::Secret;

const HEADER: &str = "identity-header-value-123";
const SECRET: &str = "client-secret-value-456";

/// What the stand-in does: how many requests it saw, how many to fail first, how long tokens
/// live and how long to wait before answering.
#[derive(Default)]
struct Stub {
    calls: AtomicUsize,
    fail_first: usize,
    lifetime_secs: u64,
    delay_ms: u64,
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The managed-identity answer (`expires_on` is a string, as App Service and IMDS send it).
async fn identity(
    State(stub): State<Arc<Stub>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let n = stub.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(stub.delay_ms)).await;
    let app_service = headers.get("x-identity-header").map(|v| v.as_bytes());
    let imds = headers.get("metadata").map(|v| v.as_bytes());
    let (authorised, version) = match (app_service, imds) {
        (Some(h), _) => (h == HEADER.as_bytes(), "2019-08-01"),
        (None, Some(m)) => (m == b"true", "2018-02-01"),
        _ => (false, ""),
    };
    if !authorised {
        return (StatusCode::UNAUTHORIZED, "bad header").into_response();
    }
    if q.get("api-version").map(String::as_str) != Some(version)
        || q.get("resource").map(String::as_str) != Some(SIGNALR_RESOURCE)
    {
        return (StatusCode::BAD_REQUEST, "bad query").into_response();
    }
    if n < stub.fail_first {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    let client = q
        .get("client_id")
        .cloned()
        .unwrap_or_else(|| "system".into());
    Json(json!({
        "access_token": format!("token-{client}-{n}"),
        "expires_on": (epoch() + stub.lifetime_secs).to_string(),
        "resource": SIGNALR_RESOURCE,
        "token_type": "Bearer",
    }))
    .into_response()
}

async fn identity_server(stub: Stub) -> (String, Arc<Stub>) {
    let stub = Arc::new(stub);
    let base = serve(
        Router::new()
            .route("/msi/token", get(identity))
            .with_state(Arc::clone(&stub)),
    )
    .await;
    (format!("{base}/msi/token"), stub)
}

fn app_service(endpoint: &str, header: &str, client_id: Option<&str>) -> EntraCredential {
    EntraCredential::new(TokenSource::ManagedIdentity(ManagedIdentity {
        protocol: ManagedIdentityProtocol::AppService {
            endpoint: endpoint.to_string(),
            header: Secret::new(header),
        },
        client_id: client_id.map(str::to_string),
    }))
    .unwrap()
}

fn hour() -> Stub {
    Stub {
        lifetime_secs: 3600,
        ..Stub::default()
    }
}

#[tokio::test]
async fn app_service_identity_token_is_fetched_once_and_cached() {
    let (endpoint, stub) = identity_server(hour()).await;
    let credential = app_service(&endpoint, HEADER, None);
    let first = credential.token().await.unwrap();
    let again = credential.token().await.unwrap();
    assert_eq!(first.token.expose(), "token-system-0");
    assert_eq!(again.token.expose(), "token-system-0");
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);
    assert!(first.expires_at > SystemTime::now() + Duration::from_secs(3500));
}

#[tokio::test]
async fn user_assigned_identity_sends_its_client_id() {
    let (endpoint, _) = identity_server(hour()).await;
    let credential = app_service(&endpoint, HEADER, Some("1111-2222"));
    assert_eq!(
        credential.token().await.unwrap().token.expose(),
        "token-1111-2222-0"
    );
}

#[tokio::test]
async fn token_expiring_within_five_minutes_is_replaced() {
    let (endpoint, stub) = identity_server(Stub {
        lifetime_secs: 200,
        ..Stub::default()
    })
    .await;
    let credential = app_service(&endpoint, HEADER, None);
    credential.token().await.unwrap();
    let second = credential.token().await.unwrap();
    assert_eq!(second.token.expose(), "token-system-1");
    assert_eq!(stub.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let (endpoint, stub) = identity_server(Stub {
        lifetime_secs: 3600,
        delay_ms: 300,
        ..Stub::default()
    })
    .await;
    let credential = app_service(&endpoint, HEADER, None);
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let c = credential.clone();
            tokio::spawn(async move { c.token().await.unwrap().token.expose().to_string() })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), "token-system-0");
    }
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn failing_identity_endpoint_is_retried_and_recovers() {
    let (endpoint, stub) = identity_server(Stub {
        lifetime_secs: 3600,
        fail_first: 2,
        ..Stub::default()
    })
    .await;
    let credential = app_service(&endpoint, HEADER, None);
    assert_eq!(
        credential.token().await.unwrap().token.expose(),
        "token-system-2"
    );
    assert_eq!(stub.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn broken_identity_endpoint_gives_a_clear_error_then_recovers() {
    let (endpoint, stub) = identity_server(Stub {
        lifetime_secs: 3600,
        fail_first: 3,
        ..Stub::default()
    })
    .await;
    let credential = app_service(&endpoint, HEADER, None);
    let error = credential.token().await.unwrap_err();
    assert!(
        matches!(error, EntraError::Refused { status: 500, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("HTTP 500"), "{error}");
    // Fixed: the next call fetches again and succeeds.
    assert_eq!(
        credential.token().await.unwrap().token.expose(),
        "token-system-3"
    );
    assert_eq!(stub.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn wrong_identity_header_is_named_and_not_echoed() {
    let (endpoint, _) = identity_server(hour()).await;
    let error = app_service(&endpoint, "wrong-header-secret", None)
        .token()
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("HTTP 401") && text.contains("IDENTITY_HEADER"),
        "{text}"
    );
    assert!(!text.contains("wrong-header-secret"), "{text}");
}

#[tokio::test]
async fn unreachable_identity_endpoint_says_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/msi/token", listener.local_addr().unwrap());
    drop(listener);
    let error = app_service(&endpoint, HEADER, None)
        .token()
        .await
        .unwrap_err();
    assert!(matches!(error, EntraError::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains("cannot be reached"), "{error}");
}

#[tokio::test]
async fn imds_protocol_at_an_overridden_address() {
    let (endpoint, stub) = identity_server(hour()).await;
    let credential = EntraCredential::new(TokenSource::ManagedIdentity(ManagedIdentity {
        protocol: ManagedIdentityProtocol::Imds { endpoint },
        client_id: None,
    }))
    .unwrap();
    assert_eq!(
        credential.token().await.unwrap().token.expose(),
        "token-system-0"
    );
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);
}

/// The authority's v2.0 token endpoint: client credentials grant, `expires_in` a number.
async fn authority(Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str);
    if field("grant_type") != Some("client_credentials")
        || field("scope") != Some(SIGNALR_SCOPE)
        || field("client_id") != Some("app-id")
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    }
    if field("client_secret") != Some(SECRET) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    Json(json!({"access_token": "app-token", "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

#[tokio::test]
async fn client_secret_against_the_authority_token_endpoint() {
    let authority =
        serve(Router::new().route("/tenant-1/oauth2/v2.0/token", post(authority))).await;
    let source = |secret: &str| {
        EntraCredential::new(TokenSource::ClientSecret(ClientSecret {
            authority: authority.clone(),
            tenant_id: "tenant-1".into(),
            client_id: "app-id".into(),
            secret: Secret::new(secret),
        }))
        .unwrap()
    };
    let token = source(SECRET).token().await.unwrap();
    assert_eq!(token.token.expose(), "app-token");
    assert!(token.expires_at > SystemTime::now() + Duration::from_secs(3500));
    let error = source("not-the-secret")
        .token()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("HTTP 401") && !error.contains("not-the-secret"),
        "{error}"
    );
}

/// The service's temporary access key API: the bearer must be `good-token`.
async fn access_key_api(headers: HeaderMap) -> Response {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some("Bearer good-token") => {
            Json(json!({"KeyId": "t-key-1", "AccessKey": "temporary-key"})).into_response()
        }
        Some("Bearer no-role") => StatusCode::FORBIDDEN.into_response(),
        Some("Bearer half") => Json(json!({"AccessKey": "temporary-key"})).into_response(),
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

#[tokio::test]
async fn temporary_access_key_is_fetched_with_the_entra_token() {
    let base = serve(Router::new().route("/api/v1/auth/accessKey", get(access_key_api))).await;
    let base = format!("{base}/");
    let http = reqwest::Client::new();
    let key = access_key::fetch(&http, &base, &Secret::new("good-token"))
        .await
        .unwrap();
    assert_eq!(key.key_id, "t-key-1");
    assert_eq!(key.key.expose(), "temporary-key");

    let error = access_key::fetch(&http, &base, &Secret::new("expired"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("401") && error.contains("audience"),
        "{error}"
    );
    let error = access_key::fetch(&http, &base, &Secret::new("no-role"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("SignalR App Server"), "{error}");
    let error = access_key::fetch(&http, &base, &Secret::new("half"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("KeyId is missing"), "{error}");
}

#[tokio::test]
async fn slow_identity_endpoint_times_out_with_a_clear_error() {
    let (endpoint, stub) = identity_server(Stub {
        lifetime_secs: 3600,
        delay_ms: 2000,
        ..Stub::default()
    })
    .await;
    let source = TokenSource::ManagedIdentity(ManagedIdentity {
        protocol: ManagedIdentityProtocol::AppService {
            endpoint,
            header: Secret::new(HEADER),
        },
        client_id: None,
    });
    let credential = EntraCredential::with_timeout(source, Duration::from_millis(200)).unwrap();
    let started = std::time::Instant::now();
    let error = credential.token().await.unwrap_err();
    assert!(
        error.to_string().contains("did not answer in time"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(3), "no hang");
    // On a loaded machine the stub may read an attempt's request only after the client gave up
    // on it: wait (boundedly) for the stub to have seen all of them before counting.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while stub.calls.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stub.calls.load(Ordering::SeqCst), 3, "three attempts");
}
