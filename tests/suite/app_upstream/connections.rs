//! Connection events: groups joined on connect from templates over the user id, the connection
//! id and the claims header; the forward webhook receives every event as JSON; unknown hub
//! methods are forwarded and the webhook's answer becomes the completion.

use axum::http::Method;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{FakeService, Reply};
use crate::upstream_support::{connected, disconnected, error, invoke, result, send, setup, CONN};

#[tokio::test]
async fn connected_joins_the_templated_groups() {
    let (app, rec) = setup(|a| {
        a.upstream_groups = Some("user-{userId}, conn-{connectionId},tenant-{tid},everyone".into())
    })
    .await;
    let (status, body) = connected()
        .user("u1")
        .header("X-ASRS-User-Claims", "tid: t 1, role: admin, role: ops")
        .send(&app)
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    let got = rec.take();
    let paths: Vec<_> = got
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("PUT", "/api/hubs/chat/groups/user-u1/connections/conn-1"),
            (
                "PUT",
                "/api/hubs/chat/groups/conn-conn-1/connections/conn-1"
            ),
            (
                "PUT",
                "/api/hubs/chat/groups/tenant-t%201/connections/conn-1"
            ),
            ("PUT", "/api/hubs/chat/groups/everyone/connections/conn-1"),
        ]
    );
    assert!(got[0]
        .query
        .contains(&("api-version".into(), "2022-06-01".into())));
    assert_eq!(
        got[0].claims["aud"],
        "http://127.0.0.1/api/hubs/chat/groups/user-u1/connections/conn-1?api-version=2022-06-01"
    );

    // A claim that appears twice (here injected through an unescaped comma in `name`, as a token
    // with name "Eve, tid: t-victim" and tid "t-eve" would arrive) fills no template, and a header
    // with an entry that is not one `type: value` is not trusted at all; the rest still joins.
    for claims in [
        "asrs.s.uid: eve, name: Eve, tid: t-victim, tid: t-eve",
        "name: Doe, John, tid: t-victim",
    ] {
        let (status, _) = connected()
            .user("u1")
            .header("X-ASRS-User-Claims", claims)
            .send(&app)
            .await;
        assert_eq!(status, StatusCode::OK);
        let paths: Vec<_> = rec.take().into_iter().map(|r| r.path).collect();
        assert_eq!(
            paths,
            [
                "/api/hubs/chat/groups/user-u1/connections/conn-1",
                "/api/hubs/chat/groups/conn-conn-1/connections/conn-1",
                "/api/hubs/chat/groups/everyone/connections/conn-1",
            ],
            "{claims}"
        );
    }

    // Anonymous and claim-less: templates with a missing value are skipped.
    connected().send(&app).await;
    let paths: Vec<_> = rec.take().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/api/hubs/chat/groups/conn-conn-1/connections/conn-1",
            "/api/hubs/chat/groups/everyone/connections/conn-1",
        ]
    );

    // A service failure is logged; the connection event still succeeds.
    rec.answer(|_| Reply::status(500));
    let (status, _) = connected().send(&app).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn events_are_forwarded_to_the_webhook() {
    let hook = FakeService::start().await;
    let url = format!(
        "http://127.0.0.1:{}/hooks/signalr?code=hook-secret",
        hook.port
    );
    let (app, rec) = setup(|a| a.upstream_forward_url = Some(url)).await;
    let (status, _) = connected()
        .user("u1")
        .header("X-ASRS-User-Claims", "tid: t1, tid: t2")
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = disconnected("gone").send(&app).await;
    assert_eq!(status, StatusCode::OK);
    let got = hook.take();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].method, Method::POST);
    assert_eq!(got[0].path, "/hooks/signalr");
    assert_eq!(
        got[0].query,
        [("code".to_string(), "hook-secret".to_string())]
    );
    assert_eq!(
        got[0].json,
        json!({"hub": "chat", "category": "connections", "event": "connected", "connectionId": CONN,
               "userId": "u1", "claims": {"tid": ["t1", "t2"]}, "body": {"type": 10}})
    );
    assert_eq!(
        got[1].json,
        json!({"hub": "chat", "category": "connections", "event": "disconnected", "connectionId": CONN,
               "userId": null, "claims": {}, "body": {"Type": 11, "Error": "gone"}})
    );
    assert!(rec.take().is_empty());
    assert!(
        got[0].headers.get("x-signature-256").is_none(),
        "unsigned without SIGNALR_UPSTREAM_FORWARD_SECRET"
    );

    // A header that cannot be read unambiguously forwards no claims rather than wrong ones.
    connected()
        .user("u1")
        .header("X-ASRS-User-Claims", "name: Doe, John, tid: t-victim")
        .send(&app)
        .await;
    assert_eq!(hook.take()[0].json["claims"], json!(null));

    // Built-in methods are not forwarded.
    invoke("subscribe", json!(["orders"])).send(&app).await;
    assert!(hook.take().is_empty());
}

#[tokio::test]
async fn unknown_methods_are_forwarded_and_answered_with_the_webhook_result() {
    let hook = FakeService::start().await;
    let url = format!("http://127.0.0.1:{}/hook", hook.port);
    let (app, _rec) = setup(|a| a.upstream_forward_url = Some(url)).await;

    hook.answer(|_| Reply::status(200).body(r#"{"answer":42}"#));
    let answer = invoke("askQuestion", json!(["why", 1])).send(&app).await;
    assert_eq!(answer, (StatusCode::OK, result(json!({"answer": 42}))));
    let got = hook.take();
    assert_eq!(got[0].json["event"], "askQuestion");
    assert_eq!(got[0].json["category"], "messages");
    assert_eq!(
        got[0].json["body"],
        json!({"type": 1, "invocationId": "1", "target": "askQuestion", "arguments": ["why", 1]})
    );

    hook.answer(|_| Reply::status(204));
    let answer = invoke("askQuestion", json!([])).send(&app).await;
    assert_eq!(answer, (StatusCode::OK, result(json!(null))));

    hook.answer(|_| Reply::status(400).body(r#"{"error":"no such question"}"#));
    let answer = invoke("askQuestion", json!([])).send(&app).await;
    assert_eq!(answer, (StatusCode::OK, error("no such question")));

    hook.answer(|_| Reply::status(500).body("boom"));
    let answer = invoke("askQuestion", json!([])).send(&app).await;
    assert_eq!(
        answer,
        (
            StatusCode::OK,
            error("askQuestion failed: the app's webhook answered 500")
        )
    );

    // Fire-and-forget: still forwarded, empty answer.
    let answer = send("tell", json!(["x"])).send(&app).await;
    assert_eq!(answer, (StatusCode::OK, String::new()));
    assert_eq!(hook.take().len(), 4);
}

#[tokio::test]
async fn an_unreachable_webhook_is_a_completion_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/hook?code=hook-secret");
    let (app, _rec) = setup(|a| a.upstream_forward_url = Some(url)).await;
    let (status, body) = invoke("ask", json!([])).send(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        error("ask failed: the app's webhook cannot be reached")
    );
    let (status, _) = connected().send(&app).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn without_a_webhook_unknown_methods_are_errors() {
    let (app, rec) = setup(|_| {}).await;
    let answer = invoke("broadcast", json!(["hi"])).send(&app).await;
    assert_eq!(
        answer,
        (
            StatusCode::OK,
            error("unknown method \"broadcast\": this app offers subscribe, unsubscribe, publish and publishToTopic")
        )
    );
    let answer = send("broadcast", json!(["hi"])).send(&app).await;
    assert_eq!(answer, (StatusCode::OK, String::new()));
    assert!(rec.take().is_empty());
}

/// With a forward secret, every forwarded request (events and invocations) carries
/// `X-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, verified here independently of
/// the app's code over the exact bytes received.
#[tokio::test]
async fn forwarded_requests_are_signed_with_the_forward_secret() {
    use hmac::{Hmac, Mac};
    const SECRET: &str = "whsec-0123456789";
    let hook = FakeService::start().await;
    let url = format!("http://127.0.0.1:{}/hook", hook.port);
    let (app, _rec) = setup(|a| {
        a.upstream_forward_url = Some(url);
        a.upstream_forward_secret = Some(SECRET.into());
    })
    .await;
    connected().user("u1").send(&app).await;
    disconnected("bye").send(&app).await;
    invoke("askQuestion", json!(["why"])).send(&app).await;
    let got = hook.take();
    assert_eq!(got.len(), 3);
    for request in &got {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(&request.body);
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            request.headers["x-signature-256"],
            format!("sha256={expected}").as_str(),
            "{}",
            request.json
        );
        assert_eq!(request.headers["content-type"], "application/json");
    }
    assert_eq!(got[0].json["userId"], "u1");
    assert_eq!(got[2].json["event"], "askQuestion");
}
