//! Contract tests of the Web PubSub REST client (`service::webpubsub::rest`) against a recording
//! stand-in on 127.0.0.1: every operation of api-version 2024-01-01 is called once, and each
//! request is checked against the vendored swagger (operation, query, media type) and the token
//! rules (HS256 with the key, `aud` = the whole URL); bodies and encodings exactly. Then what is
//! refused before anything is sent.

use crate::webpubsub_support;

use crate::support::swagger::{self, WEBPUBSUB, WEBPUBSUB_SHA256};
use crate::support::{FakeService, Reply, KEY};
use serde_json::json;
use serverless_signalr::service::rest::{RestError, RestOptions};
use serverless_signalr::service::webpubsub::rest::{GenerateTokenOptions, SendOptions};
use serverless_signalr::service::webpubsub::{
    Content, Permission, WebPubSubClient, WebPubSubConnectionString,
};
use webpubsub_support::check;

fn client(service: &FakeService) -> WebPubSubClient {
    let cs = WebPubSubConnectionString::parse(&service.connection_string()).unwrap();
    WebPubSubClient::new(&cs, RestOptions::default()).unwrap()
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn vendored_swagger_is_the_published_specification() {
    use sha2::{Digest, Sha256};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/swagger")
        .join(WEBPUBSUB);
    let digest: String = Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, WEBPUBSUB_SHA256);
    assert_eq!(
        swagger::operations_of(WEBPUBSUB).len(),
        24,
        "24 operations in 2024-01-01"
    );
}

#[tokio::test]
async fn every_operation_matches_the_swagger() {
    let service = FakeService::webpubsub().await;
    let c = client(&service);
    let port = service.port;
    let hub = "Chat";
    let json_body = Content::Json(r#"{"a":1}"#.into());
    let mut seen = Vec::new();
    let mut expect = |id: &str,
                      method: &str,
                      path: &str,
                      query: &[(&str, &str)],
                      body: Option<(&str, &[u8])>| {
        let request = service.single();
        seen.push(check(&request, port));
        assert_eq!(seen.last().unwrap(), id);
        assert_eq!(request.method, method);
        assert_eq!(request.path, path);
        let mut wanted = vec![("api-version".to_string(), "2024-01-01".to_string())];
        wanted.extend(query.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(request.query, wanted, "{id}");
        if let Some((media, bytes)) = body {
            assert_eq!(request.content_type(), Some(media), "{id}");
            assert_eq!(request.body, bytes, "{id}");
        }
    };

    let all = SendOptions {
        excluded: ids(&["c1", "c 2"]),
        filter: Some("userId ne 'x'".into()),
        message_ttl_seconds: Some(30),
    };
    c.send_to_all(hub, &json_body, &all).await.unwrap();
    expect(
        "WebPubSub_SendToAll",
        "POST",
        "/api/hubs/Chat/:send",
        &[
            ("excluded", "c1"),
            ("excluded", "c 2"),
            ("filter", "userId ne 'x'"),
            ("messageTtlSeconds", "30"),
        ],
        Some(("application/json", br#"{"a":1}"#)),
    );
    let user = SendOptions {
        filter: Some("'g' in groups".into()),
        ..Default::default()
    };
    c.send_to_user(hub, "alice/b", &Content::Text("hi".into()), &user)
        .await
        .unwrap();
    expect(
        "WebPubSub_SendToUser",
        "POST",
        "/api/hubs/Chat/users/alice%2Fb/:send",
        &[("filter", "'g' in groups")],
        Some(("text/plain", b"hi")),
    );
    c.send_to_group(
        hub,
        "room 1",
        &Content::Binary(vec![0, 255]),
        &SendOptions {
            excluded: ids(&["c3"]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    expect(
        "WebPubSub_SendToGroup",
        "POST",
        "/api/hubs/Chat/groups/room%201/:send",
        &[("excluded", "c3")],
        Some(("application/octet-stream", &[0, 255])),
    );
    c.send_to_connection(
        hub,
        "conn",
        &json_body,
        &SendOptions {
            message_ttl_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    expect(
        "WebPubSub_SendToConnection",
        "POST",
        "/api/hubs/Chat/connections/conn/:send",
        &[("messageTtlSeconds", "0")],
        None,
    );

    assert!(c.connection_exists(hub, "conn").await.unwrap());
    expect(
        "WebPubSub_ConnectionExists",
        "HEAD",
        "/api/hubs/Chat/connections/conn",
        &[],
        None,
    );
    assert!(c.user_exists(hub, "alice").await.unwrap());
    expect(
        "WebPubSub_UserExists",
        "HEAD",
        "/api/hubs/Chat/users/alice",
        &[],
        None,
    );
    assert!(c.group_exists(hub, "room").await.unwrap());
    expect(
        "WebPubSub_GroupExists",
        "HEAD",
        "/api/hubs/Chat/groups/room",
        &[],
        None,
    );

    c.close_connection(hub, "conn", Some("bye now"))
        .await
        .unwrap();
    expect(
        "WebPubSub_CloseConnection",
        "DELETE",
        "/api/hubs/Chat/connections/conn",
        &[("reason", "bye now")],
        None,
    );
    c.close_all(hub, &ids(&["keep"]), None).await.unwrap();
    expect(
        "WebPubSub_CloseAllConnections",
        "POST",
        "/api/hubs/Chat/:closeConnections",
        &[("excluded", "keep")],
        None,
    );
    c.close_user(hub, "alice", &[], Some("r")).await.unwrap();
    expect(
        "WebPubSub_CloseUserConnections",
        "POST",
        "/api/hubs/Chat/users/alice/:closeConnections",
        &[("reason", "r")],
        None,
    );
    c.close_group(hub, "room", &ids(&["a", "b"]), None)
        .await
        .unwrap();
    expect(
        "WebPubSub_CloseGroupConnections",
        "POST",
        "/api/hubs/Chat/groups/room/:closeConnections",
        &[("excluded", "a"), ("excluded", "b")],
        None,
    );

    c.add_connection_to_group(hub, "room", "conn")
        .await
        .unwrap();
    expect(
        "WebPubSub_AddConnectionToGroup",
        "PUT",
        "/api/hubs/Chat/groups/room/connections/conn",
        &[],
        None,
    );
    c.remove_connection_from_group(hub, "room", "conn")
        .await
        .unwrap();
    expect(
        "WebPubSub_RemoveConnectionFromGroup",
        "DELETE",
        "/api/hubs/Chat/groups/room/connections/conn",
        &[],
        None,
    );
    c.remove_connection_from_all_groups(hub, "conn")
        .await
        .unwrap();
    expect(
        "WebPubSub_RemoveConnectionFromAllGroups",
        "DELETE",
        "/api/hubs/Chat/connections/conn/groups",
        &[],
        None,
    );
    c.add_user_to_group(hub, "room", "alice").await.unwrap();
    expect(
        "WebPubSub_AddUserToGroup",
        "PUT",
        "/api/hubs/Chat/users/alice/groups/room",
        &[],
        None,
    );
    c.remove_user_from_group(hub, "room", "alice")
        .await
        .unwrap();
    expect(
        "WebPubSub_RemoveUserFromGroup",
        "DELETE",
        "/api/hubs/Chat/users/alice/groups/room",
        &[],
        None,
    );
    c.remove_user_from_all_groups(hub, "alice").await.unwrap();
    expect(
        "WebPubSub_RemoveUserFromAllGroups",
        "DELETE",
        "/api/hubs/Chat/users/alice/groups",
        &[],
        None,
    );

    let groups = ids(&["a", "b"]);
    c.add_connections_to_groups(hub, &groups, "userId eq 'alice'")
        .await
        .unwrap();
    let body = json!({"groups": ["a", "b"], "filter": "userId eq 'alice'"}).to_string();
    expect(
        "WebPubSub_AddConnectionsToGroups",
        "POST",
        "/api/hubs/Chat/:addToGroups",
        &[],
        Some(("application/json", body.as_bytes())),
    );
    c.remove_connections_from_groups(hub, &groups, "userId eq 'alice'")
        .await
        .unwrap();
    expect(
        "WebPubSub_RemoveConnectionsFromGroups",
        "POST",
        "/api/hubs/Chat/:removeFromGroups",
        &[],
        Some(("application/json", body.as_bytes())),
    );

    c.grant_permission(hub, Permission::SendToGroup, "conn", Some("room"))
        .await
        .unwrap();
    expect(
        "WebPubSub_GrantPermission",
        "PUT",
        "/api/hubs/Chat/permissions/sendToGroup/connections/conn",
        &[("targetName", "room")],
        None,
    );
    c.revoke_permission(hub, Permission::JoinLeaveGroup, "conn", None)
        .await
        .unwrap();
    expect(
        "WebPubSub_RevokePermission",
        "DELETE",
        "/api/hubs/Chat/permissions/joinLeaveGroup/connections/conn",
        &[],
        None,
    );
    assert!(c
        .check_permission(hub, Permission::JoinLeaveGroup, "conn", Some("room"))
        .await
        .unwrap());
    expect(
        "WebPubSub_CheckPermission",
        "HEAD",
        "/api/hubs/Chat/permissions/joinLeaveGroup/connections/conn",
        &[("targetName", "room")],
        None,
    );

    service.reply([Reply::status(200).body(r#"{"token":"abc.def.ghi"}"#)]);
    let token = c
        .generate_token(
            hub,
            &GenerateTokenOptions {
                user_id: Some("alice".into()),
                roles: ids(&["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup.room"]),
                groups: ids(&["room"]),
                minutes_to_expire: Some(5),
                client_type: Some("MQTT"),
            },
        )
        .await
        .unwrap();
    assert_eq!(token, "abc.def.ghi");
    expect(
        "WebPubSub_GenerateClientToken",
        "POST",
        "/api/hubs/Chat/:generateToken",
        &[
            ("userId", "alice"),
            ("role", "webpubsub.sendToGroup"),
            ("role", "webpubsub.joinLeaveGroup.room"),
            ("minutesToExpire", "5"),
            ("group", "room"),
            ("clientType", "MQTT"),
        ],
        None,
    );

    assert!(c.health().await.unwrap());
    expect(
        "HealthApi_GetServiceStatus",
        "HEAD",
        "/api/health",
        &[],
        None,
    );

    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        24,
        "every operation of the swagger was called: {seen:?}"
    );
}

#[tokio::test]
async fn answers_404_as_false_and_service_errors_name_web_pubsub() {
    let service = FakeService::webpubsub().await;
    let c = client(&service);
    service.reply([Reply::status(404)]);
    assert!(!c.connection_exists("chat", "gone").await.unwrap());
    service.reply([
        Reply::status(400).body(&format!(r#"{{"code":"BadRequest","message":"no {KEY}"}}"#))
    ]);
    let error = c
        .send_to_all("chat", &Content::Text("x".into()), &SendOptions::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("webpubsub.send_to_all: Web PubSub answered 400"),
        "{text}"
    );
    assert!(!text.contains(KEY), "the key is redacted: {text}");
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let service = FakeService::webpubsub().await;
    let c = client(&service);
    let text = Content::Text("x".into());
    let none = SendOptions::default();
    let failures: Vec<RestError> = vec![
        c.send_to_all("1hub", &text, &none).await.unwrap_err(),
        c.send_to_group("chat", "  ", &text, &none)
            .await
            .unwrap_err(),
        c.send_to_user("chat", "", &text, &none).await.unwrap_err(),
        c.send_to_connection("chat", "..", &text, &none)
            .await
            .unwrap_err(),
        c.send_to_all("chat", &Content::Json("{oops".into()), &none)
            .await
            .unwrap_err(),
        c.send_to_all("chat", &Content::Binary(vec![0; 1024 * 1024 + 1]), &none)
            .await
            .unwrap_err(),
        c.send_to_all(
            "chat",
            &text,
            &SendOptions {
                message_ttl_seconds: Some(301),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
        c.send_to_all(
            "chat",
            &text,
            &SendOptions {
                filter: Some(" ".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
        c.send_to_user(
            "chat",
            "u",
            &text,
            &SendOptions {
                excluded: ids(&["c"]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
        c.send_to_connection(
            "chat",
            "c",
            &text,
            &SendOptions {
                filter: Some("x".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
        c.add_connections_to_groups("chat", &[], "userId eq 'a'")
            .await
            .unwrap_err(),
        c.grant_permission("chat", Permission::SendToGroup, "c", Some(""))
            .await
            .unwrap_err(),
        c.generate_token(
            "chat",
            &GenerateTokenOptions {
                minutes_to_expire: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
    ];
    for error in &failures {
        assert_eq!(error.status_hint(), Some(400), "{error}");
    }
    assert!(service.take().is_empty(), "nothing was sent");
}
