//! Claim values put into Web PubSub wildcard role templates (issue 27, finding 2): with
//! `webpubsub.joinLeaveGroups.user-{userId}.*`, an Easy Auth principal id `*` got
//! `user-*.*` and could join every user's groups. The app's negotiate and its `connect` answer
//! now refuse (400, naming the claim) a value with `*`, `?` or `\` in a wildcard role; literal
//! roles and ordinary values are unchanged.

use crate::support::{verify, FakeService, TestApp, KEY};
use crate::webpubsub_support::easy_auth_app as app;

use base64::Engine as _;
use serde_json::{json, Value};
use serverless_signalr::app::webpubsub::settings::WebPubSubArgs;
use serverless_signalr::service::{signature, Secret};

const USER_GROUPS: &str = "webpubsub.joinLeaveGroups.user-{userId}.*";
const TENANT_SENDS: &str = "webpubsub.sendToGroups.room-{tid}";
const LITERAL: &str = "webpubsub.joinLeaveGroup.literal-{userId}";

/// Negotiate as the Easy Auth principal `user` with a `tid` claim.
async fn negotiate(app: &TestApp, user: &str, tid: &str) -> (u16, Value) {
    let principal = json!({ "claims": [{ "typ": "tid", "val": tid }] }).to_string();
    let request = app
        .http
        .post(format!("{}/api/webpubsub/negotiate", app.url))
        .header("x-ms-client-principal-id", user)
        .header(
            "x-ms-client-principal",
            base64::engine::general_purpose::STANDARD.encode(principal),
        );
    answer(request).await
}

/// The status and JSON body (null when none) of `request`.
async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn negotiate_refuses_pattern_characters_in_wildcard_roles() {
    let service = FakeService::webpubsub().await;
    let roles = format!("{USER_GROUPS},{TENANT_SENDS}");
    let app = app(
        &service,
        WebPubSubArgs {
            token_roles: Some(roles),
            ..Default::default()
        },
    )
    .await;
    for user in ["*", "**", "bob*", "b?b", r"b\ob"] {
        let (status, body) = negotiate(&app, user, "t1").await;
        assert_eq!(status, 400, "user {user:?}: {body}");
        assert_eq!(body["error"]["code"], "InvalidUserId", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("user id") && message.contains(USER_GROUPS),
            "{message}"
        );
    }
    let (status, body) = negotiate(&app, "bob", "*").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "InvalidClaim", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("claim tid"),
        "{body}"
    );
    // Ordinary values (dots and @ included) fill the templates as before.
    let (status, body) = negotiate(&app, "bob@example.com", "t1").await;
    assert_eq!(status, 200, "{body}");
    let claims = verify(body["accessToken"].as_str().unwrap());
    assert_eq!(
        claims["role"],
        json!([
            "webpubsub.joinLeaveGroups.user-bob@example.com.*",
            "webpubsub.sendToGroups.room-t1"
        ])
    );
    assert!(service.take().is_empty(), "negotiate makes no REST call");
}

#[tokio::test]
async fn literal_roles_take_any_value() {
    let service = FakeService::webpubsub().await;
    let app = app(
        &service,
        WebPubSubArgs {
            token_roles: Some(LITERAL.into()),
            ..Default::default()
        },
    )
    .await;
    let (status, body) = negotiate(&app, "*", "t1").await;
    assert_eq!(status, 200, "{body}");
    let claims = verify(body["accessToken"].as_str().unwrap());
    assert_eq!(
        claims["role"],
        json!(["webpubsub.joinLeaveGroup.literal-*"])
    );
}

/// A signed `connect` event for `connection` of `user` with `claims`.
async fn connect(app: &TestApp, connection: &str, user: &str, claims: Value) -> (u16, Value) {
    let request = app
        .http
        .post(format!("{}/api/webpubsub/events?code=test-key", app.url))
        .header("ce-specversion", "1.0")
        .header("ce-type", "azure.webpubsub.sys.connect")
        .header("ce-source", format!("/hubs/chat/client/{connection}"))
        .header("ce-id", "1")
        .header("ce-awpsversion", "1.0")
        .header("ce-hub", "chat")
        .header("ce-connectionId", connection)
        .header("ce-eventName", "connect")
        .header("ce-userId", user)
        .header(
            "ce-signature",
            signature::sign(&Secret::new(KEY), connection.as_bytes()),
        )
        .header("WebHook-Request-Origin", "127.0.0.1")
        .header("content-type", "application/json")
        .body(json!({ "claims": claims, "subprotocols": [] }).to_string());
    answer(request).await
}

#[tokio::test]
async fn the_connect_answer_refuses_pattern_characters_in_wildcard_roles() {
    let service = FakeService::webpubsub().await;
    let app = app(
        &service,
        WebPubSubArgs {
            connect_roles: Some(format!("{USER_GROUPS},{TENANT_SENDS}")),
            ..Default::default()
        },
    )
    .await;
    let (status, body) = connect(&app, "c1", "*", json!({ "tid": ["t1"] })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "InvalidUserId", "{body}");
    let (status, body) = connect(&app, "c2", "bob", json!({ "tid": ["t?"] })).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("claim tid"),
        "{body}"
    );
    let (status, body) = connect(&app, "c3", "bob", json!({ "tid": ["t1"] })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["roles"],
        json!([
            "webpubsub.joinLeaveGroups.user-bob.*",
            "webpubsub.sendToGroups.room-t1"
        ])
    );
}
