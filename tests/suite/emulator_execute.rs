//! `:execute` in the emulator (api-version 2023-07-01 and later): commands applied in order to
//! the connections an OData filter selects (users, ids, groups), nothing to the others; bad
//! filters, bad commands and older api-versions refused with the service's 400.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::emulator_support::{error_of, invocation, spawn, Emu, WsClient};

/// `POST /api/hubs/chat/:execute` with `filter` (when given) and `commands`.
async fn execute(
    emu: &Emu,
    version: &str,
    filter: Option<&str>,
    commands: Value,
) -> reqwest::Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("api-version", version);
    if let Some(filter) = filter {
        query.append_pair("filter", filter);
    }
    let path = format!("/api/hubs/chat/:execute?{}", query.finish());
    emu.rest(Method::POST, &path, Some(commands)).await
}

async fn group_ids(emu: &Emu, group: &str) -> Vec<String> {
    let path = format!("/api/hubs/chat/groups/{group}/connections?api-version=2024-12-01");
    let page: Value = emu
        .rest(Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["connectionId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn commands_reach_the_filtered_connections_in_order() {
    let emu = spawn().await;
    let mut one = WsClient::connect(&emu, "chat", Some("listener-1")).await;
    let mut two = WsClient::connect(&emu, "chat", Some("listener-2")).await;
    let mut other = WsClient::connect(&emu, "chat", Some("speaker")).await;

    let response = execute(
        &emu,
        "2024-12-01",
        Some("startswith(userId, 'listener-')"),
        json!([
            {"type": "SendMessage", "message": {"target": "newMessage", "arguments": ["hi"]}},
            {"type": "JoinGroup", "group": "listeners"},
            {"type": "JoinGroup", "group": "gone-again"},
            {"type": "LeaveGroup", "group": "gone-again"}
        ]),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(one.next().await, invocation("newMessage", json!(["hi"])));
    assert_eq!(two.next().await, invocation("newMessage", json!(["hi"])));
    other.expect_silence(Duration::from_millis(200)).await;
    let mut expected = vec![one.connection_id.clone(), two.connection_id.clone()];
    expected.sort();
    assert_eq!(group_ids(&emu, "listeners").await, expected);
    assert!(group_ids(&emu, "gone-again").await.is_empty());

    // Groups and connection ids select too; 2023-07-01 has the operation.
    let filter = format!(
        "'listeners' in groups and connectionId ne '{}'",
        one.connection_id
    );
    let response = execute(
        &emu,
        "2023-07-01",
        Some(&filter),
        json!([{"type": "CloseConnection", "reason": "bye"}]),
    )
    .await;
    assert_eq!(response.status(), 202);
    let close = two.next().await.expect("a close message");
    assert_eq!(
        (close["type"].clone(), close["error"].clone()),
        (json!(7), json!("bye"))
    );
    one.expect_silence(Duration::from_millis(200)).await;

    // No filter: every connection of the hub.
    let response = execute(
        &emu,
        "2024-12-01",
        None,
        json!([{"type": "SendMessage", "message": {"target": "all", "arguments": []}}]),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(one.next().await, invocation("all", json!([])));
    assert_eq!(other.next().await, invocation("all", json!([])));
}

#[tokio::test]
async fn bad_filters_commands_and_versions_are_400() {
    let emu = spawn().await;
    let mut client = WsClient::connect(&emu, "chat", Some("u1")).await;
    let close = json!([{"type": "CloseConnection"}]);
    for (version, filter, commands, says) in [
        ("2024-12-01", Some("userId eq"), close.clone(), "position"),
        (
            "2024-12-01",
            Some("nosuch eq 'x'"),
            close.clone(),
            "position",
        ),
        (
            "2024-12-01",
            None,
            json!([{"type": "Explode"}]),
            "commands[0]",
        ),
        (
            "2024-12-01",
            None,
            json!([{"type": "JoinGroup"}]),
            "commands[0]",
        ),
        (
            "2024-12-01",
            None,
            json!([close[0], {"type": "JoinGroup", "group": "  "}]),
            "commands[1]",
        ),
        (
            "2024-12-01",
            None,
            json!([{"type": "SendMessage", "message": {"arguments": []}}]),
            "commands[0]",
        ),
        (
            "2024-12-01",
            None,
            json!([{"type": "CloseConnection", "extra": 1}]),
            "commands[0]",
        ),
        (
            "2024-12-01",
            None,
            json!({"type": "CloseConnection"}),
            "array",
        ),
        ("2022-06-01", None, close.clone(), "2023-07-01"),
    ] {
        let (status, code, body) =
            error_of(execute(&emu, version, filter, commands.clone()).await).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "Error.Request.Invalid"),
            "{commands}: {body}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    // Nothing was applied: the client is still connected and got nothing.
    client.expect_silence(Duration::from_millis(200)).await;
}
