//! `POST /api/hubs/{hub}/execute` through the app: commands by OData filter reach the selected
//! connections of a real emulator; the exact call against the recording service; bad filters
//! (with their position) and commands refused before any call.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::app_endpoints::endpoint_app::{call, cs, spawn};
use crate::emulator_support::{self as emu, invocation, WsClient};
use crate::support::{keyed, spawn_app, FakeService, Reply};

#[tokio::test]
async fn commands_by_filter_reach_the_selected_connections() {
    let emulator = emu::spawn().await;
    let app = spawn(
        &[("Azure__SignalR__Endpoints__one", cs(&emulator))],
        None,
        "60",
    )
    .await;
    let mut listener = WsClient::connect(&emulator, "chat", Some("listener-1")).await;
    let mut speaker = WsClient::connect(&emulator, "chat", Some("speaker")).await;
    let body = json!({
        "filter": "startswith(userId, 'listener-')",
        "commands": [
            {"type": "JoinGroup", "group": "listeners"},
            {"Type": "SendMessage", "Message": {"Target": "newMessage", "Arguments": ["hi"]}}
        ]
    });
    let (status, answer) = call(&app, Method::POST, "/api/hubs/Chat/execute", Some(body)).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        answer,
        json!({"hub": "chat", "filter": "startswith(userId, 'listener-')", "commands": 2})
    );
    assert_eq!(
        listener.next().await,
        invocation("newMessage", json!(["hi"]))
    );
    speaker.expect_silence(Duration::from_millis(200)).await;
    let (_, page) = call(
        &app,
        Method::GET,
        "/api/hubs/chat/groups/listeners/connections",
        None,
    )
    .await;
    assert_eq!(
        page["value"],
        json!([{"connectionId": listener.connection_id, "userId": "listener-1"}])
    );
}

#[tokio::test]
async fn the_call_is_exact_and_bad_input_never_reaches_the_service() {
    let service = FakeService::signalr().await;
    let app = spawn_app(keyed(), &service.connection_string()).await;
    service.reply([Reply::status(202)]);
    let body = json!({"filter": "'vip' in groups", "commands": [{"type": "CloseConnection", "reason": "bye"}]});
    let (status, _) = call(&app, Method::POST, "/api/hubs/chat/execute", Some(body)).await;
    assert_eq!(status, 202);
    let request = service.single();
    assert_eq!(request.path, "/api/hubs/chat/:execute");
    let query: Vec<(&str, &str)> = request
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        query,
        [("api-version", "2024-12-01"), ("filter", "'vip' in groups")]
    );
    let sent: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(sent, json!([{"type": "CloseConnection", "reason": "bye"}]));

    for (body, code) in [
        (
            json!({"filter": "userId eq 'a' and", "commands": [{"type": "CloseConnection"}]}),
            "InvalidFilter",
        ),
        (
            json!({"commands": [{"type": "Teleport"}]}),
            "InvalidCommand",
        ),
        (
            json!({"commands": [{"type": "JoinGroup", "group": ""}]}),
            "InvalidCommand",
        ),
        (json!({"commands": []}), "InvalidBody"),
        (json!({"filter": "userId eq 'a'"}), "InvalidBody"),
        (json!([{"type": "CloseConnection"}]), "InvalidBody"),
    ] {
        let (status, answer) = call(
            &app,
            Method::POST,
            "/api/hubs/chat/execute",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (status.as_u16(), answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {answer}"
        );
    }
    let (_, answer) = call(
        &app,
        Method::POST,
        "/api/hubs/chat/execute",
        Some(json!({"filter": "userId eq", "commands": [{"type": "CloseConnection"}]})),
    )
    .await;
    assert!(
        answer["error"]["position"].as_u64().is_some_and(|p| p >= 8),
        "{answer}"
    );
    assert!(service.requests().is_empty(), "nothing reached the service");
}
