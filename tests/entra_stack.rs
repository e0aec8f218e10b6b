//! An app configured with `AuthType=azure.msi` against the emulator in Entra ID mode with local
//! auth disabled: the managed-identity token from the emulator's App Service identity endpoint
//! authorises REST calls and the temporary access key, client tokens are signed with that key
//! (with its `kid`), and a client connects and receives what the app sends. A broken identity
//! endpoint gives a clear 503 and recovers once it answers.
//!
//! One test: the identity is read from `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, process-wide.

#[path = "suite/emulator_support/mod.rs"]
mod emulator_support;
#[path = "suite/support/mod.rs"]
mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::emulator::entra::EntraMode;
use serverless_signalr::emulator::{self, EmulatorConfig};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::Secret;

use emulator_support::{client_token, Emu, WsClient};

#[tokio::test]
async fn managed_identity_app_negotiates_and_sends_through_the_entra_emulator() {
    // Reserve a port for the emulator, which is not running yet: the identity endpoint is broken.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mode = EntraMode::generate(true);
    std::env::set_var(
        "IDENTITY_ENDPOINT",
        format!("http://127.0.0.1:{port}/msi/token"),
    );
    std::env::set_var("IDENTITY_HEADER", mode.identity_header.expose());
    let connection =
        format!("Endpoint=http://127.0.0.1;Port={port};AuthType=azure.msi;Version=1.0;");
    let args = serverless_signalr::app::settings::ServeArgs {
        // Health answers show each change at once (no reuse window).
        health_cache_seconds: Some("0".into()),
        ..support::keyed()
    };
    let app = support::spawn_app(args, &connection).await;
    let negotiate = || async {
        let r = app
            .http
            .post(format!("{}/api/negotiate", app.url))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };

    let (status, body) = negotiate().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "IdentityUnavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("/msi/token") && message.contains("cannot be reached"),
        "{message}"
    );
    assert!(
        !message.contains(mode.identity_header.expose()),
        "{message}"
    );

    let health = || async {
        let r = app
            .http
            .get(format!("{}/api/health", app.url))
            .header("x-functions-key", "test-key")
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    let (status, body) = health().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["service"], "unknown", "{body}");
    assert!(
        body["identity"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{body}"
    );

    // The identity endpoint comes up: the next negotiate works.
    let mut config = EmulatorConfig::new(Secret::new(DEV_ACCESS_KEY));
    let key_id = mode.key_id.clone();
    config.entra = Some(mode);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let emu = Emu {
        handle: emulator::start(config, listener).await.unwrap(),
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    };
    let body = health().await.1;
    assert_eq!(
        (&body["service"], &body["identity"]),
        (&json!("healthy"), &json!("ok")),
        "{body}"
    );
    let (status, body) = negotiate().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["accessToken"].as_str().unwrap().to_string();
    assert_eq!(
        body["url"],
        format!("http://127.0.0.1:{port}/client/?hub=default")
    );
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(
        header.kid.as_deref(),
        Some(key_id.as_str()),
        "signed with the temporary key"
    );

    let mut client = WsClient::connect_with_token(&emu, "default", &token).await;
    let r = app
        .http
        .post(format!("{}/api/messages", app.url))
        .header("x-functions-key", "test-key")
        .json(&json!({"target": "news", "arguments": ["hello"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "{}",
        r.text().await.unwrap()
    );
    let message = client.next().await.unwrap();
    assert_eq!(message["target"], "news");
    assert_eq!(message["arguments"], json!(["hello"]));

    // Local auth is disabled: a client token signed with the access key is refused ...
    let r = emu
        .http
        .post(format!("{}/client/negotiate?hub=default", emu.base))
        .bearer_auth(client_token("default", None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("local authentication is disabled"));
    // ... and so is a REST token signed with it.
    let r = emu
        .rest(
            reqwest::Method::POST,
            "/api/hubs/default/:send",
            Some(json!({"target": "t", "arguments": []})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
