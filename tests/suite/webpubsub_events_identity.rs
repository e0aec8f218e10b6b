//! `/api/webpubsub/events` with `WEBPUBSUB_EVENTS_IDENTITY_*`: Web PubSub's managed-identity
//! bearer token from a local issuer (OIDC metadata and JWKS served in the test). With a keyless
//! connection string the bearer alone lets events in; hostile tokens are 401s naming what failed;
//! the abuse-protection handshake passes without a token and must verify with one.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::identity_support::service::{accepting, hostile_tokens, service_token, SERVICE_OID};
use crate::identity_support::Issuer;
use crate::support::{keyed, spawn_app_with, AppOptions, FakeService, TestApp};
use serverless_signalr::app::settings::ServeArgs;
use serverless_signalr::app::webpubsub::settings::WebPubSubArgs;

/// The app with a keyless (Entra ID) Web PubSub connection string and the events identity set.
async fn keyless(issuer: &Issuer, service: &FakeService) -> TestApp {
    let endpoint = format!("http://127.0.0.1:{}", service.port);
    let args = ServeArgs {
        service_identity: accepting(issuer, SERVICE_OID),
        webpubsub: WebPubSubArgs {
            connection_string: Some(format!(
                "Endpoint={endpoint};AuthType=azure.msi;Version=1.0;"
            )),
            connect_groups: Some("room-{userId}".into()),
            ..Default::default()
        },
        ..keyed()
    };
    spawn_app_with(args, AppOptions::default()).await
}

/// A `connect` event as the service sends it with its managed identity (no `ce-signature`).
fn connect(app: &TestApp, bearer: Option<&str>) -> reqwest::RequestBuilder {
    let mut request = app
        .http
        .post(format!("{}/api/webpubsub/events?code=test-key", app.url))
        .header("content-type", "application/json")
        .header("ce-specversion", "1.0")
        .header("ce-type", "azure.webpubsub.sys.connect")
        .header("ce-source", "/hubs/chat/client/conn-1")
        .header("ce-id", "1")
        .header("ce-hub", "chat")
        .header("ce-connectionId", "conn-1")
        .header("ce-eventName", "connect")
        .header("ce-userId", "alice")
        .header("WebHook-Request-Origin", "127.0.0.1")
        .body(json!({"claims": {}, "subprotocols": []}).to_string());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request
}

#[tokio::test]
async fn keyless_events_take_web_pubsubs_bearer_token_and_refuse_every_other() {
    let issuer = Issuer::start().await;
    let service = FakeService::start().await;
    let app = keyless(&issuer, &service).await;
    let token = service_token(&issuer);
    let ok = connect(&app, Some(&token)).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let answer: Value = ok.json().await.unwrap();
    assert_eq!(answer["groups"], json!(["room-alice"]));

    let missing = connect(&app, None).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationRequired");

    for (why, hostile, says) in hostile_tokens(&issuer) {
        let refused = connect(&app, Some(&hostile)).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{why}");
        let text = refused.text().await.unwrap();
        assert!(!text.contains(&hostile), "{why}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], "InvalidToken", "{why}: {body}");
        let message = body["error"]["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains(says), "{why}: {message}");
    }

    let handshake = |bearer: Option<String>| {
        let mut request = app
            .http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/webpubsub/events?code=test-key", app.url),
            )
            .header("WebHook-Request-Origin", "127.0.0.1");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(handshake(None).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        handshake(Some(token)).await.unwrap().status(),
        StatusCode::OK
    );
    let (_, expired, _) = hostile_tokens(&issuer).swap_remove(2);
    assert_eq!(
        handshake(Some(expired)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(service.take().is_empty());
}
