//! The operations of api-version 2024-12-01 the REST client makes, against the vendored
//! 2024-12-01 swagger: listing a group's connections (query, paging by `continuationToken`, the
//! page read back, bad options refused before sending) and `:execute` (filter and commands).

use serde_json::json;
use serverless_signalr::service::rest::{GroupMember, ListOptions, RestError};

use crate::rest_support::{assert_request_in, client, fast_options, Expect};
use crate::support::swagger::V2024;
use crate::support::{FakeService, Reply};

#[tokio::test]
async fn listing_a_group_matches_the_2024_swagger_and_follows_next_links() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    let first = json!({
        "value": [{"connectionId": "c1", "userId": "u1"}, {"connectionId": "c2"}],
        "nextLink": "https://www.host.com/api/hubs/chat/groups/room/connections?top=1000&maxpagesize=2&continuationToken=c%2B2&api-version=2024-12-01"
    });
    service.reply([Reply::status(200)
        .header("content-type", "application/json")
        .body(&first.to_string())]);
    let options = ListOptions {
        max_page_size: Some(2),
        top: Some(1000),
        continuation_token: None,
    };
    let page = client
        .list_connections_in_group("Chat", "room 1", &options)
        .await
        .expect("first page");
    assert_request_in(
        V2024,
        "2024-12-01",
        &service.single(),
        &Expect {
            operation: "HubProxyV20241201_ListConnectionsInGroup",
            method: "GET",
            path: "/api/hubs/chat/groups/room%201/connections",
            query: &[("maxpagesize", "2"), ("top", "1000")],
            body: None,
        },
    );
    assert_eq!(
        page.value,
        vec![
            GroupMember {
                connection_id: "c1".into(),
                user_id: Some("u1".into())
            },
            GroupMember {
                connection_id: "c2".into(),
                user_id: None
            },
        ]
    );
    let token = page.continuation_token().expect("a next page");
    assert_eq!(token, "c+2");

    service.reply([Reply::status(200).body(r#"{"value":[{"connectionId":"c3"}]}"#)]);
    let next = ListOptions {
        continuation_token: Some(token),
        ..options
    };
    let last = client
        .list_connections_in_group("chat", "room 1", &next)
        .await
        .expect("last page");
    assert_request_in(
        V2024,
        "2024-12-01",
        &service.single(),
        &Expect {
            operation: "HubProxyV20241201_ListConnectionsInGroup",
            method: "GET",
            path: "/api/hubs/chat/groups/room%201/connections",
            query: &[
                ("maxpagesize", "2"),
                ("top", "1000"),
                ("continuationToken", "c+2"),
            ],
            body: None,
        },
    );
    assert_eq!(last.value.len(), 1);
    assert_eq!(last.continuation_token(), None);
}

#[tokio::test]
async fn bad_list_options_and_answers_are_errors() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    for options in [
        ListOptions {
            max_page_size: Some(201),
            ..Default::default()
        },
        ListOptions {
            top: Some(0),
            ..Default::default()
        },
    ] {
        let error = client
            .list_connections_in_group("chat", "room", &options)
            .await
            .unwrap_err();
        assert!(matches!(error, RestError::InvalidArgument(_)), "{error:?}");
    }
    assert!(service.requests().is_empty(), "nothing was sent");

    service.reply([Reply::status(200).body("not json")]);
    let error = client
        .list_connections_in_group("chat", "room", &ListOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.status_hint(), Some(502), "{error}");
}

#[tokio::test]
async fn execute_matches_the_2024_swagger_and_checks_before_sending() {
    use serverless_signalr::service::rest::{CommandMessage, ExecuteCommand};
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    let commands = vec![
        ExecuteCommand::SendMessage {
            message: CommandMessage {
                target: "newMessage".into(),
                arguments: vec![json!("hi")],
            },
        },
        ExecuteCommand::JoinGroup {
            group: "g 1".into(),
        },
        ExecuteCommand::CloseConnection { reason: None },
    ];
    service.reply([Reply::status(202)]);
    client
        .execute("Chat", Some("startswith(userId, 'listener-')"), &commands)
        .await
        .expect("execute");
    assert_request_in(
        V2024,
        "2024-12-01",
        &service.single(),
        &Expect {
            operation: "HubProxyV20230701_Execute",
            method: "POST",
            path: "/api/hubs/chat/:execute",
            query: &[("filter", "startswith(userId, 'listener-')")],
            body: Some(json!([
                {"type": "SendMessage", "message": {"target": "newMessage", "arguments": ["hi"]}},
                {"type": "JoinGroup", "group": "g 1"},
                {"type": "CloseConnection"}
            ])),
        },
    );

    let leave_nothing = [ExecuteCommand::LeaveGroup {
        group: String::new(),
    }];
    for (filter, commands) in [
        (Some("userId eq"), &commands[..]),
        (None, &leave_nothing[..]),
    ] {
        let error = client.execute("chat", filter, commands).await.unwrap_err();
        assert_eq!(error.status_hint(), Some(400), "{error}");
    }
    assert!(service.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn generate_client_token_matches_the_2024_swagger() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    service.reply([Reply::status(200).body(r#"{"token": "a.b.c"}"#)]);
    let token = client
        .generate_client_token("Chat", Some("alice"), Some(5))
        .await
        .expect("a token");
    assert_eq!(token, "a.b.c");
    assert_request_in(
        V2024,
        "2024-12-01",
        &service.single(),
        &Expect {
            operation: "HubProxyV20221101_GenerateClientToken",
            method: "POST",
            path: "/api/hubs/chat/:generateToken",
            query: &[("userId", "alice"), ("minutesToExpire", "5")],
            body: None,
        },
    );
    let error = client
        .generate_client_token("chat", None, Some(0))
        .await
        .unwrap_err();
    assert_eq!(error.status_hint(), Some(400));
    service.reply([Reply::status(200).body("{}")]);
    let error = client
        .generate_client_token("chat", None, None)
        .await
        .unwrap_err();
    assert_eq!(error.status_hint(), Some(502));
}
