//! Contract tests of the REST client (`service::rest`) against a real HTTP server on 127.0.0.1:
//! every operation's method, path and query are checked against the service's swagger, bodies
//! exactly, tokens with an independent verifier; then names, 404s, retries, timeouts and errors.

mod rest_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use serverless_signalr::service::rest::{Payload, RestClient, RestError, RestOptions};
use serverless_signalr::service::ConnectionString;

use rest_support::{
    assert_request, client_for_port, fast_options, verify_token, Expect, FakeService, Reply, KEY,
};

fn payload() -> Payload {
    Payload::new("newMessage", vec![json!("hello"), json!({"n": 1})])
}

fn payload_json() -> serde_json::Value {
    json!({"target": "newMessage", "arguments": ["hello", {"n": 1}]})
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_string()).collect()
}

/// A port with nothing listening on it.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test]
async fn sends_match_the_swagger() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());

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
    let service = FakeService::start().await;
    let client = service.client(fast_options());
    let empty = Payload::new("ping", vec![]);
    client.send_to_all("chat", &empty, &[]).await.expect("send");
    let request = service.single();
    assert_eq!(
        String::from_utf8(request.body).expect("utf-8"),
        r#"{"target":"ping","arguments":[]}"#
    );
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn group_membership_matches_the_swagger() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());
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
    let service = FakeService::start().await;
    let client = service.client(fast_options());
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
    let service = FakeService::start().await;
    let client = service.client(fast_options());

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
    let service = FakeService::start().await;
    let client = service.client(RestOptions {
        max_retries: 0,
        ..fast_options()
    });

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
async fn names_are_percent_encoded_and_reach_the_service_intact() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());

    client
        .send_to_user("Chat", "a/b?c#d", &payload())
        .await
        .expect("send to odd user");
    let request = service.single();
    assert_request(
        &request,
        &Expect {
            operation: "SignalR_SendToUser",
            method: "POST",
            path: "/api/hubs/chat/users/a%2Fb%3Fc%23d/:send",
            query: &[],
            body: Some(payload_json()),
        },
    );
    let segment = request.path.split('/').nth(5).expect("user segment");
    assert_eq!(
        percent_encoding::percent_decode_str(segment).decode_utf8_lossy(),
        "a/b?c#d"
    );

    client
        .add_user_to_group("chat", "my group", "ü 100%", Some(0))
        .await
        .expect("add odd user to odd group");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_AddUserToGroup",
            method: "PUT",
            path: "/api/hubs/chat/users/%C3%BC%20100%25/groups/my%20group",
            query: &[("ttl", "0")],
            body: None,
        },
    );

    client
        .close_group("chat", "a&b=c", &ids(&["x&excluded=y"]), Some("a b&c"))
        .await
        .expect("close with odd query values");
    assert_request(
        &service.single(),
        &Expect {
            operation: "SignalR_CloseGroupConnections",
            method: "POST",
            path: "/api/hubs/chat/groups/a%26b%3Dc/:closeConnections",
            query: &[("excluded", "x&excluded=y"), ("reason", "a b&c")],
            body: None,
        },
    );
}

#[tokio::test]
async fn invalid_names_are_refused_before_any_request() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());
    let p = payload();

    let name_errors = [
        client.send_to_all("1chat", &p, &[]).await,
        client.send_to_all("chat room", &p, &[]).await,
        client.send_to_all("", &p, &[]).await,
        client.send_to_all("chat", &p, &ids(&[""])).await,
        client.send_to_group("chat", "   ", &p, &[]).await,
        client.send_to_user("chat", "", &p).await,
        client.send_to_user("chat", &"u".repeat(1025), &p).await,
        client.send_to_connection("chat", "a\nb", &p).await,
        client.add_user_to_group("chat", "", "alice", None).await,
        client.remove_user_from_group("bad/hub", "g", "u").await,
        client
            .close_user("chat", "alice", &ids(&["ok", "\t"]), None)
            .await,
        client.user_exists("chat", "").await.map(|_| ()),
        client.group_exists("chat", " ").await.map(|_| ()),
        client.connection_exists("chat", "").await.map(|_| ()),
        client.user_in_group("_chat", "g", "u").await.map(|_| ()),
    ];
    for (i, result) in name_errors.into_iter().enumerate() {
        let error = result.expect_err("refused");
        assert!(matches!(error, RestError::InvalidName(_)), "{i}: {error:?}");
        assert_eq!(error.status_hint(), Some(400));
    }

    let argument_errors = [
        client.send_to_user("chat", "..", &p).await,
        client.remove_connection_from_all_groups("chat", ".").await,
        client
            .send_to_all("chat", &Payload::new("", vec![]), &[])
            .await,
    ];
    for (i, result) in argument_errors.into_iter().enumerate() {
        let error = result.expect_err("refused");
        assert!(
            matches!(error, RestError::InvalidArgument(_)),
            "{i}: {error:?}"
        );
        assert_eq!(error.status_hint(), Some(400));
    }

    assert!(service.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn not_found_on_existence_checks_is_false() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());
    let not_found = |code: &str| Reply::status(404).header("x-ms-error-code", code);

    service.reply([not_found("Warning.User.NotExisted")]);
    assert!(!client.user_exists("chat", "alice").await.expect("user"));
    service.reply([not_found("Warning.Group.NotExisted")]);
    assert!(!client.group_exists("chat", "room").await.expect("group"));
    service.reply([not_found("Warning.Connection.NotExisted")]);
    assert!(!client
        .connection_exists("chat", "c")
        .await
        .expect("connection"));
    service.reply([not_found("Info.User.NotInGroup")]);
    assert!(!client
        .user_in_group("chat", "room", "alice")
        .await
        .expect("user in group"));

    // Without the header (e.g. an older service or the emulator) a 404 still means "no".
    service.reply([Reply::status(404)]);
    assert!(!client.user_exists("chat", "alice").await.expect("user"));
    service.reply([Reply::status(404)]);
    assert!(!client.group_exists("chat", "room").await.expect("group"));
    assert_eq!(service.take().len(), 6, "no retries on 404");

    // A 404 with some other code is not an answer to the question.
    service.reply([not_found("Error.Route.NotFound").body(r#"{"message":"no such route"}"#)]);
    let error = client
        .user_exists("chat", "alice")
        .await
        .expect_err("unexpected 404");
    assert!(
        matches!(&error, RestError::Service { status: 404, code: Some(c), .. } if c == "Error.Route.NotFound"),
        "{error:?}"
    );
}

#[tokio::test]
async fn not_found_on_removals_is_ok_and_elsewhere_an_error() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());
    let not_found = |code: &str| Reply::status(404).header("x-ms-error-code", code);

    service.reply([not_found("Warning.Connection.NotExisted")]);
    client
        .close_connection("chat", "gone", None)
        .await
        .expect("closing a missing connection is fine");
    service.reply([Reply::status(404)]);
    client
        .remove_user_from_group("chat", "room", "alice")
        .await
        .expect("removing a non-member is fine");
    service.reply([Reply::status(404)]);
    client
        .remove_user_from_all_groups("chat", "alice")
        .await
        .expect("removing an unknown user is fine");
    service.reply([not_found("Warning.Connection.NotExisted")]);
    client
        .remove_connection_from_group("chat", "room", "gone")
        .await
        .expect("removing a missing connection is fine");
    service.reply([not_found("Warning.Connection.NotExisted")]);
    client
        .remove_connection_from_all_groups("chat", "gone")
        .await
        .expect("removing a missing connection from all is fine");

    service.reply([not_found("Error.Connection.NotExisted")]);
    assert!(!client
        .add_connection_to_group("chat", "room", "gone")
        .await
        .expect("a missing connection is an answer"));

    service.reply([not_found("Error.Hub.NotExisted").body(r#"{"message":"hub is gone"}"#)]);
    let error = client
        .send_to_user("chat", "alice", &payload())
        .await
        .expect_err("a 404 on a send is an error");
    match &error {
        RestError::Service {
            operation,
            status,
            code,
            message,
        } => {
            assert_eq!(*operation, "send_to_user");
            assert_eq!(*status, 404);
            assert_eq!(code.as_deref(), Some("Error.Hub.NotExisted"));
            assert_eq!(message, "hub is gone");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.status_hint(), Some(502));

    service.reply([Reply::status(404)]);
    let error = client
        .add_user_to_group("chat", "room", "alice", None)
        .await
        .expect_err("a 404 on adding a user is an error");
    assert!(
        matches!(error, RestError::Service { status: 404, .. }),
        "{error:?}"
    );
    assert_eq!(service.take().len(), 8, "no retries on 404");
}

#[tokio::test]
async fn throttling_honours_retry_after_then_succeeds() {
    let service = FakeService::start().await;
    let client = service.client(RestOptions {
        max_backoff: Duration::from_secs(3),
        ..fast_options()
    });
    service.reply([Reply::status(429).header("retry-after", "1")]);
    let started = Instant::now();
    client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect("sent after the throttle");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
    let requests = service.take();
    assert_eq!(requests.len(), 2, "one retry");
    assert_eq!(requests[0].body, requests[1].body, "the same message");
    for request in &requests {
        verify_token(request.token());
    }
}

#[tokio::test]
async fn retry_after_is_capped_by_max_backoff() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());
    service.reply([Reply::status(429).header("retry-after", "120")]);
    let started = Instant::now();
    client
        .send_to_group("chat", "room", &payload(), &[])
        .await
        .expect("sent after the throttle");
    assert!(started.elapsed() < Duration::from_secs(2), "capped wait");
    assert_eq!(service.take().len(), 2);
}

#[tokio::test]
async fn unavailable_is_retried_then_reported() {
    let service = FakeService::start().await;
    let client = service.client(RestOptions {
        max_retries: 2,
        ..fast_options()
    });
    let unavailable = Reply::status(503)
        .header("x-ms-error-code", "Error.Service.Busy")
        .body(r#"{"code":"Error.Service.Busy","message":"try later"}"#);
    service.reply(vec![unavailable; 3]);
    let error = client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect_err("gave up");
    assert_eq!(service.take().len(), 3, "first attempt + max_retries");
    match &error {
        RestError::Service {
            operation,
            status,
            code,
            message,
        } => {
            assert_eq!(*operation, "send_to_all");
            assert_eq!(*status, 503);
            assert_eq!(code.as_deref(), Some("Error.Service.Busy"));
            assert_eq!(message, "try later");
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("try later"), "{error}");
    assert_eq!(error.status_hint(), Some(502));

    service.reply([Reply::status(503)]);
    client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect("a 503 then success");
    assert_eq!(service.take().len(), 2);
}

#[tokio::test]
async fn server_error_on_a_send_is_not_retried() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());
    for status in [500, 502, 504] {
        service.reply([Reply::status(status).body("internal trouble")]);
        let error = client
            .send_to_connection("chat", "c", &payload())
            .await
            .expect_err("a server error");
        assert!(
            matches!(&error, RestError::Service { status: s, message, .. } if *s == status && message == "internal trouble"),
            "{error:?}"
        );
        assert_eq!(service.take().len(), 1, "{status}: exactly one attempt");
    }
    service.reply([Reply::status(500)]);
    client
        .close_all("chat", &[], None)
        .await
        .expect_err("closing is a POST too");
    assert_eq!(service.take().len(), 1, "close: exactly one attempt");
}

#[tokio::test]
async fn server_error_on_an_idempotent_call_is_retried() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());
    service.reply([Reply::status(500), Reply::status(502)]);
    assert!(client
        .group_exists("chat", "room")
        .await
        .expect("answered on the third attempt"));
    assert_eq!(service.take().len(), 3);

    service.reply([Reply::status(504)]);
    client
        .add_user_to_group("chat", "room", "alice", None)
        .await
        .expect("PUT retried");
    assert_eq!(service.take().len(), 2);

    service.reply([Reply::status(400).body("bad ttl")]);
    client
        .add_user_to_group("chat", "room", "alice", None)
        .await
        .expect_err("a 400 is final");
    assert_eq!(service.take().len(), 1, "4xx is never retried");
}

#[tokio::test]
async fn connect_failure_is_retried_then_unreachable() {
    let port = closed_port().await;
    let client = client_for_port(
        port,
        RestOptions {
            max_retries: 3,
            base_backoff: Duration::from_millis(40),
            max_backoff: Duration::from_millis(200),
            ..fast_options()
        },
    );
    let started = Instant::now();
    let error = client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect_err("nothing listens");
    // Equal jitter waits at least half of 40 + 80 + 160 ms across the three retries.
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "retried: {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            &error,
            RestError::Unreachable {
                operation: "send_to_all",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status_hint(), Some(502));
    assert!(!error.to_string().contains(KEY));
}

#[tokio::test]
async fn connect_failure_is_retried_until_the_service_is_up() {
    let port = closed_port().await;
    let client = client_for_port(
        port,
        RestOptions {
            max_retries: 6,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(200),
            ..fast_options()
        },
    );
    let send = tokio::spawn(async move { client.send_to_all("chat", &payload(), &[]).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is still free");
    let service = FakeService::serve(listener);
    send.await
        .expect("task")
        .expect("delivered once the service is up");
    assert_eq!(service.take().len(), 1, "delivered exactly once");
}

#[tokio::test]
async fn connection_lost_mid_request_is_retried_only_when_idempotent() {
    let (port, seen) = rest_support::start_dropping_service().await;
    let client = client_for_port(port, fast_options());

    let error = client
        .send_to_group("chat", "room", &payload(), &[])
        .await
        .expect_err("no answer");
    assert!(
        matches!(&error, RestError::Unreachable { detail, .. } if detail.contains("may or may not have been delivered")),
        "{error:?}"
    );
    assert_eq!(
        seen.swap(0, Ordering::SeqCst),
        1,
        "a send is never repeated"
    );

    let error = client
        .remove_user_from_group("chat", "room", "alice")
        .await
        .expect_err("no answer");
    assert!(matches!(error, RestError::Unreachable { .. }), "{error:?}");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        4,
        "a DELETE is retried max_retries times"
    );
}

#[tokio::test]
async fn timeout_is_reported_and_never_retried() {
    let service = FakeService::start().await;
    let client = service.client(RestOptions {
        timeout: Duration::from_millis(200),
        ..fast_options()
    });
    let slow = || Reply::status(202).delay(Duration::from_secs(2));

    service.reply([slow(), slow()]);
    let started = Instant::now();
    let error = client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect_err("too slow");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(
            error,
            RestError::Timeout {
                operation: "send_to_all"
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status_hint(), Some(504));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        service.take().len(),
        1,
        "a send that timed out is not retried"
    );

    service.reply([slow(), slow()]);
    let error = client
        .user_exists("chat", "alice")
        .await
        .expect_err("too slow");
    assert!(matches!(error, RestError::Timeout { .. }), "{error:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(service.take().len(), 1, "timeouts are never retried");
}

#[tokio::test]
async fn errors_carry_the_service_message_but_never_a_secret() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());

    service.reply([Reply::status(400)
        .header("x-ms-error-code", "Error.Request.Invalid")
        .body(&format!(
            r#"{{"code":"Error.Request.Invalid","message":"target is invalid; key {KEY}"}}"#
        ))]);
    let error = client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect_err("refused");
    let token = service.single().token().to_string();
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("target is invalid"), "{shown}");
    assert!(
        shown.contains("400") && shown.contains("Error.Request.Invalid"),
        "{shown}"
    );
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains(&token), "{shown}");

    let mut leaky = Reply::status(401).body("you sent: ");
    leaky.echo_authorization = true;
    service.reply([leaky]);
    let error = client
        .send_to_user("chat", "alice", &payload())
        .await
        .expect_err("unauthorized");
    let token = service.single().token().to_string();
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("you sent: Bearer ***"), "{shown}");
    assert!(!shown.contains(&token), "{shown}");

    service.reply([Reply::status(413).body(&"x".repeat(5000))]);
    let error = client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect_err("too large");
    match error {
        RestError::Service { message, .. } => {
            let chars = message.chars().count();
            assert!((400..=501).contains(&chars), "{chars}");
        }
        other => panic!("{other:?}"),
    }

    service.reply([Reply::status(403)]);
    let error = client
        .add_connection_to_group("chat", "room", "c")
        .await
        .expect_err("forbidden");
    assert!(
        matches!(&error, RestError::Service { status: 403, message, .. } if message == "Forbidden"),
        "{error:?}"
    );
}

#[tokio::test]
async fn every_request_has_its_own_token_for_its_own_path() {
    let service = FakeService::start().await;
    let client = service.client(fast_options());
    client.user_exists("Chat", "alice").await.expect("check");
    client
        .close_user("chat", "alice", &ids(&["c1"]), Some("bye"))
        .await
        .expect("close");
    let requests = service.take();
    let audiences: Vec<_> = requests
        .iter()
        .map(|r| verify_token(r.token())["aud"].clone())
        .collect();
    assert_eq!(
        audiences,
        [
            "http://127.0.0.1/api/hubs/chat/users/alice?api-version=2022-06-01",
            "http://127.0.0.1/api/hubs/chat/users/alice/:closeConnections?api-version=2022-06-01",
        ]
    );
}

#[tokio::test]
async fn clones_share_one_pooled_connection() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<RestClient>();

    let service = FakeService::start().await;
    let client = service.client(fast_options());
    let clone = client.clone();
    client.user_exists("chat", "a").await.expect("first");
    clone.user_exists("chat", "b").await.expect("second");
    client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect("third");
    let peers: Vec<_> = service.take().iter().map(|r| r.peer).collect();
    assert_eq!(peers.len(), 3);
    assert!(
        peers.iter().all(|p| *p == peers[0]),
        "one kept-alive connection: {peers:?}"
    );
}

#[tokio::test]
async fn client_needs_an_access_key_and_a_timeout() {
    let entra = ConnectionString::parse(
        "Endpoint=https://x.service.signalr.net;AuthType=azure.msi;Version=1.0;",
    )
    .expect("valid connection string");
    let error = RestClient::new(&entra, RestOptions::default()).expect_err("no key");
    assert!(matches!(error, RestError::Token(_)), "{error:?}");

    let keyed = ConnectionString::parse(&rest_support::connection_string(1)).expect("valid");
    let error = RestClient::new(
        &keyed,
        RestOptions {
            timeout: Duration::ZERO,
            ..RestOptions::default()
        },
    )
    .expect_err("zero timeout");
    assert!(matches!(error, RestError::InvalidArgument(_)), "{error:?}");

    let defaults = RestOptions::default();
    assert_eq!(defaults.timeout, Duration::from_secs(30));
    assert_eq!(defaults.max_retries, 3);
    assert_eq!(defaults.base_backoff, Duration::from_millis(200));
    assert_eq!(defaults.max_backoff, Duration::from_secs(5));
    let client = RestClient::new(&keyed, defaults).expect("client");
    assert!(!format!("{client:?}").contains(KEY));
}
