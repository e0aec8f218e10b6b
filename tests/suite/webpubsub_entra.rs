//! Web PubSub with Microsoft Entra ID against the emulators in Entra mode with local auth
//! disabled: the app (`AuthType=azure.msi`, its managed identity the SignalR emulator's identity
//! endpoint) calls REST with the Entra bearer, negotiates client tokens through `:generateToken`,
//! and a client connects with one and receives a send. Wrong-audience and expired Entra tokens are
//! refused with a clear error; a broken identity endpoint, and a missing role, give a clear error
//! and recover once fixed, with no restart.

use crate::webpubsub_emulator_support::{self as wps_support, open_url, sign, Client, Wps, JSON};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::app::settings::{ServeArgs, Settings};
use serverless_signalr::app::webpubsub::settings::WebPubSubArgs;
use serverless_signalr::app::{router, AppState};
use serverless_signalr::emulator::entra::{EntraMode, IDENTITY_PATH};
use serverless_signalr::emulator::{self, EmulatorConfig, EmulatorHandle};
use serverless_signalr::http_server::{self, ServerLimits};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::entra::managed_identity::{ManagedIdentity, Protocol};
use serverless_signalr::service::entra::{TokenSource, SIGNALR_RESOURCE, WEBPUBSUB_RESOURCE};
use serverless_signalr::service::Secret;

/// The SignalR emulator in `mode` on `listener`: it serves the managed-identity endpoint.
async fn identity_endpoint(mode: &EntraMode, listener: tokio::net::TcpListener) -> EmulatorHandle {
    let mut config = EmulatorConfig::new(Secret::new(DEV_ACCESS_KEY));
    config.entra = Some(mode.clone());
    emulator::start(config, listener).await.unwrap()
}

/// The app with `WebPubSubConnectionString=Endpoint=<wps>;AuthType=azure.msi`, its managed
/// identity the App Service endpoint `identity` (with `mode`'s header).
async fn app(wps: &str, identity: &str, mode: &EntraMode) -> String {
    let settings = Settings::from_args(ServeArgs {
        function_keys: Some("k".into()),
        // Health answers show each change at once (no reuse window).
        health_cache_seconds: Some("0".into()),
        webpubsub: WebPubSubArgs {
            connection_string: Some(format!("Endpoint={wps};AuthType=azure.msi;Version=1.0;")),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let source = TokenSource::ManagedIdentity(ManagedIdentity {
        protocol: Protocol::AppService {
            endpoint: identity.to_string(),
            header: mode.identity_header.clone(),
        },
        client_id: None,
    });
    let app = router(AppState::with_identities(
        settings,
        None,
        None,
        Some(source),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(http_server::serve(
        listener,
        app,
        ServerLimits::default(),
        std::future::pending(),
    ));
    url
}

async fn call(app: &str, route: &str) -> (StatusCode, Value) {
    let http = reqwest::Client::new();
    let request = match route {
        "negotiate" => http.post(format!("{app}/api/webpubsub/hubs/chat/negotiate")),
        "send" => http
            .post(format!("{app}/api/webpubsub/hubs/chat/actions"))
            .json(&json!({"actionName": "sendToAll", "data": "hello", "dataType": "text"})),
        _ => http.get(format!("{app}/api/health")),
    };
    let r = request.header("x-functions-key", "k").send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

/// A token from the emulator's identity endpoint for `resource`.
async fn identity_token(emulator: &str, mode: &EntraMode, resource: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!(
            "{emulator}{IDENTITY_PATH}?api-version=2019-08-01&resource={resource}"
        ))
        .header("x-identity-header", mode.identity_header.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn managed_identity_app_negotiates_and_sends_through_the_entra_emulator() {
    let mode = EntraMode::generate(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let identity_base = format!("http://{}", listener.local_addr().unwrap());
    let _identity = identity_endpoint(&mode, listener).await;
    let wps = wps_support::spawn_with(|c| c.entra = Some(mode.clone())).await;
    let app = app(&wps.base, &format!("{identity_base}{IDENTITY_PATH}"), &mode).await;

    let (status, body) = call(&app, "negotiate").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["accessToken"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(token).unwrap().kid,
        Some(mode.key_id.clone()),
        "generated by the service, signed with its temporary key"
    );
    let base_url = format!("{}/client/hubs/chat", wps.base.replace("http", "ws"));
    assert_eq!(body["baseUrl"], base_url.as_str());
    let (mut ws, chosen) = open_url(body["url"].as_str().unwrap(), Some(JSON))
        .await
        .expect("the emulator accepts the generated token");
    assert_eq!(chosen.as_deref(), Some(JSON));
    let connected = next_json(&mut ws).await;
    assert_eq!(connected["event"], "connected", "{connected}");

    let (status, body) = call(&app, "send").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let message = next_json(&mut ws).await;
    assert_eq!(message["data"], "hello", "{message}");
    assert_eq!(message["from"], "server", "{message}");

    let (status, body) = call(&app, "health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"webpubsub": {"service": "healthy", "identity": "ok"}})
    );

    // Local auth is disabled: tokens signed with the access key are refused on REST ...
    let answer = wps
        .rest(
            "POST",
            "/api/hubs/chat/:send",
            Some(("text/plain", b"x".to_vec())),
        )
        .await;
    assert_eq!(answer.status, 401);
    assert!(
        answer.body.contains("local authentication is disabled"),
        "{}",
        answer.body
    );
    // ... and at the client endpoint.
    let key_signed = wps_support::client_token(&wps, "chat", None, &[], &[]);
    let url = format!("{base_url}?access_token={key_signed}");
    assert_eq!(open_url(&url, Some(JSON)).await.err(), Some(401));
}

async fn next_json(ws: &mut wps_support::Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test]
async fn wrong_audience_and_expired_entra_tokens_are_refused_clearly() {
    let mode = EntraMode::generate(false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let identity_base = format!("http://{}", listener.local_addr().unwrap());
    let _identity = identity_endpoint(&mode, listener).await;
    let wps = wps_support::spawn_with(|c| c.entra = Some(mode.clone())).await;
    let url = format!("{}/api/hubs/chat/:send?api-version=2024-01-01", wps.base);
    let body = Some(("text/plain", b"x".to_vec()));

    let good = identity_token(&identity_base, &mode, WEBPUBSUB_RESOURCE).await;
    assert_eq!(
        wps.rest_with("POST", &url, &good, body.clone())
            .await
            .status,
        202
    );
    // A SignalR token from the same identity is for another resource.
    let signalr = identity_token(&identity_base, &mode, SIGNALR_RESOURCE).await;
    let answer = wps.rest_with("POST", &url, &signalr, body.clone()).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.error_code.as_deref(), Some("Unauthorized"));
    assert!(
        answer.body.contains("another resource")
            && answer.body.contains(SIGNALR_RESOURCE)
            && answer.body.contains("needs https://webpubsub.azure.com"),
        "{}",
        answer.body
    );
    let expired = sign(
        mode.token_key.expose(),
        &json!({"aud": WEBPUBSUB_RESOURCE, "exp": wps_support::now() - 600}),
    );
    let answer = wps.rest_with("POST", &url, &expired, body.clone()).await;
    assert_eq!(answer.status, 401);
    assert!(
        answer.body.contains("Entra ID token has expired"),
        "{}",
        answer.body
    );
    // Local auth is on here: the access key still works, and :generateToken signs with the
    // temporary key, whose tokens clients connect with.
    assert_eq!(
        wps.rest("POST", "/api/hubs/chat/:send", body).await.status,
        202
    );
    let generated = wps
        .rest_with(
            "POST",
            &format!(
                "{}/api/hubs/chat/:generateToken?api-version=2024-01-01&userId=ann",
                wps.base
            ),
            &good,
            None,
        )
        .await;
    assert_eq!(generated.status, 200, "{}", generated.body);
    let token = generated.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().kid,
        Some(mode.key_id.clone())
    );
    let client_url = format!(
        "{}/client/hubs/chat?access_token={token}",
        wps.base.replace("http", "ws")
    );
    let (mut ws, _) = open_url(&client_url, Some(JSON)).await.unwrap();
    assert_eq!(next_json(&mut ws).await["userId"], "ann");
    let _ = Client::open(&wps, "chat", JSON, Some("key-user"), &[], &[]).await;
}

#[tokio::test]
async fn a_broken_identity_endpoint_is_explained_and_recovers() {
    let mode = EntraMode::generate(true);
    // Reserve a port for the identity endpoint, which is not running yet.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let wps: Wps = wps_support::spawn_with(|c| c.entra = Some(mode.clone())).await;
    let app = app(
        &wps.base,
        &format!("http://127.0.0.1:{port}{IDENTITY_PATH}"),
        &mode,
    )
    .await;

    for route in ["negotiate", "send"] {
        let (status, body) = call(&app, route).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{route}: {body}");
        assert_eq!(body["error"]["code"], "IdentityUnavailable", "{body}");
        assert!(
            message(&body).contains(IDENTITY_PATH) && message(&body).contains("cannot be reached"),
            "{body}"
        );
        assert!(
            !body.to_string().contains(mode.identity_header.expose()),
            "{body}"
        );
    }
    let (status, body) = call(&app, "health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["webpubsub"]["service"], "unknown", "{body}");
    assert!(
        body["webpubsub"]["identity"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{body}"
    );

    // The identity endpoint comes up: the next calls work, no restart.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let _identity = identity_endpoint(&mode, listener).await;
    let (status, body) = call(&app, "negotiate").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&app, "send").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        call(&app, "health").await.1,
        json!({"webpubsub": {"service": "healthy", "identity": "ok"}})
    );
}

/// An authority stand-in that answers a token only for the Web PubSub scope.
async fn authority(
    axum::extract::Form(form): axum::extract::Form<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if form.get("scope").map(String::as_str) != Some("https://webpubsub.azure.com/.default") {
        return (axum::http::StatusCode::BAD_REQUEST, "wrong scope").into_response();
    }
    axum::Json(json!({"access_token": "made-up-entra-token", "expires_in": 3600})).into_response()
}

#[tokio::test]
async fn app_registrations_ask_the_authority_for_the_web_pubsub_scope() {
    use serverless_signalr::service::entra::client_secret::ClientSecret;
    use serverless_signalr::service::entra::{EntraCredential, Resource};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = axum::Router::new().route(
        "/made-up-tenant/oauth2/v2.0/token",
        axum::routing::post(authority),
    );
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
    let source = TokenSource::ClientSecret(ClientSecret {
        authority: base,
        tenant_id: "made-up-tenant".into(),
        client_id: "made-up-client".into(),
        secret: Secret::new("made-up-secret"),
    });
    let credential = EntraCredential::new(source).unwrap();
    // SignalR's scope is refused by this authority; Web PubSub's is what it answers.
    assert!(credential.token().await.is_err());
    let token = credential
        .for_resource(Resource::WEBPUBSUB)
        .token()
        .await
        .unwrap();
    assert_eq!(token.token.expose(), "made-up-entra-token");
}

/// A stand-in Web PubSub that answers 403 (no role assigned) until `assigned`, with the
/// identity endpoint beside it.
fn no_role_service(assigned: std::sync::Arc<std::sync::atomic::AtomicBool>) -> axum::Router {
    use axum::http::StatusCode as S;
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    let token = |a: std::sync::Arc<std::sync::atomic::AtomicBool>| async move {
        if !a.load(Ordering::SeqCst) {
            return S::FORBIDDEN.into_response();
        }
        axum::Json(json!({"token": "made-up-client-token"})).into_response()
    };
    let send = |a: std::sync::Arc<std::sync::atomic::AtomicBool>| async move {
        if a.load(Ordering::SeqCst) {
            S::ACCEPTED
        } else {
            S::FORBIDDEN
        }
    };
    let identity = || async {
        axum::Json(json!({
            "access_token": "made-up-entra-token",
            "expires_on": (wps_support::now() + 3600).to_string()
        }))
    };
    let (a1, a2) = (assigned.clone(), assigned);
    axum::Router::new()
        .without_v07_checks()
        .route("/msi/token", axum::routing::get(identity))
        .route(
            "/api/hubs/chat/:generateToken",
            axum::routing::post(move || token(a1.clone())),
        )
        .route(
            "/api/hubs/chat/:send",
            axum::routing::post(move || send(a2.clone())),
        )
}

#[tokio::test]
async fn a_missing_role_is_named_and_recovers_once_assigned() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let assigned = std::sync::Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = no_role_service(assigned.clone());
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
    let app = app(
        &base,
        &format!("{base}/msi/token"),
        &EntraMode::generate(true),
    )
    .await;

    let (status, body) = call(&app, "negotiate").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "IdentityUnavailable", "{body}");
    assert!(
        message(&body).contains("403") && message(&body).contains("Web PubSub Service Owner"),
        "{body}"
    );
    let (status, body) = call(&app, "send").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        message(&body).contains("Web PubSub Service Owner"),
        "{body}"
    );

    assigned.store(true, Ordering::SeqCst);
    let (status, body) = call(&app, "negotiate").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accessToken"], "made-up-client-token");
    let (status, body) = call(&app, "send").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}
