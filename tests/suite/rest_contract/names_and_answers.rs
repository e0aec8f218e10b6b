//! What reaches the service and what comes back: odd names percent-encoded intact, bad names
//! refused before sending, 404s per operation, service messages in errors (never a secret),
//! one token per request, one pooled connection, and how a client is built.

use std::time::Duration;

use serde_json::json;
use serverless_signalr::service::rest::{Payload, RestClient, RestError, RestOptions};
use serverless_signalr::service::ConnectionString;

use super::{ids, payload, payload_json};
use crate::rest_support::{assert_request, client, fast_options, verify_token, Expect};
use crate::support::fake_service::connection_string;
use crate::support::{FakeService, Reply, KEY};

#[tokio::test]
async fn names_are_percent_encoded_and_reach_the_service_intact() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());

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
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
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
        // `.` and `..` would be collapsed as relative path segments by URL parsers.
        client.send_to_user("chat", "..", &p).await,
        client.remove_connection_from_all_groups("chat", ".").await,
        client.send_to_group("chat", ".", &p, &[]).await,
    ];
    for (i, result) in name_errors.into_iter().enumerate() {
        let error = result.expect_err("refused");
        assert!(matches!(error, RestError::InvalidName(_)), "{i}: {error:?}");
        assert_eq!(error.status_hint(), Some(400));
    }

    let argument_errors = [
        client
            .add_user_to_group("chat", "g", "u", Some(u32::MAX))
            .await,
        client
            .send_to_all("chat", &Payload::new("", vec![]), &[])
            .await,
        client
            .send_to_all(
                "chat",
                &Payload::new("t", vec![json!("x".repeat(1 << 20))]),
                &[],
            )
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
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
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
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
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
async fn errors_carry_the_service_message_but_never_a_secret() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());

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
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
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

    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
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

    let keyed = ConnectionString::parse(&connection_string(1)).expect("valid");
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

/// With `ServerEndpoint` (a gateway, a private endpoint), requests go there, path prefix
/// included, while every token's audience stays on the `Endpoint` host (`docs/protocol.md` §3).
#[tokio::test]
async fn server_endpoint_takes_the_requests_and_endpoint_keeps_the_audience() {
    let service = FakeService::signalr().await;
    let connection = ConnectionString::parse(&format!(
        "Endpoint=https://demo.service.signalr.net;AccessKey={KEY};ServerEndpoint=http://127.0.0.1:{}/gateway/",
        service.port
    ))
    .expect("valid connection string");
    let client = RestClient::new(&connection, fast_options()).expect("client");
    // The swagger has no `/gateway` prefix, so the answers are scripted.
    service.reply([Reply::status(202), Reply::status(200)]);

    client
        .send_to_user("Chat", "alice", &payload())
        .await
        .expect("sent");
    let request = service.single();
    assert_eq!(request.path, "/gateway/api/hubs/chat/users/alice/:send");
    let claims = verify_token(request.token());
    assert_eq!(
        claims["aud"],
        "https://demo.service.signalr.net/api/hubs/chat/users/alice/:send?api-version=2022-06-01"
    );

    assert!(client.health().await.expect("healthy"));
    let request = service.single();
    assert_eq!(request.path, "/gateway/api/health");
    assert_eq!(
        verify_token(request.token())["aud"],
        "https://demo.service.signalr.net/api/health?api-version=2022-06-01"
    );
}
