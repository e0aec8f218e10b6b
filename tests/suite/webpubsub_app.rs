//! The Web PubSub routes of the function app against a recording stand-in of the service:
//! negotiate (`{baseUrl, url, accessToken}` for the caller, roles and groups from templates),
//! actions (every `actionName` of the extension, checked against the 2024-01-01 swagger; the
//! whole batch validated before the first call), existence / close / permission routes, and an
//! app that has only one of the two services configured.

use crate::webpubsub_support;

use crate::support::{keyed, spawn_app, TestApp};
use crate::support::{verify, FakeService, Reply};
use base64::Engine as _;
use serde_json::{json, Value};
use serverless_signalr::app::webpubsub::settings::WebPubSubArgs;
use webpubsub_support::{check, easy_auth_app as app};

async fn post(app: &TestApp, path: &str, body: &str) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}{path}", app.url))
        .header("x-functions-key", "test-key")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn principal(claims: Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(json!({ "claims": claims }).to_string())
}

#[tokio::test]
async fn negotiate_answers_the_extensions_connection_with_templated_roles_and_groups() {
    let service = FakeService::webpubsub().await;
    let app = app(
        &service,
        WebPubSubArgs {
            hub: Some("Chat".into()),
            token_roles: Some(
                "webpubsub.joinLeaveGroup.room-{tid},webpubsub.sendToGroup.{missing}".into(),
            ),
            token_groups: Some("tenant-{tid},everyone".into()),
            token_lifetime: Some("600".into()),
            ..Default::default()
        },
    )
    .await;
    let response = app
        .http
        .post(format!("{}/api/webpubsub/negotiate", app.url))
        .header("x-ms-client-principal-id", "alice")
        .header(
            "x-ms-client-principal",
            principal(json!([{ "typ": "tid", "val": "t1" }])),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let port = service.port;
    assert_eq!(
        body["baseUrl"],
        format!("ws://127.0.0.1:{port}/client/hubs/Chat")
    );
    let token = body["accessToken"].as_str().unwrap();
    assert_eq!(
        body["url"],
        format!("ws://127.0.0.1:{port}/client/hubs/Chat?access_token={token}")
    );
    let claims = verify(token);
    assert_eq!(
        claims["aud"],
        format!("http://127.0.0.1:{port}/client/hubs/Chat")
    );
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["role"], json!(["webpubsub.joinLeaveGroup.room-t1"]));
    assert_eq!(claims["webpubsub.group"], json!(["tenant-t1", "everyone"]));
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );

    // A named hub, anonymous: no sub; a template over a claim it lacks is left out.
    let body: Value = app
        .http
        .get(format!("{}/api/webpubsub/hubs/Other/negotiate", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = verify(body["accessToken"].as_str().unwrap());
    assert_eq!(
        claims["aud"],
        format!("http://127.0.0.1:{port}/client/hubs/Other")
    );
    assert!(claims.get("sub").is_none());
    assert_eq!(claims["webpubsub.group"], json!(["everyone"]));
    let bad = app
        .http
        .get(format!("{}/api/webpubsub/hubs/1bad/negotiate", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(service.take().is_empty(), "negotiate makes no REST call");
}

#[tokio::test]
async fn every_action_makes_its_rest_call() {
    let service = FakeService::webpubsub().await;
    let app = app(&service, WebPubSubArgs::default()).await;
    let buffer = json!({ "type": "Buffer", "data": [0, 1, 255] });
    let actions = json!([
        { "actionName": "sendToAll", "data": "hello", "excluded": ["c1"] },
        { "ACTIONNAME": "SENDTOGROUP", "Group": "room", "data": "{\"a\":1}", "dataType": "JSON" },
        { "actionName": "sendToUser", "userId": "alice", "data": buffer, "dataType": 0 },
        { "actionName": "sendToConnection", "connectionId": "conn", "data": "t", "dataType": 2 },
        { "actionName": "addUserToGroup", "userId": "alice", "group": "room" },
        { "actionName": "removeUserFromGroup", "userId": "alice", "group": "room" },
        { "actionName": "removeUserFromAllGroups", "userId": "alice" },
        { "actionName": "addConnectionToGroup", "connectionId": "conn", "group": "room" },
        { "actionName": "removeConnectionFromGroup", "connectionId": "conn", "group": "room" },
        { "actionName": "closeAllConnections", "excluded": ["keep"], "reason": "maintenance" },
        { "actionName": "closeClientConnection", "connectionId": "conn", "reason": "bye" },
        { "actionName": "closeGroupConnections", "group": "room" },
        { "actionName": "grantPermission", "connectionId": "conn", "permission": "sendToGroup", "targetName": "room" },
        { "actionName": "revokePermission", "connectionId": "conn", "permission": 2 }
    ]);
    let (status, body) = post(
        &app,
        "/api/webpubsub/hubs/Chat/actions",
        &actions.to_string(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body, json!({ "hub": "Chat", "applied": 14 }));
    let requests = service.take();
    let ids: Vec<String> = requests.iter().map(|r| check(r, service.port)).collect();
    assert_eq!(
        ids,
        [
            "WebPubSub_SendToAll",
            "WebPubSub_SendToGroup",
            "WebPubSub_SendToUser",
            "WebPubSub_SendToConnection",
            "WebPubSub_AddUserToGroup",
            "WebPubSub_RemoveUserFromGroup",
            "WebPubSub_RemoveUserFromAllGroups",
            "WebPubSub_AddConnectionToGroup",
            "WebPubSub_RemoveConnectionFromGroup",
            "WebPubSub_CloseAllConnections",
            "WebPubSub_CloseConnection",
            "WebPubSub_CloseGroupConnections",
            "WebPubSub_GrantPermission",
            "WebPubSub_RevokePermission",
        ]
    );
    let r = &requests;
    assert_eq!(
        (r[0].content_type(), r[0].body.as_slice()),
        (Some("text/plain"), &b"hello"[..])
    );
    assert_eq!(r[0].query[1], ("excluded".into(), "c1".into()));
    assert_eq!(
        (r[1].content_type(), r[1].body.as_slice()),
        (Some("application/json"), &br#"{"a":1}"#[..])
    );
    assert_eq!(
        (r[2].content_type(), r[2].body.as_slice()),
        (Some("application/octet-stream"), &[0u8, 1, 255][..])
    );
    assert_eq!(r[3].content_type(), Some("text/plain"));
    assert_eq!(
        r[9].query[1..],
        [
            ("excluded".into(), "keep".into()),
            ("reason".into(), "maintenance".into())
        ]
    );
    assert_eq!(
        r[12].path,
        "/api/hubs/Chat/permissions/sendToGroup/connections/conn"
    );
    assert_eq!(r[12].query[1], ("targetName".into(), "room".into()));
    assert_eq!(
        r[13].path,
        "/api/hubs/Chat/permissions/joinLeaveGroup/connections/conn"
    );

    // One object on the default hub (WebPubSubHub, default `default`).
    let (status, _) = post(
        &app,
        "/api/webpubsub/actions",
        r#"{"actionName":"sendToAll","data":"x"}"#,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(service.single().path, "/api/hubs/default/:send");
}

#[tokio::test]
async fn a_bad_action_anywhere_in_the_batch_applies_nothing() {
    let service = FakeService::webpubsub().await;
    let app = app(&service, WebPubSubArgs::default()).await;
    let ok = json!({ "actionName": "sendToAll", "data": "x" });
    let cases = [
        (
            json!({ "actionName": "sendToEveryone", "data": "x" }),
            "is not supported",
        ),
        (json!({ "data": "x" }), "actionName is missing"),
        (
            json!({ "actionName": "sendToAll", "data": { "not": "a string" } }),
            "stringify",
        ),
        (
            json!({ "actionName": "sendToAll", "data": "{oops", "dataType": "json" }),
            "not valid JSON",
        ),
        (
            json!({ "actionName": "sendToAll", "data": "x", "dataType": "xml" }),
            "dataType",
        ),
        (
            json!({ "actionName": "sendToAll", "data": [1, 2], "dataType": "binary" }),
            "Buffer",
        ),
        (
            json!({ "actionName": "sendToAll", "data": { "type": "Buffer", "data": [256] }, "dataType": "binary" }),
            "Buffer",
        ),
        (
            json!({ "actionName": "sendToAll", "data": "x", "userId": "bob" }),
            "userId is not a field of sendToAll",
        ),
        (
            json!({ "actionName": "sendToUser", "data": "x" }),
            "userId is missing",
        ),
        (
            json!({ "actionName": "sendToGroup", "group": "  ", "data": "x" }),
            "group name must not be empty",
        ),
        (
            json!({ "actionName": "addUserToGroup", "userId": "a", "group": "g", "userID": "b" }),
            "name the same field",
        ),
        (
            json!({ "actionName": "grantPermission", "connectionId": "c", "permission": "admin" }),
            "permission must be",
        ),
        (
            json!({ "actionName": "sendToAll", "data": "x", "typo": 1 }),
            "unknown field",
        ),
    ];
    for (bad, fragment) in cases {
        let (status, body) = post(
            &app,
            "/api/webpubsub/hubs/chat/actions",
            &json!([ok, ok, bad]).to_string(),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("action 3 of 3: "), "{message}");
        assert!(message.contains(fragment), "{bad}: {message}");
        assert_eq!(body["error"]["index"], 2);
    }
    let big = json!({ "actionName": "sendToAll", "data": "x".repeat(1024 * 1024) }).to_string();
    let (status, body) = post(&app, "/api/webpubsub/actions", &big).await;
    assert_eq!(status, 413, "{body}");
    let (status, _) = post(
        &app,
        "/api/webpubsub/hubs/bad%20hub/actions",
        &ok.to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(service.take().is_empty(), "nothing was applied");

    // A failing call stops the batch and says how many were applied.
    service.reply([Reply::status(202)]);
    service.reply([Reply::status(500).body(r#"{"message":"boom"}"#)]);
    let (status, body) = post(
        &app,
        "/api/webpubsub/actions",
        &json!([ok, ok, ok]).to_string(),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["applied"], 1);
    assert_eq!(service.take().len(), 2);
}

#[tokio::test]
async fn existence_close_and_permission_routes() {
    let service = FakeService::webpubsub().await;
    let app = app(&service, WebPubSubArgs::default()).await;
    let get = |path: &str| {
        app.http
            .get(format!("{}/api/webpubsub/hubs/Chat/{path}", app.url))
            .header("x-functions-key", "test-key")
            .send()
    };
    let body: Value = get("connections/conn").await.unwrap().json().await.unwrap();
    assert_eq!(body, json!({ "hub": "Chat", "exists": true }));
    assert_eq!(
        check(&service.single(), service.port),
        "WebPubSub_ConnectionExists"
    );
    service.reply([Reply::status(404)]);
    let body: Value = get("users/alice").await.unwrap().json().await.unwrap();
    assert_eq!(body["exists"], false);
    assert_eq!(
        check(&service.single(), service.port),
        "WebPubSub_UserExists"
    );
    get("groups/room").await.unwrap();
    assert_eq!(
        check(&service.single(), service.port),
        "WebPubSub_GroupExists"
    );
    let body: Value = get("permissions/joinLeaveGroup/connections/conn?targetName=room")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["exists"], true);
    let request = service.single();
    assert_eq!(check(&request, service.port), "WebPubSub_CheckPermission");
    assert_eq!(request.query[1], ("targetName".into(), "room".into()));
    assert_eq!(
        get("permissions/admin/connections/conn")
            .await
            .unwrap()
            .status(),
        400
    );
    let closed = app
        .http
        .delete(format!(
            "{}/api/webpubsub/hubs/Chat/connections/conn?reason=bye",
            app.url
        ))
        .header("x-functions-key", "test-key")
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    let request = service.single();
    assert_eq!(check(&request, service.port), "WebPubSub_CloseConnection");
    assert_eq!(request.query[1], ("reason".into(), "bye".into()));
    let unkeyed = app
        .http
        .get(format!("{}/api/webpubsub/hubs/Chat/users/a", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unkeyed.status(),
        401,
        "the management routes need a function key"
    );
    assert!(service.take().is_empty());
}

#[tokio::test]
async fn each_service_works_without_the_other() {
    // Web PubSub only: its routes work, SignalR's name their missing setting.
    let service = FakeService::webpubsub().await;
    let only_webpubsub = app(&service, WebPubSubArgs::default()).await;
    let response = only_webpubsub
        .http
        .post(format!("{}/api/negotiate", only_webpubsub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AzureSignalRConnectionString"),
        "{body}"
    );
    let response = only_webpubsub
        .http
        .post(format!("{}/api/webpubsub/negotiate", only_webpubsub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // SignalR only: its routes work, Web PubSub's name WebPubSubConnectionString.
    let signalr = FakeService::webpubsub().await;
    let only_signalr = spawn_app(keyed(), &signalr.connection_string()).await;
    let response = only_signalr
        .http
        .post(format!("{}/api/negotiate", only_signalr.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for (method, path) in [
        ("POST", "negotiate"),
        ("POST", "actions"),
        ("OPTIONS", "events"),
        ("POST", "events"),
    ] {
        let response = only_signalr
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/api/webpubsub/{path}", only_signalr.url),
            )
            .header("x-functions-key", "test-key")
            .header("content-type", "application/json")
            .header("WebHook-Request-Origin", "127.0.0.1")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("WebPubSubConnectionString"),
            "{body}"
        );
    }
}
