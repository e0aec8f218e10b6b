//! messages and groups over HTTP against a recording service: the exact REST call (method, path,
//! query, token audience, body) for the JSON users send to the official bindings, and clear 4xx
//! errors for bad input (bodies, path segments, function keys).

use crate::support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{keyed, spawn_app, FakeService, Reply};

async fn setup() -> (support::TestApp, FakeService) {
    let recorder = FakeService::start().await;
    let app = spawn_app(keyed(), &recorder.connection_string()).await;
    (app, recorder)
}

async fn post(app: &support::TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .header("x-functions-key", "test-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn message_routing_follows_binding_precedence() {
    let (app, rec) = setup().await;
    let cases = [
        (
            json!({"target": "t", "arguments": [1], "connectionId": "c1", "userId": "u", "groupName": "g"}),
            "/api/hubs/default/connections/c1/:send",
        ),
        (
            json!({"target": "t", "arguments": [1], "userId": "u1", "groupName": "g"}),
            "/api/hubs/default/users/u1/:send",
        ),
        (
            json!({"target": "t", "arguments": [1], "userId": "", "groupName": "g1"}),
            "/api/hubs/default/groups/g1/:send",
        ),
        (
            json!({"target": "t", "arguments": [1], "userId": "", "groupName": "", "connectionId": ""}),
            "/api/hubs/default/:send",
        ),
    ];
    for (body, path) in cases {
        let (status, answer) = post(&app, "/api/messages", body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(answer, json!({"hub": "default", "sent": 1}));
        let got = rec.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].method, "POST");
        assert_eq!(got[0].path, path);
        assert_eq!(got[0].json, json!({"target": "t", "arguments": [1]}));
        assert!(got[0]
            .query
            .contains(&("api-version".into(), "2022-06-01".into())));
        assert_eq!(
            got[0].claims["aud"],
            format!("http://127.0.0.1{path}?api-version=2022-06-01")
        );
    }
}

#[tokio::test]
async fn arrays_pascal_case_named_hubs_and_excluded() {
    let (app, rec) = setup().await;
    let body = json!([
        {"Target": "a", "Arguments": [{"x": 1}], "UserId": "a/b?c#d"},
        {"TARGET": "b", "arguments": [], "groupName": "room 1", "excluded": ["c1", "c2"]},
        {"target": "c", "excludedConnectionIds": ["c3"]}
    ]);
    let (status, answer) = post(&app, "/api/hubs/Chat/messages", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["sent"], 3);
    let got = rec.take();
    assert_eq!(
        got.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        [
            "/api/hubs/chat/users/a%2Fb%3Fc%23d/:send",
            "/api/hubs/chat/groups/room%201/:send",
            "/api/hubs/chat/:send"
        ]
    );
    assert_eq!(got[0].json, json!({"target": "a", "arguments": [{"x": 1}]}));
    let excluded = |r: &support::Recorded| {
        r.query
            .iter()
            .filter(|(k, _)| k == "excluded")
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(excluded(&got[1]), ["c1", "c2"]);
    assert_eq!(excluded(&got[2]), ["c3"]);
    assert_eq!(got[2].json, json!({"target": "c", "arguments": []}));
}

#[tokio::test]
async fn bad_messages_get_clear_400s_and_nothing_is_sent() {
    let (app, rec) = setup().await;
    let cases: [(Value, &str); 10] = [
        (json!({"arguments": [1]}), "target is missing"),
        (json!({"target": "", "arguments": [1]}), "target is missing"),
        (
            json!({"target": "t", "arguments": "x"}),
            "message 1 of 1: arguments: invalid type: string \"x\", expected a sequence",
        ),
        (
            json!({"target": "t", "userID2": "u"}),
            "unknown field `userID2`",
        ),
        (
            json!([{"target": "ok"}, {"Target": "t", "UserId": 7}]),
            "message 2 of 2: userId: invalid type: integer `7`, expected a string",
        ),
        (
            json!({"target": "t", "excluded": ["a", 1]}),
            "excluded[1]: invalid type: integer `1`",
        ),
        (json!([]), "the array is empty"),
        (json!("hello"), "must be a JSON message object"),
        (
            json!([{"target": "ok"}, {"target": "t", "groupName": "   "}]),
            "message 2 of 2",
        ),
        (
            json!({"target": "t", "userId": "x".repeat(1025)}),
            "the limit is 1024",
        ),
    ];
    for (body, needle) in cases {
        let (status, answer) = post(&app, "/api/messages", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let msg = answer["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    }
    let r = app
        .http
        .post(format!("{}/api/messages", app.url))
        .header("x-functions-key", "test-key")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "InvalidJson"
    );
    let r = app
        .http
        .post(format!("{}/api/messages", app.url))
        .header("x-functions-key", "test-key")
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, answer) = post(&app, "/api/hubs/1bad/messages", json!({"target": "t"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["error"]["message"].as_str().unwrap().contains("hub"));
    let many: Vec<Value> = (0..1001).map(|_| json!({"target": "t"})).collect();
    let (status, answer) = post(&app, "/api/messages", Value::Array(many)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "TooManyItems");
    assert!(
        rec.take().is_empty(),
        "bad input must not reach the service"
    );
}

#[tokio::test]
async fn service_failures_name_the_item_and_stop() {
    let (app, rec) = setup().await;
    rec.answer(|r| {
        if r.path.contains("/users/bad/") {
            Reply::status(400)
                .header("x-ms-error-code", "Error.Invalid")
                .body(r#"{"code":"Error.Invalid","message":"payload rejected"}"#)
        } else {
            Reply::status(202)
        }
    });
    let body = json!([{"target": "t", "userId": "ok"}, {"target": "t", "userId": "bad"}, {"target": "t", "userId": "never"}]);
    let (status, answer) = post(&app, "/api/messages", body).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(answer["error"]["index"], 1);
    assert_eq!(answer["error"]["sent"], 1);
    assert_eq!(answer["error"]["serviceStatus"], 400);
    let msg = answer["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("message 2 of 3") && msg.contains("payload rejected"),
        "{msg}"
    );
    assert!(!msg.contains(support::KEY));
    assert_eq!(
        rec.take().len(),
        2,
        "the third message is not sent after a failure"
    );
}

#[tokio::test]
async fn group_actions_map_to_rest_calls() {
    let (app, rec) = setup().await;
    let body = json!([
        {"action": "add", "userId": "u1", "groupName": "g1"},
        {"Action": "Add", "UserId": "u1", "GroupName": "g2", "ttl": 60},
        {"action": "remove", "userId": "u1", "groupName": "g1"},
        {"action": "removeAll", "userId": "u1"},
        {"action": "add", "connectionId": "c1", "groupName": "g1"},
        {"action": "remove", "connectionId": "c1", "groupName": "g1"},
        {"action": "REMOVEALL", "connectionId": "c1"}
    ]);
    let (status, answer) = post(&app, "/api/groups", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["applied"], 7);
    let got: Vec<(String, String)> = rec
        .take()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    let expect = [
        ("PUT", "/api/hubs/default/users/u1/groups/g1"),
        ("PUT", "/api/hubs/default/users/u1/groups/g2"),
        ("DELETE", "/api/hubs/default/users/u1/groups/g1"),
        ("DELETE", "/api/hubs/default/users/u1/groups"),
        ("PUT", "/api/hubs/default/groups/g1/connections/c1"),
        ("DELETE", "/api/hubs/default/groups/g1/connections/c1"),
        ("DELETE", "/api/hubs/default/connections/c1/groups"),
    ];
    assert_eq!(got, expect.map(|(m, p)| (m.to_string(), p.to_string())));
    for (body, needle) in [
        (
            json!({"action": "join", "userId": "u", "groupName": "g"}),
            "not one of add, remove, removeAll",
        ),
        (
            json!({"action": "add", "groupName": "g"}),
            "connectionId or userId is required",
        ),
        (
            json!({"action": "add", "userId": "u"}),
            "groupName is required",
        ),
        (
            json!({"action": "add", "connectionId": "c", "groupName": "g", "ttl": 5}),
            "ttl applies to users only",
        ),
        (
            json!({"action": "add", "userId": "u", "groupName": "g", "ttl": -1}),
            "group action 1 of 1: ttl: invalid value: integer `-1`",
        ),
        (
            json!({"action": "add", "userId": "u", "groupName": "g", "TTL": "60"}),
            "ttl: invalid type: string \"60\"",
        ),
        (
            json!({"action": "add", "userId": "u", "groupName": "g", "ttl": 2147483648u32}),
            "ttl 2147483648 is too large; the service accepts at most 2147483647 seconds",
        ),
    ] {
        let (status, answer) = post(&app, "/api/groups", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{answer}"
        );
    }
    assert!(
        rec.take().is_empty(),
        "bad actions are refused before any call"
    );
    let (status, answer) = post(
        &app,
        "/api/groups",
        json!([{"action": "add", "userId": "u", "groupName": "g"},
               {"action": "add", "userId": "u", "groupName": "..", "ttl": 5}]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        rec.take().is_empty(),
        "the first action is not applied either"
    );
    rec.answer(|_| Reply::status(404).header("x-ms-error-code", "Error.Connection.NotExisted"));
    let (status, answer) = post(
        &app,
        "/api/groups",
        json!({"action": "add", "connectionId": "gone", "groupName": "g"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["error"]["code"], "ConnectionNotFound", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"gone\" is not connected"),
        "{answer}"
    );
}

#[tokio::test]
async fn function_keys_are_required_outside_the_host() {
    let (app, rec) = setup().await;
    let send = |key: Option<(&'static str, &'static str)>, query: &'static str| {
        let mut req = app
            .http
            .post(format!("{}/api/messages{query}", app.url))
            .json(&json!({"target": "t"}));
        if let Some((k, v)) = key {
            req = req.header(k, v);
        }
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(send(None, "").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(Some(("x-functions-key", "wrong")), "").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(None, "?code=wrong").await, StatusCode::UNAUTHORIZED);
    assert_eq!(send(None, "?code=test-key").await, StatusCode::ACCEPTED);
    assert_eq!(
        send(Some(("x-functions-key", "test-key")), "?code=wrong").await,
        StatusCode::ACCEPTED,
        "the header wins"
    );
    assert_eq!(rec.take().len(), 2);
    // Anonymous functions need no key.
    let r = app
        .http
        .post(format!("{}/api/negotiate", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A remote service without configured keys: function routes refuse rather than stay open.
    let open = spawn_app(Default::default(), &rec.connection_string()).await;
    let r = open
        .http
        .post(format!("{}/api/messages", open.url))
        .json(&json!({"target": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("SIGNALR_FUNCTION_KEYS"));
}

#[tokio::test]
async fn every_function_route_is_served_with_its_methods() {
    let (app, _rec) = setup().await;
    for f in serverless_signalr::functions::FUNCTIONS {
        let path = f
            .path()
            .replace("{hub}", "chat")
            .replace("{user}", "u")
            .replace("{group}", "g")
            .replace("{connectionId}", "c")
            .replace("{file}", "demo.js");
        for m in f.methods {
            let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let r = app
                .http
                .request(method, format!("{}{path}", app.url))
                .header("x-functions-key", "test-key")
                .send()
                .await
                .unwrap();
            assert_ne!(r.status(), StatusCode::NOT_FOUND, "{m} {path}");
            assert_ne!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert_ne!(body["error"]["code"], "NoHandler", "{m} {path}: {body}");
        }
    }
    let r = app
        .http
        .get(format!("{}/api/nothing-here", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "NotFound"
    );
    let r = app
        .http
        .delete(format!("{}/api/messages", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// A path segment that is not UTF-8 once decoded, or a query value that is not, is a JSON 400
/// naming the part to fix (axum's own rejections are text/plain); nothing reaches the service.
#[tokio::test]
async fn bad_path_segments_and_query_values_are_json_400s() {
    let (app, rec) = setup().await;
    for (method, path, names) in [
        (reqwest::Method::GET, "/api/hubs/%FF/users/x", "hub"),
        (reqwest::Method::GET, "/api/hubs/chat/users/%C3", "user"),
        (
            reqwest::Method::GET,
            "/api/hubs/chat/users/u/groups/%FF%FE",
            "group",
        ),
        (
            reqwest::Method::DELETE,
            "/api/hubs/chat/connections/%80",
            "connectionId",
        ),
        (reqwest::Method::POST, "/api/hubs/%FF/close", "hub"),
        (reqwest::Method::POST, "/api/hubs/%FF/messages", "hub"),
        (reqwest::Method::POST, "/api/hubs/%FF/groups", "hub"),
        (reqwest::Method::POST, "/api/hubs/%FF/negotiate", "hub"),
    ] {
        let r = app
            .http
            .request(method.clone(), format!("{}{path}", app.url))
            .header("x-functions-key", "test-key")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(r.headers()["content-type"], "application/json");
        let error = &r.json::<Value>().await.unwrap()["error"];
        assert_eq!(error["code"], "InvalidPath", "{path}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("the {names} in the URL path is not valid UTF-8")),
            "{path}: {message}"
        );
    }
    let r = app
        .http
        .post(format!("{}/api/hubs/chat/close?excluded=%FF", app.url))
        .header("x-functions-key", "test-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let error = &r.json::<Value>().await.unwrap()["error"];
    assert_eq!(error["code"], "InvalidQuery", "{error}");
    assert!(error["message"].as_str().unwrap().starts_with("excluded: "));
    assert!(rec.take().is_empty(), "nothing reaches the service");
}

/// Only a body over the limit is 413; a body that cannot be read (the client promised more
/// bytes than it sent) is a 400 that says so.
#[tokio::test]
async fn an_unreadable_body_is_a_400_not_a_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (app, rec) = setup().await;
    let address = app.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/messages HTTP/1.1\r\nhost: {address}\r\nx-functions-key: test-key\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"target\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let error: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert_eq!(error["error"]["code"], "BodyUnreadable", "{answer}");
    assert!(rec.take().is_empty());
}

async fn post_raw(
    app: &support::TestApp,
    path: &str,
    body: &str,
    ct: Option<&str>,
) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}{path}", app.url))
        .header("x-functions-key", "test-key")
        .body(body.to_string());
    if let Some(ct) = ct {
        request = request.header("content-type", ct);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A repeated key, exact or in another letter case, must not let one of two recipients win
/// silently (`"userId":"alice","userId":""` used to become a broadcast).
#[tokio::test]
async fn duplicate_keys_are_refused_in_every_body() {
    let (app, rec) = setup().await;
    let cases = [
        (
            "/api/messages",
            r#"{"target":"t","userId":"alice","userId":""}"#,
            "userId",
        ),
        (
            "/api/messages",
            r#"{"target":"t","userId":"alice","userid":""}"#,
            "userid",
        ),
        (
            "/api/messages",
            r#"[{"target":"t"},{"target":"t","UserId":"alice","userID":""}]"#,
            "message 2 of 2",
        ),
        (
            "/api/hubs/chat/messages",
            r#"{"target":"t","arguments":[{"a":1,"a":2}]}"#,
            "\"a\"",
        ),
        (
            "/api/groups",
            r#"{"action":"add","userId":"alice","groupName":"g","GroupName":"h"}"#,
            "GroupName",
        ),
        (
            "/api/groups",
            r#"{"action":"add","action":"removeAll","userId":"alice","groupName":"g"}"#,
            "action",
        ),
        (
            "/api/hubs/chat/close",
            r#"{"reason":"a","Reason":"b"}"#,
            "Reason",
        ),
        (
            "/api/hubs/chat/users/alice/close",
            r#"{"excluded":["c1"],"excluded":[]}"#,
            "excluded",
        ),
    ];
    for (path, body, needle) in cases {
        let (status, answer) = post_raw(&app, path, body, Some("application/json")).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["error"]["code"], "DuplicateKey", "{body}: {answer}");
        let msg = answer["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    }
    assert!(rec.take().is_empty(), "nothing reaches the service");
    // Case variants inside the arguments are the sender's data, not duplicates.
    let (status, answer) = post_raw(
        &app,
        "/api/messages",
        r#"{"target":"t","arguments":[{"a":1,"A":2}]}"#,
        Some("application/json"),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        rec.take()[0].json,
        json!({"target":"t","arguments":[{"a":1,"A":2}]})
    );
}

/// A browser sends text/plain, form and multipart bodies (or none typed at all) cross-site
/// without a preflight: JSON-body routes take only application/json, so a page cannot post into
/// the stack. A close without a body needs no content type.
#[tokio::test]
async fn json_body_routes_need_a_json_content_type() {
    let (app, rec) = setup().await;
    let message = r#"{"target":"t","arguments":[1]}"#;
    let group = r#"{"action":"add","userId":"u","groupName":"g"}"#;
    let close = r#"{"reason":"bye"}"#;
    for (path, body) in [
        ("/api/messages", message),
        ("/api/hubs/chat/messages", message),
        ("/api/groups", group),
        ("/api/hubs/chat/groups", group),
        ("/api/hubs/chat/close", close),
        ("/api/hubs/chat/groups/g/close", close),
        ("/api/hubs/chat/users/u/close", close),
    ] {
        for ct in [
            Some("text/plain;charset=UTF-8"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let (status, answer) = post_raw(&app, path, body, ct).await;
            assert_eq!(status, 415, "{path} {ct:?}: {answer}");
            assert_eq!(answer["error"]["code"], "UnsupportedMediaType");
            let msg = answer["error"]["message"].as_str().unwrap();
            assert!(msg.contains("application/json"), "{msg}");
        }
    }
    assert!(rec.take().is_empty(), "nothing reaches the service");
    let (status, answer) = post_raw(
        &app,
        "/api/messages",
        message,
        Some("application/json; charset=utf-8"),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = post_raw(&app, "/api/hubs/chat/close", "", None).await;
    assert_eq!(status, 200, "{answer}");
    // Without the key, the key is what is missing, whatever the content type.
    let r = app
        .http
        .post(format!("{}/api/messages", app.url))
        .header("content-type", "text/plain")
        .body(message)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
