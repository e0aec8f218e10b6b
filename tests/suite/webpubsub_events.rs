//! The Web PubSub CloudEvents handler (`/api/webpubsub/events`) as Azure calls it: the
//! abuse-protection handshake, `ce-signature` checked before anything else (hostile signatures,
//! key rotation), `WebHook-Request-Origin`, the `connect` policy, announcements of connects and
//! disconnects, broadcasting user events with their dataType, forwarding to a signed webhook,
//! and `ce-connectionState` coming back unchanged. REST calls go to a recording stand-in and are
//! checked against the 2024-01-01 swagger.

use crate::webpubsub_support;

use std::sync::{Arc, Mutex};

use crate::support::{keyed, spawn_app_with, AppOptions, TestApp};
use crate::support::{FakeService, KEY};
use axum::http::HeaderMap;
use serde_json::{json, Value};
use serverless_signalr::app::settings::ServeArgs;
use serverless_signalr::app::webpubsub::settings::WebPubSubArgs;
use serverless_signalr::service::{signature, Secret};
use webpubsub_support::check;

/// A request the webhook received: headers and body.
type Forwarded = (HeaderMap, Vec<u8>);

const SECONDARY: &str = "the-services-secondary-key";

async fn app(service: &FakeService, webpubsub: WebPubSubArgs) -> TestApp {
    let webpubsub = WebPubSubArgs {
        connection_string: Some(service.connection_string()),
        secondary_keys: Some(SECONDARY.into()),
        ..webpubsub
    };
    let args = ServeArgs {
        webpubsub,
        ..keyed()
    };
    spawn_app_with(args, AppOptions::default()).await
}

fn sign(key: &str, connection_id: &str) -> String {
    signature::sign(&Secret::new(key), connection_id.as_bytes())
}

/// An event request with the headers Web PubSub sends, signed with the primary key.
fn event(
    app: &TestApp,
    ce_type: &str,
    connection: &str,
    user: Option<&str>,
) -> reqwest::RequestBuilder {
    event_from(app, ce_type, connection, user, "chat", "127.0.0.1")
}

/// [`event`] for another hub and origin.
fn event_from(
    app: &TestApp,
    ce_type: &str,
    connection: &str,
    user: Option<&str>,
    hub: &str,
    origin: &str,
) -> reqwest::RequestBuilder {
    let name = ce_type.rsplit('.').next().unwrap();
    let mut request = app
        .http
        .post(format!("{}/api/webpubsub/events?code=test-key", app.url))
        .header("ce-specversion", "1.0")
        .header("ce-type", ce_type)
        .header("ce-source", format!("/hubs/{hub}/client/{connection}"))
        .header("ce-id", "1")
        .header("ce-awpsversion", "1.0")
        .header("ce-hub", hub)
        .header("ce-connectionId", connection)
        .header("ce-eventName", name)
        .header("ce-signature", sign(KEY, connection))
        .header("WebHook-Request-Origin", origin);
    if let Some(user) = user {
        request = request.header("ce-userId", user);
    }
    request
}

#[tokio::test]
async fn abuse_protection_answers_only_the_configured_service() {
    let service = FakeService::webpubsub().await;
    let app = app(&service, WebPubSubArgs::default()).await;
    let options = |origin: Option<&str>| {
        let mut request = app.http.request(
            reqwest::Method::OPTIONS,
            format!("{}/api/webpubsub/events?code=test-key", app.url),
        );
        if let Some(origin) = origin {
            request = request.header("WebHook-Request-Origin", origin);
        }
        request.send()
    };
    let ok = options(Some("127.0.0.1")).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["webhook-allowed-origin"], "127.0.0.1");
    let with_port = options(Some(&format!("127.0.0.1:{}", service.port)))
        .await
        .unwrap();
    assert_eq!(with_port.status(), 200);
    for (origin, code) in [
        (None, "OriginMissing"),
        (Some("evil.webpubsub.azure.com"), "OriginNotAllowed"),
    ] {
        let response = options(origin).await.unwrap();
        assert_eq!(response.status(), 400, "{origin:?}");
        assert!(response.headers().get("webhook-allowed-origin").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
    }
}

#[tokio::test]
async fn signatures_are_checked_first() {
    let service = FakeService::webpubsub().await;
    let app = app(
        &service,
        WebPubSubArgs {
            broadcast_events: Some("message".into()),
            ..Default::default()
        },
    )
    .await;
    let good = sign(KEY, "conn-1");
    let hostile = [
        String::new(),
        sign(KEY, "conn-2"),
        sign("another-key", "conn-1"),
        good.replacen("sha256", "sha1", 1),
        format!("{good}00"),
        good[7..].to_string(),
    ];
    for bad in hostile {
        // reqwest merges a second ce-signature header: build the request without the good one.
        let request = app
            .http
            .post(format!("{}/api/webpubsub/events?code=test-key", app.url))
            .header("ce-type", "azure.webpubsub.user.message")
            .header("ce-hub", "chat")
            .header("ce-connectionId", "conn-1")
            .header("ce-eventName", "message")
            .header("ce-signature", bad.clone())
            .header("content-type", "text/plain")
            .body("hi");
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{bad:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "InvalidSignature");
    }
    // Rotation: the secondary key, an upper-case digest, a list with one good entry.
    for accepted in [
        sign(SECONDARY, "conn-1"),
        format!("sha256={}", good[7..].to_uppercase()),
        format!("sha256=00,{}", sign(SECONDARY, "conn-1")),
    ] {
        let response = app
            .http
            .post(format!("{}/api/webpubsub/events?code=test-key", app.url))
            .header("ce-type", "azure.webpubsub.user.message")
            .header("ce-hub", "chat")
            .header("ce-connectionId", "conn-1")
            .header("ce-eventName", "message")
            .header("ce-signature", accepted.clone())
            .header("WebHook-Request-Origin", "127.0.0.1")
            .header("content-type", "text/plain")
            .body("hi")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{accepted}");
    }
    assert_eq!(
        service.take().len(),
        3,
        "only the genuine events were broadcast"
    );

    // A genuine signature from a foreign or missing origin is still refused.
    let foreign = event_from(
        &app,
        "azure.webpubsub.user.message",
        "conn-1",
        None,
        "chat",
        "evil.example",
    )
    .header("content-type", "text/plain")
    .body("hi");
    let response = foreign.send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(service.take().is_empty());
}

#[tokio::test]
async fn connect_follows_the_policy() {
    let service = FakeService::webpubsub().await;
    let app = app(
        &service,
        WebPubSubArgs {
            connect_groups: Some("room-{tid},user-{userId},conn-{connectionId}".into()),
            connect_roles: Some("webpubsub.sendToGroup.room-{tid}".into()),
            connect_subprotocols: Some("json.webpubsub.azure.v1".into()),
            connect_require_user: Some("true".into()),
            ..Default::default()
        },
    )
    .await;
    let body = json!({
        "claims": { "sub": ["alice"], "tid": ["t1"] },
        "query": {}, "headers": {},
        "subprotocols": ["json.reliable.webpubsub.azure.v1", "json.webpubsub.azure.v1"],
        "clientCertificates": []
    });
    let response = event(&app, "azure.webpubsub.sys.connect", "c1", Some("alice"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer,
        json!({
            "userId": "alice",
            "groups": ["room-t1", "user-alice", "conn-c1"],
            "roles": ["webpubsub.sendToGroup.room-t1"],
            "subprotocol": "json.webpubsub.azure.v1"
        })
    );
    let anonymous = json!({ "claims": {}, "subprotocols": [] });
    let response = event(&app, "azure.webpubsub.sys.connect", "c2", None)
        .header("content-type", "application/json")
        .body(anonymous.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "refused: no user id");
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("user id is required"));
    let broken = event(&app, "azure.webpubsub.sys.connect", "c3", Some("a"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert!(service.take().is_empty(), "connect makes no REST call");

    // Without a policy there is nothing to add: 204.
    let plain = app_without_policy(&service).await;
    let response = event(&plain, "azure.webpubsub.sys.connect", "c4", Some("bob"))
        .body(json!({ "claims": {} }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

async fn app_without_policy(service: &FakeService) -> TestApp {
    app(service, WebPubSubArgs::default()).await
}

#[tokio::test]
async fn connections_are_announced_and_user_events_broadcast_with_their_data_type() {
    let service = FakeService::webpubsub().await;
    let app = app(
        &service,
        WebPubSubArgs {
            announce_connections: Some("true".into()),
            broadcast_events: Some("message,Chat".into()),
            ..Default::default()
        },
    )
    .await;
    let response = event(&app, "azure.webpubsub.sys.connected", "c1", Some("alice"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let request = service.single();
    assert_eq!(check(&request, service.port), "WebPubSub_SendToAll");
    assert_eq!(request.path, "/api/hubs/chat/:send");
    assert_eq!(
        (request.content_type(), request.body.as_slice()),
        (Some("text/plain"), &b"alice connected"[..])
    );
    event(&app, "azure.webpubsub.sys.disconnected", "c2", None)
        .body(r#"{"reason":"gone"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(service.single().body, b"c2 disconnected");

    for (media, data) in [
        ("text/plain", b"hello".to_vec()),
        ("application/json", br#"{"n":1}"#.to_vec()),
        ("application/octet-stream", vec![0, 159, 255]),
    ] {
        let response = event(&app, "azure.webpubsub.user.message", "c1", Some("alice"))
            .header("content-type", media)
            .header("ce-connectionState", "eyJjb3VudCI6MX0=")
            .body(data.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{media}");
        assert_eq!(
            response.headers()["ce-connectionstate"],
            "eyJjb3VudCI6MX0=",
            "the state comes back unchanged"
        );
        let request = service.single();
        assert_eq!(check(&request, service.port), "WebPubSub_SendToAll");
        assert_eq!(
            (request.content_type(), request.body.clone()),
            (Some(media), data)
        );
    }
    // Event names match ignoring case; other events are not broadcast.
    event(&app, "azure.webpubsub.user.chat", "c1", None)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(service.take().len(), 1);
    event(&app, "azure.webpubsub.user.other", "c1", None)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(service.take().is_empty());

    let bad = [
        (
            event(&app, "azure.webpubsub.user.message", "c1", None)
                .header("content-type", "text/html")
                .body("x"),
            415,
        ),
        (
            event(&app, "azure.webpubsub.user.message", "c1", None)
                .header("content-type", "application/json")
                .body("{oops"),
            400,
        ),
        (
            event(&app, "azure.webpubsub.user.message", "c1", None)
                .header("content-type", "text/plain")
                .body(vec![b'x'; 1024 * 1024 + 1]),
            413,
        ),
        (event(&app, "azure.webpubsub.gp.joined", "c1", None), 400),
        (
            event_from(
                &app,
                "azure.webpubsub.user.message",
                "c1",
                None,
                "1bad",
                "127.0.0.1",
            )
            .header("content-type", "text/plain"),
            400,
        ),
    ];
    for (request, status) in bad {
        assert_eq!(request.send().await.unwrap().status(), status);
    }
    let missing = app
        .http
        .post(format!("{}/api/webpubsub/events?code=test-key", app.url))
        .header("ce-connectionId", "c1")
        .header("ce-signature", sign(KEY, "c1"))
        .header("WebHook-Request-Origin", "127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("ce-type is missing"));
    assert!(service.take().is_empty());
}

#[tokio::test]
async fn other_events_are_forwarded_to_a_signed_webhook() {
    let received: Arc<Mutex<Vec<Forwarded>>> = Arc::default();
    let sink = received.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let webhook = format!("http://{}/hook?key=k", listener.local_addr().unwrap());
    let router =
        axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, body.to_vec()));
                axum::Json(json!({ "counted": true }))
            }
        });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let service = FakeService::webpubsub().await;
    let app = app(
        &service,
        WebPubSubArgs {
            forward_url: Some(webhook),
            forward_secret: Some("hook-secret".into()),
            ..Default::default()
        },
    )
    .await;
    let response = event(&app, "azure.webpubsub.user.vote", "c1", Some("alice"))
        .header("content-type", "application/octet-stream")
        .header("ce-connectionState", "state-1")
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    // The webhook's answer is the event's answer, which the service hands back to the client.
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["ce-connectionstate"], "state-1");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "counted": true })
    );
    event(
        &app,
        "azure.webpubsub.sys.disconnected",
        "c1",
        Some("alice"),
    )
    .body(r#"{"reason":"bye"}"#)
    .send()
    .await
    .unwrap();
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    for (headers, body) in &received {
        let expected = signature::sign(&Secret::new("hook-secret"), body);
        assert_eq!(headers["x-signature-256"].to_str().unwrap(), expected);
    }
    let vote: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert_eq!(
        vote,
        json!({
            "hub": "chat", "type": "user", "event": "vote", "connectionId": "c1", "userId": "alice",
            "connectionState": "state-1", "dataType": "binary", "data": "AQID"
        })
    );
    let gone: Value = serde_json::from_slice(&received[1].1).unwrap();
    assert_eq!(gone["type"], "disconnected");
    assert_eq!(gone["body"], json!({ "reason": "bye" }));
    assert!(service.take().is_empty(), "forwarding makes no REST call");
}
