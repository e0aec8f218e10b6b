//! Every operation, one by one, against the swagger: method, path template, required and
//! declared query parameters, exact JSON body and a verified token for the exact audience.

use serverless_signalr::service::rest::{Payload, RestError, RestOptions};

use super::{ids, payload, payload_json};
use crate::rest_support::{assert_request, client, fast_options, Expect};
use crate::support::{FakeService, Reply};

#[tokio::test]
async fn sends_match_the_swagger() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());

    client
        .send_to_all("Chat", &payload(), &ids(&["c1", "c 2"]))
        .await
        .expect("send to all");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_Broadcast",
            method: "POST",
            path: "/api/hubs/chat/:send",
            query: &[("excluded", "c1"), ("excluded", "c 2")],
            body: Some(payload_json()),
        },
    );

    client
        .send_to_user("Chat", "alice", &payload())
        .await
        .expect("send to user");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_SendToUser",
            method: "POST",
            path: "/api/hubs/chat/users/alice/:send",
            query: &[],
            body: Some(payload_json()),
        },
    );

    client
        .send_to_group("chat", "room", &payload(), &ids(&["c3"]))
        .await
        .expect("send to group");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_GroupBroadcast",
            method: "POST",
            path: "/api/hubs/chat/groups/room/:send",
            query: &[("excluded", "c3")],
            body: Some(payload_json()),
        },
    );

    client
        .send_to_connection("chat", "conn-1", &payload())
        .await
        .expect("send to connection");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_SendToConnection",
            method: "POST",
            path: "/api/hubs/chat/connections/conn-1/:send",
            query: &[],
            body: Some(payload_json()),
        },
    );
}

#[tokio::test]
async fn body_is_exactly_target_and_arguments() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    let empty = Payload::new("ping", vec![]);
    client.send_to_all("chat", &empty, &[]).await.expect("send");
    let request = service.single();
    assert_eq!(
        String::from_utf8(request.body.clone()).expect("utf-8"),
        r#"{"target":"ping","arguments":[]}"#
    );
    assert_eq!(request.content_type(), Some("application/json"));
}

#[tokio::test]
async fn group_membership_matches_the_swagger() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    let user_group = "/api/hubs/chat/users/alice/groups/room";
    let group_connection = "/api/hubs/chat/groups/room/connections/conn-1";

    client
        .add_user_to_group("Chat", "room", "alice", Some(60))
        .await
        .expect("add user");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_AddUserToGroup",
            method: "PUT",
            path: user_group,
            query: &[("ttl", "60")],
            body: None,
        },
    );

    client
        .add_user_to_group("chat", "room", "alice", None)
        .await
        .expect("add user without ttl");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_AddUserToGroup",
            method: "PUT",
            path: user_group,
            query: &[],
            body: None,
        },
    );

    client
        .remove_user_from_group("chat", "room", "alice")
        .await
        .expect("remove user");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_RemoveUserFromGroup",
            method: "DELETE",
            path: user_group,
            query: &[],
            body: None,
        },
    );

    client
        .remove_user_from_all_groups("chat", "alice")
        .await
        .expect("remove user from all");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_RemoveUserFromAllGroups",
            method: "DELETE",
            path: "/api/hubs/chat/users/alice/groups",
            query: &[],
            body: None,
        },
    );

    let added = client
        .add_connection_to_group("chat", "room", "conn-1")
        .await
        .expect("add connection");
    assert!(added);
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_AddConnectionToGroup",
            method: "PUT",
            path: group_connection,
            query: &[],
            body: None,
        },
    );

    client
        .remove_connection_from_group("chat", "room", "conn-1")
        .await
        .expect("remove connection");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_RemoveConnectionFromGroup",
            method: "DELETE",
            path: group_connection,
            query: &[],
            body: None,
        },
    );

    client
        .remove_connection_from_all_groups("chat", "conn-1")
        .await
        .expect("remove connection from all");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_RemoveConnectionFromAllGroups",
            method: "DELETE",
            path: "/api/hubs/chat/connections/conn-1/groups",
            query: &[],
            body: None,
        },
    );
}

#[tokio::test]
async fn existence_checks_match_the_swagger() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    let head = |operation, path| Expect {
        operation,
        method: "HEAD",
        path,
        query: &[],
        body: None,
    };

    assert!(client.user_exists("Chat", "alice").await.expect("user"));
    assert_request(
        &service.single(),
        &head("SignalR_CheckUserExistence", "/api/hubs/chat/users/alice"),
    );

    assert!(client.group_exists("chat", "room").await.expect("group"));
    assert_request(
        &service.single(),
        &head("SignalR_CheckGroupExistence", "/api/hubs/chat/groups/room"),
    );

    assert!(client
        .connection_exists("chat", "conn-1")
        .await
        .expect("connection"));
    assert_request(
        &service.single(),
        &head(
            "SignalR_CheckConnectionExistence",
            "/api/hubs/chat/connections/conn-1",
        ),
    );

    assert!(client
        .user_in_group("chat", "room", "alice")
        .await
        .expect("user in group"));
    assert_request(
        &service.single(),
        &head(
            "SignalR_CheckUserExistenceInGroup",
            "/api/hubs/chat/users/alice/groups/room",
        ),
    );
}

#[tokio::test]
async fn closes_match_the_swagger() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());

    client
        .close_connection("Chat", "conn-1", Some("bye now"))
        .await
        .expect("close connection");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_CloseConnection",
            method: "DELETE",
            path: "/api/hubs/chat/connections/conn-1",
            query: &[("reason", "bye now")],
            body: None,
        },
    );

    client
        .close_connection("chat", "conn-1", None)
        .await
        .expect("close connection without reason");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_CloseConnection",
            method: "DELETE",
            path: "/api/hubs/chat/connections/conn-1",
            query: &[],
            body: None,
        },
    );

    client
        .close_all("chat", &ids(&["c1", "c2"]), Some("maintenance"))
        .await
        .expect("close all");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_CloseConnections",
            method: "POST",
            path: "/api/hubs/chat/:closeConnections",
            query: &[
                ("excluded", "c1"),
                ("excluded", "c2"),
                ("reason", "maintenance"),
            ],
            body: None,
        },
    );

    client
        .close_group("chat", "room", &[], None)
        .await
        .expect("close group");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_CloseGroupConnections",
            method: "POST",
            path: "/api/hubs/chat/groups/room/:closeConnections",
            query: &[],
            body: None,
        },
    );

    client
        .close_user("chat", "alice", &ids(&["c1"]), Some("r&d=1"))
        .await
        .expect("close user");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_CloseUserConnections",
            method: "POST",
            path: "/api/hubs/chat/users/alice/:closeConnections",
            query: &[("excluded", "c1"), ("reason", "r&d=1")],
            body: None,
        },
    );
}

#[tokio::test]
async fn health_is_a_signed_head() {
    let service = FakeService::signalr().await;
    let client = client(
        &service,
        RestOptions {
            max_retries: 0,
            ..fast_options()
        },
    );

    assert!(client.health().await.expect("healthy"));
    let request = service.single();
    assert_request(
        &request,
        &Expect {
            operation: "HealthApi_GetServiceStatus",
            method: "HEAD",
            path: "/api/health",
            query: &[],
            body: None,
        },
    );

    service.reply([Reply::status(503)]);
    assert!(!client.health().await.expect("an answer"));
}

#[tokio::test]
async fn health_is_one_quick_attempt_and_a_wrong_key_is_an_error() {
    let service = FakeService::signalr().await;
    // A client that would otherwise retry 503s three times; a retry would get the default 200.
    let client = client(&service, fast_options());
    service.reply([Reply::status(503)]);
    assert!(!client.health().await.expect("an answer"), "no retry");
    assert_eq!(service.take().len(), 1);

    for status in [401, 403] {
        service.reply([Reply::status(status)]);
        let error = client.health().await.expect_err("a configuration fault");
        assert!(
            matches!(&error, RestError::Service { status: s, .. } if *s == status),
            "{error:?}"
        );
        service.take();
    }
}

/// The vendored specifications are Microsoft's, unmodified: each file's SHA-256 is pinned to the
/// copy taken from Azure/azure-signalr (`docs/swagger/V20220601.json` and `docs/swagger/v1.json`
/// at commit 31686ed71ff8140f5b02c24b4bb08a7a04f4d788, `docs/swagger/v20241201.json` at
/// ac782ff5a0c179049fb754a5100955af3ecb930a; see `tests/fixtures/swagger/README.md`), so an
/// edit to a fixture fails here instead of quietly changing what the contract tests check.
#[test]
fn vendored_swagger_files_equal_the_published_specifications() {
    use crate::support::swagger::{fixture, operations_of, V1, V2022, V2024};
    use sha2::{Digest, Sha256};
    let pinned = [
        (
            V2022,
            "54df74fd92129933fb123364c0fb70bfb43064242ac5adc7deeca30acf305688",
            19,
        ),
        (
            V1,
            "71bdc8a8c745cdfcdc351c34e996ec275ecd1d27dc729fd152ea41c3c24c4b83",
            19,
        ),
        (
            V2024,
            "fafe227527eb4bd6bae13682169d5c1a9ad85f6ababd3789d09fc3410abdb23e",
            26,
        ),
    ];
    for (file, sha256, count) in pinned {
        assert_eq!(operations_of(file).len(), count, "{file}");
        let bytes = std::fs::read(fixture(file)).unwrap();
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            digest, sha256,
            "tests/fixtures/swagger/{file} is not the published specification"
        );
    }
}
