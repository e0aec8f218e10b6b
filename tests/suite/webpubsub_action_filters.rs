//! The filter forms of the Web PubSub actions through the app (`sendToAll` with `filter`,
//! `addConnectionsToGroups`, `removeConnectionsFromGroups`): each call checked against the
//! 2024-01-01 swagger with its exact body, and a bad filter refused with its position before
//! any call.

use serde_json::{json, Value};
use serverless_signalr::app::webpubsub::settings::WebPubSubArgs;

use crate::support::{FakeService, TestApp};
use crate::webpubsub_support::{check, easy_auth_app};

async fn act(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/api/webpubsub/hubs/Chat/actions", app.url))
        .header("x-functions-key", "test-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn filtered_actions_reach_the_service_as_specified() {
    let service = FakeService::webpubsub().await;
    let app = easy_auth_app(&service, WebPubSubArgs::default()).await;
    let filter = "startswith(userId, 'listener-')";
    let (status, body) = act(
        &app,
        json!([
            {"actionName": "sendToAll", "data": "hi", "dataType": "text", "filter": filter},
            {"actionName": "addConnectionsToGroups", "groups": ["a", "b"], "filter": filter},
            {"ActionName": "removeConnectionsFromGroups", "Groups": ["a"], "Filter": "'a' in groups"}
        ]),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let requests = service.take();
    let ids: Vec<String> = requests.iter().map(|r| check(r, service.port)).collect();
    assert_eq!(
        ids,
        [
            "WebPubSub_SendToAll",
            "WebPubSub_AddConnectionsToGroups",
            "WebPubSub_RemoveConnectionsFromGroups"
        ]
    );
    assert!(
        requests[0]
            .query
            .contains(&("filter".to_string(), filter.to_string())),
        "{:?}",
        requests[0].query
    );
    let added: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(added, json!({"groups": ["a", "b"], "filter": filter}));
    let removed: Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(removed, json!({"groups": ["a"], "filter": "'a' in groups"}));
}

#[tokio::test]
async fn bad_filters_and_missing_fields_are_refused_before_any_call() {
    let service = FakeService::webpubsub().await;
    let app = easy_auth_app(&service, WebPubSubArgs::default()).await;
    for (action, code) in [
        (
            json!({"actionName": "sendToAll", "data": "x", "filter": "userId eq"}),
            "InvalidFilter",
        ),
        (
            json!({"actionName": "addConnectionsToGroups", "groups": ["a"], "filter": "userId eq 'a' or"}),
            "InvalidFilter",
        ),
        (
            json!({"actionName": "addConnectionsToGroups", "groups": ["a"]}),
            "InvalidAction",
        ),
        (
            json!({"actionName": "removeConnectionsFromGroups", "groups": [], "filter": "userId eq 'a'"}),
            "InvalidAction",
        ),
        (
            json!({"actionName": "sendToUser", "userId": "u", "data": "x", "filter": "userId eq 'a'"}),
            "InvalidAction",
        ),
    ] {
        let (status, body) = act(&app, action.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{action}: {body}"
        );
        if code == "InvalidFilter" {
            assert!(body["error"]["position"].as_u64().is_some(), "{body}");
        }
    }
    assert!(service.requests().is_empty(), "nothing reached the service");
}
